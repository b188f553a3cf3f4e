/**
 * The scalar validators of lib/core/validate.ts, and bad input found by a fresh-user trial: each case is refused when
 * the playbook is built (a ValidationError naming the task and field), before any host is contacted.
 */
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../lib/core/errors.ts'
import { ipv4Cidr, ipv4Interface } from '../../lib/core/validate.ts'
import { iptablesMasq } from '../../lib/tasks/iptables.ts'
import { ipAddress, route } from '../../lib/tasks/net.ts'
import { containerPort } from '../../lib/tasks/docker.ts'

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
