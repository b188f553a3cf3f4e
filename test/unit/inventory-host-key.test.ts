import { describe, expect, it } from 'vitest'
import { InventoryError } from '../../lib/core/errors.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'

/** An inventory of one host key (quoted: `[` starts a YAML flow sequence). */
const one = (key: string, vars = ''): Inventory => Inventory.parse(`all:\n  hosts:\n    ${JSON.stringify(key)}:${vars}\n`, 'k.yml')
/** Each host of a one-key inventory: its name, address and port. */
const hostsOf = (key: string, vars = ''): Array<[string, string, number]> => one(key, vars).hosts().map((h) => [h.name, h.connection.address, h.connection.port])
/** The message an inventory of one host key is refused with. */
const refused = (key: string): string => {
  try {
    one(key)
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError)
    return (e as Error).message
  }
  return 'accepted'
}

// ansible/ansible lib/ansible/plugins/inventory/__init__.py (BaseInventoryPlugin._expand_hostpattern),
// lib/ansible/parsing/utils/addresses.py (parse_address), lib/ansible/inventory/data.py (InventoryData.add_host),
// lib/ansible/inventory/host.py (Host.__init__)
describe("inventory: a host key's port and address, as Ansible's YAML inventory reads them", () => {
  it('splits a port off a host name, an IPv4 address, a range or a bracketed IPv6 address', () => {
    expect(hostsOf('web1:2222')).toEqual([['web1', 'web1', 2222]])
    expect(hostsOf('10.0.0.5:2222')).toEqual([['10.0.0.5', '10.0.0.5', 2222]])
    expect(hostsOf('web[1:3]:2222')).toEqual([['web1', 'web1', 2222], ['web2', 'web2', 2222], ['web3', 'web3', 2222]])
    expect(hostsOf('[2001:db8::1]:2222')).toEqual([['2001:db8::1', '2001:db8::1', 2222]])
    expect(hostsOf('[2001:db8::[a:b]]:2200')).toEqual([['2001:db8::a', '2001:db8::a', 2200], ['2001:db8::b', '2001:db8::b', 2200]])
    // brackets around a host name or an IPv4 address take a port too
    expect(hostsOf('[web1]:2222')).toEqual([['web1', 'web1', 2222]])
    expect(hostsOf('[10.0.[1:2].1]:2222')).toEqual([['10.0.1.1', '10.0.1.1', 2222], ['10.0.2.1', '10.0.2.1', 2222]])
    expect(hostsOf('10.0.0.[1:2]:2222').map((h) => h[0])).toEqual(['10.0.0.1', '10.0.0.2'])
    expect(hostsOf('db-[a:b].example.com:2222').map((h) => h[0])).toEqual(['db-a.example.com', 'db-b.example.com'])
    expect(hostsOf('wébé:2222')).toEqual([['wébé', 'wébé', 2222]]) // Python's \w: letters and digits of any script
    expect(hostsOf('web1:0022')).toEqual([['web1', 'web1', 22]]) // Python's int('0022')
    // as a YAML key written plainly
    const plain = Inventory.parse('all:\n  hosts:\n    web1:2222:\n    web2:2223: {ansible_user: u}\n', 'k.yml')
    expect(plain.hosts().map((h) => [h.name, h.connection.port, h.connection.user])).toEqual([['web1', 2222, expect.any(String)], ['web2', 2223, 'u']])
  })

  it('reads a bare IPv6 address (with ranges) as a host without a port, as parse_address does', () => {
    expect(hostsOf('2001:db8::1')).toEqual([['2001:db8::1', '2001:db8::1', 22]])
    expect(hostsOf('::1')).toEqual([['::1', '::1', 22]])
    // a bare IPv6 address keeps its last group: only brackets give one a port
    expect(hostsOf('2001:db8::1:22')).toEqual([['2001:db8::1:22', '2001:db8::1:22', 22]])
    expect(hostsOf('2001:db8::[1:3]').map((h) => h[0])).toEqual(['2001:db8::1', '2001:db8::2', '2001:db8::3'])
    expect(hostsOf('::ffff:192.0.2.[1:2]').map((h) => h[0])).toEqual(['::ffff:192.0.2.1', '::ffff:192.0.2.2'])
    // a zone, for a link-local address (Ansible's ipv6 pattern takes it as it begins like an address)
    expect(hostsOf('fe80::1%eth0')).toEqual([['fe80::1%eth0', 'fe80::1%eth0', 22]])
    expect(hostsOf('[fe80::1%eth0]:2222')).toEqual([['fe80::1%eth0', 'fe80::1%eth0', 2222]])
  })

  it("keeps a key parse_address cannot read, and that has no ':', as the host's name (Ansible's fallback)", () => {
    // e.g. a label whose address is ansible_host
    const inv = Inventory.parse('all:\n  hosts:\n    "gw (old)": {ansible_host: 10.0.0.1}\n    "host]":\n    web_:\n    "a b[1:2]":\n', 'k.yml')
    expect(inv.hosts().map((h) => [h.name, h.connection.address, h.connection.port])).toEqual([
      ['gw (old)', '10.0.0.1', 22], ['host]', 'host]', 22], ['web_', 'web_', 22], ['a b1', 'a b1', 22], ['a b2', 'a b2', 22],
    ])
  })

  it("applies the key's port as Ansible does: a host var set where the host is first listed, which its own ansible_port overrides", () => {
    // the entry's ansible_port is set after the key's port (Host.__init__, then set_variable): it wins
    expect(hostsOf('web1:2222', ' {ansible_port: 2200}')).toEqual([['web1', 'web1', 2200]])
    // the key's port is a host var: it wins over every group's ansible_port
    const g = Inventory.parse('all:\n  vars: {ansible_port: 2300}\n  children:\n    g:\n      vars: {ansible_port: 2400}\n      hosts:\n        "web[1:2]:2222":\n', 'k.yml')
    expect(g.hosts().map((h) => h.connection.port)).toEqual([2222, 2222])
    expect(g.host('web1').vars.raw('ansible_port')).toBe(2222)
    // listed again, by a plain key, an alias or the same port: the first key's port stays
    const again = Inventory.parse('a:\n  hosts: &H\n    "web1:2222":\nb:\n  hosts:\n    web1:\n    "web1:2222": {x: 1}\nc:\n  hosts: *H\n', 'k.yml')
    expect(again.hostNames).toEqual(['web1'])
    expect(again.host('web1').connection.port).toBe(2222)
    expect(again.host('web1').groups).toEqual(['all', 'a', 'b', 'c'])
    // a later entry's ansible_port overrides it, as any host var
    expect(Inventory.parse('a:\n  hosts:\n    "web1:2222":\nb:\n  hosts:\n    web1: {ansible_port: 2201}\n', 'k.yml').host('web1').connection.port).toBe(2201)
    // a port given where the host is listed again would be ignored (InventoryData.add_host): refused, saying so
    expect(() => Inventory.parse('a:\n  hosts:\n    web1:\nb:\n  hosts:\n    "web1:2222":\n', 'k.yml')).toThrow(
      /^k\.yml:6:5: b\.hosts\.web1:2222: host web1 is listed before this key, and Ansible takes a host key's port only where the host is first listed \(InventoryData\.add_host\): port 2222 would be ignored/,
    )
    expect(() => Inventory.parse('a:\n  hosts:\n    "web[1:3]:2222":\nb:\n  hosts:\n    "web3:2223":\n', 'k.yml')).toThrow(/host web3 is listed before this key.*port 2223 would be ignored/)
    // ... unless that entry sets ansible_port itself
    expect(Inventory.parse('a:\n  hosts:\n    web1:\nb:\n  hosts:\n    "web1:2222": {ansible_port: 2222}\n', 'k.yml').host('web1').connection.port).toBe(2222)
  })

  it('refuses a port out of 1-65535', () => {
    expect(refused('web1:0')).toBe('k.yml:3:5: all.hosts.web1:0: the port of a host key must be 1 to 65535, not 0')
    expect(refused('web1:65536')).toMatch(/: the port of a host key must be 1 to 65535, not 65536$/)
    expect(refused('[2001:db8::1]:99999999999999999999999')).toMatch(/must be 1 to 65535, not 99999999999999999999999$/)
    expect(hostsOf('web1:65535')).toEqual([['web1', 'web1', 65535]])
  })

  it("refuses what parse_address finds no host in, where Ansible's fallback would make a name with ':'", () => {
    expect(refused('web1:22:33')).toBe(
      "k.yml:3:5: all.hosts.web1:22:33: not a valid network hostname: web1:22:33 (by the rule of Ansible's parse_address: a host name, an IPv4 address or an IPv6 address, "
      + "with [begin:end] ranges, then :port if any, [IPv6 address]:port for IPv6; Ansible would name the host with the ':' in it)",
    )
    expect(refused('web1:')).toMatch(/^k\.yml:3:5: all\.hosts\.web1:: not a valid network hostname: web1: /)
    expect(refused('web1:ssh')).toMatch(/not a valid network hostname: web1:ssh /)
    expect(refused(':22')).toMatch(/not a valid network hostname: "" \(/) // nothing before the port
    expect(refused('web_:22')).toMatch(/not a valid network hostname: web_ \(/) // a label ends in a letter or digit
    expect(refused('my host:22')).toMatch(/not a valid network hostname: my host \(/)
    expect(refused('n[:2]:22')).toMatch(/not a valid network hostname: n\[:2\] \(/) // parse_address's ranges have a begin
    // Ansible's ipv6 pattern takes what only begins like an address (its ^ and $ bind to its first and last forms)
    expect(refused('2001:db8::1::2')).toMatch(/not a valid network hostname: 2001:db8::1::2 \(/)
    expect(refused('[2001:db8::1 x]:22')).toMatch(/not a valid network hostname: 2001:db8::1 x \(/)
    expect(refused('2001:db8::[9998:10000]')).toMatch(/^k\.yml:3:5: all\.hosts\.2001:db8::\[9998:10000\]: 2001:db8::10000 is not an IPv6 address$/)
  })

  it('refuses brackets around a host without a port, and a key Ansible splits two ports off', () => {
    expect(refused('[2001:db8::1]')).toBe('k.yml:3:5: all.hosts.[2001:db8::1]: brackets around a host must be followed by its port ([2001:db8::1]:22); without a port, write the host bare (2001:db8::1)')
    expect(refused('[web1]')).toMatch(/brackets around a host must be followed by its port \(\[web1\]:22\)/)
    // parse_address splits [..]:port, then host:port inside the brackets again
    expect(refused('[web1:22]:33')).toMatch(/^k\.yml:3:5: all\.hosts\.\[web1:22\]:33: two ports: Ansible reads this key as host web1 with port 22 \(parse_address splits a port off twice\)$/)
    expect(refused('[10:20]:22')).toMatch(/two ports: Ansible reads this key as host 10 with port 20/)
    // an alphabetic range alone is still a range
    expect(hostsOf('[a:b]').map((h) => h[0])).toEqual(['a', 'b'])
  })

  it('refuses a name of four numbers that is not an IPv4 address in dotted decimal (ipaddr.js)', () => {
    expect(refused('10.0.0.256')).toBe('k.yml:3:5: all.hosts.10.0.0.256: 10.0.0.256 is not an IPv4 address (four numbers 0-255 without leading zeros: a resolver reads 010 as octal 8)')
    expect(refused('010.0.0.1:22')).toMatch(/010\.0\.0\.1 is not an IPv4 address/)
    expect(refused('10.0.0.[250:256]')).toMatch(/^k\.yml:3:5: all\.hosts\.10\.0\.0\.\[250:256\]: 10\.0\.0\.256 is not an IPv4 address/)
    expect(refused('10.0.0.[001:002]')).toMatch(/10\.0\.0\.001 is not an IPv4 address/)
  })
})

describe('host patterns as Ansible splits and evaluates them (split_host_pattern, _evaluate_patterns)', () => {
  const inv = Inventory.parse([
    'all:',
    '  hosts:',
    '    "2001:db8::1": {}',
    '    gw: {}',
    '  children:',
    '    web:',
    '      hosts: {w1: {}, w2: {}, w3: {}}',
    '    staging:',
    '      hosts: {w2: {}, gw: {}}',
  ].join('\n') + '\n', 'p.yml')
  it('a pattern that is one IPv6 address selects that host (its colons are no separators)', () => {
    expect(inv.match('2001:db8::1')).toEqual({ hosts: ['2001:db8::1'], unknown: [] })
    expect(inv.match('!2001:db8::1').hosts).toEqual(['gw', 'w1', 'w2', 'w3'])
    expect(inv.match('2001:db8::1,gw').hosts).toEqual(['2001:db8::1', 'gw'])
  })
  it('&name intersects, after the plain parts and before the exclusions; alone it starts from all', () => {
    expect(inv.match('web:&staging').hosts).toEqual(['w2'])
    expect(inv.match('web,&staging').hosts).toEqual(['w2'])
    expect(inv.match('&staging').hosts).toEqual(['gw', 'w2'])
    expect(inv.match('&staging:!gw').hosts).toEqual(['w2'])
    expect(inv.match('!w1:web').hosts).toEqual(['w2', 'w3'])
    expect(inv.match('web:&nosuch')).toEqual({ hosts: [], unknown: ['&nosuch'] })
  })
  it('colons separate only outside brackets and only without a comma', () => {
    expect(inv.match('gw:w1').hosts).toEqual(['gw', 'w1'])
    expect(inv.match('w[1:2]:gw').unknown).toEqual(['w[1:2]'])
  })
})
