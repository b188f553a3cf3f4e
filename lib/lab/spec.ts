import ipaddr from 'ipaddr.js'
import { ValidationError } from '../core/errors.ts'
import { dockerName, ifname, ipv4, ipv4Cidr, ipv4InCidr, mtu, vni } from '../core/validate.ts'
import type { Inventory } from '../inventory/inventory.ts'
import { vethNames } from '../tasks/docker.ts'

/**
 * The seed's lab as data: container networks stretched over Docker hosts with VXLAN, containers with fixed
 * addresses, and the underlay MTU. Users edit the instance in playbooks/lab.ts (`LAB`, the seed's lab); the plays are generated
 * from it (lib/lab/plays.ts). Tunnel endpoints come from the inventory (`underlay_ip`), never from here.
 */

/** One overlay network: an OVS bridge per Docker host, joined by VXLAN tunnels with one VNI. */
export interface LabNetwork {
  /** Network name; also the name of the internal port holding the gateway address (`net1`). */
  readonly name: string
  /** IPv4 network, e.g. `10.0.1.0/24`; the gateway is its first address (`10.0.1.1`). */
  readonly cidr: string
  /** VXLAN network identifier (OVS `options:key`), 0..16777215. */
  readonly vni: number
  /** OVS bridge name on every Docker host (`br1`). */
  readonly bridge: string
  /** Inventory name of the Docker host that holds the gateway address, routes and NATs the network (the hub). */
  readonly gatewayHost: string
}

/** One container attached to an overlay network. */
export interface LabContainer {
  readonly name: string
  /** Inventory name of its Docker host. */
  readonly host: string
  /** Name of a {@link LabNetwork}. */
  readonly network: string
  /** IPv4 address inside the network (prefix length comes from the network). */
  readonly address: string
}

/** The whole lab. */
export interface LabSpec {
  readonly networks: readonly LabNetwork[]
  readonly containers: readonly LabContainer[]
  /**
   * Underlay MTU in bytes on every underlay link (Docker hosts and the gateway router). VXLAN over IPv4 adds
   * 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8, RFC 7348), so a 1500-byte overlay packet
   * needs at least 1550; the seed uses 1554 (room for an 802.1Q tag).
   */
  readonly underlayMtu: number
  /** Name of the lab image (the seed's `con_img`). */
  readonly image: string
}

/** The gateway address of a network: its first host address (`10.0.1.0/24` -> `10.0.1.1`). */
export function gatewayOf(net: LabNetwork): string {
  const [addr] = ipaddr.IPv4.parseCIDR(net.cidr)
  const bytes = addr.toByteArray()
  bytes[3] = (bytes[3] ?? 0) + 1
  return ipaddr.IPv4.parse(bytes.join('.')).toString()
}

/** Prefix length of a network's CIDR. */
export function prefixOf(net: LabNetwork): number {
  return ipaddr.IPv4.parseCIDR(net.cidr)[1]
}

/** A VXLAN tunnel one host needs for one network. */
export interface LabTunnel {
  readonly network: LabNetwork
  /** Port name on this host (≤ 15 chars). */
  readonly port: string
  /** Inventory name and underlay address of the other end. */
  readonly peer: string
  readonly remoteIp: string
}

/**
 * Tunnels of one Docker host, hub and spoke per network: the network's gateway host (hub) has one port
 * to every other Docker host, every other host has one port to the hub. The result is a tree, so OVS's
 * flooding (normal action, no split horizon) cannot loop, which a full mesh of VXLAN ports on one bridge
 * would. Port names: `vxlan<i>` (i = network position, from 1) towards the hub and, on the hub, towards the
 * first other Docker host in inventory order (the seed's names for two hosts); `vxlan<i>-<n>` towards the
 * n-th Docker host (n from 1, in inventory order) otherwise, so adding hosts never renames a port.
 */
export function tunnelsOf(lab: LabSpec, host: string, dockerHosts: readonly string[], underlayIp: (h: string) => string): LabTunnel[] {
  const out: LabTunnel[] = []
  lab.networks.forEach((net, i) => {
    const base = `vxlan${i + 1}`
    const spokes = dockerHosts.filter((h) => h !== net.gatewayHost)
    if (host === net.gatewayHost) {
      spokes.forEach((peer, k) => {
        const n = dockerHosts.indexOf(peer) + 1
        out.push({ network: net, port: k === 0 ? base : `${base}-${n}`, peer, remoteIp: underlayIp(peer) })
      })
    } else if (dockerHosts.includes(host)) {
      out.push({ network: net, port: base, peer: net.gatewayHost, remoteIp: underlayIp(net.gatewayHost) })
    }
  })
  return out
}

/**
 * Bytes VXLAN over IPv4 adds to every overlay frame: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 (RFC 7348,
 * section 4.3: VXLAN frames must not be fragmented, so the underlay MTU must carry them whole).
 */
export const VXLAN_OVERHEAD = 50

/** The smallest underlay MTU that carries a full-size (1500-byte) overlay frame in VXLAN over IPv4: 1550. */
export const MIN_UNDERLAY_MTU = 1500 + VXLAN_OVERHEAD

/**
 * Validate a lab against itself and the inventory: names, CIDRs, VNIs, unique addresses inside their
 * network, hosts that exist in `docker_hosts`, networks that do not overlap, interface names that do not
 * collide on a host (bridges, internal ports, VXLAN ports, the underlay interface, container veths), and an
 * underlay MTU that carries full-size overlay frames ({@link MIN_UNDERLAY_MTU}). Throws {@link ValidationError}
 * naming the field (`lab.containers[doc3].address: 10.0.3.20 is not in net1 10.0.1.0/24`).
 */
export function validateLab(lab: LabSpec, inventory: Inventory): void {
  const fail = (field: string, msg: string): never => {
    throw new ValidationError(field, msg, 'lab')
  }
  const wrap = <T>(field: string, f: () => T): T => {
    try {
      return f()
    } catch (e) {
      if (e instanceof ValidationError) return fail(field, e.problem)
      throw e
    }
  }
  const dockerHosts = inventory.groupHosts('docker_hosts').map((h) => h.name)
  if (dockerHosts.length === 0) fail('inventory', `no hosts in group docker_hosts of ${inventory.file}`)
  wrap('underlayMtu', () => mtu('underlayMtu', lab.underlayMtu))
  if (lab.underlayMtu < MIN_UNDERLAY_MTU) {
    fail('underlayMtu', `${lab.underlayMtu} is below ${MIN_UNDERLAY_MTU}: VXLAN over IPv4 adds ${VXLAN_OVERHEAD} bytes to every frame ` +
      `(outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8; RFC 7348 section 4.3), so a full-size 1500-byte overlay frame needs an underlay MTU ` +
      `of at least ${MIN_UNDERLAY_MTU} (the seed uses 1554) and is dropped below it. To show that fault on purpose, keep underlayMtu at ${MIN_UNDERLAY_MTU} ` +
      `or more and run with --skip-mtu on an underlay still at 1500 (a fresh testbed, or after --state absent, which sets it back to 1500)`)
  }
  wrap('image', () => dockerName('image', lab.image, true))
  const nets = new Map<string, LabNetwork>()
  const vnis = new Set<number>()
  for (const n of lab.networks) {
    const f = `networks[${n.name}]`
    wrap(`${f}.name`, () => ifname('name', n.name))
    wrap(`${f}.bridge`, () => ifname('bridge', n.bridge))
    const cidr = wrap(`${f}.cidr`, () => ipv4Cidr('cidr', n.cidr))
    if (prefixOf({ ...n, cidr }) > 30) fail(`${f}.cidr`, `${cidr} is too small for a gateway and containers`)
    wrap(`${f}.vni`, () => vni('vni', n.vni))
    if (vnis.has(n.vni)) fail(`${f}.vni`, `VNI ${n.vni} is used by two networks`)
    vnis.add(n.vni)
    if (nets.has(n.name)) fail(`${f}.name`, 'duplicate network name')
    if ([...nets.values()].some((o) => o.bridge === n.bridge)) fail(`${f}.bridge`, `bridge ${n.bridge} is used by two networks`)
    if (!dockerHosts.includes(n.gatewayHost)) fail(`${f}.gatewayHost`, `${JSON.stringify(n.gatewayHost)} is not in docker_hosts (${dockerHosts.join(', ')})`)
    // one address, one network: the gateway host would hold both gateway addresses, route and MASQUERADE both,
    // and a container's address would be in two networks at once
    const [addr, len] = ipaddr.IPv4.parseCIDR(cidr)
    for (const o of nets.values()) {
      const [oAddr, oLen] = ipaddr.IPv4.parseCIDR(o.cidr)
      if (addr.match(oAddr, oLen) || oAddr.match(addr, len)) {
        const how = len === oLen ? 'is the same network as' : len < oLen ? 'contains' : 'is inside'
        fail(`${f}.cidr`, `${cidr} ${how} ${o.name}'s ${o.cidr}: networks must not overlap (give each its own range)`)
      }
    }
    nets.set(n.name, n)
  }
  const addrs = new Set<string>()
  const names = new Set<string>()
  for (const c of lab.containers) {
    const f = `containers[${c.name}]`
    wrap(`${f}.name`, () => dockerName('name', c.name))
    if (names.has(c.name)) fail(`${f}.name`, 'duplicate container name')
    names.add(c.name)
    const net = nets.get(c.network) ?? fail(`${f}.network`, `no network named ${JSON.stringify(c.network)}`)
    if (!dockerHosts.includes(c.host)) fail(`${f}.host`, `${JSON.stringify(c.host)} is not in docker_hosts (${dockerHosts.join(', ')})`)
    const a = wrap(`${f}.address`, () => ipv4('address', c.address))
    if (!ipv4InCidr(a, net.cidr)) fail(`${f}.address`, `${a} is not in ${net.name} ${net.cidr}`)
    if (a === gatewayOf(net)) fail(`${f}.address`, `${a} is ${net.name}'s gateway address`)
    const [netAddr, len] = ipaddr.IPv4.parseCIDR(net.cidr)
    const bcast = ipaddr.IPv4.broadcastAddressFromCIDR(`${netAddr.toString()}/${len}`).toString()
    if (a === netAddr.toString() || a === bcast) fail(`${f}.address`, `${a} is the network or broadcast address of ${net.cidr}`)
    if (addrs.has(a)) fail(`${f}.address`, `${a} is used twice`)
    addrs.add(a)
  }
  interfaceNames(lab, inventory, dockerHosts, fail)
}

/**
 * Every interface name the lab makes on a Docker host must be that interface's alone: OVS bridges and ports and
 * the host's links share one namespace, so a network named like a bridge (`br2`) or a VXLAN port (`vxlan2`) would
 * make its internal port collide with it (OVS refuses a second port of one name, and the gateway address would
 * go to the other interface). The names, per host: the underlay interface (`underlay_iface`), VXLAN ports ({@link tunnelsOf}) and
 * container veth host ends ({@link vethNames}), which the lab derives; then each network's bridge (on every Docker
 * host) and internal port (the network's name, on its gateway host), which the user chooses, so those are blamed.
 */
function interfaceNames(lab: LabSpec, inventory: Inventory, dockerHosts: readonly string[], fail: (field: string, msg: string) => never): void {
  for (const host of dockerHosts) {
    const taken = new Map<string, string>()
    const vars = inventory.host(host).vars
    if (vars.has('underlay_iface')) taken.set(vars.ifname('underlay_iface'), `${host}'s underlay interface (underlay_iface)`)
    for (const t of tunnelsOf(lab, host, dockerHosts, () => '0.0.0.0')) taken.set(t.port, `the VXLAN port of network ${t.network.name} towards ${t.peer}`)
    for (const c of lab.containers.filter((x) => x.host === host)) taken.set(vethNames(c.name, 'eth0').host, `the host end of container ${c.name}'s veth`)
    const claim = (name: string, what: string, field: string): void => {
      const other = taken.get(name)
      if (other !== undefined) fail(field, `${name} would be ${what} on ${host}, but it is already ${other} there: interface names on a host must be unique`)
      taken.set(name, what)
    }
    for (const n of lab.networks) claim(n.bridge, `the OVS bridge of network ${n.name}`, `networks[${n.name}].bridge`)
    for (const n of lab.networks.filter((x) => x.gatewayHost === host)) claim(n.name, `the internal port of network ${n.name} (its gateway address)`, `networks[${n.name}].name`)
  }
}
