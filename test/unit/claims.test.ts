/**
 * Two tasks on one host that set one object differently (Task.claims): refused when the playbook is built, before
 * any host is contacted, naming the host, both tasks and their plays, and the object. The cases are a fresh-user
 * trial's: each of them was accepted, and then flipped the host on every run (changed on every rerun, exit 0) or
 * failed only after the host was changed.
 */
import { describe, expect, it } from 'vitest'
import { PlaybookValidationError } from '../../lib/core/errors.ts'
import { buildPlaybook, playbook, type PlaybookDef } from '../../lib/core/playbook.ts'
import { defineTask, type AnyTask } from '../../lib/core/task.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'

const inventory = Inventory.load('test/fixtures/inventory/graph-2hosts.yml')

/** The problems building the playbook reports (none: []). */
function problems(pb: PlaybookDef, flags: Record<string, string | boolean> = {}): string[] {
  try {
    buildPlaybook(pb, { inventory, flags })
    return []
  } catch (e) {
    if (e instanceof PlaybookValidationError) return [...e.problems]
    throw e
  }
}

/** One play on host1 with these tasks. */
const onePlay = (tasks: () => AnyTask[]): PlaybookDef => playbook({ name: 'bad', plays: [{ name: 'p', hosts: 'host1', tasks }] })
/** Two plays on host1, `a` then `b`. */
const twoPlays = (a: () => AnyTask[], b: () => AnyTask[]): PlaybookDef =>
  playbook({ name: 'twoplays', plays: [{ name: 'a', hosts: 'host1', tasks: a }, { name: 'b', hosts: 'host1', tasks: b }] })

describe('Task.claims: the check itself', () => {
  const task = (key: string, claims: Array<{ object: string; value: string; because?: string }>): AnyTask =>
    defineTask<unknown, unknown>({ kind: 'test', key, spec: {}, facts: [], claims, current: () => undefined, plan: () => [] }) as AnyTask
  it('different values on one object: one problem per conflicting task, naming host, tasks, plays, object and values', () => {
    const pb = twoPlays(() => [task('t[1]', [{ object: 'o:x', value: 'v1' }])], () => [task('t[2]', [{ object: 'o:x', value: 'v2', because: 'it needs it' }]), task('t[3]', [{ object: 'o:x', value: 'v1' }])])
    expect(problems(pb)).toEqual(['twoplays: host1 t[2]: wants o:x = v2 (it needs it) in play "b", but t[1] in play "a" wants o:x = v1 (both cannot hold: each run would undo one of them, or fail on it)'])
  })
  it('equal values, other objects, other hosts: fine', () => {
    const pb = twoPlays(() => [task('t[1]', [{ object: 'o:x', value: 'v1' }, { object: 'o:y', value: 'a' }])], () => [task('t[2]', [{ object: 'o:x', value: 'v1' }, { object: 'o:z', value: 'b' }])])
    expect(problems(pb)).toEqual([])
  })
  it('one key twice in one play is reported once, as a duplicate key', () => {
    const ps = problems(onePlay(() => [task('t[1]', [{ object: 'o:x', value: 'v1' }]), task('t[1]', [{ object: 'o:x', value: 'v2' }])]))
    expect(ps).toEqual(['bad: host1 t[1]: duplicate task key in play "p" (keys must be unique per host)'])
  })
  it('stays linear: 80000 claiming tasks on one host build in seconds, not minutes', () => {
    const many = (): AnyTask[] => Array.from({ length: 40_000 }, (_, i) => task(`t[${i}]`, [{ object: `o:${i}`, value: 'v' }, { object: `shared:${i % 100}`, value: 'same' }]))
    const t0 = performance.now()
    expect(problems(twoPlays(many, many))).toEqual([])
    expect(performance.now() - t0).toBeLessThan(5000)
  })
})

