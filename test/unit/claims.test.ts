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
import { labPlaybook } from '../../lib/lab/plays.ts'
import { containerPort, dockerContainer, dockerImage } from '../../lib/tasks/docker.ts'
import { template } from '../../lib/tasks/file.ts'
import { iptablesMasq, iptablesRule } from '../../lib/tasks/iptables.ts'
import { ipAddress, route, setMtu } from '../../lib/tasks/net.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../../lib/tasks/ovs.ts'
import { packages } from '../../lib/tasks/packages.ts'
import { sysctl } from '../../lib/tasks/sysctl.ts'
import { LAB } from '../../playbooks/lab.ts'

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
})

describe('two plays managing one OVS object differently (the trial\'s twoplays.ts)', () => {
  it('is refused with exit 2, naming host, both tasks, both plays and each object', () => {
    const pb = twoPlays(
      () => [ovsBridge({ name: 'br9', datapathType: 'netdev' }), ovsPort({ bridge: 'br9', name: 'p9', type: 'internal' })],
      () => [ovsBridge({ name: 'br9', datapathType: 'system' }), ovsPort({ bridge: 'br1', name: 'p9', type: 'internal' })],
    )
    expect(problems(pb)).toEqual([
      'twoplays: host1 ovs.bridge[br9]: wants ovs.bridge:br9 datapath_type = system in play "b", but ovs.bridge[br9] in play "a" wants ovs.bridge:br9 datapath_type = netdev (both cannot hold: each run would undo one of them, or fail on it)',
      'twoplays: host1 ovs.port[p9]: wants ovs.port:p9 = internal port on br1 in play "b", but ovs.port[p9] in play "a" wants ovs.port:p9 = internal port on br9 (both cannot hold: each run would undo one of them, or fail on it)',
    ])
    let err: unknown
    try {
      buildPlaybook(pb, { inventory })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(PlaybookValidationError)
    expect((err as PlaybookValidationError).exitCode).toBe(2)
  })
  it('the same tasks repeated in two plays with the same spec are fine', () => {
    const same = (): AnyTask[] => [ovsBridge({ name: 'br9', datapathType: 'netdev' }), ovsPort({ bridge: 'br9', name: 'p9', type: 'internal', mtuRequest: 1450 }), ipAddress({ dev: 'p9', address: '10.0.9.1/24' })]
    expect(problems(twoPlays(same, same))).toEqual([])
  })
  it('an attribute one task leaves as it is and another sets is no conflict (it converges)', () => {
    expect(problems(twoPlays(() => [ovsBridge({ name: 'br9' })], () => [ovsBridge({ name: 'br9', datapathType: 'netdev', failMode: 'secure', externalIds: { owner: 'me' } })]))).toEqual([])
    expect(problems(twoPlays(() => [ovsPort({ bridge: 'br9', name: 'p9', type: 'internal' })], () => [ovsPort({ bridge: 'br9', name: 'p9', type: 'internal', mtuRequest: 1400 })]))).toEqual([])
  })
  it('on other hosts nothing conflicts', () => {
    const pb = playbook({ name: 'split', plays: [
      { name: 'a', hosts: 'host1', tasks: () => [ovsBridge({ name: 'br9', datapathType: 'netdev' })] },
      { name: 'b', hosts: 'host2', tasks: () => [ovsBridge({ name: 'br9', datapathType: 'system' })] },
    ] })
    expect(problems(pb)).toEqual([])
  })
})

describe('conflicting tasks of different kinds on one host object (the trial\'s bad.ts cases)', () => {
  const cases: Array<[string, () => AnyTask[], RegExp]> = [
    ['an address with two prefix lengths (left net1 at /16, then "did not converge" on every run)',
      () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24' }), ipAddress({ dev: 'net1', address: '10.0.1.1/16' })],
      /^bad: host1 net\.ipAddress\[net1 10\.0\.1\.1\/16\]: wants ip\.addr:net1 10\.0\.1\.1 = 10\.0\.1\.1\/16 in play "p", but net\.ipAddress\[net1 10\.0\.1\.1\/24\] in play "p" wants ip\.addr:net1 10\.0\.1\.1 = 10\.0\.1\.1\/24 /],
    ['an address present and absent',
      () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24' }), ipAddress({ dev: 'net1', address: '10.0.1.1/24', ensure: 'absent' })],
      /duplicate task key|ip\.addr:net1 10\.0\.1\.1\/24 = absent/],
    ['an internal port and a VXLAN port of one name (flipped between internal and vxlan)',
      () => [ovsPort({ bridge: 'br1', name: 'pz', type: 'internal' }), vxlanPort({ bridge: 'br1', name: 'pz', remoteIp: '172.16.20.100', key: 9 })],
      /^bad: host1 ovs\.vxlanPort\[pz\]: wants ovs\.port:pz = vxlan port on br1: remote_ip=172\.16\.20\.100 key=9 dst_port=4789 in play "p", but ovs\.port\[pz\] in play "p" wants ovs\.port:pz = internal port on br1 /],
    ['a bridge and a port named like it (created br7, then "cannot create a port named br7 because a bridge named br7 already exists")',
      () => [ovsBridge({ name: 'br7' }), ovsPort({ bridge: 'br1', name: 'br7', type: 'internal' })],
      /^bad: host1 ovs\.port\[br7\]: wants ovs\.port:br7 = internal port on br1 in play "p", but ovs\.bridge\[br7\] in play "p" wants ovs\.port:br7 = internal port on br7 \(every bridge has a port and interface of its own name, ovs-vsctl\(8\) add-br\) /],
    ['an mtu_request and a setMtu of one link (flapped)',
      () => [ovsPort({ bridge: 'br1', name: 'net1', type: 'internal', mtuRequest: 1450 }), setMtu({ dev: 'net1', mtu: 1400 })],
      /^bad: host1 net\.setMtu\[net1\]: wants link\.mtu:net1 = 1400 in play "p", but ovs\.port\[net1\] in play "p" wants link\.mtu:net1 = 1450 /],
    ['a setMtu of a VXLAN port (its MTU cannot be set)',
      () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 5000 }), setMtu({ dev: 'vxlan1', mtu: 1400 })],
      /net\.setMtu\[vxlan1\]: wants link\.mtu:vxlan1 = 1400 in play "p", but ovs\.vxlanPort\[vxlan1\] in play "p" wants link\.mtu:vxlan1 = not settable \(an OVS vxlan interface\)/],
    ['one port on two bridges',
      () => [ovsPort({ bridge: 'br7', name: 'p7', type: 'internal' }), ovsPort({ bridge: 'br8', name: 'p7', type: 'internal' })],
      /duplicate task key/],
    ['a bridge deleted while a port on it is wanted',
      () => [ovsBridge({ name: 'br7', ensure: 'absent' }), ovsPort({ bridge: 'br7', name: 'p7', type: 'internal' })],
      /^bad: host1 ovs\.port\[p7\]: wants ovs\.bridge:br7 = present \(the port's bridge\) in play "p", but ovs\.bridge\[br7\] in play "p" wants ovs\.bridge:br7 = absent /],
    ['a containerPort on a bridge deleted by the playbook',
      () => [containerPort({ bridge: 'br7', container: 'doc1', address: '10.0.1.77/24' }), ovsBridge({ name: 'br7', ensure: 'absent' })],
      /ovs\.bridge\[br7\]: wants ovs\.bridge:br7 = absent in play "p", but docker\.containerPort\[doc1:eth0\] in play "p" wants ovs\.bridge:br7 = present \(the port's bridge\)/],
    ['two attachments of one container with different default gateways',
      () => [containerPort({ bridge: 'br1', container: 'doc1', iface: 'eth0', address: '10.0.1.77/24', gateway: '10.0.1.1' }), containerPort({ bridge: 'br2', container: 'doc1', iface: 'eth1', address: '10.0.2.77/24', gateway: '10.0.2.1' })],
      /docker\.containerPort\[doc1:eth1\]: wants container\.route:doc1 default = via 10\.0\.2\.1 dev eth1 in play "p", but docker\.containerPort\[doc1:eth0\] in play "p" wants container\.route:doc1 default = via 10\.0\.1\.1 dev eth0 /],
    ['a containerPort MTU and a setMtu of its host end',
      () => [containerPort({ bridge: 'br1', container: 'doc1', address: '10.0.1.77/24', mtu: 1450 }), setMtu({ dev: 'vx2ce2d4fa_l', mtu: 1500 })],
      /net\.setMtu\[vx2ce2d4fa_l\]: wants link\.mtu:vx2ce2d4fa_l = 1500 in play "p", but docker\.containerPort\[doc1:eth0\] in play "p" wants link\.mtu:vx2ce2d4fa_l = 1450 /],
    ['a gateway route and a link route to one destination (in one play: one task key)',
      () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1' }), route({ destination: '10.9.0.0/16', dev: 'eth0' })],
      /duplicate task key/],
  ]
  for (const [name, tasks, message] of cases) {
    it(name, () => {
      const ps = problems(onePlay(tasks))
      expect(ps.length, ps.join('\n')).toBeGreaterThan(0)
      expect(ps.join('\n')).toMatch(message)
    })
  }

  // the same pairs in two plays, where the per-play duplicate key check cannot see them
  const acrossPlays: Array<[string, () => AnyTask[], () => AnyTask[], RegExp]> = [
    ['an address present in one play, absent in the other',
      () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24' })], () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24', ensure: 'absent' })],
      /^twoplays: host1 net\.ipAddress\[net1 10\.0\.1\.1\/24\]: wants ip\.addr:net1 10\.0\.1\.1\/24 = absent in play "b", but net\.ipAddress\[net1 10\.0\.1\.1\/24\] in play "a" wants ip\.addr:net1 10\.0\.1\.1\/24 = present /],
    ['a bridge present in one play, absent in the other',
      () => [ovsBridge({ name: 'br7' })], () => [ovsBridge({ name: 'br7', ensure: 'absent' })],
      /ovs\.bridge\[br7\]: wants ovs\.bridge:br7 = absent in play "b", but ovs\.bridge\[br7\] in play "a" wants ovs\.bridge:br7 = present /],
    ['a port on two bridges',
      () => [ovsPort({ bridge: 'br7', name: 'p7', type: 'internal' })], () => [ovsPort({ bridge: 'br8', name: 'p7', type: 'internal' })],
      /ovs\.port\[p7\]: wants ovs\.port:p7 = internal port on br8 in play "b", but ovs\.port\[p7\] in play "a" wants ovs\.port:p7 = internal port on br7 /],
    ['a port kept and deleted',
      () => [ovsPort({ bridge: 'br7', name: 'p7', type: 'internal' })], () => [ovsPort({ bridge: 'br7', name: 'p7', type: 'internal', ensure: 'absent' })],
      /wants ovs\.port:p7 = absent in play "b", but ovs\.port\[p7\] in play "a" wants ovs\.port:p7 = internal port on br7 /],
    ['a tunnel deleted by ovsPort while vxlanPort keeps it',
      () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 5000 })], () => [ovsPort({ bridge: 'br1', name: 'vxlan1', type: 'internal', ensure: 'absent' })],
      /ovs\.port\[vxlan1\]: wants ovs\.port:vxlan1 = absent in play "b", but ovs\.vxlanPort\[vxlan1\] in play "a" wants ovs\.port:vxlan1 = vxlan port on br1/],
    ['a tunnel with two keys',
      () => [vxlanPort({ bridge: 'br1', name: 'vxa', remoteIp: '172.16.20.100', key: 9 })], () => [vxlanPort({ bridge: 'br1', name: 'vxa', remoteIp: '172.16.20.100', key: 10 })],
      /wants ovs\.port:vxa = vxlan port on br1: remote_ip=172\.16\.20\.100 key=10 dst_port=4789 in play "b", but ovs\.vxlanPort\[vxa\] in play "a" wants ovs\.port:vxa = vxlan port on br1: remote_ip=172\.16\.20\.100 key=9 dst_port=4789 /],
    ['two MTUs of one link',
      () => [setMtu({ dev: 'eth0', mtu: 1554 })], () => [setMtu({ dev: 'eth0', mtu: 1600 })],
      /net\.setMtu\[eth0\]: wants link\.mtu:eth0 = 1600 in play "b", but net\.setMtu\[eth0\] in play "a" wants link\.mtu:eth0 = 1554 /],
    ['one container attachment on two bridges with two addresses',
      () => [containerPort({ bridge: 'br1', container: 'doc1', iface: 'eth1', address: '10.0.1.77/24' })], () => [containerPort({ bridge: 'br2', container: 'doc1', iface: 'eth1', address: '10.0.2.77/24' })],
      /wants ovs\.port:vx[0-9a-f]{8}_l = port of container doc1 iface eth1 on br2 in play "b", but docker\.containerPort\[doc1:eth1\] in play "a" wants ovs\.port:vx[0-9a-f]{8}_l = port of container doc1 iface eth1 on br1 /],
    ['a route via two gateways',
      () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1' })], () => [route({ destination: '10.9.0.0/16', via: '172.16.10.2' })],
      /net\.route\[10\.9\.0\.0\/16\]: wants ip\.route:10\.9\.0\.0\/16 = via 172\.16\.10\.2 in play "b", but net\.route\[10\.9\.0\.0\/16\] in play "a" wants ip\.route:10\.9\.0\.0\/16 = via 172\.16\.10\.1 /],
    ['a route kept in one play, every route to its destination deleted in the other',
      () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1' })], () => [route({ destination: '10.9.0.0/16', ensure: 'absent' })],
      /wants ip\.route:10\.9\.0\.0\/16 = absent in play "b"/],
    ['a route kept in one play, deleted (via its gateway) in the other',
      () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1' })], () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1', ensure: 'absent' })],
      /wants ip\.route:10\.9\.0\.0\/16 via 172\.16\.10\.1 = absent in play "b", but net\.route\[10\.9\.0\.0\/16\] in play "a" wants ip\.route:10\.9\.0\.0\/16 via 172\.16\.10\.1 = present /],
  ]
  for (const [name, a, b, message] of acrossPlays) {
    it(`in two plays: ${name}`, () => {
      const ps = problems(twoPlays(a, b))
      expect(ps.length, 'refused').toBeGreaterThan(0)
      expect(ps.join('\n')).toMatch(message)
    })
  }

  it('what converges is not refused', () => {
    const fine: Array<[string, () => AnyTask[], () => AnyTask[]]> = [
      ['an ovsPort of the bridge\'s own local port', () => [ovsBridge({ name: 'br7' })], () => [ovsPort({ bridge: 'br7', name: 'br7', type: 'internal' })]],
      ['an old prefix removed, the new one added', () => [ipAddress({ dev: 'net1', address: '10.0.1.1/16', ensure: 'absent' })], () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24' })]],
      ['one address on two links', () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24' })], () => [ipAddress({ dev: 'net2', address: '10.0.1.1/24' })]],
      ['a route via one gateway removed, via another kept', () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1', ensure: 'absent' })], () => [route({ destination: '10.9.0.0/16', via: '172.16.10.2' })]],
      ['a route with and without its dev', () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1' })], () => [route({ destination: '10.9.0.0/16', via: '172.16.10.1', dev: 'eth0' })]],
      ['a bridge deleted and another port deleted', () => [ovsBridge({ name: 'br7', ensure: 'absent' })], () => [ovsPort({ bridge: 'br7', name: 'p7', type: 'internal', ensure: 'absent' })]],
      ['a bridge deleted, a port of its name on another bridge', () => [ovsBridge({ name: 'br7', ensure: 'absent' })], () => [ovsPort({ bridge: 'br1', name: 'br7', type: 'internal' })]],
      ['a port on a bridge the playbook makes', () => [ovsBridge({ name: 'br7', datapathType: 'netdev' })], () => [ovsPort({ bridge: 'br7', name: 'p7', type: 'internal' }), vxlanPort({ bridge: 'br7', name: 'vx7', remoteIp: '172.16.20.100', key: 7 }), containerPort({ bridge: 'br7', container: 'doc7', address: '10.0.7.2/24', gateway: '10.0.7.1', mtu: 1450 })]],
      ['one container on two networks, one default route', () => [containerPort({ bridge: 'br1', container: 'doc1', iface: 'eth0', address: '10.0.1.77/24', gateway: '10.0.1.1' })], () => [containerPort({ bridge: 'br2', container: 'doc1', iface: 'eth1', address: '10.0.2.77/24' })]],
    ]
    for (const [name, a, b] of fine) expect(problems(twoPlays(a, b)), name).toEqual([])
  })

  it('files written whole by two tasks are still refused as before (Task.owns), next to claims', () => {
    const ps = problems(twoPlays(() => [template({ dest: '/etc/vx', src: { inline: 'a' } })], () => [template({ dest: '/etc/vx', src: { inline: 'b' } }), setMtu({ dev: 'eth0', mtu: 1500 })]))
    expect(ps).toEqual(['twoplays: host1 file.template[/etc/vx]: file:/etc/vx is also written whole by file.template[/etc/vx] in play "a" (write it in one task; two with different contents would each rewrite it on every run)'])
  })
})

describe('other host objects set differently by two plays', () => {
  const cases: Array<[string, () => AnyTask[], () => AnyTask[], RegExp]> = [
    ['a sysctl set to two values (the same key, another file)',
      () => [sysctl({ key: 'net.ipv4.ip_forward', value: 1 })], () => [sysctl({ key: 'net/ipv4/ip_forward', value: 0, file: '/etc/sysctl.d/91-other.conf' })],
      /^twoplays: host1 sysctl\[net\.ipv4\.ip_forward\]: wants sysctl:net\.ipv4\.ip_forward = 0 in play "b", but sysctl\[net\.ipv4\.ip_forward\] in play "a" wants sysctl:net\.ipv4\.ip_forward = 1 /],
    ['an iptables rule added and deleted',
      () => [iptablesRule({ chain: 'INPUT', rule: ['-j', 'ACCEPT'] })], () => [iptablesRule({ chain: 'INPUT', rule: ['-j', 'ACCEPT'], ensure: 'absent' })],
      /wants iptables\.rule:filter\/INPUT -j ACCEPT = absent in play "b", but iptables\.rule\[filter\/INPUT -j ACCEPT\] in play "a" wants iptables\.rule:filter\/INPUT -j ACCEPT = present /],
    ['a NAT rule deleted by a rule task',
      () => [iptablesMasq({ iface: 'net1', source: '10.0.1.0/24' })], () => [iptablesRule({ table: 'nat', chain: 'POSTROUTING', rule: ['-s', '10.0.1.0/24', '-j', 'MASQUERADE'], ensure: 'absent' })],
      /wants iptables\.rule:nat\/POSTROUTING -s 10\.0\.1\.0\/24 -j MASQUERADE = absent in play "b", but iptables\.masq\[net1\] in play "a" wants .* = present /],
    ['a container from two images (replaced on every run)',
      () => [dockerContainer({ name: 'dz', image: 'con_img', network: 'none' })], () => [dockerContainer({ name: 'dz', image: 'busybox', network: 'none' })],
      /docker\.container\[dz\]: wants docker\.container:dz = image busybox, network none \(spec [0-9a-f]{12}\) in play "b", but docker\.container\[dz\] in play "a" wants docker\.container:dz = image con_img, network none \(spec [0-9a-f]{12}\) /],
    ['a container running and stopped',
      () => [dockerContainer({ name: 'dz', image: 'con_img', network: 'none' })], () => [dockerContainer({ name: 'dz', image: 'con_img', network: 'none', state: 'stopped' })],
      /wants docker\.container:dz state = stopped in play "b", but docker\.container\[dz\] in play "a" wants docker\.container:dz state = running /],
    ['an image built from two Dockerfiles (rebuilt on every run)',
      () => [dockerImage({ name: 'img', dockerfile: { text: 'FROM scratch\n' } })], () => [dockerImage({ name: 'img', dockerfile: { text: 'FROM busybox\n' } })],
      /docker\.image\[img\]: wants docker\.image:img = built from a Dockerfile from the controller .*\(inputs [0-9a-f]{12}\) in play "b", but docker\.image\[img\] in play "a" wants docker\.image:img = built from/],
    ['a package installed and removed',
      () => [packages({ names: ['ethtool', 'iproute2'] })], () => [packages({ names: ['ethtool'], ensure: 'absent' })],
      /packages\.apt\[ethtool\]: wants package:ethtool = absent in play "b", but packages\.apt\[ethtool,iproute2\] in play "a" wants package:ethtool = present /],
  ]
  for (const [name, a, b, message] of cases) {
    it(name, () => {
      const ps = problems(twoPlays(a, b))
      expect(ps.length, 'refused').toBeGreaterThan(0)
      expect(ps.join('\n')).toMatch(message)
    })
  }
  it('the same image, container, rule, sysctl and packages in two plays are fine', () => {
    const same = (): AnyTask[] => [
      dockerImage({ name: 'img', dockerfile: { text: 'FROM scratch\n' } }), dockerContainer({ name: 'dz', image: 'img', network: 'none', env: { A: 'b' } }),
      iptablesMasq({ iface: 'net1', source: '10.0.1.0/24' }), sysctl({ key: 'net.ipv4.ip_forward', value: 1, persist: false }), packages({ names: ['ethtool'] }),
    ]
    expect(problems(twoPlays(same, same))).toEqual([])
  })
})

describe('the built-in lab passes the check in every variant', () => {
  const inventories = ['test/fixtures/inventory/graph-2hosts.yml', 'test/fixtures/inventory/graph-3hosts.yml', 'test/fixtures/inventory/ansible-lab.yml']
  for (const file of inventories) {
    it(`${file}: present and absent, with and without --verify, --check, --skip-mtu`, () => {
      const inv = Inventory.load(file)
      const lab = labPlaybook(file.includes('3hosts') ? { ...LAB, containers: [...LAB.containers, { name: 'doc5', host: 'host3', network: 'net1', address: '10.0.1.30' }] } : LAB)
      let built = 0
      for (const state of ['present', 'absent']) {
        for (const verify of [false, true]) {
          for (const check of [false, true]) {
            for (const skipMtu of [false, true]) {
              const plays = buildPlaybook(lab, { inventory: inv, check, flags: { state, verify, 'skip-mtu': skipMtu } })
              expect(plays.flatMap((p) => p.hosts.flatMap((h) => h.tasks)).length).toBeGreaterThan(5)
              built++
            }
          }
        }
      }
      expect(built).toBe(16)
    })
  }
})

describe('one task repeated in two plays (a second fresh-user trial)', () => {
  it('the same template or persisted sysctl with the same spec is fine; a different content is still refused', () => {
    const t = (text: string): AnyTask[] => [template({ dest: '/tmp/vxt1', src: { inline: text } }) as AnyTask]
    expect(problems(twoPlays(() => t('a\n'), () => t('a\n')))).toEqual([])
    const s = (): AnyTask[] => [sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: '/etc/sysctl.d/90-x.conf' }) as AnyTask]
    expect(problems(twoPlays(s, s))).toEqual([])
    const ps = problems(twoPlays(() => t('a\n'), () => t('b\n')))
    expect(ps).toHaveLength(1)
    expect(ps[0]).toMatch(/file\.template\[\/tmp\/vxt1\]: file:\/tmp\/vxt1 is also written whole by file\.template\[\/tmp\/vxt1\] in play "a"/)
  })
})
