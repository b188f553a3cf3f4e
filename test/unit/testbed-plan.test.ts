/** lib/testbed pure parts: address plan, generated init scripts (quoting), inventory shape. */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { shQuote } from '../../lib/testbed/exec.ts'
import { inventoryYaml, knownHostsText } from '../../lib/testbed/files.ts'
import { dockerHostInit, gatewayInit, livePaths } from '../../lib/testbed/hostinit.ts'
import { checkHostCount, nsOfHost, planTestbed, rootBatch, underlayNet } from '../../lib/testbed/plan.ts'

describe('testbed address plan', () => {
  it('follows the seed for host1/host2 and switches to 172.17.N above host25', () => {
    expect(underlayNet(1)).toEqual({ hostIp: '172.16.10.100', gatewayIp: '172.16.10.1', prefixLen: 24 })
    expect(underlayNet(2).hostIp).toBe('172.16.20.100')
    expect(underlayNet(25).hostIp).toBe('172.16.250.100')
    expect(underlayNet(26)).toEqual({ hostIp: '172.17.26.100', gatewayIp: '172.17.26.1', prefixLen: 24 })
    expect(underlayNet(150).hostIp).toBe('172.17.150.100')
    expect(() => underlayNet(151)).toThrow(RangeError)
  })

  it('caps --hosts at 150 with a clear error', () => {
    expect(() => checkHostCount(151)).toThrow(/maximum of 150/)
    expect(() => checkHostCount(0)).toThrow(/positive integer/)
    expect(() => planTestbed({ hosts: 2.5 })).toThrow(/positive integer/)
    const p = planTestbed({ hosts: 150 })
    expect(p.dockerHosts.at(-1)).toMatchObject({ name: 'host150', ns: 'vx-h150', mgmtIp: '172.16.99.250', gwIface: 'gw-h150' })
    expect(new Set(p.dockerHosts.map((h) => h.underlayIp)).size).toBe(150)
  })

  it('maps host names to namespaces', () => {
    expect(nsOfHost('gw')).toBe('vx-gw')
    expect(nsOfHost('inet')).toBe('vx-inet')
    expect(nsOfHost('host12')).toBe('vx-h12')
    expect(nsOfHost('host0')).toBeUndefined()
    expect(nsOfHost('host151')).toBeUndefined()
    expect(nsOfHost('../x')).toBeUndefined()
  })

  it('creates every namespace and veth in one root batch', () => {
    const b = rootBatch(planTestbed({ hosts: 2 }))
    expect(b).toContain('link add vx-mgmt type bridge')
    expect(b).toContain('netns add vx-h2')
    expect(b).toContain('link add gw-h2 netns vx-gw type veth peer name eth0 netns vx-h2')
    expect(b).toContain('link add mg-h1 type veth peer name mgmt0 netns vx-h1')
    expect(b).toContain('link add wan netns vx-gw type veth peer name eth0 netns vx-inet')
  })
})

describe('testbed generated files', () => {
  const plan = planTestbed({ hosts: 2 })
  const weird = "/tmp/it's a $(dir) `x`"
  const files = { hostDir: '/var/lib/vxlab-testbed/hosts/host1', logDir: '/var/lib/vxlab-testbed/logs/host1', live: [weird] }

  it('init scripts are valid sh and quote every value', () => {
    for (const script of [dockerHostInit(plan, plan.dockerHosts[0]!, files), gatewayInit(plan, files)]) {
      execFileSync('sh', ['-n'], { input: script }) // syntax check
      expect(script).toContain(`mount --bind ${shQuote(weird)} /run/.live/0`)
      expect(script).not.toContain(`$(dir)\n`)
    }
    const h = dockerHostInit(plan, plan.dockerHosts[0]!, files)
    expect(h).toContain('--cgroup-parent=vxlab-h1')
    expect(h).toContain('ip addr add 172.16.10.100/24 dev br-phy')
    expect(h).toContain('ip route add default via 172.16.10.1')
    expect(dockerHostInit(planTestbed({ hosts: 2, light: true }), plan.dockerHosts[0]!, files)).not.toMatch(/^dockerd /m)
    expect(h).toMatch(/^dockerd /m)
  })

  it('keeps only checkouts under overlaid dirs live, nested ones once', () => {
    expect(livePaths(['/work/main', '/work/main/.testbed'])).toEqual([])
    expect(livePaths(['/tmp/ci/repo', '/tmp/ci/repo/.testbed', '/root/tb'])).toEqual(['/root/tb', '/tmp/ci/repo'])
  })

  it('writes the inventory shape other tools rely on', () => {
    const p = { privateKey: '/x/.testbed/client/id_ed25519', knownHosts: '/x/.testbed/known_hosts', image: '/x/.testbed/image' }
    const inv = parse(inventoryYaml(planTestbed({ hosts: 2, light: true }), p)) as Record<string, any>
    expect(inv['all'].vars).toEqual({
      ansible_user: 'root',
      ansible_ssh_private_key_file: p.privateKey,
      vxlab_known_hosts_file: p.knownHosts,
      lab_image_context: p.image,
      testbed_light: true,
    })
    expect(inv['all'].children.gateway.hosts.gw).toEqual({ ansible_host: '172.16.99.254', underlay_ifaces: ['gw-h1', 'gw-h2'], wan_iface: 'wan' })
    expect(inv['all'].children.docker_hosts.vars).toEqual({ ovs_datapath_type: 'netdev' })
    expect(inv['all'].children.docker_hosts.hosts.host2).toEqual({
      ansible_host: '172.16.99.102',
      underlay_ip: '172.16.20.100',
      underlay_iface: 'eth0',
      underlay_bridge: 'br-phy',
    })
  })

  it('writes known_hosts lines without comments', () => {
    expect(knownHostsText([{ ip: '172.16.99.101', publicKey: 'ssh-ed25519 AAAAkey vxlab-testbed-host1\n' }])).toBe(
      '172.16.99.101 ssh-ed25519 AAAAkey\n',
    )
  })
})
