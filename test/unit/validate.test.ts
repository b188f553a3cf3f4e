/**
 * The scalar validators of lib/core/validate.ts, and bad input found by a fresh-user trial: each case is refused when
 * the playbook is built (a ValidationError naming the task and field), before any host is contacted.
 */
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../lib/core/errors.ts'
import { ipv4, ipv4Cidr, ipv4Interface, mac, shown, tunnelIpv4, vni } from '../../lib/core/validate.ts'
import { iptablesMasq } from '../../lib/tasks/iptables.ts'
import { ipAddress, route, setMtu } from '../../lib/tasks/net.ts'
import { containerPort, dockerContainer, dockerImage } from '../../lib/tasks/docker.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../../lib/tasks/ovs.ts'
import { command } from '../../lib/tasks/command.ts'
import { template } from '../../lib/tasks/file.ts'
import { packages } from '../../lib/tasks/packages.ts'
import { sysctl } from '../../lib/tasks/sysctl.ts'
import { probe } from '../../lib/tasks/probe.ts'

describe('ipv4Interface / ipv4Cidr: exactly one "/"', () => {
  it.each(['10.0.1.1/24/8', '10.0.1.1/24/', '10.0.1.1//24', '10.0.1.1/24/24'])('refuses %j (the part after a second "/" was ignored)', (v) => {
    expect(() => ipv4Interface('address', v)).toThrow(ValidationError)
    expect(() => ipv4Interface('address', v)).toThrow(`address: expected A.B.C.D/len with one "/", got ${JSON.stringify(v)}`)
  })
  it('still reads a valid interface address and network as before', () => {
    expect(ipv4Interface('a', '10.0.1.1/24')).toBe('10.0.1.1/24')
    expect(ipv4Interface('a', '10.0.1.1/0')).toBe('10.0.1.1/0')
    expect(ipv4Cidr('c', '10.0.1.0/24')).toBe('10.0.1.0/24')
  })
  it('in every task that takes one: ipAddress, containerPort, route, iptablesMasq', () => {
    expect(() => ipAddress({ dev: 'net1', address: '10.0.1.1/24/8' })).toThrow(/^net\.ipAddress\[net1 10\.0\.1\.1\/24\/8\]\.address: expected A\.B\.C\.D\/len with one "\/"/)
    expect(() => containerPort({ bridge: 'br1', container: 'doc1', address: '10.0.1.77/24/8' })).toThrow(/^docker\.containerPort\[doc1:eth0\]\.address: expected A\.B\.C\.D\/len with one "\/"/)
    expect(() => route({ destination: '10.9.0.0/16/8', via: '172.16.10.1' })).toThrow(/^net\.route\[10\.9\.0\.0\/16\/8\]\.destination: expected A\.B\.C\.D\/len with one "\/"/)
    expect(() => iptablesMasq({ iface: 'net1', source: '10.0.1.0/24/8' })).toThrow(/^iptables\.masq\[net1\]\.source: expected A\.B\.C\.D\/len with one "\/"/)
  })
})

describe('shown: the value in an error message', () => {
  it('numbers as written (JSON would print null for NaN and Infinity)', () => {
    expect(() => vni('key', NaN)).toThrow('key: expected an integer 0..16777215, got NaN')
    expect(() => vni('key', -Infinity)).toThrow('key: expected an integer 0..16777215, got -Infinity')
    expect(vxlanPortError({ key: NaN })).toBe('ovs.vxlanPort[vxz].key: expected an integer 0..16777215, got NaN')
  })
  it('what JSON cannot show (a bigint, a circular object) is a ValidationError, not a TypeError from JSON.stringify', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(vxlanPortError({ key: 5000n })).toBe('ovs.vxlanPort[vxz].key: expected an integer 0..16777215, got 5000n')
    expect(vxlanPortError({ remoteIp: circular })).toBe('ovs.vxlanPort[vxz].remoteIp: expected an IPv4 address, got an object')
    expect(() => ipv4('via', [circular])).toThrow('via: expected an IPv4 address, got an array')
  })
  it('strings and plain data as JSON, as before', () => {
    expect(shown('a"b')).toBe('"a\\"b"')
    expect(shown([1, 'x', null])).toBe('[1,"x",null]')
    expect(shown({ a: 1n })).toBe('{"a":"1n"}')
    expect(shown(undefined)).toBe('undefined')
    expect(shown(Symbol('s'))).toBe('Symbol(s)')
    expect(shown(() => 1)).toBe('a function')
  })
})

/** The message vxlanPort throws for a spec with these fields changed (a ValidationError, or the test fails). */
function vxlanPortError(change: Record<string, unknown>): string {
  try {
    vxlanPort({ bridge: 'br1', name: 'vxz', remoteIp: '172.16.20.100', key: 9, ...change } as never)
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError)
    return (e as Error).message
  }
  throw new Error('accepted')
}

describe('mac: a unicast address (IEEE 802 I/G bit 0), not all zeros', () => {
  it.each([
    ['01:00:5e:00:00:01', /mac: 01:00:5e:00:00:01 is a multicast \(group\) address: the least significant bit of its first octet \(the I\/G bit, IEEE 802\) is 1/],
    ['33:33:00:00:00:01', /is a multicast \(group\) address/],
    ['03:00:00:00:00:00', /is a multicast \(group\) address/],
    ['FF:FF:FF:FF:FF:FF', /mac: ff:ff:ff:ff:ff:ff is a broadcast \(group\) address/],
    ['00:00:00:00:00:00', /mac: the all-zero MAC address is no address/],
  ])('refuses %s', (v, re) => {
    expect(() => mac('mac', v)).toThrow(ValidationError)
    expect(() => mac('mac', v)).toThrow(re)
  })
  it('accepts unicast addresses, globally or locally administered, lower-cased', () => {
    expect(mac('mac', '02:42:AC:11:00:02')).toBe('02:42:ac:11:00:02')
    expect(mac('mac', '00:16:3e:00:00:01')).toBe('00:16:3e:00:00:01')
    expect(mac('mac', 'fe:ff:ff:ff:ff:ff')).toBe('fe:ff:ff:ff:ff:ff')
  })
  it('containerPort refuses a multicast MAC when the playbook is built (it failed at apply, after the veth was made and attached)', () => {
    expect(() => containerPort({ bridge: 'br1', container: 'doc1', iface: 'eth1', address: '10.0.1.77/24', mac: '01:00:5e:00:00:01' }))
      .toThrow(/^docker\.containerPort\[doc1:eth1\]\.mac: 01:00:5e:00:00:01 is a multicast \(group\) address/)
    expect(() => containerPort({ bridge: 'br1', container: 'doc1', ensure: 'absent', mac: '00:00:00:00:00:00' })).toThrow(/\.mac: the all-zero MAC address/)
  })
})

describe('tunnelIpv4: VXLAN remote_ip / local_ip are unicast (ovs-vswitchd.conf.db(5))', () => {
  it.each([
    ['0.0.0.0', /remoteIp: 0\.0\.0\.0 is unspecified \("this host on this network", 0\.0\.0\.0\/8, RFC 1122/],
    ['0.1.2.3', /remoteIp: 0\.1\.2\.3 is unspecified/],
    ['255.255.255.255', /remoteIp: 255\.255\.255\.255 is the limited broadcast address \(RFC 919\)/],
    ['239.1.1.1', /remoteIp: 239\.1\.1\.1 is a multicast address \(224\.0\.0\.0\/4, RFC 5771\); a tunnel endpoint is a unicast address of a host on the underlay/],
    ['224.0.0.1', /is a multicast address/],
    ['127.0.0.1', /remoteIp: 127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8, RFC 1122 section 3\.2\.1\.3: it never leaves the host/],
    ['127.1.2.3', /is a loopback address/],
    ['flow', /remoteIp: "flow" \(an OVS tunnel whose endpoint each flow sets, ovs-vswitchd\.conf\.db\(5\)\) is not supported by vxlab/],
    ['172.016.20.100', /remoteIp: expected an IPv4 address, got "172\.016\.20\.100"/],
  ])('refuses %s', (v, re) => {
    expect(() => tunnelIpv4('remoteIp', v)).toThrow(ValidationError)
    expect(() => tunnelIpv4('remoteIp', v)).toThrow(re)
  })
  it('accepts unicast addresses, private, link-local, shared or public', () => {
    for (const a of ['172.16.20.100', '10.0.0.1', '169.254.1.1', '100.64.0.1', '203.0.113.10', '8.8.8.8', '223.255.255.254', '1.0.0.0']) expect(tunnelIpv4('remoteIp', a)).toBe(a)
  })
  it('vxlanPort refuses them in remoteIp and localIp, naming task and field', () => {
    expect(vxlanPortError({ remoteIp: '0.0.0.0' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.remoteIp: 0\.0\.0\.0 is unspecified/)
    expect(vxlanPortError({ remoteIp: '255.255.255.255' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.remoteIp: 255\.255\.255\.255 is the limited broadcast address/)
    expect(vxlanPortError({ remoteIp: '239.1.1.1' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.remoteIp: 239\.1\.1\.1 is a multicast address/)
    expect(vxlanPortError({ remoteIp: '127.0.0.1' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.remoteIp: 127\.0\.0\.1 is a loopback address/)
    expect(vxlanPortError({ localIp: '239.1.1.1' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.localIp: 239\.1\.1\.1 is a multicast address/)
    expect(vxlanPortError({ localIp: '0.0.0.0' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.localIp: 0\.0\.0\.0 is unspecified/)
    expect(vxlanPortError({ localIp: 'flow' })).toMatch(/^ovs\.vxlanPort\[vxz\]\.localIp: "flow" .* is not supported by vxlab/)
    expect(vxlanPort({ bridge: 'br1', name: 'vxz', remoteIp: '172.16.20.100', localIp: '172.16.10.100', key: 9 }).key).toBe('ovs.vxlanPort[vxz]')
  })
})

describe('probe: command and judge are checked when the playbook is built (a bad one failed only when read)', () => {
  const judge = () => ({ ok: true, detail: '' })
  it.each([
    [{ command: { argv: 'ping' }, judge }, 'verify[p].command.argv: expected a non-empty list of strings (program and arguments), got "ping"'],
    [{ command: { argv: [] }, judge }, 'verify[p].command.argv: expected a non-empty list of strings (program and arguments), got []'],
    [{ command: { argv: ['ping', 5] }, judge }, 'verify[p].command.argv: expected a non-empty list of strings (program and arguments), got ["ping",5]'],
    [{ command: { argv: ['ping', 'a\0'] }, judge }, 'verify[p].command.argv[1]: must not contain a NUL byte (execve(2) arguments are C strings)'],
    [{ command: { argv: ['cat'], stdin: 5 }, judge }, 'verify[p].command.stdin: expected a string or bytes, got 5'],
    [{ command: { argv: ['true'], timeoutMs: -1 }, judge }, 'verify[p].command.timeoutMs: -1 ms is out of range 1..2000000000 (~23 days)'],
    [{ command: 'ping -c 1 x', judge }, 'verify[p].command: expected a command {argv, stdin?, timeoutMs?}, got "ping -c 1 x"'],
    [{ command: { argv: ['true'] } }, 'verify[p].judge: expected a function (output) => ({ok, detail}), got undefined'],
    [{ command: { argv: ['true'] }, judge: true }, 'verify[p].judge: expected a function (output) => ({ok, detail}), got true'],
  ])('%j', (spec, message) => {
    let error: unknown
    try {
      probe({ name: 'p', ...spec } as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toBe(message)
  })
  it('a valid probe is made as before', () => {
    const t = probe({ name: 'p', command: { argv: ['ping', '-c', '1', '10.0.1.1'], timeoutMs: 5000, stdin: new Uint8Array([1]) }, judge })
    expect(t.key).toBe('verify[p]')
    expect(t.facts[0]!.command.argv).toEqual(['ping', '-c', '1', '10.0.1.1'])
  })
})

// A third fresh-user trial: a misspelled spec key (`datapath` for `datapathType`) was ignored and planned as ok.
// From JavaScript, a cast or a spec spread from data, `ensur: 'absent'` would have created what it meant to remove.
describe('a spec key that is not a field of the task', () => {
  const each: Array<[string, () => unknown]> = [
    ['ovs.bridge[br9]', () => ovsBridge({ name: 'br9', bogus: 1 } as never)],
    ['ovs.port[p9]', () => ovsPort({ bridge: 'br9', name: 'p9', type: 'internal', bogus: 1 } as never)],
    ['ovs.vxlanPort[vx9]', () => vxlanPort({ bridge: 'br9', name: 'vx9', remoteIp: '172.16.20.100', key: 9, bogus: 1 } as never)],
    ['net.ipAddress[p9 10.9.0.1/24]', () => ipAddress({ dev: 'p9', address: '10.9.0.1/24', bogus: 1 } as never)],
    ['net.route[10.9.0.0/24]', () => route({ destination: '10.9.0.0/24', via: '172.16.10.1', bogus: 1 } as never)],
    ['net.setMtu[eth0]', () => setMtu({ dev: 'eth0', mtu: 1554, bogus: 1 } as never)],
    ['sysctl[net.ipv4.ip_forward]', () => sysctl({ key: 'net.ipv4.ip_forward', value: 1, bogus: 1 } as never)],
    ['iptables.masq[p9]', () => iptablesMasq({ iface: 'p9', source: '10.9.0.0/24', bogus: 1 } as never)],
    ['docker.image[img9]', () => dockerImage({ name: 'img9', context: '/tmp', bogus: 1 } as never)],
    ['docker.container[c9]', () => dockerContainer({ name: 'c9', image: 'img9', bogus: 1 } as never)],
    ['docker.containerPort[c9:eth0]', () => containerPort({ bridge: 'br9', container: 'c9', address: '10.9.0.2/24', bogus: 1 } as never)],
    ['command[mark]', () => command({ name: 'mark', argv: ['true'], bogus: 1 } as never)],
    ['file.template[/etc/x]', () => template({ dest: '/etc/x', src: { inline: 'x' }, bogus: 1 } as never)],
    ['packages.apt[curl]', () => packages({ names: ['curl'], bogus: 1 } as never)],
    ['verify[p]', () => probe({ name: 'p', command: ['true'], bogus: 1 } as never)],
  ]
  for (const [key, make] of each) {
    it(`${key}: refused, naming the key and the task's fields`, () => {
      expect(make).toThrow(ValidationError)
      expect(make).toThrow(new RegExp(`^${key.replace(/[[\]().*/]/g, '\\$&')}\\.bogus: not a field of this task \\(its fields: [a-zA-Z, ]+\\)$`))
    })
  }
  it('a misspelled ensure is refused, never read as the default (present)', () => {
    expect(() => ovsBridge({ name: 'br9', ensur: 'absent' } as never))
      .toThrow('ovs.bridge[br9].ensur: not a field of this task (its fields: name, datapathType, externalIds, failMode, ensure, ownPorts)')
  })
  it('a null or undefined spec is refused as such by every task (not a TypeError from reading its name)', () => {
    const makers: Array<(s: never) => unknown> = [ovsBridge, ovsPort, vxlanPort, ipAddress, route, setMtu, sysctl, iptablesMasq, dockerImage, dockerContainer, containerPort, command, template, packages, probe]
    for (const make of makers) {
      for (const v of [null, undefined]) {
        expect(() => make(v as never)).toThrow(ValidationError)
        expect(() => make(v as never)).toThrow(new RegExp(`\\.spec: expected an object of fields, got ${String(v)}$`))
      }
    }
  })
  it('a spec that is not an object of fields is refused', () => {
    expect(() => ovsPort([] as never)).toThrow(/\.spec: expected an object of fields, got \[\]$/)
    expect(() => sysctl('net.ipv4.ip_forward' as never)).toThrow(/\.spec: expected an object of fields, got "net\.ipv4\.ip_forward"$/)
  })
  it('every field of a spec is accepted (the lists are checked against the spec types when compiling)', () => {
    expect(() => vxlanPort({ bridge: 'br9', name: 'vx9', remoteIp: '172.16.20.100', key: 9, dstPort: 4790, localIp: '172.16.10.100', ensure: 'present' })).not.toThrow()
    expect(() => dockerContainer({ name: 'c9', image: 'img9', network: 'none', command: ['sleep', '1'], env: { A: 'b' }, restart: 'no', state: 'absent', keepForeign: true })).not.toThrow()
  })
})
