import { describe, expect, it } from 'vitest'
import { Inventory } from '../../lib/inventory/inventory.ts'

/** The hosts one host pattern stands for, read from an inventory of that one key. */
const expand = (pattern: string): string[] => Inventory.parse(`all:\n  hosts:\n    "${pattern}":\n`, 'r.yml').hostNames

describe('inventory: where Ansible has a rule, vxlab reads it the same way', () => {
  // ansible/ansible lib/ansible/plugins/inventory/__init__.py, expand_hostname_range
  it('expands every host range of a name, the first varying slowest, with steps, letters and zero-padding', () => {
    expect(expand('web[1:3]x[1:2]')).toEqual(['web1x1', 'web1x2', 'web2x1', 'web2x2', 'web3x1', 'web3x2'])
    expect(expand('db[01:10:3]-[a:b].lan')).toEqual(['db01-a.lan', 'db01-b.lan', 'db04-a.lan', 'db04-b.lan', 'db07-a.lan', 'db07-b.lan', 'db10-a.lan', 'db10-b.lan'])
    expect(expand('n[a:f:2]')).toEqual(['na', 'nc', 'ne'])
    expect(expand('n[y:B]')).toEqual(['ny', 'nz', 'nA', 'nB']) // Python's ascii_letters: a-z, then A-Z
    expect(expand('n[:2]')).toEqual(['n0', 'n1', 'n2']) // an empty begin is 0
    expect(expand('n[1:05]')).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']) // only a zero-led begin pads
    expect(expand('n[8:10]')).toEqual(['n8', 'n9', 'n10'])
    expect(expand('n[1:2]]')).toEqual(['n1]', 'n2]']) // a ']' after the ranges is text
    expect(expand('n[100000000000000000001:100000000000000000002]')).toEqual(['n100000000000000000001', 'n100000000000000000002'])
    // file order is kept around the expanded names, and each name gets the pattern's vars
    const inv = Inventory.parse('all:\n  hosts:\n    a:\n    w[1:2]x[1:2]: {ansible_port: 2222}\n    b:\n', 'r.yml')
    expect(inv.hostNames).toEqual(['a', 'w1x1', 'w1x2', 'w2x1', 'w2x2', 'b'])
    expect(inv.host('w2x1').connection.port).toBe(2222)
  })

  it("refuses what Ansible refuses in a host range, naming the inventory's path and line", () => {
    const bad = (pattern: string): string => {
      try {
        expand(pattern)
      } catch (e) {
        return (e as Error).message
      }
      return 'accepted'
    }
    const at = (pattern: string): string => `r.yml:3:5: all.hosts.${pattern}: `
    expect(bad('n[01:100]')).toBe(`${at('n[01:100]')}host range [01:100]: a zero-padded range must have begin and end of equal length (01 and 100)`)
    expect(bad('n[001:10]')).toMatch(/zero-padded range must have begin and end of equal length/)
    expect(bad('n[1:]')).toBe(`${at('n[1:]')}host range [1:] must specify an end value`)
    expect(bad('n[1]')).toBe(`${at('n[1]')}host range [1] must be begin:end or begin:end:step`)
    expect(bad('n[1:2:3:4]')).toMatch(/host range \[1:2:3:4\] must be begin:end or begin:end:step$/)
    expect(bad('n[f:a]')).toBe(`${at('n[f:a]')}host range [f:a] must have begin <= end`)
    expect(bad('n[a:5]')).toMatch(/host range \[a:5\]: begin and end must be both integers or both letters/)
    expect(bad('n[1:x3]')).toMatch(/begin and end must be both integers or both letters/)
    expect(bad('n[1:3:x]')).toMatch(/host range \[1:3:x\]: the step must be an integer/)
    expect(bad('n[1:5:0]')).toMatch(/host range \[1:5:0\]: the step must be 1 or more/)
    expect(bad('n[1:3')).toBe(`${at('n[1:3')}a host range must end with ']'`)
    expect(bad('n]1:3[')).toMatch(/a '\]' before the '\[' of a host range/)
    expect(bad('n[1:3]|x')).toMatch(/cannot contain '\|'/)
    // the next range is checked too, not only the last one
    expect(bad('n[01:100]x[1:2]')).toMatch(/host range \[01:100\]: a zero-padded range/)
    // read by Ansible but refused here, saying what Ansible would do: a range of no hosts, a negative step,
    // bounds of several letters
    expect(bad('n[5:1]')).toMatch(/host range \[5:1\] stands for no hosts \(its end is below its begin; Ansible would read no hosts\)$/)
    expect(bad('n[5:1:-1]')).toMatch(/the step must be 1 or more \(Ansible's negative steps stop short of the end/)
    expect(bad('n[ab:c]')).toMatch(/an alphabetic range goes from one letter to another/)
  })

  it('counts the hosts of all the ranges of a name before making any', () => {
    // (making them first would take minutes for the second pattern: 10^30 names)
    expect(() => expand('h[1:99999]x[1:99999]')).toThrow(/^r\.yml:3:5: all\.hosts\.h\[1:99999\]x\[1:99999\]: a host range of 9999800001 hosts \(at most 100000\)$/)
    expect(() => expand(`h${'[0:9]'.repeat(30)}`)).toThrow(/a host range of more than 10\^15 hosts \(at most 100000\)$/)
    // and in all: 3 names of 200 x 200 hosts
    const three = 'all:\n  hosts:\n' + [0, 1, 2].map((i) => `    g${i}[1:200]x[1:200]:\n`).join('')
    expect(() => Inventory.parse(three, 'r.yml')).toThrow(/^r\.yml:5:5: all\.hosts\.g2\[1:200\]x\[1:200\]: host ranges stand for more than 100000 hosts in all$/)
    expect(Inventory.parse(three.split('\n').slice(0, 4).join('\n') + '\n', 'r.yml').hostNames).toHaveLength(80_000)
  })

  // ansible/ansible lib/ansible/inventory/group.py (Group.depth, set_variable), lib/ansible/inventory/helpers.py
  // (sort_groups), lib/ansible/vars/manager.py (get_vars: all's vars, the other groups sorted, then host vars)
  it("merges group vars in Ansible's order: depth from all, then ansible_group_priority, then name; host vars last", () => {
    // a group's depth counts down from all (its deepest parent's + 1), not up from the host
    const depth = Inventory.parse([
      'z:',
      '  vars: {x: z}',
      '  hosts: {h1: }',
      'p:',
      '  vars: {x: p}',
      '  children:',
      '    b:',
      '      vars: {x: b}',
      '      hosts: {h1: }',
      '    c:',
      '      hosts: {h2: }',
      'p1:',
      '  vars: {y: p1}',
      '  children: {c: }',
      'q1:',
      '  vars: {y: q1}',
      '  children:',
      '    q2:',
      '      children: {c: }',
    ].join('\n') + '\n', 'd.yml')
    // h1: z (depth 1) and b (depth 2, under p) are both its own groups: the deeper b wins
    expect(depth.host('h1').groups).toEqual(['all', 'p', 'z', 'b'])
    expect(depth.host('h1').vars.raw('x')).toBe('b')
    // h2 is in c: under p1 (depth 1) and q2 (depth 2, under q1): p1 and q1 are both depth 1, so q1 (by name) wins
    expect(depth.host('h2').groups).toEqual(['all', 'p', 'p1', 'q1', 'q2', 'c'])
    expect(depth.host('h2').vars.raw('y')).toBe('q1')

    // at equal depth: ansible_group_priority (default 1), then the name by code point ('B' before 'a', as in Python)
    const prio = Inventory.parse([
      'a:',
      '  vars: {x: a, ansible_group_priority: 10, z: a}',
      '  hosts: {h: {ansible_host: 10.0.0.1}}',
      'b:',
      '  vars: {x: b, z: b}',
      '  hosts: {h: }',
      'B:',
      '  vars: {w: B, z: B}',
      '  hosts: {h: }',
      'c:',
      '  vars: {w: c}',
      '  hosts: {h: }',
      '  children:',
      '    d:',
      '      vars: {x: d, ansible_group_priority: -5}',
      '      hosts: {h2: }',
    ].join('\n') + '\n', 'p.yml')
    expect(prio.host('h').groups).toEqual(['all', 'B', 'b', 'c', 'a'])
    expect(prio.host('h').vars.raw('x')).toBe('a') // priority 10 over b's default 1
    expect(prio.host('h').vars.raw('w')).toBe('c')
    expect(prio.host('h').vars.raw('z')).toBe('a')
    // a priority orders groups of one depth only: d (depth 2, priority -5) is still over a (depth 1, priority 10)
    expect(Inventory.parse('a:\n  vars: {x: a, ansible_group_priority: 10}\n  hosts: {h: }\nc:\n  children:\n    d:\n      vars: {x: d, ansible_group_priority: -5}\n      hosts: {h: }\n', 'p.yml').host('h').vars.raw('x')).toBe('d')
    // it is the group's priority, not a variable of its hosts (Group.set_variable keeps it apart)
    expect(prio.host('h').vars.has('ansible_group_priority')).toBe(false)
    expect(prio.groups.get('a')!.vars.has('ansible_group_priority')).toBe(false)
    // host vars win over every group's
    expect(Inventory.parse('a:\n  vars: {x: a, ansible_group_priority: 99}\n  hosts: {h: {x: host}}\n', 'p.yml').host('h').vars.raw('x')).toBe('host')
  })

  it('refuses an ansible_group_priority that is not an integer, naming the group and the field', () => {
    expect(() => Inventory.parse('all:\n  children:\n    web:\n      vars:\n        ansible_group_priority: high\n', 'p.yml')).toThrow(/^p\.yml:5:33: web\.vars\.ansible_group_priority: expected an integer \(the priority of group web among groups of equal depth\), got "high"$/)
    expect(() => Inventory.parse('web:\n  vars: {ansible_group_priority: 1.5}\n', 'p.yml')).toThrow(/^p\.yml:2:34: web\.vars\.ansible_group_priority: expected an integer .*got 1\.5$/)
    expect(() => Inventory.parse('web:\n  vars: {ansible_group_priority: "2"}\n', 'p.yml')).toThrow(/web\.vars\.ansible_group_priority: expected an integer .*got "2"$/)
    expect(() => Inventory.parse('web:\n  vars: {ansible_group_priority: }\n', 'p.yml')).toThrow(/web\.vars\.ansible_group_priority: expected an integer .*got null$/)
  })

  it('keeps the groups of many hosts quick to find', () => {
    // 8000 hosts in 40 groups, nested 4 deep under 2 parents each
    const lines = ['all:', '  children:']
    for (let g = 0; g < 40; g++) {
      lines.push(`    g${g}:`, `      vars: {v: g${g}, ansible_group_priority: ${g % 3}}`, '      children:')
      lines.push(`        m${g % 10}:`, '          children:', `            l${g}:`, '              hosts:')
      for (let h = 0; h < 200; h++) lines.push(`                h${g}x${h}:`)
    }
    const inv = Inventory.parse(lines.join('\n') + '\n', 'big.yml')
    expect(inv.hostNames).toHaveLength(8000)
    // depth 1: priority 0 (g39, g9: by name), 1 (g19), 2 (g29); then m9 (depth 2), l39 (depth 3)
    expect(inv.host('h39x199').groups).toEqual(['all', 'g39', 'g9', 'g19', 'g29', 'm9', 'l39'])
    expect(inv.host('h39x199').vars.raw('v')).toBe('g29')
  })

  it('names a value that contains itself at the alias inside it, not one level deeper', () => {
    expect(() => Inventory.parse('all:\n  hosts:\n    h1: &h\n      a: *h\n', 'r.yml')).toThrow(/^r\.yml:4:10: all\.hosts\.h1\.a: an alias refers to a value that contains it \(a recursive value\)$/)
    expect(() => Inventory.parse('all:\n  vars: &v\n    a: *v\n', 'r.yml')).toThrow(/^r\.yml:3:8: all\.vars\.a: an alias refers to a value that contains it/)
    expect(() => Inventory.parse('all:\n  hosts: &hs\n    h1: *hs\n', 'r.yml')).toThrow(/^r\.yml:3:9: all\.hosts\.h1: an alias refers to a value that contains it/)
    expect(() => Inventory.parse('g: &g {children: {c: *g}}\n', 'r.yml')).toThrow(/^r\.yml:1:22: c: an alias refers to a value that contains it/)
    // within a variable's value it was right, and stays so
    expect(() => Inventory.parse('all:\n  vars:\n    o: &o {a: [1, *o]}\n', 'r.yml')).toThrow(/^r\.yml:3:19: all\.vars\.o\.a\[1\]: an alias refers to a value that contains it/)
    // a merge key of a mapping that contains it
    expect(() => Inventory.parse('all:\n  vars:\n    a: &a {b: {<<: *a}}\n', 'r.yml')).toThrow(/^r\.yml:3:20: all\.vars\.a\.b\.<<: a merge key \(<<\) refers to a value that contains it \(a cycle\)$/)
  })
})
