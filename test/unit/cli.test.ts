/**
 * The CLI's own output: usage errors, --help, and the -v exec log. Runs on this machine only (a local
 * connection, check mode: nothing is changed).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT, execLog, givesInterruptBudget, runCli } from '../../lib/cli.ts'
import { playbook, runPlaybook, type PlaybookDef } from '../../lib/core/playbook.ts'
import { secret } from '../../lib/core/secrets.ts'
import { command } from '../../lib/tasks/command.ts'
import { ovsBridge } from '../../lib/tasks/ovs.ts'
import { lab } from '../../playbooks/lab.ts'

const dir = mkdtempSync(join(tmpdir(), 'vxlab-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

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
      // a bad value of a known flag, too (a third fresh-user trial: it printed the message alone)
      [['--forks', '0'], 'error: --forks: expected a positive number, got "0"'],
      [['--state', 'gone'], 'error: --state: expected present or absent, got "gone"'],
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

describe('a missing inventory or one of the wrong kind', () => {
  it('a relative inventory path is said to be read from the current folder', async () => {
    const r = await run(lab, ['-i', 'nowhere/.testbed/inventory.yml', '--check'])
    expect(r.code).toBe(EXIT.usage)
    expect(r.err).toContain(`error: inventory nowhere/.testbed/inventory.yml not found in ${process.cwd()} (bring the testbed up`)
    expect(r.err).toContain('run from that folder, or pass -i FILE')
    const abs = await run(lab, ['-i', join(dir, 'missing.yml'), '--check'])
    expect(abs.err).toContain(`error: inventory ${join(dir, 'missing.yml')} not found\n`)
  })
  it('runPlaybook given something else than an Inventory (JavaScript, a cast) says so, before any host', async () => {
    const pb = playbook({ name: 'p', plays: [{ name: 'x', hosts: 'all', tasks: () => [] }] })
    for (const [given, shown] of [['inv.yml', '"inv.yml"'], [{ hosts: {} }, 'an object of another kind'], [undefined, 'undefined']] as const) {
      await expect(runPlaybook(pb, { inventory: given as never })).rejects.toThrow(`playbook p: inventory: expected an Inventory (Inventory.load(file) or Inventory.parse(text, file)), got ${shown}`)
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
  it('says what -v shows and that -vv is the same (one level)', async () => {
    const r = await run(lab, ['-h'])
    expect(r.out).toMatch(/-v, --verbose .*numbered per host/s)
    expect(r.out).toMatch(/socket instead \(socket:, no exec\)/)
    expect(r.out).toContain('-vv is the same as -v')
    expect(r.out).toContain('-D, --diff                  also show unified diffs of files (field changes always show)')
  })
})

describe('a playbook whose own code throws while building its tasks', () => {
  it('is a problem of the playbook (exit 2, naming playbook, host and play, and where), before any host is contacted', async () => {
    const inv = join(dir, 'two.yml')
    writeFileSync(inv, 'all:\n  hosts:\n    local1: {ansible_connection: local}\n    local2: {ansible_connection: local}\n')
    const marker = join(dir, 'ran')
    const pb = playbook({
      name: 'mine',
      plays: [
        { name: 'first', hosts: 'local1', tasks: () => [command({ name: 'mark', argv: ['touch', marker] })] },
        { name: 'second', hosts: 'local2', tasks: () => { throw new Error('my own bug') } },
      ],
    })
    const r = await run(pb, ['-i', inv])
    expect(r.code, r.err).toBe(EXIT.usage)
    expect(r.err).toMatch(/^error: mine: local2 play "second": building its tasks threw Error: my own bug \(at \/.*cli\.test\.ts:\d+:\d+\)$/m)
    expect(r.err).not.toMatch(/internal error/)
    expect(existsSync(marker)).toBe(false) // no host was contacted, not even the one whose play built
  })
  it('an async tasks() or validate(), a tasks() that returns no array of tasks, odd thrown values: exit 2, masked, one line each', async () => {
    const inv = join(dir, 'one2.yml')
    writeFileSync(inv, 'all:\n  hosts:\n    local1: {ansible_connection: local}\n')
    const tok = secret('hunter2secret')
    const one = (tasks: () => unknown): PlaybookDef => playbook({ name: 'odd', plays: [{ name: 'p', hosts: 'all', tasks: tasks as never }] })
    const cases: Array<[PlaybookDef, RegExp]> = [
      [one(async () => { throw new Error(`rejected ${tok}`) }), /^error: odd: local1 play "p": returned a Promise: tasks\(\) must return the tasks themselves, an array \(it cannot be async\)$/m],
      [one(() => ovsBridge({ name: 'br9' })), /^error: odd: local1 play "p": returned \{.*\}, not an array of tasks$/m],
      [one(() => undefined), /^error: odd: local1 play "p": returned undefined, not an array of tasks$/m],
      [one(() => [ovsBridge({ name: 'br9' }), null]), /^error: odd: local1 play "p": returned an array whose element 1 is null, not a task \(made by ovsBridge\(\), command\(\), \.\.\.\)$/m],
      [one(() => { throw Object.create(null) }), /^error: odd: local1 play "p": building its tasks threw \{\}$/m],
      [one(() => { throw { message: `plain ${tok}` } }), /^error: odd: local1 play "p": building its tasks threw plain \*\*\*$/m],
      [one(() => { throw new Error(`two\nlines ${tok}`) }), /^error: odd: local1 play "p": building its tasks threw Error: two lines \*\*\* \(at .*\)$/m],
      [playbook({ name: 'odd', validate: (async () => { throw new Error(`in validate ${tok}`) }) as never, plays: [{ name: 'p', hosts: 'all', tasks: () => [] }] }),
        /^error: odd: validate\(\) returned a Promise: it must check and throw before it returns \(it cannot be async\)$/m],
    ]
    for (const [pb, want] of cases) {
      const r = await run(pb, ['-i', inv, '--check'])
      expect(r.code, r.err).toBe(EXIT.usage)
      expect(r.err).toMatch(want)
      expect(r.err + r.out).not.toContain('hunter2secret')
      expect(r.err).not.toMatch(/internal error|PLAY \[/)
      expect(r.out).not.toMatch(/PLAY \[/)
    }
    await new Promise((res) => setTimeout(res, 20)) // a rejection left unhandled would fail the test run here
  })
  it('a task given a value of the wrong type (JavaScript, a cast) is reported the same way', async () => {
    const inv = join(dir, 'one.yml')
    writeFileSync(inv, 'all:\n  hosts:\n    local1: {ansible_connection: local}\n')
    const nullSpec = playbook({ name: 'cast', plays: [{ name: 'p', hosts: 'all', tasks: () => [ovsBridge(null as never)] }] })
    const r = await run(nullSpec, ['-i', inv, '--check'])
    expect(r.code, r.err).toBe(EXIT.usage)
    expect(r.err).toMatch(/^error: cast: local1 ovs\.bridge\[undefined\]\.spec: expected an object of fields, got null$/m)
    // a value the library cannot even turn into text: a TypeError inside a task, still the playbook's problem
    const noText = playbook({ name: 'cast', plays: [{ name: 'p', hosts: 'all', tasks: () => [ovsBridge({ name: Object.create(null) as string })] }] })
    const r2 = await run(noText, ['-i', inv, '--check'])
    expect(r2.code, r2.err).toBe(EXIT.usage)
    expect(r2.err).toMatch(/^error: cast: local1 play "p": building its tasks threw TypeError: Cannot convert object to primitive value/m)
  })
})

describe('-v: the exec log', () => {
  it('logs a read made on a host\'s socket as `socket:`, not numbered, not counted as an exec', () => {
    let out = ''
    const log = execLog((s) => (out += s))
    log('host1', 'a')
    log('host1', '/var/run/openvswitch/db.sock: transact [...]', 'socket')
    log('host1', 'b')
    expect(out).toBe('host1      exec: #1 a\nhost1      socket: /var/run/openvswitch/db.sock: transact [...]\nhost1      exec: #2 b\n')
  })
  it('numbers each host\'s execs', () => {
    let out = ''
    const log = execLog((s) => (out += s))
    log('host1', 'a')
    log('host2', 'b')
    log('host1', 'c')
    expect(out).toBe('host1      exec: #1 a\nhost2      exec: #1 b\nhost1      exec: #2 c\n')
  })
  it('a run\'s last number per host is the recap\'s execs= (and -vv logs the same)', async () => {
    const inv = join(dir, 'local.yml')
    writeFileSync(inv, 'all:\n  hosts:\n    local1: {ansible_connection: local}\n')
    const pb = playbook({ name: 'v', plays: [{ name: 'p', hosts: 'all', tasks: () => [command({ name: 'noop', argv: ['true'], unless: ['true'] })] }] })
    for (const v of ['-v', '-vv']) {
      const r = await run(pb, ['-i', inv, '--check', v])
      expect(r.code, r.err).toBe(EXIT.ok)
      const numbers = [...r.out.matchAll(/^local1 +exec: #(\d+) /gm)].map((m) => Number(m[1]))
      expect(numbers.length).toBeGreaterThan(0)
      expect(numbers).toEqual(numbers.map((_, i) => i + 1))
      expect(r.out).toMatch(new RegExp(`^local1 +: ok=1 .* execs=${numbers.length}$`, 'm'))
    }
  })
})

describe('V8 tuning of a command-line run', () => {
  it('leaves an interrupt budget given on node\'s command line alone, in either spelling V8 takes', () => {
    expect(givesInterruptBudget(['--interrupt-budget=1000'])).toBe(true)
    expect(givesInterruptBudget(['--import', 'tsx', '--interrupt_budget=1000'])).toBe(true)
    expect(givesInterruptBudget(['--import', 'tsx'])).toBe(false)
    expect(givesInterruptBudget(['--interrupt-budget-for-feedback-allocation=9'])).toBe(false)
  })
})
