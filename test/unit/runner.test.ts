import { describe, expect, it } from 'vitest'
import { SkipTask, type Change, type Fact, type Task } from '../../lib/core/task.ts'
import { runPlaybook, exitCodeOf, playbook, type PlaybookDef } from '../../lib/core/playbook.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { FakeHost } from './fake-connection.ts'

type Cur = string | undefined
function kvFact(key: string): Fact<Cur> {
  return { id: `kv:${key}`, command: { argv: ['kv-get', key] }, okExitCodes: [0, 1], parse: (o) => (o.code === 1 ? undefined : o.stdout) }
}
/** A toy task: key KEY must hold VALUE. `watches` lets a test declare a dependency. */
function kv(key: string, value: string, watches?: string[]): Task<{ key: string; value: string }, Cur> {
  const fact = kvFact(key)
  return {
    kind: 'kv', key: `kv[${key}]`, spec: { key, value }, facts: [fact],
    ...(watches ? { watches } : { watches: [`kv:${key}`] }),
    current: (f) => f.get(fact),
    plan: (cur, spec): Change[] => cur === spec.value ? [] : [{
      op: cur === undefined ? 'create' : 'update', summary: `${spec.key}=${spec.value}`, before: cur, after: spec.value,
      commands: [{ argv: ['kv-set', spec.key, spec.value] }], touches: [`kv:${spec.key}`],
    }],
  }
}

const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n    b: {}\n    c: {}\n', 'fake.yml')

async function run(pb: PlaybookDef, hosts: Record<string, FakeHost>, check = false) {
  return runPlaybook(pb, { inventory, check, connect: async (h) => hosts[h.name]! })
}

const pb = (tasks: () => Task<any, any>[]): PlaybookDef => playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => tasks() }] })

describe('runner', () => {
  it('check mode reads once per host and sends no mutating command, yet reports every change', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    const r = await run(pb(() => [kv('x', '1'), kv('y', '2')]), hosts, true)
    for (const h of Object.values(hosts)) {
      expect(h.mutating()).toEqual([])
      expect(h.execCount).toBe(1)
      expect(h.state.size).toBe(0)
    }
    expect(r.hosts.a).toMatchObject({ changed: 2, ok: 0, failed: 0, execs: 1 })
    expect(r.tasks.filter((t) => t.host === 'a').map((t) => t.changes[0]?.commands)).toEqual([['kv-set x 1'], ['kv-set y 2']])
  })
  it('applies independent changes and re-reads in one exec, then a rerun is one exec with 0 changed', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    const book = pb(() => [kv('x', '1'), kv('y', '2'), kv('z', '3')])
    const first = await run(book, hosts)
    expect(hosts.a.execCount).toBe(2) // facts, then apply + re-read
    expect(first.hosts.a).toMatchObject({ changed: 3, failed: 0 })
    expect([...hosts.a.state]).toEqual([['x', '1'], ['y', '2'], ['z', '3']])
    const second = await run(book, hosts)
    expect(second.hosts.a).toMatchObject({ changed: 0, ok: 3, execs: 3 }) // cumulative on the same fake: 2 + 1
    expect(exitCodeOf(second)).toBe(0)
  })
  it('check mode: a task whose plan fails on what an earlier task changes first still fails, and says so', async () => {
    // needs x to hold 1 before it can plan (as containerPort needs the container that dockerContainer replaces)
    const needsX = (): Task<{ key: string; value: string }, Cur> => {
      const fact = kvFact('x')
      return {
        kind: 'kv', key: 'needs[x]', spec: { key: 'y', value: '2' }, facts: [fact], watches: ['kv:x'],
        current: (f) => f.get(fact),
        plan: (cur): Change[] => {
          if (cur !== '1') throw new Error(`x is ${cur ?? 'not set'}`)
          return []
        },
      }
    }
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    const r = await run(pb(() => [kv('x', '1'), needsX()]), hosts, true)
    const t = r.tasks.find((x) => x.host === 'a' && x.key === 'needs[x]')!
    // never a hidden failure: check mode cannot know whether the earlier change fixes it
    expect(t.status).toBe('failed')
    expect(t.error).toBe('x is not set (planned from the current state; kv[x] changes what this task reads first, and apply plans it after that change)')
    expect(exitCodeOf(r)).toBe(1)
    // nothing earlier changes x: the same failure is the task's own
    const alone = await run(pb(() => [needsX()]), { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }, true)
    expect(alone.tasks.find((x) => x.host === 'a')).toMatchObject({ status: 'failed', error: 'x is not set' })
    // the change in an earlier play of the same host counts too
    const twoPlays = playbook({ name: 't', plays: [{ name: 'p1', hosts: 'all', tasks: () => [kv('x', '1')] }, { name: 'p2', hosts: 'all', tasks: () => [needsX()] }] })
    const r2 = await run(twoPlays, { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }, true)
    expect(r2.tasks.find((x) => x.host === 'a' && x.key === 'needs[x]')!.error).toMatch(/^x is not set \(planned from the current state; kv\[x\] changes/)
  })
  it('a parse that finds the read itself failed (a daemon that did not answer) is reported as a failed read', async () => {
    const { ReadFailedError } = await import('../../lib/core/errors.ts')
    const down: Fact<Cur> = {
      id: 'kv:d', service: 'kvd', command: { argv: ['kv-get', 'd'] }, okExitCodes: [0, 1],
      parse: (o) => {
        if (o.code === 1) throw new ReadFailedError('kvd did not answer: no such key', 'no such key')
        return o.stdout
      },
    }
    const task: Task<{ key: string; value: string }, Cur> = { ...kv('d', '1'), facts: [down], current: (f) => f.get(down) }
    const r = await run(pb(() => [task]), { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }, true)
    expect(r.tasks.find((t) => t.host === 'a')!.error).toBe('reading kv:d failed (kvd did not answer; is it running?): no such key')
  })
  it('re-reads before planning a task that watches what an earlier change touched', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    // second task writes y but watches x: it must be planned after x was applied
    const book = pb(() => [kv('x', '1'), kv('y', '2', ['kv:x'])])
    await run(book, hosts)
    expect(hosts.a.execCount).toBe(3)
    const firstSet = hosts.a.commands.findIndex((c) => c[0] === 'kv-set')
    const secondRead = hosts.a.commands.findIndex((c, i) => i > firstSet && c[0] === 'kv-get' && c[1] === 'y')
    expect(secondRead).toBeGreaterThan(firstSet)
  })
  it("one host's failure stops its later tasks and leaves the others converging", async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    hosts.b.failing.add('y')
    const r = await run(pb(() => [kv('x', '1'), kv('y', '2'), kv('z', '3', ['kv:y'])]), hosts)
    expect(r.hosts.b).toMatchObject({ changed: 1, failed: 1, skipped: 1 })
    expect(r.hosts.a).toMatchObject({ changed: 3, failed: 0 })
    expect(r.hosts.c).toMatchObject({ changed: 3, failed: 0 })
    expect(hosts.b.state.has('z')).toBe(false)
    const failed = r.tasks.find((t) => t.host === 'b' && t.status === 'failed')!
    expect(failed.key).toBe('kv[y]')
    expect(failed.error).toMatch(/command failed \(exit 5\): kv-set y 2: cannot set y/)
    expect(exitCodeOf(r)).toBe(1)
  })
  it('a task that skips itself (SkipTask: it keeps something) is skipped with its reason, not failed; the host goes on', async () => {
    // keeps x while it holds "user" (as ovsBridge absent keeps a bridge with a user's port)
    const keepX = (): Task<{ key: string; value: string }, Cur> => {
      const fact = kvFact('x')
      return {
        kind: 'kv', key: 'keep[x]', spec: { key: 'x', value: '' }, facts: [fact], watches: ['kv:x'],
        current: (f) => f.get(fact),
        plan: (cur): Change[] => {
          if (cur === 'user') throw new SkipTask('kept x: it holds a value of the user')
          return []
        },
      }
    }
    for (const check of [true, false]) {
      const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
      hosts.a.state.set('x', 'user')
      const r = await run(pb(() => [kv('w', '1'), keepX(), kv('z', '3')]), hosts, check)
      expect(r.tasks.find((t) => t.host === 'a' && t.key === 'keep[x]')).toMatchObject({ status: 'skipped', error: 'kept x: it holds a value of the user' })
      expect(r.hosts.a).toMatchObject({ changed: 2, skipped: 1, failed: 0 })
      expect(r.tasks.find((t) => t.host === 'b' && t.key === 'keep[x]')).toMatchObject({ status: 'ok' })
      expect(exitCodeOf(r)).toBe(0)
      if (!check) expect(hosts.a.state.get('z')).toBe('3')
    }
    // apply: reported in task order (after the change still waiting before it), and with no exec of its own
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    hosts.a.state.set('x', 'user')
    hosts.a.failing.add('z')
    const order: string[] = []
    const r = await runPlaybook(pb(() => [kv('w', '1'), keepX(), kv('z', '3')]), {
      inventory, check: false, connect: async (h) => hosts[h.name as 'a']!, events: { taskDone: (_p, h, o) => { if (h === 'a') order.push(`${o.key} ${o.status}`) } },
    })
    expect(order).toEqual(['kv[w] changed', 'keep[x] skipped', 'kv[z] failed'])
    expect(r.tasks.find((t) => t.host === 'a' && t.key === 'keep[x]')!.error).toBe('kept x: it holds a value of the user')
    expect(hosts.a.execCount).toBe(2) // facts, then the apply batch: the skip adds no exec
  })
  it('detects a task that did not converge, with both plans in the error', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    hosts.a.sticky.add('x')
    const r = await run(pb(() => [kv('x', '1')]), hosts)
    const t = r.tasks.find((x) => x.host === 'a')!
    expect(t.status).toBe('failed')
    expect(t.error).toMatch(/did not converge: first plan: create x=1; plan after apply: create x=1/)
    expect(r.hosts.b!.failed).toBe(0)
  })
  it('a fact that fails to read (daemon down) fails the task, never reads as absent, and applies nothing', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    hosts.a.daemonDown = true
    const r = await run(pb(() => [kv('x', '1')]), hosts)
    expect(r.tasks.find((t) => t.host === 'a')!.error).toMatch(/reading kv:x failed: `kv-get x` exited 2: kv daemon is not running/)
    expect(hosts.a.mutating()).toEqual([])
  })
  it('counts recap and JSON per host, and marks unreachable hosts', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    hosts.a.state.set('x', '1')
    const r = await runPlaybook(pb(() => [kv('x', '1'), kv('y', '2')]), {
      inventory,
      connect: async (h) => {
        if (h.name === 'c') throw new Error('c: unreachable: connection refused')
        return hosts[h.name as 'a' | 'b']
      },
    })
    expect(r.hosts).toEqual({
      a: { ok: 1, changed: 1, failed: 0, skipped: 0, unreachable: 0, execs: 2 },
      b: { ok: 0, changed: 2, failed: 0, skipped: 0, unreachable: 0, execs: 2 },
      c: { ok: 0, changed: 0, failed: 0, skipped: 2, unreachable: 1, execs: 0 },
    })
    expect(JSON.parse(JSON.stringify(r)).tasks).toHaveLength(6)
  })
  it('rejects duplicate task keys and names playbook, host and key before contacting any host', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b'), c: new FakeHost('c') }
    await expect(run(pb(() => [kv('x', '1'), kv('x', '2')]), hosts)).rejects.toThrow(/t: a kv\[x\]: duplicate task key/)
    expect(hosts.a.execCount).toBe(0)
  })
})

// A fourth fresh-user trial: check mode planned a port on a bridge that no earlier task creates as a plain change,
// and apply then failed on the host ("no bridge named ..."). Change.needs makes that a planning failure, in check
// mode too. Toy tasks: `bridge` sets kv key b; `port` needs it (as ovsPort needs its bridge).
describe('Change.needs: what a change needs that does not exist now', () => {
  const bridge = (): Task<{ key: string; value: string }, Cur> => kv('b', 'up')
  const port = (): Task<{ key: string; value: string }, Cur> => {
    const fact = kvFact('b')
    const portFact = kvFact('p')
    return {
      kind: 'port', key: 'port[p]', spec: { key: 'p', value: 'on-b' }, facts: [fact, portFact], watches: ['kv:p'],
      current: (f) => (f.get(fact) === undefined ? 'no-bridge' : f.get(portFact)),
      plan: (cur): Change[] => cur === 'on-b' ? [] : [{
        op: 'create', summary: 'p on b', commands: [{ argv: ['kv-set', 'p', 'on-b'] }], touches: ['kv:p'],
        ...(cur === 'no-bridge' ? { needs: [{ key: 'kv:b', what: 'bridge b' }] } : {}),
      }],
    }
  }
  /** A task whose change may touch anything (no `touches`), as a command task. */
  const anything = (): Task<{ key: string; value: string }, Cur> => ({ ...kv('z', '1'), plan: () => [{ op: 'create', summary: 'z', commands: [{ argv: ['kv-set', 'b', 'up'] }] }] })
  const one = (tasks: () => Task<any, any>[]) => playbook({ name: 't', plays: [{ name: 'p', hosts: 'a', tasks }] })

  for (const check of [true, false]) {
    const mode = check ? 'check mode' : 'apply'
    it(`${mode}: a port whose bridge no task creates fails when planned, naming it; nothing is sent`, async () => {
      const a = new FakeHost('a')
      const r = await run(one(() => [port()]), { a } as Record<string, FakeHost>, check)
      expect(r.tasks.find((t) => t.key === 'port[p]')).toMatchObject({ status: 'failed', error: 'bridge b does not exist and no earlier task of this run creates it' })
      expect(a.mutating()).toEqual([])
      expect(exitCodeOf(r)).toBe(1)
    })
    it(`${mode}: created by an earlier task, it is fine`, async () => {
      const a = new FakeHost('a')
      const r = await run(one(() => [bridge(), port()]), { a } as Record<string, FakeHost>, check)
      expect(r.tasks.map((t) => [t.key, t.status])).toEqual([['kv[b]', 'changed'], ['port[p]', 'changed']])
      if (!check) expect([...a.state]).toEqual([['b', 'up'], ['p', 'on-b']])
    })
    it(`${mode}: created only by a LATER task, the port fails (apply would have run it first)`, async () => {
      const a = new FakeHost('a')
      const r = await run(one(() => [port(), bridge()]), { a } as Record<string, FakeHost>, check)
      expect(r.tasks.find((t) => t.key === 'port[p]')).toMatchObject({ status: 'failed' })
      expect(a.mutating()).toEqual([])
    })
    it(`${mode}: an earlier change that may touch anything (no touches) may create it: not refused`, async () => {
      const a = new FakeHost('a')
      const r = await run(one(() => [anything(), port()]), { a } as Record<string, FakeHost>, check)
      expect(r.tasks.find((t) => t.key === 'port[p]')).toMatchObject({ status: 'changed' })
    })
  }
})
