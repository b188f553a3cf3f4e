import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { LocalConnection } from '../../lib/connection/local.ts'
import { buildBatchScript, parseBatchOutput } from '../../lib/connection/batch.ts'
import { cmd, readScript, script } from '../../lib/core/command.ts'

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

  describe('vxlab\'s own read scripts run in the batch shell (no shell started for them), as `sh -c` would', () => {
    const parts = [
      { command: readScript('echo "$0 $# $1|$2"; echo err >&2; exit 4', 'a b', "c'd") },
      { command: readScript('echo "[${__e-u}${__c-u}${__d-u}${__i-u}${__t-u}]"; cat') },
      { command: readScript('if then fi') },
      { command: readScript('cd / && x=1 && export x') },
      { command: cmd('sh', '-c', 'echo "${x-unset} $(pwd)"') },
      { command: readScript('exec >&2; echo gone') },
    ]
    const expected = [
      { code: 4, stdout: "sh 2 a b|c'd\n", stderr: 'err' },
      { code: 0, stdout: '[uuuuu]\n', stderr: '' },
      { code: 2 },
      { code: 0, stdout: '', stderr: '' },
      { code: 0, stdout: `unset ${process.cwd()}\n`, stderr: '' },
      { code: 0, stdout: '', stderr: 'gone' },
    ]
    const run = (lanes: number, background: boolean) => {
      const { script: text, token } = buildBatchScript(parts.map((p, i) => ({ ...p, background: background && i !== 4 })), { lanes })
      const out = spawnSync('sh', ['-s'], { input: text, encoding: 'utf8' })
      return { text, results: parseBatchOutput(out.stdout, token, parts.length).results }
    }
    for (const [lanes, background] of [[1, false], [2, true], [1, true]] as const) {
      it(`lanes ${lanes}, ${background ? 'in the background' : 'in order'}`, () => {
        const { text, results } = run(lanes, background)
        // the five read scripts start no shell; only the user's `sh -c` (part 4) does
        expect(text).toContain(`sh -c 'echo "\${x-unset} $(pwd)"'`)
        expect(text.replaceAll(`sh -c 'echo "\${x-unset} $(pwd)"'`, '')).not.toMatch(/sh -c /)
        expect(results).toHaveLength(parts.length)
        results.forEach((r, i) => expect(r, `part ${i}`).toMatchObject(expected[i]!))
        expect(results[2]!.stderr).toMatch(/[Ss]yntax error/)
      })
    }
    it('not with a host-side time limit (timeout(1) needs a program), nor a script of the user\'s', () => {
      const limited = buildBatchScript([{ command: readScript('true') }], { limitsMs: [1000] }).script
      expect(limited).toMatch(/ sh -c true sh /)
      expect(buildBatchScript([{ command: readScript('echo $0') }]).script).toMatch(/eval 'echo \$0'/)
      // a user's guard keeps its own shell: `kill $$` there must not reach the batch shell (the lock holder)
      for (const c of [script('echo $0'), cmd('sh', '-c', 'echo $0')]) expect(buildBatchScript([{ command: c }]).script).toMatch(/sh -c 'echo \$0'/)
      const { script: text, token } = buildBatchScript([{ command: script('kill -TERM $$; sleep 1') }, { command: cmd('echo', 'after') }])
      const out = spawnSync('sh', ['-s'], { input: text, encoding: 'utf8' })
      const results = parseBatchOutput(out.stdout, token, 2).results
      expect(results.map((r) => r.code)).toEqual([143, 0])
      expect(results[1]!.stdout).toBe('after\n')
    })
  })
})
