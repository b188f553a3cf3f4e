/**
 * The lab spec's own checks (lib/lab/spec.ts): networks that overlap are refused before any host is contacted,
 * naming the field.
 */
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../lib/core/errors.ts'
import { buildPlaybook } from '../../lib/core/playbook.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { labPlaybook } from '../../lib/lab/plays.ts'
import { validateLab, type LabNetwork, type LabSpec } from '../../lib/lab/spec.ts'
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

describe('the playbook', () => {
  it('refuses a bad lab before any host is contacted', () => {
    expect(() => buildPlaybook(labPlaybook(withNet(1, { cidr: '10.0.0.0/16' })), { inventory: two })).toThrow(/lab\.networks\[net2\]\.cidr: 10\.0\.0\.0\/16 contains net1's 10\.0\.1\.0\/24/)
  })
})
