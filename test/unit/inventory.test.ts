import { describe, expect, it } from 'vitest'
import { InventoryError } from '../../lib/core/errors.ts'
import { parseDocument } from 'yaml'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { YamlNodes, type NodeFail } from '../../lib/inventory/yaml-nodes.ts'

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
    // exclusions only: from all (Ansible's implied 'all')
    expect(inv.match('!workers').hosts).toEqual(['gw'])
    expect(inv.match('!gw,!worker0*').hosts).toEqual(['host1', 'host2'])
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
  it('from a second trial: no alias budget for inventories without aliases; a cap on all ranges; tags, null keys, brackets in patterns, merged key order', () => {
    // the budget counts what aliases add, nothing else: with a budget of 100 nodes, 200 plain values are read,
    // and 200 nodes through aliases are not
    const fail: NodeFail = (_n, path, msg) => { throw new Error(`${path}: ${msg}`) }
    const plainDoc = parseDocument(`{${Array.from({ length: 200 }, (_, i) => `k${i}: ${i}`).join(', ')}}`, { merge: true })
    expect(Object.keys(new YamlNodes(plainDoc, fail, 100).toValue(plainDoc.contents, 'x') as object)).toHaveLength(200)
    const aliasDoc = parseDocument(`a: &a [${Array(60).fill('x').join(', ')}]\nb: [*a, *a, *a, *a]\n`, { merge: true })
    const b = (aliasDoc.contents as unknown as { items: Array<{ value: unknown }> }).items[1]!.value
    expect(() => new YamlNodes(aliasDoc, fail, 100).toValue(b, 'b')).toThrow(/^b\[1\]: expands to more than 100 nodes through its aliases/)
    // ranges: at most 100000 hosts in all, an alias read twice counts twice
    const ranges = 'all:\n  hosts:\n' + Array.from({ length: 3 }, (_, i) => `    w${i}x[1:40000]:\n`).join('')
    expect(() => Inventory.parse(ranges, 'r.yml')).toThrow(/^r\.yml:5:5: all\.hosts\.w2x\[1:40000\]: host ranges stand for more than 100000 hosts in all$/)
    expect(() => Inventory.parse('g0: {hosts: &H {"web[1:60000]": }}\ng1: {hosts: *H}\n', 'r.yml')).toThrow(/host ranges stand for more than 100000 hosts in all/)
    // an unknown tag (Ansible Vault, a custom one) is refused, not read as its text
    expect(() => Inventory.parse('all:\n  vars:\n    ansible_password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n', 't.yml')).toThrow(/^t\.yml:3:23: Unresolved tag: !vault .*Ansible Vault values are not decrypted/)
    // an empty key
    expect(() => Inventory.parse('all:\n  hosts:\n    ? \n    host1: {}\n', 'n.yml')).toThrow(/^n\.yml:3:7: all\.hosts: a key must be a name, not empty \(null\)$/)
    // the error for an alias of a mapping used as a key points at the alias
    expect(() => Inventory.parse('all:\n  vars:\n    m: &m {a: 1}\n    *m : 2\n', 'k.yml')).toThrow(/^k\.yml:4:5: all\.vars: a key must be a name/)
    // merged keys come first, in PyYAML's (Ansible's) order; own keys override in place
    const order = Inventory.parse('all:\n  hosts:\n    <<: {host1: {a: 1}, host2: {a: 2}}\n    host3: {a: 3}\n    host1: {a: 9}\n', 'o.yml')
    expect(order.hostNames).toEqual(['host1', 'host2', 'host3'])
    expect(order.host('host1').vars.raw('a')).toBe(9)
  })
  it('reads become as a boolean only from true/false and yes/no/on/off/1/0, never from an inherited name', () => {
    for (const v of ['constructor', '__proto__', 'toString', 'maybe']) {
      expect(() => Inventory.parse(`all:\n  vars:\n    ansible_become: ${v}\n  hosts:\n    h: {ansible_host: 10.0.0.1}\n`, 'b.yml').host('h').connection, v).toThrow(/all\.vars\.ansible_become: expected a boolean/)
    }
    const yes = Inventory.parse('all:\n  vars:\n    ansible_become: "yes"\n  hosts:\n    h: {ansible_host: 10.0.0.1, ansible_become: 1}\n', 'b.yml')
    expect(yes.host('h').connection.become).toBe(true)
  })
  it('treats brackets in a host pattern as text (Ansible patterns have no character classes)', () => {
    // a '[' in a host name starts a host range (as in Ansible), so the names here hold ']' only
    const inv = Inventory.parse('all:\n  hosts:\n    host1: {}\n    "host]": {}\n', 'g.yml')
    expect(inv.match('host]').hosts).toEqual(['host]'])
    expect(inv.match('host]*').hosts).toEqual(['host]'])
    expect(inv.match('host[1]*').hosts).toEqual([]) // not a character class that matches host1
    expect(inv.match('host[').unknown).toEqual(['host['])
    expect(inv.match('h*1').hosts).toEqual(['host1'])
  })
  it('expands host ranges, and refuses one of more than 100000 hosts', () => {
    expect(Inventory.parse('all:\n  hosts:\n    web[08:11]:\n', 'r.yml').hostNames).toEqual(['web08', 'web09', 'web10', 'web11'])
    expect(() => Inventory.parse('all:\n  hosts:\n    h[0:99999999]:\n', 'r.yml')).toThrow(/^r\.yml:3:5: all\.hosts\.h\[0:99999999\]: a host range of 100000000 hosts \(at most 100000\)$/)
  })
  it('rejects a key given twice in one mapping, naming it', () => {
    expect(() => Inventory.parse('all:\n  hosts:\n    a: {ansible_host: 10.0.0.1}\n    a: {ansible_host: 10.0.0.2}\n', 'd.yml')).toThrow(/^d\.yml:4:5: all\.hosts\.a: duplicate key "a" \(YAML mapping keys must be unique\)$/)
    expect(() => Inventory.parse('all:\n  vars:\n    x: {p: 1, p: 2}\n', 'd.yml')).toThrow(/^d\.yml:3:15: all\.vars\.x\.p: duplicate key "p"/)
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
    expect(() => Inventory.parse('all:\n  vars: &v\n    a: 1\n    <<: *v\n', 'm.yml')).toThrow(/^m\.yml:4:5: all\.vars\.<<: a merge key \(<<\) refers to a mapping that merges it \(a cycle\)$/)
    expect(() => Inventory.parse('a: &a {vars: {<<: *b}}\nb: &b {<<: *a}\n', 'm.yml')).toThrow(/no anchor before it/)
    expect(() => Inventory.parse('all:\n  vars:\n    x: &x {p: 1, <<: *y}\n    y: &y {q: 2, <<: *x}\n', 'm.yml')).toThrow(/no anchor before it|\(a cycle\)/)
    // two merge keys in one mapping: PyYAML and yaml disagree on which wins, so it is refused
    expect(() => Inventory.parse('all:\n  vars:\n    b: &b {a: 1}\n    o: &o {a: 2}\n  hosts:\n    h: {<<: *b, <<: *o}\n', 'm.yml')).toThrow(/^m\.yml:6:17: all\.hosts\.h\.<<: more than one merge key \(<<\) in a mapping: give one, with a list: <<: \[\*a, \*b\]$/)
    // groups that expand one another 10 x 10 x 10 times: refused, not walked 10^4 times
    const level = (n: number) => `g${n}: &g${n} {children: {${'abcdefhijk'.split('').map((c) => `${c}${n}: *g${n - 1}`).join(', ')}}}`
    const groups = ['g0: &g0 {hosts: {h: null}}', ...[1, 2, 3, 4, 5, 6, 7].map(level)].join('\n') + '\n'
    expect(() => Inventory.parse(groups, 'b.yml')).toThrow(/expands to more than 1000000 nodes through its aliases \(an alias bomb\?\)/)
    // the same inside a variable's value: yaml's own guard, reported with the variable
    const lists = ['all:', '  vars:', '    a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcde'.split('').map((c, i) => `    ${c}: &${c} [${Array(10).fill(`*${'abcde'[i]}`).join(', ')}]`)].join('\n') + '\n'
    const deeper = lists + '    f: &f [' + Array(10).fill('*e').join(', ') + ']\n    g: [' + Array(10).fill('*f').join(', ') + ']\n'
    expect(() => Inventory.parse(deeper, 'c.yml')).toThrow(/^c\.yml:\d+:\d+: all\.vars\.[a-g][[\]\d]*: expands to more than 1000000 nodes/)
  })
  it('refuses a value that contains itself, and keys that are not names; follows aliases used as keys', () => {
    expect(() => Inventory.parse('all:\n  hosts:\n    h1:\n      underlay_ip: &u [1, *u]\n', 'r.yml')).toThrow(/^r\.yml:4:27: all\.hosts\.h1\.underlay_ip\[1\]: an alias refers to a value that contains it \(a recursive value\)$/)
    expect(() => Inventory.parse('all:\n  vars:\n    o: &o {a: *o}\n', 'r.yml')).toThrow(/all\.vars\.o\.a: an alias refers to a value that contains it/)
    expect(() => Inventory.parse('all:\n  hosts:\n    ? [a, b]\n    : {ansible_host: 10.0.0.1}\n', 'k.yml')).toThrow(/^k\.yml:3:7: all\.hosts: a key must be a name \(a scalar\), not a mapping or a list$/)
    const inv = Inventory.parse('names:\n  vars: {g: &g docker_hosts, n: &n web1, vn: &vn my_var}\n*g :\n  hosts:\n    *n :\n      *vn : 5\n', 'k.yml')
    expect(inv.match('docker_hosts').hosts).toEqual(['web1'])
    expect(inv.host('web1').vars.raw('my_var')).toBe(5)
    // `!!str <<` is an ordinary key, in a host's vars and inside a value alike
    const lit = Inventory.parse('all:\n  vars:\n    d: &d {a: 1}\n  hosts:\n    h: {!!str <<: x, w: {!!str <<: *d, b: 2}}\n', 'l.yml')
    expect(lit.host('h').vars.raw('<<')).toBe('x')
    expect(lit.host('h').vars.raw('w')).toEqual({ '<<': { a: 1 }, b: 2 })
  })
  it('reads a large inventory of aliases in time linear in its size (each alias is resolved once, not by walking the document)', () => {
    const hosts = Array.from({ length: 3000 }, (_, i) => `    h${i}: {<<: *d, ansible_host: 10.1.${i >> 8}.${i & 255}, ifaces: *l}`)
    const inv = Inventory.parse(['all:', '  vars:', '    d: &d {ansible_user: root, ovs_datapath_type: netdev}', '    l: &l [eth0, eth1]', '  hosts:', ...hosts].join('\n') + '\n', 'big.yml')
    expect(inv.hostNames.length).toBe(3000)
    expect(inv.host('h2999').connection).toMatchObject({ address: '10.1.11.183', user: 'root' })
    expect(inv.host('h1234').vars.stringList('ifaces')).toEqual(['eth0', 'eth1'])
  })
  it('tells which variable is missing', () => {
    const inv = Inventory.load(F)
    expect(() => inv.host('gw').vars.ipv4('underlay_ip')).toThrow(/host gw: variable underlay_ip is not set/)
  })
})
