import { beforeAll, afterAll, describe, expect, it } from 'vitest'
import { ensureTestbed, hostExec } from '../../lib/testbed/index.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../../lib/tasks/ovs.ts'
import { errors, runTasks, statuses } from './helpers.ts'

const dp = 'netdev' as const
const tasks = (remote: string, key: number) => [
  ovsBridge({ name: 'tobr1', datapathType: dp }),
  ovsPort({ bridge: 'tobr1', name: 'tonet1', type: 'internal', mtuRequest: 1450 }),
  vxlanPort({ bridge: 'tobr1', name: 'tovx1', remoteIp: remote, key }),
]
const vsctl = (host: string, ...args: string[]) => hostExec(host, ['ovs-vsctl', '--timeout=10', ...args])
/** What a run could change: the bridges, ports and interfaces with their configuration (not traffic counters). */
async function show(host: string): Promise<string> {
  const config = '--columns=_uuid,name,type,options,external_ids,other_config,mtu_request,ofport_request,admin_state'
  return (await vsctl(host, '--format=json', config, 'list', 'Interface')).stdout + (await vsctl(host, 'show')).stdout
}
async function cleanup(): Promise<void> {
  for (const h of ['host1', 'host2']) await vsctl(h, '--if-exists', 'del-br', 'tobr1', '--', '--if-exists', 'del-br', 'tobr2')
}

beforeAll(async () => {
  await ensureTestbed({ hosts: 2 })
  await cleanup()
})
afterAll(cleanup)

describe('OVS tasks on the testbed', () => {
  it('check mode on a fresh host plans bridge, port and tunnel as creates, without error, changing nothing', async () => {
    const before = await show('host1')
    const r = await runTasks({ host1: tasks('172.16.20.100', 5000) }, { check: true })
    expect(errors(r)).toBe('')
    expect(statuses(r, 'host1')).toEqual({ 'ovs.bridge[tobr1]': 'changed', 'ovs.port[tonet1]': 'changed', 'ovs.vxlanPort[tovx1]': 'changed' })
    expect(r.tasks.flatMap((t) => t.changes.map((c) => c.op))).toEqual(['create', 'create', 'create'])
    expect(await show('host1')).toBe(before)
  })
  it('creates, then a rerun changes nothing in one exec per host, reading OVS on ovsdb-server\'s socket', async () => {
    const r = await runTasks({ host1: tasks('172.16.20.100', 5000), host2: tasks('172.16.10.100', 5000) })
    expect(errors(r)).toBe('')
    expect(r.hosts.host1).toMatchObject({ changed: 3, failed: 0 })
    const iface = JSON.parse((await vsctl('host1', '--format=json', '--columns=type,options,mtu_request', 'list', 'Interface', 'tovx1')).stdout)
    expect(JSON.stringify(iface.data)).toContain('"remote_ip","172.16.20.100"')
    const again = await runTasks({ host1: tasks('172.16.20.100', 5000), host2: tasks('172.16.10.100', 5000) })
    // these tasks read only the OVS state, from ovsdb-server's socket over SSH; the one exec is the check, once per
    // connection, that ovsdb-client would use that socket (builtins only: OVS_RUNDIR and PATH)
    expect(again.hosts.host1).toMatchObject({ ok: 3, changed: 0, execs: 1 })
    expect(again.hosts.host2).toMatchObject({ ok: 3, changed: 0, execs: 1 })
  })
  it('VXLAN remote_ip and key changed by hand: check mode reports it without touching it, apply repairs in place', async () => {
    await vsctl('host1', 'set', 'interface', 'tovx1', 'options:remote_ip=172.16.30.100', 'options:key=5999')
    const uuidBefore = (await vsctl('host1', 'get', 'interface', 'tovx1', '_uuid')).stdout
    const c = await runTasks({ host1: tasks('172.16.20.100', 5000) }, { check: true })
    const ch = c.tasks.find((t) => t.key === 'ovs.vxlanPort[tovx1]')!
    expect(ch.changes[0]).toMatchObject({ op: 'update', before: { remote_ip: '172.16.30.100', key: '5999' }, after: { remote_ip: '172.16.20.100', key: '5000' } })
    expect((await vsctl('host1', 'get', 'interface', 'tovx1', 'options:key')).stdout.trim()).toBe('"5999"')
    const r = await runTasks({ host1: tasks('172.16.20.100', 5000) })
    expect(statuses(r, 'host1')['ovs.vxlanPort[tovx1]']).toBe('changed')
    expect((await vsctl('host1', 'get', 'interface', 'tovx1', 'options:key')).stdout.trim()).toBe('"5000"')
    expect((await vsctl('host1', 'get', 'interface', 'tovx1', '_uuid')).stdout).toBe(uuidBefore) // updated in place, not recreated
  })
  it('a port moved to another bridge by hand is moved back (replace)', async () => {
    await vsctl('host1', 'add-br', 'tobr2', '--', 'set', 'bridge', 'tobr2', 'datapath_type=netdev', '--', 'del-port', 'tonet1', '--', 'add-port', 'tobr2', 'tonet1', '--', 'set', 'interface', 'tonet1', 'type=internal')
    const r = await runTasks({ host1: tasks('172.16.20.100', 5000) })
    expect(errors(r)).toBe('')
    expect(r.tasks.find((t) => t.key === 'ovs.port[tonet1]')!.changes[0]!.op).toBe('replace')
    expect((await vsctl('host1', 'port-to-br', 'tonet1')).stdout.trim()).toBe('tobr1')
  })
  it("ensure: 'absent' removes ports and bridge, and a second absent run changes nothing", async () => {
    const absent = [
      vxlanPort({ bridge: 'tobr1', name: 'tovx1', remoteIp: '172.16.20.100', key: 5000, ensure: 'absent' }),
      ovsPort({ bridge: 'tobr1', name: 'tonet1', type: 'internal', ensure: 'absent' }),
      ovsBridge({ name: 'tobr1', ensure: 'absent' }),
    ]
    const r = await runTasks({ host1: absent, host2: absent })
    expect(errors(r)).toBe('')
    expect((await vsctl('host1', 'list-br')).stdout).not.toContain('tobr1')
    const again = await runTasks({ host1: absent, host2: absent })
    expect(again.hosts.host1).toMatchObject({ changed: 0, ok: 3 })
  })
})
