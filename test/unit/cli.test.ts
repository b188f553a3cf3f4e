/** The CLI's own output: usage errors and --help. */
import { describe, expect, it } from 'vitest'
import { EXIT, runCli } from '../../lib/cli.ts'
import { playbook, type PlaybookDef } from '../../lib/core/playbook.ts'
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

describe('--help', () => {
  const pb = playbook({
    name: 'flags',
    plays: [],
    flags: {
      mode: { type: 'string', description: 'how to go', default: 'fast' },
      sep: { type: 'string', description: 'separator', default: ' ' },
      loud: { type: 'boolean', description: 'shout', default: true },
      quiet: { type: 'boolean', description: 'whisper', default: false },
      name: { type: 'string', description: 'a name' },
    },
  })
  it('shows the defaults of the playbook\'s own flags', async () => {
    const r = await run(pb, ['--help'])
    expect(r.code).toBe(EXIT.ok)
    const lines = r.out.split('\n')
    const line = (flag: string): string => lines.find((l) => l.trimStart().split(' ')[0] === `--${flag}`) ?? ''
    expect(line('mode')).toMatch(/^ {6}--mode VALUE +how to go \(default: fast\)$/)
    expect(line('sep')).toMatch(/separator \(default: " "\)$/)
    expect(line('loud')).toMatch(/shout \(default: true\)$/)
    // a switch that is off unless given, and a flag without a default, say nothing more
    expect(line('quiet')).toMatch(/ whisper$/)
    expect(line('name')).toMatch(/ a name$/)
    // a playbook flag's description starts in the same column as the common ones'
    expect(line('mode').indexOf('how to go')).toBe(line('json').indexOf('write the run report'))
  })
})
