import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SkipTask, type Change, type Task } from '../../lib/core/task.ts'
import type { Link, Route } from '../../lib/facts/ip.ts'
import type { OvsInterface } from '../../lib/facts/ovs.ts'
import { linksFact, routesFact } from '../../lib/facts/ip.ts'
import { ovsStateFact } from '../../lib/facts/ovs.ts'
import { ipAddress, mtuRecordFile, route, setMtu } from '../../lib/tasks/net.ts'
import { recordOnceCommand } from '../../lib/tasks/file.ts'
import { fileFact } from '../../lib/facts/files.ts'
import type { FactFixture } from '../fixtures/recorder.ts'

/** Plan a task from a hand-made current state (plans are pure). */
function plan<S, C>(t: Task<S, C>, cur: C): Change[] {
  return t.plan(cur, t.spec)
}
const argvs = (cs: readonly Change[]): string[][] => cs.flatMap((c) => c.commands.map((x) => [...x.argv]))

function link(name: string, o: { mtu?: number; up?: boolean; ipv4?: string[] } = {}): Link {
  return {
    name, ifindex: 7, mtu: o.mtu ?? 1500, up: o.up ?? true, operstate: o.up === false ? 'DOWN' : 'UP',
    ipv4: (o.ipv4 ?? []).map((c) => ({ address: c.split('/')[0]!, prefixlen: Number(c.split('/')[1]), cidr: c })),
  }
}
function ovsIface(name: string, type: string, mtuRequest?: number): OvsInterface {
  return { name, uuid: 'u', type, options: {}, externalIds: {}, ...(mtuRequest !== undefined ? { mtuRequest } : {}) }
}

describe('net.ipAddress', () => {
  const t = ipAddress({ dev: 'net1', address: '10.0.1.1/24' })
  it('has a key with the canonical address, reads links, watches its link precisely', () => {
    expect(t.kind).toBe('net.ipAddress')
    expect(t.key).toBe('net.ipAddress[net1 10.0.1.1/24]')
    expect(t.facts).toEqual([linksFact])
    expect(t.watches).toEqual(['link:net1', 'addr:net1', 'ovs.port:net1'])
    expect(ipAddress({ dev: 'net1', address: '10.0.1.1/08' }).key).toBe('net.ipAddress[net1 10.0.1.1/8]')
  })
  it('absent address -> create with ip addr replace (no flush)', () => {
    const cs = plan(t, { link: link('net1', { ipv4: ['10.9.9.9/16'] }) })
    expect(cs.map((c) => c.op)).toEqual(['create'])
    expect(argvs(cs)).toEqual([['ip', 'addr', 'replace', '10.0.1.1/24', 'dev', 'net1']])
    expect(cs[0]).toMatchObject({ before: { address: null }, after: { address: '10.0.1.1/24' } })
    expect(cs[0]!.touches).toEqual(['addr:net1', 'route:10.0.1.0/24'])
  })
  it('in sync -> no change', () => {
    expect(plan(t, { link: link('net1', { ipv4: ['10.9.9.9/16', '10.0.1.1/24'] }) })).toEqual([])
  })
  it('link down -> update that sets it up; up: false leaves it alone', () => {
    const cs = plan(t, { link: link('net1', { up: false, ipv4: ['10.0.1.1/24'] }) })
    expect(cs.map((c) => c.op)).toEqual(['update'])
    expect(argvs(cs)).toEqual([['ip', 'link', 'set', 'dev', 'net1', 'up']])
    expect(cs[0]).toMatchObject({ before: { up: false }, after: { up: true }, touches: ['link:net1'] })
    const noUp = ipAddress({ dev: 'net1', address: '10.0.1.1/24', up: false })
    expect(plan(noUp, { link: link('net1', { up: false, ipv4: ['10.0.1.1/24'] }) })).toEqual([])
  })
  it('same address with another prefix length (immutable) -> replace: delete the old, add the new', () => {
    const cs = plan(t, { link: link('net1', { ipv4: ['10.0.1.1/16'] }) })
    expect(cs.map((c) => c.op)).toEqual(['replace'])
    expect(argvs(cs)).toEqual([
      ['ip', 'addr', 'del', '10.0.1.1/16', 'dev', 'net1'],
      ['ip', 'addr', 'replace', '10.0.1.1/24', 'dev', 'net1'],
    ])
    expect(cs[0]).toMatchObject({ before: { address: '10.0.1.1/16' }, after: { address: '10.0.1.1/24' } })
  })
  it('missing link at plan time (an earlier task creates it) -> create and set up, as for a new (down) link, no failure', () => {
    const cs = plan(t, {})
    expect(cs.map((c) => c.op)).toEqual(['create', 'update'])
    expect(cs[0]!.summary).toMatch(/does not exist yet/)
    expect(argvs(cs)).toEqual([
      ['ip', 'addr', 'replace', '10.0.1.1/24', 'dev', 'net1'],
      ['ip', 'link', 'set', 'dev', 'net1', 'up'],
    ])
  })
  it('absent wanted -> delete exactly that address, or nothing', () => {
    const gone = ipAddress({ dev: 'net1', address: '10.0.1.1/24', ensure: 'absent' })
    const cs = plan(gone, { link: link('net1', { ipv4: ['10.0.1.1/24', '10.0.2.1/24'] }) })
    expect(cs.map((c) => c.op)).toEqual(['delete'])
    expect(argvs(cs)).toEqual([['ip', 'addr', 'del', '10.0.1.1/24', 'dev', 'net1']])
    expect(plan(gone, { link: link('net1', { ipv4: ['10.0.1.1/16'] }) })).toEqual([])
    expect(plan(gone, {})).toEqual([])
  })
  it('reads its link from the links fact', () => {
    const l = link('net1', { ipv4: ['10.0.1.1/24'] })
    const snap = { get: <T>(f: { id: string }) => (f.id === linksFact.id ? { net1: l } : undefined) as T }
    expect(t.current(snap)).toEqual({ link: l })
    expect(ipAddress({ dev: 'other', address: '10.0.1.1/24' }).current(snap)).toEqual({})
  })
  it.each([
    [{ dev: 'net1', address: '10.0.1.1' }, /^net\.ipAddress\[net1 10\.0\.1\.1\]\.address: expected A\.B\.C\.D\/len/],
    [{ dev: 'net1', address: '10.0.1.256/24' }, /\.address: expected an IPv4 address/],
    [{ dev: 'net1', address: '10.0.1.1/33' }, /\.address: prefix length must be 0\.\.32/],
    [{ dev: 'averyveryverylongname', address: '10.0.1.1/24' }, /\.dev: interface name "averyveryverylongname" is longer than 15 characters/],
    [{ dev: '-net1', address: '10.0.1.1/24' }, /\.dev: interface name "-net1" must not start with "-"/],
    [{ dev: 'net1;reboot', address: '10.0.1.1/24' }, /\.dev: interface name .* may only contain/],
    [{ dev: 'net1', address: '10.0.1.1/24', ensure: 'gone' }, /\.ensure: expected one of "present", "absent"/],
    [{ dev: 'net1', address: '10.0.1.1/24', up: 'yes' }, /\.up: expected true or false/],
  ])('rejects %j', (spec, re) => {
    expect(() => ipAddress(spec as never)).toThrow(re)
  })
})

describe('net.route', () => {
  const r = (destination: string, via?: string, dev?: string): Route => ({ destination, ...(via ? { via } : {}), ...(dev ? { dev } : {}) })
  const t = route({ destination: '10.99.5.0/24', via: '10.99.1.2' })
  it('key, facts, watches', () => {
    expect(t.key).toBe('net.route[10.99.5.0/24]')
    expect(t.facts).toEqual([routesFact])
    expect(t.watches).toEqual(['route:10.99.5.0/24'])
    expect(route({ destination: '10.99.5.0/24', via: '10.99.1.2', dev: 'tnet0' }).watches).toEqual(['route:10.99.5.0/24', 'link:tnet0', 'addr:tnet0'])
  })
  it('keeps only routes to its destination from the routes fact', () => {
    const routes = [r('default', '172.16.10.1', 'eth0'), r('10.99.5.0/24', '10.99.1.2', 'tnet0')]
    const snap = { get: <T>() => routes as T }
    expect(t.current(snap)).toEqual({ routes: [routes[1]] })
  })
  it('absent route -> create with ip route replace', () => {
    const cs = plan(t, { routes: [] })
    expect(cs.map((c) => c.op)).toEqual(['create'])
    expect(argvs(cs)).toEqual([['ip', 'route', 'replace', '10.99.5.0/24', 'via', '10.99.1.2']])
    expect(cs[0]).toMatchObject({ before: { via: null }, after: { via: '10.99.1.2' }, touches: ['route:10.99.5.0/24'] })
  })
  it('in sync -> no change (dev is not compared unless given)', () => {
    expect(plan(t, { routes: [r('10.99.5.0/24', '10.99.1.2', 'tnet0')] })).toEqual([])
  })
  it('other gateway -> update with ip route replace', () => {
    const cs = plan(t, { routes: [r('10.99.5.0/24', '10.99.1.3', 'tnet0')] })
    expect(cs.map((c) => c.op)).toEqual(['update'])
    expect(cs[0]).toMatchObject({ before: { via: '10.99.1.3' }, after: { via: '10.99.1.2' } })
    expect(argvs(cs)).toEqual([['ip', 'route', 'replace', '10.99.5.0/24', 'via', '10.99.1.2']])
  })
  it('other dev, when dev is given -> update', () => {
    const td = route({ destination: '10.99.5.0/24', via: '10.99.1.2', dev: 'tnet0' })
    const cs = plan(td, { routes: [r('10.99.5.0/24', '10.99.1.2', 'eth0')] })
    expect(cs[0]).toMatchObject({ op: 'update', before: { via: '10.99.1.2', dev: 'eth0' }, after: { via: '10.99.1.2', dev: 'tnet0' } })
    expect(argvs(cs)).toEqual([['ip', 'route', 'replace', '10.99.5.0/24', 'via', '10.99.1.2', 'dev', 'tnet0']])
  })
  it('link routes (dev only), default and host destinations in canonical form', () => {
    expect(argvs(plan(route({ destination: '10.99.6.0/24', dev: 'tnet0' }), { routes: [] }))).toEqual([['ip', 'route', 'replace', '10.99.6.0/24', 'dev', 'tnet0']])
    expect(plan(route({ destination: '10.99.6.0/24', dev: 'tnet0' }), { routes: [r('10.99.6.0/24', undefined, 'tnet0')] })).toEqual([])
    expect(route({ destination: '0.0.0.0/0', via: '10.99.1.2' }).key).toBe('net.route[default]')
    expect(route({ destination: '10.99.7.7/32', via: '10.99.1.2' }).key).toBe('net.route[10.99.7.7/32]')
  })
  it('absent wanted -> ip route del per matching route, or nothing', () => {
    const gone = route({ destination: '10.99.5.0/24', via: '10.99.1.2', ensure: 'absent' })
    expect(argvs(plan(gone, { routes: [r('10.99.5.0/24', '10.99.1.2', 'tnet0')] }))).toEqual([['ip', 'route', 'del', '10.99.5.0/24', 'via', '10.99.1.2', 'dev', 'tnet0']])
    expect(plan(gone, { routes: [r('10.99.5.0/24', '10.99.1.3', 'tnet0')] })).toEqual([])
    expect(plan(gone, { routes: [] })).toEqual([])
    const all = route({ destination: '10.99.5.0/24', ensure: 'absent' })
    expect(plan(all, { routes: [r('10.99.5.0/24', '10.99.1.3', 'tnet0')] }).map((c) => c.op)).toEqual(['delete'])
  })
  it.each([
    [{ destination: '10.99.5.1/24', via: '10.99.1.2' }, /^net\.route\[10\.99\.5\.1\/24\]\.destination: "10\.99\.5\.1\/24" has host bits set; did you mean 10\.99\.5\.0\/24\?/],
    [{ destination: '10.99.5.0/24', via: '10.99.1' }, /\.via: expected an IPv4 address/],
    [{ destination: '10.99.5.0/24' }, /\.via: give the gateway \(via\) or the link \(dev\)/],
    [{ destination: '10.99.5.0/24', via: '10.99.1.2', dev: 'x'.repeat(16) }, /\.dev: .*longer than 15/],
    [{ destination: 'nowhere', via: '10.99.1.2' }, /\.destination: expected A\.B\.C\.D\/len, got "nowhere"/],
    [{ destination: '10.0.1.0', via: '10.99.1.2' }, /^net\.route\[10\.0\.1\.0\]\.destination: expected A\.B\.C\.D\/len, got "10\.0\.1\.0"/],
    // gateways that are no unicast address: Linux refuses them at apply ("Nexthop has invalid gateway"), and reads
    // via 0.0.0.0 as no gateway (a link route, which never matched the planned one: a change on every run)
    [{ destination: '10.99.5.0/24', via: '224.0.0.1' }, /^net\.route\[10\.99\.5\.0\/24\]\.via: 224\.0\.0\.1 is a multicast address \(224\.0\.0\.0\/4, RFC 5771\); a gateway is the unicast address of a router on a connected network \(Linux refuses this one: "Nexthop has invalid gateway"\)$/],
    [{ destination: '10.99.5.0/24', via: '255.255.255.255' }, /\.via: 255\.255\.255\.255 is the limited broadcast address/],
    [{ destination: '10.99.5.0/24', via: '127.0.0.1' }, /\.via: 127\.0\.0\.1 is a loopback address/],
    [{ destination: 'default', via: '0.0.0.0', dev: 'eth0' }, /^net\.route\[default\]\.via: 0\.0\.0\.0 is unspecified .*\(Linux reads via 0\.0\.0\.0 as no gateway at all\)$/],
    [{ destination: 'default', via: '0.1.2.3' }, /\.via: 0\.1\.2\.3 is unspecified .*\(Linux refuses this one: "Nexthop has invalid gateway"\)$/],
  ])('rejects %j', (spec, re) => {
    expect(() => route(spec as never)).toThrow(re)
  })
  it('a link route (dev, no via) and unicast gateways are accepted as before', () => {
    expect(route({ destination: '10.99.5.0/24', dev: 'tnet0' }).spec).toEqual({ destination: '10.99.5.0/24', dev: 'tnet0', ensure: 'present' })
    expect(route({ destination: 'default', via: '169.254.1.1' }).spec.via).toBe('169.254.1.1')
  })
})

describe('net.setMtu', () => {
  const t = setMtu({ dev: 'eth0', mtu: 1554 })
  it('key, facts (links + OVS state, or links only with ovs: false), touches and watches', () => {
    expect(t.key).toBe('net.setMtu[eth0]')
    expect(t.facts).toEqual([linksFact, ovsStateFact])
    expect(setMtu({ dev: 'eth0', mtu: 1554, ovs: false }).facts).toEqual([linksFact])
    expect(t.watches).toEqual(['link:eth0', 'ovs.port:eth0'])
  })
  it('kernel link: different MTU -> update with ip link set', () => {
    const cs = plan(t, { link: link('eth0', { mtu: 1500 }) })
    expect(cs).toHaveLength(1)
    expect(cs[0]).toMatchObject({ op: 'update', before: { mtu: 1500 }, after: { mtu: 1554 }, touches: ['link:eth0'] })
    expect(argvs(cs)).toEqual([['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1554']])
  })
  it('kernel link in sync -> no change; an OVS system port is a kernel link', () => {
    expect(plan(t, { link: link('eth0', { mtu: 1554 }) })).toEqual([])
    expect(argvs(plan(t, { link: link('eth0'), ovsInterface: ovsIface('eth0', '') }))).toEqual([['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1554']])
  })
  it('OVS internal port -> ovs-vsctl set interface mtu_request (never ip link)', () => {
    const n = setMtu({ dev: 'net1', mtu: 1450 })
    const cs = plan(n, { link: link('net1', { mtu: 1500 }), ovsInterface: ovsIface('net1', 'internal') })
    expect(cs).toHaveLength(1)
    expect(cs[0]).toMatchObject({ op: 'update', before: { mtu_request: null, mtu: 1500 }, after: { mtu_request: 1450, mtu: 1450 } })
    expect(argvs(cs)).toEqual([['ovs-vsctl', '--timeout=10', 'set', 'interface', 'net1', 'mtu_request=1450']])
    expect(cs[0]!.touches).toEqual(['link:net1', 'ovs.port:net1'])
    // also when the kernel link does not exist yet
    expect(argvs(plan(n, { ovsInterface: ovsIface('net1', 'internal', 1500) }))).toEqual([['ovs-vsctl', '--timeout=10', 'set', 'interface', 'net1', 'mtu_request=1450']])
  })
  it('an OVS interface that OVS could not set up -> a clear failure, not an mtu_request update that cannot converge', () => {
    const n = setMtu({ dev: 'net1', mtu: 1450 })
    const broken = { ...ovsIface('net1', 'internal', 1500), error: 'could not add network device net1 to ofproto (File exists)' }
    expect(() => plan(n, { ovsInterface: broken })).toThrow('OVS cannot use interface net1: could not add network device net1 to ofproto (File exists) (its MTU cannot be set)')
  })
  it('OVS internal port in sync -> no change; kernel MTU changed by hand under a right request -> ip link repair', () => {
    const n = setMtu({ dev: 'net1', mtu: 1450 })
    expect(plan(n, { link: link('net1', { mtu: 1450 }), ovsInterface: ovsIface('net1', 'internal', 1450) })).toEqual([])
    const cs = plan(n, { link: link('net1', { mtu: 1400 }), ovsInterface: ovsIface('net1', 'internal', 1450) })
    expect(argvs(cs)).toEqual([['ip', 'link', 'set', 'dev', 'net1', 'mtu', '1450']])
    expect(cs[0]).toMatchObject({ before: { mtu: 1400 }, after: { mtu: 1450 } })
  })
  it('missing link at plan time -> update planned anyway', () => {
    const cs = plan(t, {})
    expect(cs[0]!.summary).toMatch(/does not exist yet/)
    expect(argvs(cs)).toEqual([['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1554']])
  })
  it('an OVS tunnel interface fails the plan with a clear reason', () => {
    expect(() => plan(setMtu({ dev: 'vxlan1', mtu: 1500 }), { ovsInterface: ovsIface('vxlan1', 'vxlan') })).toThrow(/vxlan1 is an OVS vxlan interface, whose MTU cannot be set/)
  })
  it('recordPrior: a change of an existing link first records the MTU it has in /run/vxlab/mtu/DEV; no change, no record', () => {
    const r = setMtu({ dev: 'eth0', mtu: 1554, recordPrior: true })
    expect(r.facts).toEqual([linksFact, ovsStateFact]) // present reads no record
    const cs = plan(r, { link: link('eth0', { mtu: 1500 }) })
    expect(cs).toHaveLength(1)
    expect(cs[0]).toMatchObject({ op: 'update', summary: 'set MTU of eth0 to 1554 (MTU 1500 recorded in /run/vxlab/mtu/eth0, unless it holds one from before already)', before: { mtu: 1500 }, after: { mtu: 1554 } })
    expect(cs[0]!.commands[0]).toEqual(recordOnceCommand('/run/vxlab/mtu/eth0', '1500'))
    expect(cs[0]!.commands[1]!.argv).toEqual(['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1554'])
    expect(cs[0]!.touches).toEqual(['link:eth0', 'file:/run/vxlab/mtu/eth0'])
    expect(plan(r, { link: link('eth0', { mtu: 1554 }) })).toEqual([])
    // a link that does not exist yet has no MTU to record
    expect(argvs(plan(r, {}))).toEqual([['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1554']])
    expect(mtuRecordFile('eth0.100')).toBe('/run/vxlab/mtu/eth0.100')
  })
  it('recordPrior keeps the first record: a later change (another mtu) does not record vxlab\'s own MTU over the user\'s', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-mtu-'))
    try {
      const file = join(dir, 'mtu', 'eth0')
      const run = (prior: number): void => {
        const c = recordOnceCommand(file, String(prior))
        execFileSync(c.argv[0]!, c.argv.slice(1))
      }
      run(1520) // the first change: 1520 -> 1554
      expect(readFileSync(file, 'utf8')).toBe('1520\n')
      run(1554) // the playbook's mtu edited: 1554 -> 1600
      expect(readFileSync(file, 'utf8')).toBe('1520\n')
      expect(readdirSync(join(dir, 'mtu'))).toEqual(['eth0'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
  describe('ensure absent: the recorded MTU back, never a fixed one', () => {
    const a = setMtu({ dev: 'eth0', mtu: 1554, ensure: 'absent' })
    const rec = (content: string) => ({ exists: true as const, mode: '644', content })
    const none = { exists: false as const }
    const RM = (dev: string) => ['sh', '-c', 'rm -f -- "$1" && { rmdir -- "${1%/*}" "${1%/*/*}" 2>/dev/null || true; }', 'sh', `/run/vxlab/mtu/${dev}`]
    it('reads the link, OVS and the record; watches the record', () => {
      expect(a.facts).toEqual([linksFact, ovsStateFact, fileFact('/run/vxlab/mtu/eth0')].map((f) => expect.objectContaining({ id: f.id })))
      expect(a.watches).toEqual(['link:eth0', 'ovs.port:eth0', 'file:/run/vxlab/mtu/eth0'])
    })
    it('record and the link still at mtu -> set the recorded MTU back and delete the record', () => {
      const cs = plan(a, { link: link('eth0', { mtu: 1554 }), record: rec('1500\n') })
      expect(cs).toHaveLength(1)
      expect(cs[0]).toMatchObject({ op: 'update', summary: 'set MTU of eth0 back to 1500 (recorded in /run/vxlab/mtu/eth0 before it was set to 1554)', before: { mtu: 1554 }, after: { mtu: 1500 } })
      expect(argvs(cs)).toEqual([['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1500'], RM('eth0')])
      // an MTU OVS manages goes back the way it was set: mtu_request
      const ovs = plan(setMtu({ dev: 'net1', mtu: 1554, ensure: 'absent' }), { link: link('net1', { mtu: 1554 }), ovsInterface: ovsIface('net1', 'internal', 1554), record: rec('9000\n') })
      expect(argvs(ovs)).toEqual([['ovs-vsctl', '--timeout=10', 'set', 'interface', 'net1', 'mtu_request=9000'], RM('net1')])
    })
    it('another MTU (changed since, or an edited playbook) -> left as it is and the record kept, skipped saying so; back at the recorded one -> only the record goes', () => {
      expect(() => plan(a, { link: link('eth0', { mtu: 1600 }), record: rec('1500\n') })).toThrow(SkipTask)
      expect(() => plan(a, { link: link('eth0', { mtu: 1600 }), record: rec('1500\n') }))
        .toThrow('left the MTU of eth0 at 1600: not the 1554 this playbook sets (changed since, or set by another version of the playbook); the MTU from before vxlab, 1500, stays recorded in /run/vxlab/mtu/eth0 for an absent run whose MTU the link has')
      const back = plan(a, { link: link('eth0', { mtu: 1500 }), record: rec('1500\n') })
      expect(back.map((c) => c.summary)).toEqual(['delete /run/vxlab/mtu/eth0 (eth0 is back at the 1500 it records)'])
      expect(argvs(back)).toEqual([RM('eth0')])
      expect(argvs(plan(a, { record: rec('1500\n') }))).toEqual([RM('eth0')]) // link gone
    })
    it('no record -> nothing (a second absent); while the link has mtu, a skip saying it is left as it is', () => {
      expect(plan(a, { link: link('eth0', { mtu: 1500 }), record: none })).toEqual([])
      expect(plan(a, { record: none })).toEqual([])
      expect(() => plan(a, { link: link('eth0', { mtu: 1554 }), record: none })).toThrow(SkipTask)
      expect(() => plan(a, { link: link('eth0', { mtu: 1554 }), record: none })).toThrow(/^left the MTU of eth0 at 1554: no MTU from before it was set is recorded/)
    })
    it('a record that holds no MTU fails the task', () => {
      expect(() => plan(a, { link: link('eth0', { mtu: 1554 }), record: rec('big\n') })).toThrow('/run/vxlab/mtu/eth0 does not hold an MTU (68..65535): "big\\n"')
      expect(() => plan(a, { link: link('eth0', { mtu: 1554 }), record: rec('67') })).toThrow(/does not hold an MTU/)
    })
  })
  it.each([
    [{ dev: 'eth0', mtu: 1500, ensure: 'gone' }, 'net.setMtu[eth0].ensure'],
    [{ dev: 'eth0', mtu: 1500, recordPrior: 'yes' }, 'net.setMtu[eth0].recordPrior: expected true or false, got "yes"'],
    [{ dev: 'eth0', mtu: 70000 }, 'net.setMtu[eth0].mtu: 70000 is out of range 68..65535'],
    [{ dev: 'eth0', mtu: 67 }, 'net.setMtu[eth0].mtu: 67 is out of range 68..65535'],
    [{ dev: 'eth0', mtu: 1500.5 }, 'net.setMtu[eth0].mtu: expected an integer 68..65535, got 1500.5'],
    [{ dev: 'eth0', mtu: '1500' }, 'net.setMtu[eth0].mtu: expected an integer 68..65535, got "1500"'],
    [{ dev: 'abcdefghijklmnop', mtu: 1500 }, 'net.setMtu[abcdefghijklmnop].dev: interface name "abcdefghijklmnop" is longer than 15 characters'],
    [{ dev: '-eth0', mtu: 1500 }, 'net.setMtu[-eth0].dev: interface name "-eth0" must not start with "-"'],
  ])('rejects %j', (spec, message) => {
    expect(() => setMtu(spec as never)).toThrow(message)
  })
})

// Plans from facts recorded on the testbed (test/fixtures/record-net.ts): host1 with veth tnetrec0
// (10.99.250.1/24 + 10.99.251.1/16, MTU 1450, up), a route 10.99.252.0/24 via 10.99.250.2, and an OVS
// internal port tnrecint (userspace datapath: a tap device, kind "tun") with mtu_request 1400.
describe('plans from recorded testbed facts', () => {
  const load = (name: string): FactFixture => JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'facts', 'net', `${name}.json`), 'utf8')) as FactFixture
  const recorded = new Map<string, unknown>([
    [linksFact.id, linksFact.parse(load('links-veth-two-addresses'))],
    [routesFact.id, routesFact.parse(load('routes-gateway-route'))],
    [ovsStateFact.id, ovsStateFact.parse(load('ovs-internal-port-mtu-request'))],
  ])
  const snap = { get: <T>(f: { id: string }): T => recorded.get(f.id) as T }
  const planned = <S, C>(t: Task<S, C>): Change[] => t.plan(t.current(snap), t.spec)
  it('ipAddress: in sync, missing, other prefix', () => {
    expect(planned(ipAddress({ dev: 'tnetrec0', address: '10.99.250.1/24' }))).toEqual([])
    expect(planned(ipAddress({ dev: 'tnetrec0', address: '10.99.253.1/24' })).map((c) => c.op)).toEqual(['create'])
    expect(planned(ipAddress({ dev: 'tnetrec0', address: '10.99.251.1/24' })).map((c) => c.op)).toEqual(['replace'])
    expect(planned(ipAddress({ dev: 'tnetrec1', address: '10.99.250.2/24' })).map((c) => c.op)).toEqual(['create', 'update'])
  })
  it('route: in sync, other gateway', () => {
    expect(planned(route({ destination: '10.99.252.0/24', via: '10.99.250.2' }))).toEqual([])
    expect(planned(route({ destination: '10.99.252.0/24', via: '10.99.250.3' }))[0]).toMatchObject({ op: 'update', before: { via: '10.99.250.2' } })
  })
  it('setMtu: kernel veth via ip link; the tap-backed OVS internal port via mtu_request', () => {
    expect(planned(setMtu({ dev: 'tnetrec0', mtu: 1450 }))).toEqual([])
    expect(argvs(planned(setMtu({ dev: 'tnetrec0', mtu: 1500 })))).toEqual([['ip', 'link', 'set', 'dev', 'tnetrec0', 'mtu', '1500']])
    expect(planned(setMtu({ dev: 'tnrecint', mtu: 1400 }))).toEqual([])
    expect(argvs(planned(setMtu({ dev: 'tnrecint', mtu: 1450 })))).toEqual([['ovs-vsctl', '--timeout=10', 'set', 'interface', 'tnrecint', 'mtu_request=1450']])
  })
})
