import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { quote, renderArgv } from '../../lib/connection/quote.ts'
import { describeCommand } from '../../lib/core/command.ts'

const hostile = [
  'plain', 'with space', "it's", '"double"', '$(touch /tmp/vxlab-pwned)', '`id`', 'a\nb\nc', '-n', '--flag=x', '',
  'ünïcødé ✓', '\\backslash\\', '*', '?', '~', '$HOME', ';', '&&', '|', '>', "''", "'", "\t tab", '!bang', '#hash', '{a,b}',
]
const shells = ['/bin/sh', '/bin/dash', '/bin/bash'].filter((s) => existsSync(s))

describe('quote', () => {
  it('renders the empty string as two quotes so it never vanishes', () => {
    expect(quote('')).toBe("''")
  })
  it('leaves plain words alone and quotes everything else', () => {
    expect(quote('br1')).toBe('br1')
    expect(quote('a b')).toBe("'a b'")
    expect(quote("it's")).toBe(`'it'\\''s'`)
  })
  it('refuses NUL bytes', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/)
  })
  for (const shell of shells) {
    it(`runs argv[0] as a program, never as a keyword or an assignment, in ${shell}`, () => {
      for (const word of ['!', 'if', '{', 'done', 'X=1', 'PATH=/nonexistent']) {
        // a literal program name that does not exist: "not found" (127), not a negation, syntax error or assignment
        const out = execFileSync(shell, ['-c', `${renderArgv([word, 'true'])} 2>/dev/null; echo "rc=$?"`], { encoding: 'utf8' })
        expect(out.trim(), word).toBe('rc=127')
        // and the command as plans and -v print it pastes as it runs
        const shown = execFileSync(shell, ['-c', `${describeCommand({ argv: [word, 'true'] })} 2>/dev/null; echo "rc=$?"`], { encoding: 'utf8' })
        expect(shown.trim(), word).toBe('rc=127')
      }
    })
    it(`round-trips hostile strings through ${shell}`, () => {
      // printf prints each argument NUL-terminated: we compare the exact bytes that arrived
      const line = renderArgv(['printf', '%s\\0', ...hostile])
      const out = execFileSync(shell, ['-c', line], { encoding: 'utf8' })
      expect(out.split('\0').slice(0, -1)).toEqual(hostile)
      expect(existsSync('/tmp/vxlab-pwned')).toBe(false)
    })
  }
})
