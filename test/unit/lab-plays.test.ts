import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildPlaybook } from '../../lib/core/playbook.ts'
import { SkipTask, type AnyFact, type AnyTask, type Change } from '../../lib/core/task.ts'
import type { ContainerNetns, DockerContainerState, DockerImageState } from '../../lib/facts/docker.ts'
import type { OvsState } from '../../lib/facts/ovs.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { vethNames } from '../../lib/tasks/docker.ts'
import { lab } from '../../playbooks/lab.ts'

// The lab's teardown plays as built (no host contacted): what `--state absent` removes, and what it keeps.
const inventory = Inventory.load(join(import.meta.dirname, '..', 'fixtures', 'inventory', 'graph-2hosts.yml'))
function tasksOf(state: 'present' | 'absent', host: string): AnyTask[] {
  const plays = buildPlaybook(lab, { inventory, check: false, flags: { state } })
  return plays.flatMap((p) => p.hosts.filter((h) => h.host.name === host).flatMap((h) => [...h.tasks]))
}
const spec = (tasks: AnyTask[], key: string): Record<string, unknown> => tasks.find((t) => t.key === key)!.spec as Record<string, unknown>
/** A task's plan from fact values given by fact id, or the reason it is skipped (`skip: ...`). */
function planOf(tasks: AnyTask[], key: string, values: Record<string, unknown>): Change[] | string {
  const t = tasks.find((x) => x.key === key)!
  const snap = {
    get: <T>(f: AnyFact | { id: string }): T => {
      if (!(f.id in values)) throw new Error(`test gave no value for fact ${f.id}`)
      return values[f.id] as T
    },
  }
  try {
    return t.plan(t.current(snap as never), t.spec)
  } catch (e) {
    if (e instanceof SkipTask) return `skip: ${e.reason}`
    throw e
  }
}
const recorded = <T>(name: string): T => (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'facts', 'docker', `${name}.json`), 'utf8')) as { expected: T }).expected

describe('lab --state absent', () => {
  it('removes what the build makes, kind by kind in the reverse order of the build', () => {
    const kinds = (ts: AnyTask[]): string[] => ts.map((t) => t.kind).filter((k) => k !== 'net.ipAddress').filter((k, i, a) => k !== a[i - 1])
    const keys = (ts: AnyTask[]): string[] => ts.map((t) => t.key).filter((k) => !k.startsWith('net.ipAddress[')).sort()
    for (const host of ['gw', 'host1', 'host2']) {
      expect(kinds(tasksOf('absent', host)), host).toEqual(kinds(tasksOf('present', host)).reverse())
      expect(keys(tasksOf('absent', host)), host).toEqual(keys(tasksOf('present', host))) // the address goes with its port
    }
  })
  it('deletes a bridge only with no port but the lab\'s, and the image only while no container but the lab\'s uses it', () => {
    const h1 = tasksOf('absent', 'host1')
    expect(spec(h1, 'ovs.bridge[br1]')).toMatchObject({ ensure: 'absent', ownPorts: ['net1', 'vxlan1', vethNames('doc1', 'eth0').host] })
    expect(spec(h1, 'ovs.bridge[br2]')).toMatchObject({ ensure: 'absent', ownPorts: ['net2', 'vxlan2', vethNames('doc2', 'eth0').host] })
    expect(spec(h1, 'docker.image[con_img]')).toMatchObject({ ensure: 'absent', ownContainers: ['doc1', 'doc2'] })
    const h2 = tasksOf('absent', 'host2')
    expect(spec(h2, 'ovs.bridge[br1]')).toMatchObject({ ownPorts: ['vxlan1', vethNames('doc3', 'eth0').host] })
    expect(spec(h2, 'docker.image[con_img]')).toMatchObject({ ownContainers: ['doc3', 'doc4'] })
  })
  it('keeps a container of the user\'s that merely has a lab name (no vxlab.spec label), and the image it runs; the bridge still goes', () => {
    const h2 = tasksOf('absent', 'host2')
    expect(spec(h2, 'docker.container[doc3]')).toMatchObject({ state: 'absent', keepForeign: true })
    expect(spec(h2, 'docker.image[con_img]')).toMatchObject({ ownContainersLabeled: true })
    // a container as read on the testbed: the lab's carries vxlab.spec; the user's (docker run --name doc3 -l mine=yes
    // con_img) has only the labels it inherits from the image (vxlab.hash) and its own
    const labs = recorded<Extract<DockerContainerState, { exists: true }>>('container-running')
    const image = recorded<Extract<DockerImageState, { exists: true }>>('image-present')
    const user: DockerContainerState = { ...labs, name: 'doc3', restart: 'no', labels: { 'vxlab.hash': labs.labels['vxlab.hash']!, mine: 'yes' } }
    const doc4: DockerContainerState = { ...labs, name: 'doc4' }
    const netns: ContainerNetns = { container: 'running', status: 'running', pid: labs.pid, links: {}, routes: [], txOffload: 'absent', hostTxOffload: 'absent' }
    const ovs = {
      bridges: { br1: { name: 'br1', uuid: 'u1', datapathType: 'system', externalIds: {}, ports: ['br1', 'vxlan1'] } },
      ports: {}, interfaces: {},
    } as unknown as OvsState
    const facts = {
      'docker.container:doc3': user, 'docker.container:doc4': doc4, 'docker.image:con_img': image,
      // check mode: the lab's doc4 is still there (apply: removed before); both plan the same
      'docker.imageUsers:con_img': [{ name: 'doc3', imageId: image.id }, { name: 'doc4', imageId: image.id, specLabel: true }],
      'docker.netns:doc3:eth0': netns, 'ovs.state': ovs,
    }
    expect(planOf(h2, 'docker.container[doc3]', facts)).toBe('skip: kept container doc3: not made by vxlab (no vxlab.spec label); remove or rename it (docker rm -f doc3 / docker rename doc3 NEW) and run again if it should go')
    expect((planOf(h2, 'docker.container[doc4]', facts) as Change[]).flatMap((c) => c.commands.map((x) => x.argv))).toEqual([['docker', 'rm', '-f', 'doc4']])
    expect(planOf(h2, 'docker.image[con_img]', facts)).toMatch(/^skip: kept image con_img \(\w+\): in use by container doc3 \(no vxlab\.spec label\), which this playbook did not create/)
    // the kept container has no lab port: nothing to detach, and the bridge holds no port but the lab's
    expect(planOf(h2, 'docker.containerPort[doc3:eth0]', facts)).toEqual([])
    expect((planOf(h2, 'ovs.bridge[br1]', facts) as Change[]).map((c) => c.summary)).toEqual(['delete bridge br1 (no port but the playbook\'s)'])
    // once the user's container is gone, the image goes
    const gone = { ...facts, 'docker.container:doc3': { exists: false }, 'docker.imageUsers:con_img': [] }
    expect(planOf(h2, 'docker.container[doc3]', gone)).toEqual([])
    expect((planOf(h2, 'docker.image[con_img]', gone) as Change[]).map((c) => c.op)).toEqual(['delete'])
  })
  it('forces no runtime value: forwarding keeps its value (only the persisted file goes), the MTU goes back to the recorded one', () => {
    for (const host of ['gw', 'host1', 'host2']) {
      const tasks = tasksOf('absent', host)
      expect(tasks.filter((t) => t.kind === 'command'), host).toEqual([])
      for (const t of tasks.filter((x) => x.kind === 'sysctl')) expect(t.spec).toMatchObject({ ensure: 'absent' })
      for (const t of tasks.filter((x) => x.kind === 'net.setMtu')) expect(t.spec).toMatchObject({ mtu: 1554, ensure: 'absent' })
      // the build records the MTU it replaces
      for (const t of tasksOf('present', host).filter((x) => x.kind === 'net.setMtu')) expect(t.spec).toMatchObject({ mtu: 1554, recordPrior: true })
    }
    expect(tasksOf('absent', 'gw').filter((t) => t.kind === 'net.setMtu').map((t) => t.key)).toEqual(['net.setMtu[gw-h1]', 'net.setMtu[gw-h2]'])
  })
})
