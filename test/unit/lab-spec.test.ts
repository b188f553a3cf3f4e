/**
 * The lab spec's own checks (lib/lab/spec.ts): networks that overlap, interface names that collide on a host,
 * and an underlay MTU too small for VXLAN are refused before any host is contacted, naming the field.
 */
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../lib/core/errors.ts'
import { buildPlaybook } from '../../lib/core/playbook.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { labPlaybook } from '../../lib/lab/plays.ts'
import { MIN_UNDERLAY_MTU, validateLab, type LabNetwork, type LabSpec } from '../../lib/lab/spec.ts'
import { vethNames } from '../../lib/tasks/docker.ts'
import { LAB } from '../../playbooks/lab.ts'

const two = Inventory.load('test/fixtures/inventory/graph-2hosts.yml')
const three = Inventory.load('test/fixtures/inventory/graph-3hosts.yml')

/** The error validateLab throws for a lab (or undefined when it accepts it). */
function problem(lab: LabSpec, inventory = two): string | undefined {
  try {
    validateLab(lab, inventory)
    return undefined
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e
    return e.message
  }
}
/** The seed lab with network i edited; its containers follow a new name, and leave with a new range. */
function withNet(i: number, edit: Partial<LabNetwork>): LabSpec {
  const old = LAB.networks[i]!
  return {
    ...LAB,
    networks: LAB.networks.map((n, j) => (j === i ? { ...n, ...edit } : n)),
    containers: LAB.containers
      .filter((c) => c.network !== old.name || edit.cidr === undefined)
      .map((c) => (c.network === old.name && edit.name !== undefined ? { ...c, network: edit.name } : c)),
  }
}

describe('the seed lab', () => {
  it('is valid on two and three Docker hosts', () => {
    expect(problem(LAB)).toBeUndefined()
    expect(problem(LAB, three)).toBeUndefined()
  })
})

describe('networks that overlap are refused', () => {
  it('a network over another, inside another, or the same range', () => {
    // net2 10.0.0.0/16 holds net1's 10.0.1.0/24: routes and MASQUERADE for both would be planned on host1
    expect(problem(withNet(1, { cidr: '10.0.0.0/16' }))).toBe("lab.networks[net2].cidr: 10.0.0.0/16 contains net1's 10.0.1.0/24: networks must not overlap (give each its own range)")
    expect(problem(withNet(1, { cidr: '10.0.1.128/25' }))).toBe("lab.networks[net2].cidr: 10.0.1.128/25 is inside net1's 10.0.1.0/24: networks must not overlap (give each its own range)")
    expect(problem(withNet(1, { cidr: '10.0.1.0/24' }))).toBe("lab.networks[net2].cidr: 10.0.1.0/24 is the same network as net1's 10.0.1.0/24: networks must not overlap (give each its own range)")
    // neighbours do not overlap
    expect(problem(withNet(1, { cidr: '10.0.0.0/24' }))).toBeUndefined()
    expect(problem(withNet(1, { cidr: '10.0.2.0/23' }))).toBeUndefined()
  })
})

describe('interface names that collide on a host are refused', () => {
  it('a network named like another network\'s bridge (its internal port would be that bridge)', () => {
    expect(problem(withNet(0, { name: 'br2' }))).toBe('lab.networks[br2].name: br2 would be the internal port of network br2 (its gateway address) on host1, but it is already the OVS bridge of network net2 there: interface names on a host must be unique')
    // or like its own bridge (an OVS bridge has a port of its own name already)
    expect(problem(withNet(0, { name: 'br1' }))).toMatch(/^lab\.networks\[br1\]\.name: br1 would be the internal port of network br1 .* already the OVS bridge of network br1 there/)
  })
  it('a network or bridge named like a VXLAN port the lab makes', () => {
    expect(problem(withNet(0, { name: 'vxlan2' }))).toBe('lab.networks[vxlan2].name: vxlan2 would be the internal port of network vxlan2 (its gateway address) on host1, but it is already the VXLAN port of network net2 towards host2 there: interface names on a host must be unique')
    expect(problem(withNet(1, { bridge: 'vxlan1' }))).toMatch(/^lab\.networks\[net2\]\.bridge: vxlan1 would be the OVS bridge of network net2 on host1, but it is already the VXLAN port of network net1 towards host2 there/)
    // with three Docker hosts the hub's second port of the first network is vxlan1-3
    expect(problem(withNet(1, { name: 'vxlan1-3' }), three)).toMatch(/^lab\.networks\[vxlan1-3\]\.name: .* the VXLAN port of network net1 towards host3 there/)
    expect(problem(withNet(1, { name: 'vxlan1-3' }))).toBeUndefined() // two hosts: no such port
  })
  it('a network or bridge named like the underlay interface or a container\'s veth', () => {
    expect(problem(withNet(0, { name: 'eth0' }))).toMatch(/^lab\.networks\[eth0\]\.name: eth0 would be the internal port of network eth0 .* on host1, but it is already host1's underlay interface \(underlay_iface\) there/)
    expect(problem(withNet(1, { bridge: 'eth0' }))).toMatch(/^lab\.networks\[net2\]\.bridge: eth0 would be the OVS bridge of network net2 on host1, but it is already host1's underlay interface/)
    const veth = vethNames('doc3', 'eth0').host
    // doc3 runs on host2: bridges are on every Docker host, so it collides there
    expect(problem(withNet(1, { bridge: veth }))).toBe(`lab.networks[net2].bridge: ${veth} would be the OVS bridge of network net2 on host2, but it is already the host end of container doc3's veth there: interface names on a host must be unique`)
  })
  it('names that only look alike are fine', () => {
    expect(problem(withNet(0, { name: 'vxlan9' }))).toBeUndefined()
    expect(problem(withNet(0, { name: 'br9' }))).toBeUndefined()
  })
})

describe('an underlay MTU too small for VXLAN is refused', () => {
  it('below 1500 + 50, with the rule and how to show the fault on purpose', () => {
    expect(MIN_UNDERLAY_MTU).toBe(1550)
    const msg = problem({ ...LAB, underlayMtu: 1500 })
    expect(msg).toMatch(/^lab\.underlayMtu: 1500 is below 1550: VXLAN over IPv4 adds 50 bytes to every frame/)
    expect(msg).toContain('RFC 7348')
    expect(msg).toContain('--skip-mtu')
    expect(problem({ ...LAB, underlayMtu: 1549 })).toMatch(/^lab\.underlayMtu: 1549 is below 1550/)
    expect(problem({ ...LAB, underlayMtu: 1550 })).toBeUndefined()
    // out of range is still said as before
    expect(problem({ ...LAB, underlayMtu: 70_000 })).toBe('lab.underlayMtu: 70000 is out of range 68..65535')
  })
  it('--skip-mtu still builds the lab without touching the underlay MTU (the way to show the fault)', () => {
    const keys = (flags: Record<string, string | boolean>): string[] => buildPlaybook(labPlaybook(LAB), { inventory: two, flags }).flatMap((p) => p.hosts.flatMap((h) => h.tasks.map((t) => `${h.host.name} ${t.key}`)))
    expect(keys({}).filter((k) => k.includes('net.setMtu['))).toHaveLength(4) // gw-h1, gw-h2, host1 eth0, host2 eth0
    expect(keys({ 'skip-mtu': true }).filter((k) => k.includes('net.setMtu['))).toEqual([])
    expect(keys({ 'skip-mtu': true }).length).toBe(keys({}).length - 4)
    // and with --state absent it leaves the MTU as the lab set it (a third fresh-user trial: it was still set back)
    const absent = (flags: Record<string, string | boolean>): string[] => keys({ state: 'absent', ...flags })
    expect(absent({}).filter((k) => k.includes('net.setMtu['))).toHaveLength(4)
    expect(absent({ 'skip-mtu': true }).filter((k) => k.includes('net.setMtu['))).toEqual([])
    expect(absent({ 'skip-mtu': true }).length).toBe(absent({}).length - 4)
  })
})

describe('the playbook', () => {
  it('refuses a bad lab before any host is contacted', () => {
    expect(() => buildPlaybook(labPlaybook(withNet(1, { cidr: '10.0.0.0/16' })), { inventory: two })).toThrow(/lab\.networks\[net2\]\.cidr: 10\.0\.0\.0\/16 contains net1's 10\.0\.1\.0\/24/)
    expect(() => buildPlaybook(labPlaybook({ ...LAB, underlayMtu: 1500 }), { inventory: two })).toThrow(/lab\.underlayMtu: 1500 is below 1550/)
    expect(() => buildPlaybook(labPlaybook(withNet(0, { name: 'vxlan2' })), { inventory: two })).toThrow(/lab\.networks\[vxlan2\]\.name: vxlan2 would be the internal port/)
  })
})
