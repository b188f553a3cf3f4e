/**
 * Issue #7, command timeouts: every part of a batch is held to its own limit (not to the sum of the batch's
 * limits), the error names the command and that limit, and on the host a part that overran is killed with its
 * process group (timeout(1)) a little later, so it cannot live on behind the controller's back. In a run, reads
 * are instead killed with their session by the run's lock holder (the exec registry).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BatchInterruptedError, totalLimitMs } from '../../lib/connection/base.ts'
import { buildBatchScript, HOST_KILL_GRACE_S } from '../../lib/connection/batch.ts'
import { LocalConnection } from '../../lib/connection/local.ts'
import { cmd } from '../../lib/core/command.ts'

describe('command timeouts in a batch', () => {
  it('a part that overruns its limit fails at that limit, however many parts the batch has', async () => {
    const conn = new LocalConnection('local', { commandTimeoutMs: 600 })
    const parts = [
      ...Array.from({ length: 8 }, (_, i) => ({ command: cmd('echo', `read ${i}`) })),
      { command: cmd('sleep', '4.5'), stopOnError: true },
      { command: cmd('echo', 'never'), stopOnError: true },
    ]
    const t0 = Date.now()
    const e = await conn.runBatch(parts).then(() => undefined, (x: unknown) => x)
    const ms = Date.now() - t0
    expect(e).toBeInstanceOf(BatchInterruptedError)
    expect((e as Error).message).toBe('local: command timed out after 600 ms: sleep 4.5')
    expect((e as BatchInterruptedError).failedPart).toBe(8)
    expect((e as BatchInterruptedError).completed.map((r) => r.stdout)).toEqual(Array.from({ length: 8 }, (_, i) => `read ${i}\n`))
    // (the sum of the limits would be 6 s)
    expect(ms).toBeLessThan(2_000)
  })

  it('a part\'s own timeoutMs wins over the connection default', async () => {
    const conn = new LocalConnection('local', { commandTimeoutMs: 60_000 })
    const e = await conn.runBatch([{ command: { argv: ['sleep', '3.5'], timeoutMs: 300 } }]).then(() => undefined, (x: unknown) => x)
    expect((e as Error).message).toBe('local: command timed out after 300 ms: sleep 3.5')
  })

  it('parts that finish in time are not cut short by the parts before them', async () => {
    const conn = new LocalConnection('local', { commandTimeoutMs: 400 })
    // each part takes 0.25 s: together well over one part's limit, each within it
    const r = await conn.runBatch(Array.from({ length: 4 }, () => ({ command: cmd('sleep', '0.25'), stopOnError: true })))
    expect(r.map((x) => x.code)).toEqual([0, 0, 0, 0])
  })

  it('on the host, each part runs under timeout(1) with its limit plus a grace, when timeout(1) exists', () => {
    const { script } = buildBatchScript([{ command: cmd('sleep', '100') }, { command: { argv: ['cat'], stdin: 'x', timeoutMs: 2500 } }], { limitsMs: [1000, 2500] })
    expect(script).toContain('command -v timeout >/dev/null 2>&1 && __t=1')
    expect(script).toContain(`\${__t:+timeout -s KILL ${1 + HOST_KILL_GRACE_S}} sleep 100 </dev/null`)
    expect(script).toContain(`| \${__t:+timeout -s KILL ${3 + HOST_KILL_GRACE_S}} cat`)
    // without timeout(1) on PATH the parts run as they are
    const out = execFileSync('/bin/sh', ['-c', 'PATH=/nonexistent; __t=; command -v timeout >/dev/null 2>&1 && __t=1; ${__t:+timeout -s KILL 3} /bin/echo plain'], { encoding: 'utf8' })
    expect(out).toBe('plain\n')
  })

  it('with the run\'s exec registry, reads run as in the first exec (no timeout(1) around them); apply parts keep it', async () => {
    // a guard like `pgrep -f PATTERN` must not find timeout(1)'s own command line
    const pattern = `vxlab-no-such-daemon-${process.pid}-${Date.now()}`
    const plain = new LocalConnection('plain')
    expect((await plain.runBatch([{ command: cmd('pgrep', '-f', pattern) }]))[0]!.code).toBe(0) // matched timeout(1)
    const reg = new LocalConnection('reg')
    const registry = mkdtempSync(join(tmpdir(), 'vxlab-reg-'))
    try {
      reg.registerExecsIn(join(registry, 'runs'))
      const [read, apply] = await reg.runBatch([{ command: cmd('pgrep', '-f', pattern) }, { command: cmd('sh', '-c', 'ps -o args= -p $PPID'), stopOnError: true }])
      expect(read!.code).toBe(1)
      expect(apply!.stdout).toMatch(/^timeout -s KILL \d+ sh -c/)
    } finally {
      rmSync(registry, { recursive: true, force: true })
    }
  })
  it('the host-side kill ends a part (and its children) that outlives its limit', () => {
    const t0 = Date.now()
    const { script, token } = buildBatchScript([{ command: cmd('sh', '-c', 'sleep 30 & wait') }], { limitsMs: [10] })
    const out = execFileSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8' })
    expect(out).toMatch(new RegExp(`${token}:0:err:137`))
    expect(Date.now() - t0).toBeLessThan((1 + HOST_KILL_GRACE_S + 2) * 1000)
  })
})

describe('the largest time limits (--command-timeout 2000000)', () => {
  it('a batch of two parts at 2e9 ms each runs: the summed limit is capped where a Node timer holds it, not fired at once', async () => {
    expect(totalLimitMs([2_000_000_000, 2_000_000_000])).toBe(2 ** 31 - 1)
    expect(totalLimitMs([300, 400])).toBe(700)
    const conn = new LocalConnection('local', { commandTimeoutMs: 2_000_000_000 })
    const r = await conn.runBatch([{ command: cmd('sleep', '0.2') }, { command: cmd('echo', 'done'), stopOnError: true }])
    expect(r.map((x) => [x.code, x.stdout])).toEqual([[0, ''], [0, 'done\n']])
  })
})
