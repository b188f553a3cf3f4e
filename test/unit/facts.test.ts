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
