import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildPlaybook } from '../../lib/core/playbook.ts'
import type { AnyTask } from '../../lib/core/task.ts'
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
