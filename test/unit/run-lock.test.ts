/**
 * Issue #6: the run lock costs no round trip. The lock holder's session reads the host's first facts batch once
 * it holds the lock (one exec for both), and the batch's read parts run in parallel lanes with the same output
 * as in order. Local connections, with a lock file of the test's own (never the controller's /run/vxlab.lock).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { holderInput } from '../../lib/connection/base.ts'
import { LocalConnection } from '../../lib/connection/local.ts'
import { buildBatchScript } from '../../lib/connection/batch.ts'
import { cmd, readScript, script } from '../../lib/core/command.ts'
import { LOCK_MARKER, LOCK_REFUSED_MARKER, lockCommand } from '../../lib/core/lock.ts'
import { exitCodeOf, playbook, runPlaybook } from '../../lib/core/playbook.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { command } from '../../lib/tasks/command.ts'
import type { BatchPart, ExecResult } from '../../lib/connection/types.ts'
import type { Change, Fact, Task } from '../../lib/core/task.ts'
import { FakeHost } from './fake-connection.ts'

const dir = mkdtempSync(join(tmpdir(), 'vxlab-runlock-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const lockFile = join(dir, 'vxlab.lock')
const holder = (owner: string, check = false, waitMs = 1000) => lockCommand({ check, waitMs, owner, file: lockFile })

const PARTS = [
  { command: cmd('printf', 'no newline') },
  { command: script('echo out; echo err >&2; exit 3') },
  { command: cmd('printf', '\n\nlines\n\n') },
  { command: cmd('sh', '-c', 'cat') },
  { command: { argv: ['cat'], stdin: 'h\u00e9llo \u2713\n' } },
  { command: script('sleep 0.3; echo slow1'), background: true },
  { command: script('sleep 0.3; echo slow2'), background: true },
  { command: script('sleep 0.3; echo slow3'), background: true },
]

describe('parallel read lanes', () => {
  it('run the slow (background) reads beside the others: exactly the results of running the parts in order, sooner', async () => {
    const inOrder = new LocalConnection('seq', { readLanes: 1 })
    const lanes = new LocalConnection('par', { readLanes: 4 })
    let t = performance.now()
    const a = await inOrder.runBatch(PARTS)
    const seqMs = performance.now() - t
    t = performance.now()
    const b = await lanes.runBatch(PARTS)
    const parMs = performance.now() - t
    expect(b).toEqual(a)
    expect(a[1]).toEqual({ code: 3, stdout: 'out\n', stderr: 'err' })
    expect(a[4]!.stdout).toBe('h\u00e9llo \u2713\n')
    expect(seqMs).toBeGreaterThan(850) // three 0.3 s sleeps one after another
    expect(parMs).toBeLessThan(seqMs - 300)
  })
  it('background reads print after the others, in any order, each with its own result; cheap reads never start a job', async () => {
    const parts = [
      { command: script('sleep 0.2; echo first; echo e1 >&2; exit 4'), background: true },
      { command: cmd('echo', 'second') },
      { command: script('printf third'), background: true },
      { command: script('echo fourth >&2; exit 3') },
    ]
    const a = await new LocalConnection('seq', { readLanes: 1 }).runBatch(parts)
    expect(await new LocalConnection('par', { readLanes: 4 }).runBatch(parts)).toEqual(a)
    expect(a).toEqual([
      { code: 4, stdout: 'first\n', stderr: 'e1' }, { code: 0, stdout: 'second\n', stderr: '' },
      { code: 0, stdout: 'third', stderr: '' }, { code: 3, stdout: '', stderr: 'fourth' },
    ])
    expect(buildBatchScript(parts.map((p) => ({ command: p.command })), { lanes: 4 }).script).not.toContain('mktemp')
  })
  it('apply parts (stopOnError) stay in order and stop the batch; reads after them are not run', async () => {
    const c = new LocalConnection('l', { readLanes: 4 })
    const f = join(dir, 'order')
    const r = await c.runBatch([
      { command: script('echo 1 >> "$1"', f), stopOnError: true },
      { command: script('echo 2 >> "$1"', f), stopOnError: true },
      { command: cmd('false'), stopOnError: true },
      { command: script('echo never >> "$1"', f) },
      { command: script('echo never >> "$1"', f) },
    ])
    expect(r.map((x) => x.code)).toEqual([0, 0, 1])
    expect((await c.run(cmd('cat', f))).stdout).toBe('1\n2\n')
  })
  it('a script without a temp folder falls back to running the reads in order', async () => {
    const { script: s } = buildBatchScript([{ command: cmd('echo', 'a'), background: true }, { command: cmd('echo', 'b') }], { lanes: 4 })
    const c = new LocalConnection('l', { readLanes: 1 })
    const r = await c.run({ argv: ['sh', '-c', 'TMPDIR=/nonexistent/vxlab exec sh -s'], stdin: s })
    expect(r.stdout).toMatch(/:0:out\na\n\n\S+:0:err:0\n\n\S+:0:done\n\S+:1:out\nb\n/)
  })
})

describe('the run lock holder reads the first batch in its own session', () => {
  it('one exec for the lock and the facts; same results as a plain batch', async () => {
    const c = new LocalConnection('l', { readLanes: 4 })
    const { held, results } = await c.holdThenBatch(holder('run A'), LOCK_MARKER, 5000, PARTS)
    try {
      expect(c.execCount).toBe(1)
      expect(results).toEqual(await new LocalConnection('x', { readLanes: 1 }).runBatch(PARTS))
    } finally {
      await held.release()
    }
  })
  it('a part that leaves a daemon running (its own stdin, stdout, stderr) does not hold the batch open', async () => {
    // the daemon used to inherit fd 3, the batch's real stdout: the exec lasted as long as the daemon
    const tag = `sleep 8.${process.pid}` // a command line of its own, to clean up after the test
    const daemon = (name: string) => script('sleep "$2" >/dev/null 2>&1 </dev/null & echo "$1"', name, tag.slice('sleep '.length))
    const parts = [{ command: daemon('in order') }, { command: daemon('in a lane'), background: true }, { command: cmd('echo', 'next') }]
    try {
      for (const lanes of [1, 4]) {
        const t = performance.now()
        const r = await new LocalConnection('d', { readLanes: lanes }).runBatch(parts)
        expect(r.map((x) => x.stdout)).toEqual(['in order\n', 'in a lane\n', 'next\n'])
        expect(performance.now() - t, `lanes ${lanes}`).toBeLessThan(4000)
      }
      const t = performance.now()
      const { held, results } = await new LocalConnection('h').holdThenBatch(holder('daemon run'), LOCK_MARKER, 5000, parts)
      await held.release()
      expect(results.map((x) => x.stdout)).toEqual(['in order\n', 'in a lane\n', 'next\n'])
      expect(performance.now() - t).toBeLessThan(4000)
    } finally {
      spawnSync('pkill', ['-f', tag])
    }
  })
  it('a part that kills the batch\'s shell ends the batch at once, not at its time limit, and frees the lock', async () => {
    // the end line must not depend on that shell: dash runs no EXIT trap when a signal kills it
    const c = new LocalConnection('k', { commandTimeoutMs: 8000 })
    const t = performance.now()
    const err = await c.holdThenBatch(holder('killer'), LOCK_MARKER, 5000, [
      { command: cmd('echo', 'first') },
      { command: script('kill -TERM $PPID; sleep 1; echo after') },
      { command: cmd('echo', 'never') },
    ]).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.message).toMatch(/ended|lost|exit/)
    expect(err?.message).not.toMatch(/timed out/)
    expect(performance.now() - t).toBeLessThan(4000)
    const again = await new LocalConnection('k2').holdThenBatch(holder('next', false, 1000), LOCK_MARKER, 5000, [])
    await again.held.release()
  })
  it('the lock script leaves no variables to vxlab\'s read scripts; a lock file it cannot open is said so', async () => {
    const { held, results } = await new LocalConnection('v').holdThenBatch(holder('vars'), LOCK_MARKER, 5000, [
      { command: readScript('echo "[$l|$mode|$wait|$owner|$rc]"') },
    ])
    await held.release()
    expect(results.map((r) => r.stdout)).toEqual(['[||||]\n'])
    const missing = lockCommand({ check: false, waitMs: 1000, owner: 'x', file: join(dir, 'no-such-folder', 'vxlab.lock') })
    await expect(new LocalConnection('m').holdThenBatch(missing, LOCK_MARKER, 5000, [], LOCK_REFUSED_MARKER))
      .rejects.toThrow(/^m: cannot open the run lock .*no-such-folder\/vxlab\.lock$/)
  })
  it('an owner text of several lines (a playbook name, a file of another tool) is shown on one line and passes for no marker', async () => {
    const first = await new LocalConnection('a').holdThenBatch(holder(`evil\n${LOCK_MARKER}\nx`), LOCK_MARKER, 5000, [])
    try {
      const refused = new RegExp(`^b: locked by evil ${LOCK_MARKER} x \\(waited 1 s for \\S+vxlab\\.lock\\)$`)
      await expect(new LocalConnection('b').holdThenBatch(holder('B', false, 1000), LOCK_MARKER, 5000, [{ command: cmd('true') }], LOCK_REFUSED_MARKER)).rejects.toThrow(refused)
      // the same through hold(), which a connection without holdThenBatch uses
      await expect(new LocalConnection('b').hold(holder('B', false, 1000), LOCK_MARKER, 5000, LOCK_REFUSED_MARKER)).rejects.toThrow(refused)
    } finally {
      await first.held.release()
    }
    const pb = playbook({ name: 'p', plays: [{ name: 'x', hosts: 'all', tasks: () => [] }] })
    for (const lockFile of ['', 'relative.lock', '/run/x\nVXLAB']) {
      await expect(runPlaybook(pb, { inventory: Inventory.parse('all:\n  hosts:\n    h1: {}\n', 'inv.yml'), lockFile })).rejects.toThrow(/^playbook p: lockFile: expected an absolute path on the hosts, got /)
    }
  })
  it('flock failing for its own reason is not reported as "locked by" another run', async () => {
    // a wait flock cannot take (the CLI bounds --lock-timeout; a library caller might not)
    const bad = lockCommand({ check: false, waitMs: Infinity, owner: 'x', file: lockFile })
    await expect(new LocalConnection('c').holdThenBatch(bad, LOCK_MARKER, 5000, [{ command: cmd('true') }], LOCK_REFUSED_MARKER))
      .rejects.toThrow(/^c: flock: cannot set up timer: .*\ncannot take the run lock \S+vxlab\.lock \(flock exit 71\)$/)
  })
  it('a second run is refused with "locked by <owner>" and none of its commands runs', async () => {
    const a = new LocalConnection('a')
    const { held } = await a.holdThenBatch(holder('run A, pid 1'), LOCK_MARKER, 5000, [{ command: cmd('true') }])
    const marker = join(dir, 'ran-while-locked')
    try {
      const b = new LocalConnection('b')
      const t = performance.now()
      await expect(b.holdThenBatch(holder('run B'), LOCK_MARKER, 5000, [{ command: script(': > "$1"', marker) }], LOCK_REFUSED_MARKER))
        .rejects.toThrow(/^b: locked by run A, pid 1 \(waited 1 s for .*vxlab\.lock\)$/)
      expect(performance.now() - t).toBeGreaterThan(900) // it waited (bounded) for the lock
      // check mode (a shared lock) cannot start either while an apply run holds it exclusively
      await expect(b.holdThenBatch(holder('check run', true), LOCK_MARKER, 5000, [{ command: script(': > "$1"', marker) }])).rejects.toThrow(/locked by run A/)
      expect(existsSync(marker)).toBe(false)
    } finally {
      await held.release()
    }
    const again = await new LocalConnection('b').holdThenBatch(holder('run B'), LOCK_MARKER, 5000, [{ command: cmd('echo', 'now') }])
    expect(again.results[0]!.stdout).toBe('now\n')
    await again.held.release()
  })
  it('the lock stays held after the first batch (also when an apply part failed), until release; commands never get its fd', async () => {
    const a = new LocalConnection('a')
    const { held, results } = await a.holdThenBatch(holder('run A'), LOCK_MARKER, 5000, [
      { command: script('if [ -e /proc/self/fd/9 ]; then echo leaked; else echo clean; fi') },
      { command: cmd('false'), stopOnError: true },
      { command: cmd('echo', 'never') },
    ])
    expect(results.map((r) => r.stdout)).toEqual(['clean\n', ''])
    expect(results[1]!.code).toBe(1)
    // later execs of the run are ordinary ones, the lock still held by the first session
    expect((await a.runBatch([{ command: cmd('echo', 'later') }]))[0]!.stdout).toBe('later\n')
    await expect(new LocalConnection('b').holdThenBatch(holder('B', false, 500), LOCK_MARKER, 5000, [])).rejects.toThrow(/locked by run A/)
    await held.release()
    const b = await new LocalConnection('b').holdThenBatch(holder('B'), LOCK_MARKER, 5000, [])
    await b.held.release()
  })
  it('a read that hangs in the first batch times out at its own limit (in the foreground or the background)', async () => {
    for (const background of [false, true]) {
      const c = new LocalConnection('slow', { readLanes: 4 })
      const t = performance.now()
      // its own lock file: the timed-out session holds its lock until the run closes the connection
      const own = lockCommand({ check: false, waitMs: 1000, owner: 'hang', file: join(dir, `hang-${background}.lock`) })
      await expect(c.holdThenBatch(own, LOCK_MARKER, 5000, [
        { command: cmd('echo', 'quick') },
        { command: { argv: ['sleep', '3'], timeoutMs: 400 }, background },
        { command: cmd('echo', 'after') },
      ])).rejects.toThrow(/^slow: command timed out after 400 ms: sleep 3$/)
      expect(performance.now() - t).toBeLessThan(2500)
    }
  })
  it('two check runs share the lock', async () => {
    const one = await new LocalConnection('a').holdThenBatch(holder('check 1', true), LOCK_MARKER, 5000, [{ command: cmd('true') }])
    const two = await new LocalConnection('b').holdThenBatch(holder('check 2', true), LOCK_MARKER, 5000, [{ command: cmd('true') }])
    await one.held.release()
    await two.held.release()
  })
})

/** Run a lock holder's input with `sh -s` in a process group of its own; its stdin ends once `endAfter` is printed. */
function runHolder(input: string, endAfter: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-s'], { detached: true, stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes(endAfter)) p.stdin.end()
    })
    p.on('error', reject)
    p.on('close', () => resolve(out))
    p.stdin.write(input)
    if (endAfter === '') p.stdin.end()
  })
}

describe('the lock holder\'s input', () => {
  it('runs its last lines whatever the script\'s length: the shell reads it in blocks, and the wait must not eat them', async () => {
    // dash reads `sh -s` input from a pipe 8 KiB at a time; a wait that reads stdin gets what the shell has not read
    // yet. Sizes every 40 bytes across two block boundaries: with the wait and the cleanup as separate commands,
    // the sizes whose wait line ended just before a boundary lost the cleanup (and the kill of a hanging batch).
    const missed: number[] = []
    for (let size = 7800; size < 16_800; size += 40) {
      if (size > 8600 && size < 16_000) continue
      const batch = `: ${'x'.repeat(size)}\necho batch-ran\n`
      const out = await runHolder(holderInput(batch, 'END', 'echo cleanup-ran\n'), 'END\n')
      if (!out.includes('batch-ran\nEND\ncleanup-ran\n')) missed.push(size)
    }
    expect(missed).toEqual([])
    expect(await runHolder(holderInput(undefined, 'END', 'echo cleanup-ran\n'), '')).toBe('cleanup-ran\n')
  })
})

describe('runPlaybook with the run lock', () => {
  const inv = join(dir, 'inv.yml')
  // one local host: every local "host" is this machine, so two of them would share (and queue on) one lock file
  writeFileSync(inv, 'all:\n  hosts:\n    l1: {ansible_connection: local}\n')
  const file = (h: string) => join(dir, `made-${h}`)
  const book = playbook({
    name: 'lockbook',
    plays: [{ name: 'p', hosts: 'all', tasks: (h) => [command({ name: 'make', argv: ['touch', file(h.name)], creates: file(h.name) })] }],
  })
  const opts = { inventory: Inventory.load(inv), lockFile, lockTimeoutMs: 1000 }

  it('a no-op rerun is ONE exec per host: the facts are read in the lock holder\'s session', async () => {
    const first = await runPlaybook(book, opts)
    expect(first.hosts.l1).toMatchObject({ changed: 1, execs: 2 }) // lock + facts, then apply + re-read
    const again = await runPlaybook(book, opts)
    expect(again.hosts.l1).toMatchObject({ ok: 1, changed: 0, execs: 1 })
  })
  it('while another run holds the lock, the host fails "locked by ..." with its tasks skipped and nothing run', async () => {
    const other = await new LocalConnection('l1').holdThenBatch(lockCommand({ check: false, waitMs: 1000, owner: 'the other run', file: lockFile }), LOCK_MARKER, 5000, [])
    try {
      rmSync(file('l1'))
      const r = await runPlaybook(book, opts)
      expect(r.hosts.l1).toMatchObject({ failed: 1, skipped: 1, changed: 0, unreachable: 0, execs: 1 })
      expect(r.tasks.map((t) => t.error)).toEqual([expect.stringMatching(/^l1: run lock not taken: locked by the other run \(waited 1 s for /)])
      expect(existsSync(file('l1'))).toBe(false)
    } finally {
      await other.held.release()
    }
    const after = await runPlaybook(book, { ...opts, check: true })
    expect(after.hosts.l1).toMatchObject({ changed: 1, failed: 0, execs: 1 })
    expect(existsSync(file('l1'))).toBe(false)
  })
  it('a read cut short fails the task that reads it, named in the error; the tasks before it are not blamed', async () => {
    const tag = `vxhang${process.pid}`
    const hang = playbook({ name: 'hang2', plays: [{ name: 'p', hosts: 'all', tasks: () => [
      command({ name: 'fast', argv: ['true'], unless: ['true'] }),
      command({ name: 'slow', argv: ['true'], unless: ['sh', '-c', 'sleep 30', tag] }),
    ] }] })
    const r = await runPlaybook(hang, { ...opts, commandTimeoutMs: 600 })
    const [fast, slow] = r.tasks
    expect(slow).toMatchObject({ status: 'failed' })
    expect(slow!.error).toMatch(/timed out after 600 ms: sh -c 'sleep 30' vxhang\d+ \(reading command\.unless:/)
    expect(fast).toMatchObject({ status: 'skipped' })
    expect(fast!.error).toBeUndefined()
  })
  it('a re-read after apply that is cut short fails the host (exit 1): the change is applied but not verified', async () => {
    const flag = join(dir, 'applied-flag')
    const tag = `sleep 30.${process.pid}`
    // the guard answers at once before the apply, and hangs once the command has run (the re-read)
    const pb = playbook({ name: 'reread', plays: [{ name: 'p', hosts: 'all', tasks: () => [
      command({ name: 'mark', argv: ['touch', flag], unless: ['sh', '-c', 'if [ -e "$1" ]; then sleep "$2"; fi; exit 1', 'sh', flag, tag.slice('sleep '.length)] }),
    ] }] })
    try {
      const r = await runPlaybook(pb, { ...opts, commandTimeoutMs: 600 })
      expect(existsSync(flag)).toBe(true)
      expect(r.tasks[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^not verified after apply: .*timed out after 600 ms/) })
      expect(r.hosts.l1).toMatchObject({ failed: 1 })
      expect(exitCodeOf(r)).toBe(1)
    } finally {
      spawnSync('pkill', ['-f', tag])
      rmSync(flag, { force: true })
    }
  })
  it('a read that hangs in the lock session times out; the holder kills its own process group only, and the lock is free', async () => {
    const fifo = join(dir, 'hang-fifo')
    execFileSync('mkfifo', [fifo])
    const hang = playbook({ name: 'hang', plays: [{ name: 'p', hosts: 'all', tasks: () => [command({ name: 'wait', argv: ['true'], unless: ['cat', fifo] })] }] })
    const r = await runPlaybook(hang, { ...opts, commandTimeoutMs: 800 })
    expect(r.hosts.l1).toMatchObject({ failed: 1, changed: 0 })
    expect(r.tasks[0]!.error).toMatch(/timed out after 800 ms/)
    let left: string[] = []
    for (let i = 0; i < 50; i++) {
      left = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(fifo)
        } catch {
          return false
        }
      })
      if (left.length === 0) break
      await new Promise((res) => setTimeout(res, 100))
    }
    expect(left).toEqual([])
    // this process (in the group that spawned the holder) is alive, and the lock is free for the next run
    const next = await runPlaybook(book, { ...opts, lockTimeoutMs: 500 })
    expect(next.hosts.l1).toMatchObject({ failed: 0 })
    rmSync(fifo)
  })
  it('vxlab killed mid-apply: the command it was running dies with the lock session, and the lock is free', async () => {
    const marker = join(dir, 'slow-done')
    const tag = `vxslow${process.pid}`
    const child = join(dir, 'slow.mts')
    writeFileSync(child, [
      `import { runPlaybook, playbook } from ${JSON.stringify(join(process.cwd(), 'lib/core/playbook.ts'))}`,
      `import { Inventory } from ${JSON.stringify(join(process.cwd(), 'lib/inventory/inventory.ts'))}`,
      `import { command } from ${JSON.stringify(join(process.cwd(), 'lib/tasks/command.ts'))}`,
      `const pb = playbook({ name: 'slow', plays: [{ name: 'p', hosts: 'all', tasks: () => [command({ name: 'slow', argv: ['sh', '-c', 'sleep 30; touch "$1"', ${JSON.stringify(tag)}, ${JSON.stringify(marker)}], creates: ${JSON.stringify(marker)} })] }] })`,
      `await runPlaybook(pb, { inventory: Inventory.load(${JSON.stringify(inv)}), lockFile: ${JSON.stringify(lockFile)} })`,
    ].join('\n'))
    const running = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(tag)
      } catch {
        return false
      }
    })
    const p = spawn(process.execPath, ['--import', 'tsx', child], { stdio: 'ignore' })
    try {
      const until = async (ok: () => boolean, ms: number): Promise<boolean> => {
        for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (ok()) return true
        return ok()
      }
      expect(await until(() => running().length > 0, 15_000)).toBe(true) // the apply runs on the "host"
      p.kill('SIGKILL')
      expect(await until(() => running().length === 0, 5_000)).toBe(true)
    } finally {
      p.kill('SIGKILL')
      for (const pid of running()) process.kill(Number(pid), 'SIGKILL')
    }
    expect(existsSync(marker)).toBe(false)
    const next = await runPlaybook(book, { ...opts, lockTimeoutMs: 500 })
    expect(next.hosts.l1).toMatchObject({ failed: 0 })
  }, 30_000)
})

// ---------------------------------------------------------------------------------------------------------------------
// Later plays' hosts read ahead (connect, lock and facts in parallel with the earlier plays)

/** A fake host whose lock holder reads its first batch in the same "session" (one exec), with slow reads. */
class LockingFake extends FakeHost {
  constructor(host: string, readonly log: string[], readonly delayMs = 0) {
    super(host)
  }

  override async runBatch(parts: readonly BatchPart[]): Promise<ExecResult[]> {
    this.log.push(`${this.host} read start`)
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
    const r = await super.runBatch(parts)
    this.log.push(`${this.host} read end`)
    return r
  }

  async holdThenBatch(_c: unknown, _m: string, _t: number, parts: readonly BatchPart[]) {
    this.log.push(`${this.host} lock`)
    return { held: { release: async () => undefined }, results: await this.runBatch(parts) }
  }
}

type Cur = string | undefined
function kv(key: string, value: string): Task<{ key: string; value: string }, Cur> {
  const fact: Fact<Cur> = { id: `kv:${key}`, command: { argv: ['kv-get', key] }, okExitCodes: [0, 1], parse: (o) => (o.code === 1 ? undefined : o.stdout) }
  return {
    kind: 'kv', key: `kv[${key}]`, spec: { key, value }, facts: [fact], watches: [`kv:${key}`],
    current: (f) => f.get(fact),
    plan: (cur, spec): Change[] => cur === spec.value ? [] : [{ op: 'create', summary: `${key}=${value}`, commands: [{ argv: ['kv-set', key, value] }], touches: [`kv:${key}`] }],
  }
}

describe('hosts of later plays read ahead', () => {
  const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n    b: {}\n', 'fake.yml')
  const twoPlays = (probeInB = false) => playbook({
    name: 'ahead',
    plays: [
      { name: 'first', hosts: 'a', tasks: () => [kv('x', '1')] },
      { name: 'second', hosts: 'b', tasks: () => (probeInB ? [{ ...kv('y', '2'), result: () => ({ ok: true, check: 'y', detail: '' }) }] : [kv('y', '2')]) },
    ],
  })
  const setup = (aState: string | undefined) => {
    const log: string[] = []
    const hosts = { a: new LockingFake('a', log, 60), b: new LockingFake('b', log) }
    if (aState !== undefined) hosts.a.state.set('x', aState)
    hosts.b.state.set('y', '2')
    return { log, hosts, run: (check = false) => runPlaybook(twoPlays(), { inventory, check, connect: async (h) => hosts[h.name as 'a' | 'b'] }) }
  }

  it('a no-op run reads b during the first play, in b\'s one exec, and uses that read', async () => {
    const { log, hosts, run } = setup('1')
    const r = await run()
    expect(r.hosts.b).toMatchObject({ ok: 1, changed: 0, execs: 1 })
    expect(log.indexOf('b read end')).toBeLessThan(log.indexOf('a read end')) // b was read while a's play ran
    expect(hosts.b.commands).toEqual([['kv-get', 'y']])
  })
  it('after a change in an earlier play the read-ahead is discarded and b is read again', async () => {
    const { hosts, run } = setup(undefined)
    const r = await run()
    expect(r.hosts.a).toMatchObject({ changed: 1 })
    expect(r.hosts.b).toMatchObject({ ok: 1, changed: 0, execs: 2 })
    expect(hosts.b.commands).toEqual([['kv-get', 'y'], ['kv-get', 'y']])
  })
  it('a host that fails its read in an earlier play changed nothing: the read-ahead is still used', async () => {
    const { hosts, run } = setup(undefined)
    hosts.a.daemonDown = true
    const r = await run()
    expect(r.hosts.a).toMatchObject({ failed: 1, changed: 0 })
    expect(r.hosts.b).toMatchObject({ ok: 1, changed: 0, execs: 1 })
    expect(hosts.b.commands).toEqual([['kv-get', 'y']])
  })
  it('check mode changes nothing, so the read-ahead is always used', async () => {
    const { hosts, run } = setup(undefined)
    const r = await run(true)
    expect(r.hosts.a).toMatchObject({ changed: 1, execs: 1 })
    expect(r.hosts.b).toMatchObject({ execs: 1 })
    expect(hosts.a.mutating()).toEqual([])
  })
  it('plays with check tasks (probes) are not read ahead: they may need an earlier play to have run', async () => {
    const log: string[] = []
    const hosts = { a: new LockingFake('a', log, 60), b: new LockingFake('b', log) }
    hosts.a.state.set('x', '1')
    await runPlaybook(twoPlays(true), { inventory, connect: async (h) => hosts[h.name as 'a' | 'b'] })
    expect(log.indexOf('b lock')).toBeGreaterThan(log.indexOf('a read end'))
  })
})
