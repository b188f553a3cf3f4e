/** The CLI's own output: usage errors. */
import { describe, expect, it } from 'vitest'
import { EXIT, runCli } from '../../lib/cli.ts'
import type { PlaybookDef } from '../../lib/core/playbook.ts'
import { lab } from '../../playbooks/lab.ts'

async function run(pb: PlaybookDef, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await runCli(pb, args, { out: (s) => (out += s), err: (s) => (err += s) })
  return { code, out, err }
}

describe('usage errors', () => {
  it('print the error first, then one usage line pointing at --help; exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['--bogus'], "error: Unknown option '--bogus'"],
      [['-C', '-x'], "error: Unknown option '-x'"],
      [['stray'], "error: Unexpected argument 'stray'. This command does not take positional arguments"],
      [['--check', '-i'], "error: Option '-i, --inventory <value>' argument missing"],
    ]
    for (const [args, message] of cases) {
      const r = await run(lab, args)
      expect(r.code, args.join(' ')).toBe(EXIT.usage)
      expect(r.out).toBe('')
      const lines = r.err.split('\n')
      expect(lines, args.join(' ')).toHaveLength(3) // two lines and the final newline
      expect(lines[0]).toBe(message)
      expect(lines[1]).toMatch(/^usage: \S.* \[options\]; --help lists the options$/)
      expect(r.err).not.toContain('--inventory FILE') // not the whole help
    }
  })
})
