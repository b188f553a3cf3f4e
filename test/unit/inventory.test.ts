import { describe, expect, it } from 'vitest'
import { InventoryError } from '../../lib/core/errors.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'

const F = 'test/fixtures/inventory/ansible-lab.yml'

describe('inventory', () => {
  it('loads an unmodified Ansible YAML inventory with nested groups, inherited vars and host overrides', () => {
    const inv = Inventory.load(F)
    expect(inv.hostNames).toEqual(['gw', 'host1', 'host2', 'worker01', 'worker02', 'worker03'])
    const h2 = inv.host('host2')
    expect(h2.connection).toMatchObject({ address: '192.0.2.12', port: 2222, user: 'root', become: true, connection: 'ssh' })
    expect(h2.vars.string('ovs_datapath_type')).toBe('netdev') // host var overrides group var
    expect(inv.host('host1').vars.string('ovs_datapath_type')).toBe('system')
    expect(inv.host('host1').vars.string('ntp_server')).toBe('ntp.example.org') // from all.vars
    expect(h2.groups).toContain('workers') // docker_hosts is a child of workers
    expect(inv.host('worker02').connection.connection).toBe('local')
    expect(inv.host('gw').vars.stringList('underlay_ifaces')).toEqual(['eth1', 'eth2'])
    expect(inv.host('gw').connection.become).toBe(false)
  })
  it('matches host patterns: groups, names, globs, exclusions; reports unknown names', () => {
    const inv = Inventory.load(F)
    expect(inv.match('docker_hosts').hosts).toEqual(['host1', 'host2'])
    expect(inv.match('gw,host2').hosts).toEqual(['gw', 'host2'])
    expect(inv.match('worker0*').hosts).toEqual(['worker01', 'worker02', 'worker03'])
    expect(inv.match('all,!workers').hosts).toEqual(['gw'])
    expect(inv.match('nosuch').unknown).toEqual(['nosuch'])
  })
  it('names file:line:column and the path for a wrongly typed value', () => {
    const inv = Inventory.parse('docker_hosts:\n  hosts:\n    host2:\n      underlay_ip: 172.16.20\n', 'inv.yml')
    expect(() => inv.host('host2').vars.ipv4('underlay_ip')).toThrow('inv.yml:4:20: docker_hosts.hosts.host2.underlay_ip: expected an IPv4 address, got "172.16.20"')
  })
  it('rejects a port given as a string (YAML 1.2 core: no silent coercion)', () => {
    expect(() => Inventory.parse('all:\n  hosts:\n    a:\n      ansible_port: "22"\n', 'p.yml')).toThrow(/p\.yml:4:21: all\.hosts\.a\.ansible_port: expected a port number 1\.\.65535, got "22"/)
  })
  it('refuses a group that is its own ancestor, naming the cycle', () => {
    const text = 'g1:\n  hosts:\n    h1: {ansible_host: 10.0.0.1}\n  children:\n    g2:\n      children:\n        g1:\n'
    expect(() => Inventory.parse(text, 'inv.yml')).toThrow(/^inv\.yml: group g1 is its own ancestor \(children: g1 -> g2 -> g1\)$/)
    // a group reached twice without a cycle is fine
    const ok = Inventory.parse('a:\n  children:\n    c:\n      hosts:\n        h1: {ansible_host: 10.0.0.1}\nb:\n  children:\n    c:\n', 'inv.yml')
    expect(ok.match('a').hosts).toEqual(['h1'])
    expect(ok.match('b').hosts).toEqual(['h1'])
  })
  it('reports YAML syntax errors with file:line:column', () => {
    expect(() => Inventory.parse('all:\n  hosts:\n    a: {ansible_host: [1,\n', 'bad.yml')).toThrow(/^bad\.yml:\d+:\d+: YAML syntax error/)
  })
  it('rejects unknown group keys, naming them', () => {
    expect(() => Inventory.parse('all:\n  host:\n    a:\n', 'k.yml')).toThrow(/k\.yml:2:3: all\.host: unknown key "host"/)
  })
  it('rejects an empty file and a missing file with InventoryError', () => {
    expect(() => Inventory.parse('', 'e.yml')).toThrow(InventoryError)
    expect(() => Inventory.load('/nonexistent/inv.yml')).toThrow(/cannot read inventory/)
  })
  it('reads anchors, aliases and merge keys as Ansible does: keys of the map itself win, then the merged maps in order', () => {
    const text = [
      'all:',
      '  vars:',
      '    defaults: &defaults {ansible_user: root, ovs_datapath_type: netdev}',
      '  children:',
      '    gateway:',
      '      hosts:',
      '        gw: &gw',
      '          ansible_host: 10.0.0.1',
      '          <<: *defaults',
      '    docker_hosts:',
      '      vars:',
      '        <<: [*defaults, {ansible_port: 2222, ansible_user: nobody}]',
      '        ansible_user: admin',
      '        ifaces: &ifaces [eth0, eth1]',
      '        more_ifaces: *ifaces',
      '      hosts:',
      '        h1: {ansible_host: 10.0.0.2}',
      '        h2: *gw',
      '        h3: {"<<": literal}',
      '    again: *gw_group_absent_is_an_error_below',
    ].join('\n')
    const ok = text.split('\n').slice(0, -1).join('\n') + '\n'
    const inv = Inventory.parse(ok, 'a.yml')
    expect(inv.host('gw').connection).toMatchObject({ address: '10.0.0.1', user: 'root' })
    expect(inv.host('gw').vars.string('ovs_datapath_type')).toBe('netdev')
    // the group's own ansible_user wins over both merged maps; the first merged map wins over the second
    expect(inv.host('h1').connection).toMatchObject({ address: '10.0.0.2', user: 'admin', port: 2222 })
    expect(inv.host('h1').vars.stringList('more_ifaces')).toEqual(['eth0', 'eth1'])
    // h2 is gw's vars by alias: its host vars (root) override the group's (admin)
    expect(inv.host('h2').connection).toMatchObject({ address: '10.0.0.1', user: 'root' })
    // a quoted "<<" is an ordinary key
    expect(inv.host('h3').vars.raw('<<')).toBe('literal')
    expect(() => Inventory.parse(text, 'a.yml')).toThrow(/^a\.yml:20:12: again: alias \*gw_group_absent_is_an_error_below has no anchor before it$/)
  })
  it('refuses a merge of something that is not a mapping, a merge cycle and alias bombs, naming where', () => {
    expect(() => Inventory.parse('all:\n  hosts:\n    h1:\n      <<: 5\n', 'm.yml')).toThrow(/^m\.yml:4:11: all\.hosts\.h1\.<<: a merge key \(<<\) takes a mapping or a list of mappings$/)
    expect(() => Inventory.parse('all:\n  vars: &v\n    a: 1\n    <<: *v\n', 'm.yml')).toThrow(/all\.vars: merge keys nested too deep/)
    // groups that expand one another 10 x 10 x 10 times: refused, not walked 10^4 times
    const level = (n: number) => `g${n}: &g${n} {children: {${'abcdefghij'.split('').map((c) => `${c}${n}: *g${n - 1}`).join(', ')}}}`
    const groups = ['g0: &g0 {hosts: {h: null}}', level(1), level(2), level(3), level(4)].join('\n') + '\n'
    expect(() => Inventory.parse(groups, 'b.yml')).toThrow(/more than 1000 aliases expanded \(an alias bomb\?\)/)
    // the same inside a variable's value: yaml's own guard, reported with the variable
    const lists = ['all:', '  vars:', '    a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcde'.split('').map((c, i) => `    ${c}: &${c} [${Array(10).fill(`*${'abcde'[i]}`).join(', ')}]`)].join('\n') + '\n'
    expect(() => Inventory.parse(lists, 'c.yml')).toThrow(/^c\.yml:\d+:\d+: all\.vars\.\w: Excessive alias count/)
  })
  it('tells which variable is missing', () => {
    const inv = Inventory.load(F)
    expect(() => inv.host('gw').vars.ipv4('underlay_ip')).toThrow(/host gw: variable underlay_ip is not set/)
  })
})
