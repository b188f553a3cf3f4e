/**
 * The testbed's topology as data: names, namespaces and addresses. Pure (no I/O), so it is unit-tested
 * and every other testbed module derives names from here instead of rebuilding strings.
 *
 * Address scheme (also in lib/testbed/README.md):
 * - management network: bridge `vx-mgmt` 172.16.99.1/24 in the root namespace (the controller);
 *   gw 172.16.99.254, hostN 172.16.99.(100+N). One veth per host: `mg-<short>` in the root namespace,
 *   `mgmt0` inside the host.
 * - underlay of hostN: for N <= 25, 172.16.(10*N).0/24 (host1 = 172.16.10.100, host2 = 172.16.20.100,
 *   as in the seed), gateway side 172.16.(10*N).1 on gw's link `gw-hN`. For 25 < N <= 150 the third
 *   octet 10*N would overflow, so hostN uses 172.17.N.0/24 (host .100, gw .1) instead.
 * - the "internet": vx-inet at 203.0.113.10/24 (TEST-NET-3), gw side `wan` 203.0.113.254.
 */

/** Upper bound of `--hosts`: the management addresses 172.16.99.101..250 must stay below gw's .254. */
export const MAX_HOSTS = 150
/** Default number of docker hosts (host1, host2), as in the seed. */
export const DEFAULT_HOSTS = 2

export const NS_PREFIX = 'vx-'
export const MGMT_BRIDGE = 'vx-mgmt'
export const MGMT_PREFIX_LEN = 24
export const MGMT_CONTROLLER_IP = '172.16.99.1'
export const MGMT_GW_IP = '172.16.99.254'
export const INET_IP = '203.0.113.10'
export const INET_GW_IP = '203.0.113.254'
export const INET_PREFIX_LEN = 24
export const WAN_IFACE = 'wan'
export const UNDERLAY_IFACE = 'eth0'
export const UNDERLAY_BRIDGE = 'br-phy'
export const MGMT_IFACE = 'mgmt0'
/** Names of every namespace the testbed may own; `down` removes exactly these. */
export const NS_NAME_RE = /^vx-(gw|inet|h[0-9]{1,3})$/
/** Names of the root-namespace ends of management veths. */
export const MGMT_LINK_RE = /^mg-(gw|h[0-9]{1,3})$/
/** Docker's --cgroup-parent of hostN is `vxlab-hN`: `down` finds container processes by it. */
export const CGROUP_RE = /^vxlab-h[0-9]{1,3}$/

export type HostRole = 'gateway' | 'docker' | 'external'

/** One docker host (inventory group docker_hosts). */
export interface DockerHostPlan {
  role: 'docker'
  /** inventory name: host1, host2, ... */
  name: string
  index: number
  /** network namespace: vx-h1, ... */
  ns: string
  /** root-namespace end of the management veth: mg-h1, ... */
  mgmtLink: string
  mgmtIp: string
  underlayIp: string
  underlayGateway: string
  underlayPrefixLen: number
  /** gw's interface towards this host: gw-h1, ... */
  gwIface: string
  /** docker --cgroup-parent: vxlab-h1, ... */
  cgroupParent: string
}

export interface GatewayPlan {
  role: 'gateway'
  name: 'gw'
  ns: string
  mgmtLink: string
  mgmtIp: string
  wanIface: string
  wanIp: string
  /** gw-h1..gw-hN with their addresses (the docker hosts' default gateways). */
  underlayIfaces: { iface: string; ip: string; prefixLen: number }[]
}

export interface ExternalPlan {
  role: 'external'
  name: 'inet'
  ns: string
  ip: string
  gateway: string
  prefixLen: number
}

export interface TestbedPlan {
  hosts: number
  light: boolean
  gateway: GatewayPlan
  external: ExternalPlan
  dockerHosts: DockerHostPlan[]
}

/** Underlay /24 of hostN: 172.16.(10N).0 for N <= 25, 172.17.N.0 above (see the module comment). */
export function underlayNet(index: number): { hostIp: string; gatewayIp: string; prefixLen: number } {
  checkIndex(index)
  const net = index <= 25 ? `172.16.${index * 10}` : `172.17.${index}`
  return { hostIp: `${net}.100`, gatewayIp: `${net}.1`, prefixLen: 24 }
}

export function mgmtIp(index: number): string {
  checkIndex(index)
  return `172.16.99.${100 + index}`
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > MAX_HOSTS) {
    throw new RangeError(`testbed host index must be an integer 1..${MAX_HOSTS}, got ${index}`)
  }
}

/** Validates `--hosts`; throws a RangeError with a clear message. */
export function checkHostCount(hosts: number): void {
  if (!Number.isInteger(hosts) || hosts < 1) {
    throw new RangeError(`--hosts must be a positive integer, got ${String(hosts)}`)
  }
  if (hosts > MAX_HOSTS) {
    throw new RangeError(
      `--hosts ${hosts} is above the maximum of ${MAX_HOSTS} (management addresses 172.16.99.101..250)`,
    )
  }
}

export function dockerHostPlan(index: number): DockerHostPlan {
  const u = underlayNet(index)
  return {
    role: 'docker',
    name: `host${index}`,
    index,
    ns: `${NS_PREFIX}h${index}`,
    mgmtLink: `mg-h${index}`,
    mgmtIp: mgmtIp(index),
    underlayIp: u.hostIp,
    underlayGateway: u.gatewayIp,
    underlayPrefixLen: u.prefixLen,
    gwIface: `gw-h${index}`,
    cgroupParent: `vxlab-h${index}`,
  }
}

export function planTestbed(opts: { hosts?: number; light?: boolean }): TestbedPlan {
  const hosts = opts.hosts ?? DEFAULT_HOSTS
  checkHostCount(hosts)
  const dockerHosts: DockerHostPlan[] = []
  for (let i = 1; i <= hosts; i++) dockerHosts.push(dockerHostPlan(i))
  return {
    hosts,
    light: opts.light ?? false,
    gateway: {
      role: 'gateway',
      name: 'gw',
      ns: `${NS_PREFIX}gw`,
      mgmtLink: 'mg-gw',
      mgmtIp: MGMT_GW_IP,
      wanIface: WAN_IFACE,
      wanIp: INET_GW_IP,
      underlayIfaces: dockerHosts.map((h) => ({
        iface: h.gwIface,
        ip: h.underlayGateway,
        prefixLen: h.underlayPrefixLen,
      })),
    },
    external: {
      role: 'external',
      name: 'inet',
      ns: `${NS_PREFIX}inet`,
      ip: INET_IP,
      gateway: INET_GW_IP,
      prefixLen: INET_PREFIX_LEN,
    },
    dockerHosts,
  }
}

/** Namespace of a testbed host by its inventory name ('gw', 'inet', 'host<N>'); undefined if not a name. */
export function nsOfHost(name: string): string | undefined {
  if (name === 'gw') return `${NS_PREFIX}gw`
  if (name === 'inet') return `${NS_PREFIX}inet`
  const m = /^host([1-9][0-9]{0,2})$/.exec(name)
  if (m && Number(m[1]) <= MAX_HOSTS) return `${NS_PREFIX}h${m[1]}`
  return undefined
}

/**
 * Lines for `ip -batch -` in the root namespace: the management bridge, every namespace and every
 * veth pair (created straight into their namespaces). Addresses inside namespaces are set by each
 * host's init script, in its own namespace.
 */
export function rootBatch(plan: TestbedPlan): string[] {
  const { gateway: gw, external: inet } = plan
  const lines = [
    `link add ${MGMT_BRIDGE} type bridge`,
    `addr add ${MGMT_CONTROLLER_IP}/${MGMT_PREFIX_LEN} dev ${MGMT_BRIDGE}`,
    `link set ${MGMT_BRIDGE} up`,
    `netns add ${gw.ns}`,
    `netns add ${inet.ns}`,
    ...plan.dockerHosts.map((h) => `netns add ${h.ns}`),
    `link add ${gw.wanIface} netns ${gw.ns} type veth peer name ${UNDERLAY_IFACE} netns ${inet.ns}`,
  ]
  const mgmt = (link: string, ns: string) => [
    `link add ${link} type veth peer name ${MGMT_IFACE} netns ${ns}`,
    `link set ${link} master ${MGMT_BRIDGE}`,
    `link set ${link} up`,
  ]
  lines.push(...mgmt(gw.mgmtLink, gw.ns))
  for (const h of plan.dockerHosts) {
    lines.push(`link add ${h.gwIface} netns ${gw.ns} type veth peer name ${UNDERLAY_IFACE} netns ${h.ns}`)
    lines.push(...mgmt(h.mgmtLink, h.ns))
  }
  return lines
}

/** `ip -batch` lines run inside a namespace by its init script. */
export function nsBatch(plan: TestbedPlan, who: 'gw' | 'inet' | DockerHostPlan): string[] {
  if (who === 'gw') {
    const gw = plan.gateway
    return [
      'link set lo up',
      `addr add ${gw.mgmtIp}/${MGMT_PREFIX_LEN} dev ${MGMT_IFACE}`,
      `link set ${MGMT_IFACE} up`,
      `addr add ${gw.wanIp}/${INET_PREFIX_LEN} dev ${gw.wanIface}`,
      `link set ${gw.wanIface} up`,
      ...gw.underlayIfaces.flatMap((u) => [`addr add ${u.ip}/${u.prefixLen} dev ${u.iface}`, `link set ${u.iface} up`]),
    ]
  }
  if (who === 'inet') {
    const e = plan.external
    return [
      'link set lo up',
      `addr add ${e.ip}/${e.prefixLen} dev ${UNDERLAY_IFACE}`,
      `link set ${UNDERLAY_IFACE} up`,
      `route add default via ${e.gateway}`,
    ]
  }
  // docker host: the underlay address goes on br-phy once OVS runs (pitfall 1), not here.
  return [
    'link set lo up',
    `addr add ${who.mgmtIp}/${MGMT_PREFIX_LEN} dev ${MGMT_IFACE}`,
    `link set ${MGMT_IFACE} up`,
    `link set ${UNDERLAY_IFACE} up`,
  ]
}
