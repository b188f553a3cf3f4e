import { describe, expect, it } from 'vitest'
import { LocalConnection } from '../../lib/connection/local.ts'
import { buildBatchScript, parseBatchOutput } from '../../lib/connection/batch.ts'
import { cmd, script } from '../../lib/core/command.ts'

describe('batched exec', () => {
  const conn = new LocalConnection('local')
  it('keeps each part stdout untrimmed, its stderr and exit code, in one exec', async () => {
    const before = conn.execCount
    const r = await conn.runBatch([
      { command: cmd('printf', 'no newline') },
      { command: script('echo out; echo err >&2; exit 3') },
      { command: cmd('printf', '\n\nlines\n\n') },
      { command: cmd('sh', '-c', 'cat') },
    ])
    expect(conn.execCount - before).toBe(1)
    expect(r.map((x) => x.code)).toEqual([0, 3, 0, 0])
    expect(r[0]!.stdout).toBe('no newline')
    expect(r[1]!.stdout).toBe('out\n')
    expect(r[1]!.stderr).toBe('err')
    expect(r[2]!.stdout).toBe('\n\nlines\n\n')
    expect(r[3]!.stdout).toBe('') // reads /dev/null, not the rest of the script
  })
  it('feeds a part its own stdin, byte for byte, and the parts after it still run', async () => {
    const data = "line 1\n$(not run) `nor this` 'quoted'\n\u00fc\n"
    const r = await conn.runBatch([{ command: { argv: ['cat'], stdin: data } }, { command: cmd('echo', 'after') }])
    expect(r[0]!.stdout).toBe(data)
    expect(r[1]!.stdout).toBe('after\n')
  })
  it('stops after a failing part that has stopOnError', async () => {
    const r = await conn.runBatch([
      { command: cmd('true'), stopOnError: true },
      { command: cmd('false'), stopOnError: true },
      { command: cmd('echo', 'never'), stopOnError: true },
    ])
    expect(r.map((x) => x.code)).toEqual([0, 1])
  })
  it('cannot be fooled by output that imitates a marker', () => {
    const { token } = buildBatchScript([{ command: cmd('true') }])
    const fake = `${token.replace(/.$/, 'x')}:0:done`
    const parsed = parseBatchOutput(`${token}:0:out\n${fake}\n\n${token}:0:err:0\n\n${token}:0:done\n`, token, 1)
    expect(parsed.results[0]!.stdout).toBe(`${fake}\n`)
  })
  it('times out with a clear error naming the command and the limit', async () => {
    const c = new LocalConnection('slowhost', { commandTimeoutMs: 300 })
    await expect(c.runBatch([{ command: cmd('sleep', '5') }])).rejects.toThrow(/slowhost: command timed out after 300 ms: sleep 5/)
  })
})
