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

describe('names that are Object.prototype properties (valid bridge, port and interface names)', () => {
  const fx = (name: string): FactFixture => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as FactFixture
  it('plan as what the host has under that name (nothing), not as a property of every object', async () => {
    const { parseOvsState } = await import('../../lib/facts/ovs.ts')
    const { linksFact, parseLinks } = await import('../../lib/facts/ip.ts')
    const { ovsBridge, ovsPort } = await import('../../lib/tasks/ovs.ts')
    const { ipAddress } = await import('../../lib/tasks/net.ts')
    const ovs = parseOvsState(fx('ovs/state-underlay-only').stdout)
    const links = parseLinks(fx('net/links-veth-two-addresses').stdout)
    const values = new Map<string, unknown>([['ovs.state', ovs], [linksFact.id, links]])
    const snap = { get: <T>(f: Fact<T>): T => values.get(f.id) as T }
    type Plannable = { current: (s: typeof snap) => unknown; plan: (c: unknown, s: unknown) => Array<{ op: string; summary: string }>; spec: unknown }
    const plan = (t: unknown) => (t as Plannable).plan((t as Plannable).current(snap), (t as Plannable).spec)
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(ovs.bridges[name], name).toBeUndefined()
      expect(links[name], name).toBeUndefined()
      expect(plan(ovsBridge({ name, datapathType: 'netdev' })).map((c) => c.op), name).toEqual(['create'])
      expect(plan(ovsPort({ bridge: 'br-phy', name, type: 'internal' })).map((c) => c.op), name).toEqual(['create'])
      // no such link on the host: a clear "does not exist", not a TypeError from a built-in
      expect(() => plan(ipAddress({ dev: name, address: '10.99.0.1/24' })), name).not.toThrow(TypeError)
    }
  })
})

describe('ovsPort and an interface OVS could not set up (recorded: a system port whose device does not exist)', () => {
  it('fails with OVS\'s reason instead of reporting the port ok; a type change that can fix it is still planned', async () => {
    const fx = JSON.parse(readFileSync(join(dir, 'ovs/state-bridge-internal-vxlan-missing-device.json'), 'utf8')) as FactFixture
    const { parseOvsState } = await import('../../lib/facts/ovs.ts')
    const { ovsPort } = await import('../../lib/tasks/ovs.ts')
    const ovs = parseOvsState(fx.stdout)
    const snap = { get: <T>(): T => ovs as T }
    type Plannable = { current: (s: typeof snap) => unknown; plan: (c: unknown, s: unknown) => Array<{ op: string }>; spec: unknown }
    const plan = (t: unknown) => (t as Plannable).plan((t as Plannable).current(snap), (t as Plannable).spec)
    expect(() => plan(ovsPort({ bridge: 'rbr1', name: 'rgone', type: 'system' }))).toThrow(/^OVS cannot use interface rgone: could not open network device rgone \(No such device\)$/)
    expect(plan(ovsPort({ bridge: 'rbr1', name: 'rgone', type: 'internal' })).map((c) => c.op)).toEqual(['update'])
    // an mtu_request alone cannot fix it: planned as an update, it would write the column and then fail
    expect(() => plan(ovsPort({ bridge: 'rbr1', name: 'rgone', type: 'system', mtuRequest: 1400 }))).toThrow(/^OVS cannot use interface rgone: could not open network device rgone \(No such device\) \(setting mtuRequest would not fix it\)$/)
    expect(plan(ovsPort({ bridge: 'rbr1', name: 'rgone', type: 'internal', mtuRequest: 1400 })).map((c) => c.op)).toEqual(['update'])
    expect(plan(ovsPort({ bridge: 'rbr1', name: 'rnet1', type: 'internal', mtuRequest: 1450 }))).toEqual([])
  })
})
