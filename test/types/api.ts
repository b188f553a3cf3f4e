/**
 * Type-level tests of the public API. This file is type-checked by `npm run typecheck` (tsconfig includes
 * `test`) and never run. Every `// @ts-expect-error` marks a line that MUST NOT compile: if the API loses a
 * type (a field widened to `any` or `string`, an enum to `string`), the directive becomes unused and the
 * type check fails. test/unit/graph-and-api-types.test.ts compiles a copy without the directives and checks
 * each error message, so these checks can be seen failing.
 */
import {
  command, containerPort, dockerContainer, dockerImage, iptablesMasq, ipAddress, ovsBridge, ovsPort, playbook, route, runCli, sysctl, vxlanPort,
  type AnyTask, type InventoryHost, type PlaybookDef,
} from '../../lib/index.ts'
import type { Topology } from '../../lib/graph/index.ts'

/** What a playbook author writes: all of this compiles. */
export function valid(host: InventoryHost): AnyTask[] {
  const datapathType = host.vars.oneOf('ovs_datapath_type', ['system', 'netdev'] as const, 'system')
  const t = vxlanPort({ bridge: 'br3', name: 'vxlan3', remoteIp: host.vars.ipv4('underlay_ip'), key: 7000, dstPort: 4789 })
  const key: number = t.spec.key
  void key
  return [
    ovsBridge({ name: 'br3', datapathType }),
    ovsPort({ bridge: 'br3', name: 'net3', type: 'internal' }),
    ipAddress({ dev: 'net3', address: '10.0.3.1/24' }),
    t,
    dockerContainer({ name: 'doc5', image: 'con_img', network: 'none', restart: 'unless-stopped' }),
    containerPort({ bridge: 'br1', container: 'doc5', address: '10.0.1.30/24', gateway: '10.0.1.1', mtu: 1500 }),
    route({ destination: '10.0.3.0/24', via: '172.16.10.100' }),
    iptablesMasq({ iface: 'net3', source: '10.0.3.0/24' }),
    sysctl({ key: 'net.ipv4.ip_forward', value: 1 }),
    command({ name: 'mark', argv: ['touch', '/etc/vx-mark'], creates: '/etc/vx-mark', timeoutMs: 5000 }),
    command({ name: 'greet', script: 'echo "$1"', args: ['hello'], stdin: '' }),
  ]
}

/** Wrong field types: none of the marked lines compiles. */
export function wrongFieldTypes(): void {
  vxlanPort({
    bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100',
    // @ts-expect-error the VNI (key) is a number, not a string
    key: '5000',
  })
  // @ts-expect-error remoteIp is required
  vxlanPort({ bridge: 'br1', name: 'vxlan1', key: 5000 })
  vxlanPort({
    bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 5000,
    // @ts-expect-error the field is `key` (OVS options:key), there is no `vni`
    vni: 5000,
  })
  ovsBridge({
    name: 'br1',
    // @ts-expect-error datapath types are 'system' | 'netdev'
    datapathType: 'kernel',
  })
  ovsPort({
    bridge: 'br1', name: 'p1',
    // @ts-expect-error port types are 'internal' | 'system' (VXLAN ports are vxlanPort)
    type: 'vxlan',
  })
  ipAddress({
    dev: 'net1', address: '10.0.1.1/24',
    // @ts-expect-error up is a boolean
    up: 'yes',
  })
  dockerContainer({
    name: 'doc1', image: 'con_img', network: 'none',
    // @ts-expect-error container states are 'running' | 'stopped' | 'absent'
    state: 'paused',
  })
  containerPort({
    bridge: 'br1', container: 'doc1', address: '10.0.1.10/24',
    // @ts-expect-error the MTU is a number of bytes
    mtu: '1500',
  })
  route({
    destination: '10.0.1.0/24', via: '172.16.10.100',
    // @ts-expect-error ensure is 'present' | 'absent'
    ensure: 'gone',
  })
  iptablesMasq({
    iface: 'net1',
    // @ts-expect-error source is a CIDR string
    source: 10,
  })
  sysctl({
    key: 'net.ipv4.ip_forward',
    // @ts-expect-error a sysctl value is a string or a number
    value: true,
  })
  // @ts-expect-error a command runs argv or a script: one of them is required
  command({ name: 'nothing' })
  // @ts-expect-error a command runs argv or a script, not both
  command({ argv: ['true'], script: 'true' })
  // @ts-expect-error args are a script's positional parameters: argv holds its program's arguments
  command({ argv: ['echo'], args: ['x'] })
  dockerImage({
    name: 'img',
    // @ts-expect-error a Dockerfile is given as text or as a template, not both
    dockerfile: { text: 'FROM scratch\n', template: 'Dockerfile.hbs' },
  })
  dockerImage({
    name: 'img',
    // @ts-expect-error vars are a template's: text is used as it is
    dockerfile: { text: 'FROM scratch\n', vars: { base: 'x' } },
  })
}

/** Wrong shapes around tasks: playbooks, results, the CLI, pictures. */
export function wrongShapes(pb: PlaybookDef, topo: Topology): void {
  playbook({
    name: 'bad',
    plays: [{
      name: 'p', hosts: 'all',
      // @ts-expect-error tasks are task objects made by the factories, not shell strings
      tasks: () => ['ovs-vsctl add-br br1'],
    }],
  })
  playbook({
    name: 'bad', plays: [],
    // @ts-expect-error playbook flags are 'boolean' | 'string'
    flags: { count: { type: 'number', description: 'n' } },
  })
  // @ts-expect-error a spec keeps its field types: key is a number
  const key: string = vxlanPort({ bridge: 'br1', name: 'v', remoteIp: '10.0.0.1', key: 1 }).spec.key
  void key
  // @ts-expect-error runCli takes argv as an array
  void runCli(pb, '--check')
  // @ts-expect-error a topology is read-only
  topo.hosts[0]!.name = 'renamed'
}
