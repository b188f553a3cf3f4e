import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeCommand } from '../../lib/core/command.ts'
import { SkipTask, type Change } from '../../lib/core/task.ts'
import { parseOvsState, type OvsState } from '../../lib/facts/ovs.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../../lib/tasks/ovs.ts'
import type { FactFixture } from '../fixtures/recorder.ts'

const empty: OvsState = { bridges: {}, ports: {}, interfaces: {} }
function state(): OvsState {
  return {
    bridges: { br1: { name: 'br1', uuid: 'b1', datapathType: 'netdev', externalIds: {}, ports: ['br1', 'net1', 'vxlan1'] } },
    ports: {
      br1: { name: 'br1', uuid: 'p0', bridge: 'br1', interfaces: ['br1'], externalIds: {} },
      net1: { name: 'net1', uuid: 'p1', bridge: 'br1', interfaces: ['net1'], externalIds: {} },
      vxlan1: { name: 'vxlan1', uuid: 'p2', bridge: 'br1', interfaces: ['vxlan1'], externalIds: {} },
    },
    interfaces: {
      br1: { name: 'br1', uuid: 'i0', type: 'internal', options: {}, externalIds: {} },
      net1: { name: 'net1', uuid: 'i1', type: 'internal', options: {}, externalIds: {}, mtuRequest: 1500 },
      vxlan1: { name: 'vxlan1', uuid: 'i2', type: 'vxlan', options: { remote_ip: '172.16.20.100', key: '5000' }, externalIds: {} },
    },
  }
}
const snap = (s: OvsState) => ({ get: <T>() => s as unknown as T })
const plan = (t: { current: (f: any) => unknown; plan: (c: any, s: any) => Change[]; spec: unknown }, s: OvsState): Change[] => t.plan(t.current(snap(s)), t.spec)
const argv = (cs: Change[]) => cs.flatMap((c) => c.commands.map(describeCommand))

describe('ovsBridge plans', () => {
  it('absent -> create with --may-exist, datapath and external ids in one transaction', () => {
    const cs = plan(ovsBridge({ name: 'br1', datapathType: 'netdev', externalIds: { owner: 'vxlab' } }), empty)
    expect(cs.map((c) => c.op)).toEqual(['create'])
    expect(cs[0]!.commands[0]!.argv).toEqual(['ovs-vsctl', '--timeout=10', '--may-exist', 'add-br', 'br1', '--', 'set', 'bridge', 'br1', 'datapath_type=netdev', 'external_ids:owner="vxlab"'])
  })
  it('in sync -> nothing, including a bridge without fail_mode when none is asked for', () => {
    expect(plan(ovsBridge({ name: 'br1', datapathType: 'netdev' }), state())).toEqual([])
    expect(plan(ovsBridge({ name: 'br1' }), state())).toEqual([])
  })
  it('drift -> update of exactly the drifted attribute', () => {
    const cs = plan(ovsBridge({ name: 'br1', datapathType: 'system', failMode: 'secure' }), state())
    expect(cs[0]).toMatchObject({ op: 'update', before: { datapathType: 'netdev', failMode: null }, after: { datapathType: 'system', failMode: 'secure' } })
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 set bridge br1 datapath_type=system fail_mode=secure'])
  })
  it('absent wanted -> delete, or nothing', () => {
    expect(argv(plan(ovsBridge({ name: 'br1', ensure: 'absent' }), state()))).toEqual(['ovs-vsctl --timeout=10 --if-exists del-br br1'])
    expect(plan(ovsBridge({ name: 'br9', ensure: 'absent' }), state())).toEqual([])
  })
  it('absent with ownPorts: deleted while it holds only those (whether or not they are gone yet), else kept with the reason', () => {
    const lab = ovsBridge({ name: 'br1', ensure: 'absent', ownPorts: ['net1', 'vxlan1'] })
    // as check mode sees it (the ports are deleted by earlier tasks) and as apply may (already gone): the same plan
    expect(argv(plan(lab, state()))).toEqual(['ovs-vsctl --timeout=10 --if-exists del-br br1'])
    expect(plan(lab, state())[0]!.summary).toBe("delete bridge br1 (no port but the playbook's)")
    const bare = state()
    bare.bridges.br1 = { ...bare.bridges.br1!, ports: ['br1'] }
    expect(plan(lab, bare)).toEqual(plan(lab, state()))
    // a port of the user's keeps the bridge: a skip naming it, not a failure
    const user = state()
    user.bridges.br1 = { ...user.bridges.br1!, ports: ['br1', 'myport', 'net1', 'vxlan1'] }
    let err: unknown
    try {
      plan(lab, user)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SkipTask)
    expect((err as SkipTask).reason).toBe('kept bridge br1: it has a port this playbook did not make (myport); remove it (ovs-vsctl del-port) and run again to delete the bridge')
    // without ownPorts, the bridge goes with every port (as before)
    expect(plan(ovsBridge({ name: 'br1', ensure: 'absent' }), user)[0]!.summary).toBe('delete bridge br1 (ports: myport, net1, vxlan1)')
    expect(plan(lab, empty)).toEqual([])
  })
  it('ownPorts is for absent only, and holds port names', () => {
    expect(() => ovsBridge({ name: 'br1', ownPorts: ['net1'] })).toThrow("ovs.bridge[br1].ownPorts: only with ensure: 'absent'")
    expect(() => ovsBridge({ name: 'br1', ensure: 'absent', ownPorts: ['bad name'] })).toThrow('ovs.bridge[br1].ownPorts[0]: interface name "bad name" may only contain')
    expect(() => ovsBridge({ name: 'br1', ensure: 'absent', ownPorts: 'net1' as never })).toThrow('ovs.bridge[br1].ownPorts: expected a list of port names')
  })
  it('rejects names that are too long, start with "-" or carry shell metacharacters', () => {
    expect(() => ovsBridge({ name: 'a-very-long-bridge' })).toThrow('ovs.bridge[a-very-long-bridge].name: interface name "a-very-long-bridge" is longer than 15 characters')
    expect(() => ovsBridge({ name: '-br' })).toThrow(/must not start with "-"/)
    expect(() => ovsBridge({ name: 'br;rm' })).toThrow(/may only contain/)
  })
})

describe('ovsPort plans', () => {
  it('a bond (or a port whose interface has another name) of that name fails clearly, in check mode too', () => {
    const s = state()
    const bond = { name: 'bond0', uuid: 'p9', bridge: 'br1', interfaces: ['bi3', 'bi4'], externalIds: {} }
    const bonded: OvsState = { ...s, ports: { ...s.ports, bond0: bond } }
    expect(() => plan(ovsPort({ bridge: 'br1', name: 'bond0', type: 'internal', mtuRequest: 1400 }), bonded))
      .toThrow(/^port bond0 on br1 has interfaces bi3, bi4, not one interface bond0 \(a bond\?\): delete it or choose another name$/)
    expect(() => plan(ovsPort({ bridge: 'br1', name: 'bond0', type: 'internal' }), bonded)).toThrow(/a bond/)
    // deleting it is still possible, and it frees the members' names: a later task using one is planned after it
    const del = plan(ovsPort({ bridge: 'br1', name: 'bond0', type: 'internal', ensure: 'absent' }), bonded)
    expect(del.map((c) => c.op)).toEqual(['delete'])
    expect(del[0]!.touches).toEqual(['ovs.port:bond0', 'link:bond0', 'ovs.port:bi3', 'link:bi3', 'ovs.port:bi4', 'link:bi4'])
    // vxlanPort refuses it too (replacing it would delete the bond's interfaces)
    expect(() => plan(vxlanPort({ bridge: 'br1', name: 'bond0', remoteIp: '172.16.20.100', key: 5000 }), bonded)).toThrow(/^port bond0 on br1 has interfaces bi3, bi4/)
    // a bond's member is an interface of another port: OVS would refuse to create a port of that name
    const members: OvsState = { ...bonded, interfaces: { ...s.interfaces, bi3: { name: 'bi3', uuid: 'i8', type: '', options: {}, externalIds: {} } } }
    for (const t of [ovsPort({ bridge: 'br1', name: 'bi3', type: 'internal' }), vxlanPort({ bridge: 'br1', name: 'bi3', remoteIp: '172.16.20.100', key: 5000 })]) {
      expect(() => plan(t, members)).toThrow(/^bi3 is an interface of port bond0 on br1 \(a bond\?\): choose another name$/)
    }
  })
  it('absent (even with its bridge absent) -> create, never an error about the missing parent', () => {
    const cs = plan(ovsPort({ bridge: 'br2', name: 'net2', type: 'internal' }), empty)
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 --may-exist add-port br2 net2 -- set interface net2 type=internal'])
  })
  it('in sync -> nothing; drifted mtu_request -> update', () => {
    expect(plan(ovsPort({ bridge: 'br1', name: 'net1', type: 'internal', mtuRequest: 1500 }), state())).toEqual([])
    const cs = plan(ovsPort({ bridge: 'br1', name: 'net1', type: 'internal', mtuRequest: 1450 }), state())
    expect(cs[0]).toMatchObject({ op: 'update', before: { mtuRequest: 1500 }, after: { mtuRequest: 1450 } })
  })
  it('a port found on another bridge is moved in one transaction (replace)', () => {
    const cs = plan(ovsPort({ bridge: 'br2', name: 'net1', type: 'internal' }), state())
    expect(cs[0]!.op).toBe('replace')
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 --if-exists del-port net1 -- --may-exist add-port br2 net1 -- set interface net1 type=internal'])
  })
  it('absent wanted -> delete', () => {
    expect(argv(plan(ovsPort({ bridge: 'br1', name: 'net1', type: 'internal', ensure: 'absent' }), state()))).toEqual(['ovs-vsctl --timeout=10 --if-exists del-port net1'])
  })
})

// The trial's case: ovsPort on a name that holds a tunnel read every type but `internal` as `system`, so a `system`
// port was ok on a live VXLAN tunnel and an `internal` one was set in place, keeping the tunnel's options.
/** `s` with an empty bridge `name` added. */
function withBridge(s: OvsState, name: string): OvsState {
  return { ...s, bridges: { ...s.bridges, [name]: { name, uuid: `uuid-${name}`, datapathType: 'system', externalIds: {}, ports: [] } } }
}

describe('ovsPort on a port of another type (a tunnel, a patch port)', () => {
  const fx = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'facts', 'ovs', 'state-bridge-internal-vxlan-missing-device.json'), 'utf8')) as FactFixture
  // recorded on the testbed: rvx1 is a VXLAN port on rbr1 (remote_ip 172.16.20.100, key 5000, dst_port 4790)
  const recorded = parseOvsState(fx.stdout)
  it('a system port wanted on a recorded VXLAN tunnel is not ok: replaced in one transaction, options shown', () => {
    const cs = plan(ovsPort({ bridge: 'rbr1', name: 'rvx1', type: 'system' }), recorded)
    expect(cs.map((c) => c.op)).toEqual(['replace'])
    expect(cs[0]).toMatchObject({
      summary: 'replace vxlan port rvx1 on rbr1 with system port rvx1 on rbr1; its options dst_port=4790 key=5000 remote_ip=172.16.20.100 go with it',
      before: { bridge: 'rbr1', type: 'vxlan', options: { remote_ip: '172.16.20.100', key: '5000', dst_port: '4790' } },
      after: { bridge: 'rbr1', type: 'system', options: null },
    })
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 --if-exists del-port rvx1 -- --may-exist add-port rbr1 rvx1 -- set interface rvx1 \'type=""\''])
  })
  it('an internal port wanted on it: deleted and added again (never `set interface type=internal`, which keeps remote_ip and key)', () => {
    const cs = plan(ovsPort({ bridge: 'rbr1', name: 'rvx1', type: 'internal', mtuRequest: 1400 }), recorded)
    expect(cs.map((c) => c.op)).toEqual(['replace'])
    expect(cs[0]!.before).toMatchObject({ type: 'vxlan' })
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 --if-exists del-port rvx1 -- --may-exist add-port rbr1 rvx1 -- set interface rvx1 type=internal mtu_request=1400'])
    expect(argv(cs).join('\n')).not.toMatch(/set interface rvx1 type=internal$/m)
  })
  it('geneve and patch ports are read as they are, also on another bridge', () => {
    const s = withBridge(state(), 'br2')
    const other = (type: string, options: Record<string, string>): OvsState => ({ ...s, interfaces: { ...s.interfaces, vxlan1: { ...s.interfaces.vxlan1!, type, options } } })
    const gen = plan(ovsPort({ bridge: 'br1', name: 'vxlan1', type: 'system' }), other('geneve', { remote_ip: '172.16.20.100', key: '7' }))
    expect(gen[0]).toMatchObject({ op: 'replace', before: { type: 'geneve' }, after: { type: 'system' } })
    const patch = plan(ovsPort({ bridge: 'br2', name: 'vxlan1', type: 'internal' }), other('patch', { peer: 'patch-br2' }))
    expect(patch[0]).toMatchObject({ op: 'replace', summary: 'replace patch port vxlan1 on br1 with internal port vxlan1 on br2; its options peer=patch-br2 go with it', before: { bridge: 'br1', type: 'patch' }, after: { bridge: 'br2', type: 'internal' } })
    expect(argv(patch)).toEqual(['ovs-vsctl --timeout=10 --if-exists del-port vxlan1 -- --may-exist add-port br2 vxlan1 -- set interface vxlan1 type=internal'])
  })
  it('between internal and system the type is still set in place; "" and "system" are one type', () => {
    const s = withBridge(state(), 'br2')
    const sys = (t: string): OvsState => ({ ...s, interfaces: { ...s.interfaces, net1: { ...s.interfaces.net1!, type: t } } })
    expect(plan(ovsPort({ bridge: 'br1', name: 'net1', type: 'system', mtuRequest: 1500 }), sys(''))).toEqual([])
    expect(plan(ovsPort({ bridge: 'br1', name: 'net1', type: 'system', mtuRequest: 1500 }), sys('system'))).toEqual([])
    const cs = plan(ovsPort({ bridge: 'br1', name: 'net1', type: 'internal', mtuRequest: 1500 }), sys(''))
    expect(cs[0]).toMatchObject({ op: 'update', before: { type: 'system' }, after: { type: 'internal' } })
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 set interface net1 type=internal'])
    expect(plan(ovsPort({ bridge: 'br2', name: 'net1', type: 'system' }), s)[0]).toMatchObject({ op: 'replace', summary: 'move port net1 from br1 to br2', before: { bridge: 'br1', type: 'internal' }, after: { bridge: 'br2', type: 'system' } })
  })
})

// A third fresh-user trial: check mode planned a port on a bridge that no task creates with no word of it, while
// ipAddress on a missing link says an earlier task must create it
describe('a port whose bridge does not exist (yet)', () => {
  it('ovsPort and vxlanPort say an earlier task must create it, on create, move and replace', () => {
    const note = ' (bridge nobr does not exist yet: an earlier task must create it)'
    expect(plan(ovsPort({ bridge: 'nobr', name: 'p9', type: 'internal' }), empty)[0]!.summary).toBe(`create internal port p9 on nobr${note}`)
    expect(plan(vxlanPort({ bridge: 'nobr', name: 'vx9', remoteIp: '172.16.20.100', key: 9 }), empty)[0]!.summary).toBe(`create VXLAN port vx9 on nobr -> 172.16.20.100 key 9${note}`)
    expect(plan(ovsPort({ bridge: 'nobr', name: 'net1', type: 'internal' }), state())[0]!.summary).toBe(`move port net1 from br1 to nobr${note}`)
    expect(plan(vxlanPort({ bridge: 'nobr', name: 'net1', remoteIp: '172.16.20.100', key: 9 }), state())[0]!.summary).toMatch(new RegExp(`^replace port net1 .* with VXLAN port net1 on nobr .*${note.replace(/[()]/g, '\\$&')}$`))
  })
  it('says nothing when the bridge exists', () => {
    expect(plan(ovsPort({ bridge: 'br1', name: 'p9', type: 'internal' }), state())[0]!.summary).toBe('create internal port p9 on br1')
  })
})

// A fourth fresh-user trial: ovsPort({ bridge: 'br1', name: 'br2' }) planned "move port br2 from br2 to br1"
describe('a port named like another existing bridge', () => {
  it('ovsPort and vxlanPort refuse to move a bridge\'s own port, saying why', () => {
    const s = withBridge(state(), 'br2')
    const own = { ...s, ports: { ...s.ports, br2: { name: 'br2', uuid: 'u-p-br2', bridge: 'br2', interfaces: ['br2'], externalIds: {} } }, interfaces: { ...s.interfaces, br2: { name: 'br2', uuid: 'u-i-br2', type: 'internal', options: {}, externalIds: {} } } }
    const why = /^port br2 is bridge br2's own port \(every bridge has a port and interface of its name, ovs-vsctl\(8\) add-br\): it cannot be moved to another bridge; name the port differently$/
    expect(() => plan(ovsPort({ bridge: 'br1', name: 'br2', type: 'internal' }), own)).toThrow(why)
    expect(() => plan(vxlanPort({ bridge: 'br1', name: 'br2', remoteIp: '172.16.20.100', key: 9 }), own)).toThrow(why)
    // on its own bridge it is what the bridge made: an internal port there is ok
    expect(plan(ovsPort({ bridge: 'br2', name: 'br2', type: 'internal' }), own)).toEqual([])
  })
})

describe('vxlanPort plans', () => {
  it('a tunnel to its own localIp is refused (a second fresh-user trial)', () => {
    expect(() => vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.10.100', localIp: '172.16.10.100', key: 5000 }))
      .toThrow(/^ovs\.vxlanPort\[vxlan1\]\.remoteIp: 172\.16\.10\.100 is also localIp: a tunnel goes to another host's underlay address$/)
  })
  it('absent -> create in one transaction with remote_ip and key', () => {
    const cs = plan(vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 5000 }), empty)
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 --may-exist add-port br1 vxlan1 -- set interface vxlan1 type=vxlan options:remote_ip=172.16.20.100 options:key=5000'])
  })
  it('in sync -> nothing (dst_port 4789 is the default and need not be stored)', () => {
    expect(plan(vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 5000, dstPort: 4789 }), state())).toEqual([])
  })
  it('changed remote_ip and key on an existing port -> update in place, both fields shown', () => {
    const cs = plan(vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.30.100', key: 5001 }), state())
    expect(cs[0]).toMatchObject({ op: 'update', before: { remote_ip: '172.16.20.100', key: '5000' }, after: { remote_ip: '172.16.30.100', key: '5001' } })
    expect(argv(cs)).toEqual(['ovs-vsctl --timeout=10 set interface vxlan1 options:remote_ip=172.16.30.100 options:key=5001'])
  })
  it('a port of another type under the name -> replace', () => {
    const cs = plan(vxlanPort({ bridge: 'br1', name: 'net1', remoteIp: '172.16.20.100', key: 5000 }), state())
    expect(cs[0]!.op).toBe('replace')
  })
  it('a local_ip set by hand is removed when the spec has none', () => {
    const s = state()
    ;(s.interfaces.vxlan1!.options as Record<string, string>).local_ip = '172.16.10.100'
    expect(argv(plan(vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 5000 }), s))).toEqual(['ovs-vsctl --timeout=10 remove interface vxlan1 options local_ip'])
  })
  it('validates VNI, addresses and port with the task key and field', () => {
    expect(() => vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 16777216 })).toThrow('ovs.vxlanPort[vxlan1].key: 16777216 is out of range 0..16777215')
    expect(() => vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20', key: 1 })).toThrow('ovs.vxlanPort[vxlan1].remoteIp: expected an IPv4 address, got "172.16.20"')
    expect(() => vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.1', key: 1, dstPort: 0 })).toThrow(/dstPort: 0 is out of range 1..65535/)
    // @ts-expect-error the key is a number, not a string
    expect(() => vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.1', key: '5000' })).toThrow(/key: expected an integer/)
  })
})
