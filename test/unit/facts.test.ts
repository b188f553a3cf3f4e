import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Fact } from '../../lib/core/task.ts'
import type { FactFixture } from '../fixtures/recorder.ts'

// Every fixture recorded from the real testbed (test/fixtures/facts/<domain>/<case>.json) replayed through its parser.
const dir = join(import.meta.dirname, '..', 'fixtures', 'facts')
const files = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory())
  .flatMap((d) => readdirSync(join(dir, d)).filter((f) => f.endsWith('.json')).map((f) => join(d, f)))

describe('fact parsers replay recorded outputs', () => {
  it('has fixtures to replay', () => {
    expect(files.length).toBeGreaterThan(0)
  })
  for (const f of files) {
    it(f, async () => {
      const fx = JSON.parse(readFileSync(join(dir, f), 'utf8')) as FactFixture
      const mod = (await import(join(import.meta.dirname, '..', '..', fx.module))) as Record<string, unknown>
      const made = mod[fx.export]
      const fact = (typeof made === 'function' ? (made as (...a: unknown[]) => Fact<unknown>)(...fx.args) : made) as Fact<unknown>
      expect(fact.command.argv).toEqual(fx.command)
      const ok = (fact.okExitCodes ?? [0]).includes(fx.code)
      if (!ok) {
        // a failed read must stay a failure (the runner reports it), never parse as "absent"
        expect(fx.expected).toEqual({ error: `exit ${fx.code}` })
        return
      }
      expect(JSON.parse(JSON.stringify(fact.parse({ stdout: fx.stdout, stderr: fx.stderr, code: fx.code })))).toEqual(fx.expected)
    })
  }
})

describe('the OVS state read (one ovsdb-client transact of three selects)', () => {
  it('is read-only: select operations only', async () => {
    const { ovsStateFact } = await import('../../lib/facts/ovs.ts')
    const [prog, , verb, request] = ovsStateFact.command.argv
    expect([prog, verb]).toEqual(['ovsdb-client', 'transact'])
    const ops = (JSON.parse(request!) as unknown[]).slice(1) as Array<{ op: string }>
    expect(ops.map((o) => o.op)).toEqual(['select', 'select', 'select'])
  })
  it('an operation that failed is an error naming OVSDB\'s reason, not a state with fewer rows', async () => {
    const { parseOvsState } = await import('../../lib/facts/ovs.ts')
    // OVS 3.1's reply (exit 0) to the same transaction with one unknown column in the Port select
    const reply = '[{"rows":[{"name":"br-phy"},{"name":"br1"},{"name":"br2"}]},{"details":"nosuch is not a valid column name","error":"syntax error","syntax":"[\\"nosuch\\"]"},null]'
    expect(() => parseOvsState(reply)).toThrow(/OVSDB select failed: syntax error \(nosuch is not a valid column name\)/)
    expect(() => parseOvsState('[]')).toThrow(/expected 3 OVSDB results/)
  })
})
