import ipaddr from 'ipaddr.js'
import type { BuiltPlay, TaskReport } from '../core/playbook.ts'
import type { AnyTask } from '../core/task.ts'
import type { Inventory } from '../inventory/inventory.ts'

/**
 * The planned topology of a playbook, derived from its BUILT tasks (no host is contacted): which bridges,
 * VXLAN tunnels, internal ports, containers, routes and NAT rules the tasks will make on each host. It works
 * for any playbook made of the standard tasks (`ovs.bridge`, `ovs.port`, `ovs.vxlanPort`, `net.ipAddress`,
 * `net.route`, `net.setMtu`, `sysctl`, `iptables.masq`, `docker.container`, `docker.containerPort`); other
 * tasks are ignored, and tasks with `ensure: 'absent'` (or container `state: 'absent'`) draw nothing.
 *
 * Tunnel ends are paired through the inventory: a VXLAN port on host A whose `remoteIp` is host B's
 * `underlay_ip` meets B's port with the same key whose `remoteIp` is A's `underlay_ip`. Hosts in the
 * inventory group `gateway` are drawn as the gateway router.
 *
 * After a run, {@link markTopology} colours elements from the run's report: verify checks (task keys
 * `verify[...]`, `result.ok`) and failed tasks.
 */

/** The outcome of the checks and tasks that concern one element, after a run (absent before any run). */
export interface Verdict {
  /** `failed` when any check or defining task failed, else `passed`. */
  readonly status: 'passed' | 'failed'
  /** The checks (verify results) and failed tasks behind the verdict, in report order. */
  readonly checks: readonly VerdictCheck[]
}

/** One check (or failed task) attributed to an element. */
export interface VerdictCheck {
  /** The check's name (`ping doc1 -> doc3 (10.0.1.20, net1 VNI 5000)`) or `task KEY`. */
  readonly check: string
  readonly ok: boolean
  /** The check's detail, or the task's error. */
  readonly detail: string
  /** The host the check ran on. */
  readonly host: string
}

/** An OVS port that is not a tunnel: an internal port (the seed's `net1`, holding the gateway address) or a system link. */
export interface TopoPort {
  readonly name: string
  readonly type: 'internal' | 'system'
  /** IPv4 interface addresses (`10.0.1.1/24`) that `net.ipAddress` tasks put on this port. */
  readonly addresses: readonly string[]
  /** Task keys that define this port and its addresses. */
  readonly tasks: readonly string[]
  readonly verdict?: Verdict
}

/** One end of a VXLAN tunnel: an `ovs.vxlanPort` on a bridge. */
export interface TopoVxlanPort {
  readonly name: string
  /** Underlay IPv4 address of the other end (OVS `options:remote_ip`). */
  readonly remoteIp: string
  /** VNI (OVS `options:key`), 0..16777215. */
  readonly key: number
  /** UDP destination port, 4789 unless set. */
  readonly dstPort: number
  /** Inventory host whose `underlay_ip` is `remoteIp` (undefined when no host has it). */
  readonly peer?: string
  readonly tasks: readonly string[]
}

/** A container's interface on a bridge (`docker.containerPort`). */
export interface TopoAttachment {
  readonly container: string
  /** Interface name inside the container (`eth0`). */
  readonly iface: string
  /** `A.B.C.D/len` inside the container. */
  readonly address?: string
  /** Default gateway inside the container. */
  readonly gateway?: string
  readonly tasks: readonly string[]
}

/** An OVS bridge on one host. */
export interface TopoBridge {
  readonly name: string
  /** `system` / `netdev` when an `ovs.bridge` task sets it. */
  readonly datapathType?: 'system' | 'netdev'
  /** false when no `ovs.bridge` task of the playbook makes it (the ports expect an existing bridge). */
  readonly declared: boolean
  readonly ports: readonly TopoPort[]
  readonly vxlanPorts: readonly TopoVxlanPort[]
  readonly attachments: readonly TopoAttachment[]
  readonly tasks: readonly string[]
  readonly verdict?: Verdict
}

/** A container (`docker.container` and/or `docker.containerPort` tasks). */
export interface TopoContainer {
  readonly name: string
  readonly host: string
  /** Image name, when a `docker.container` task makes the container. */
  readonly image?: string
  /** Bridges it is attached to, in task order. */
  readonly bridges: readonly string[]
  readonly tasks: readonly string[]
  readonly verdict?: Verdict
}

/** NAT of a container network leaving a host (`iptables.masq`: FORWARD accepts + POSTROUTING MASQUERADE). */
export interface TopoNat {
  /** The network's gateway link (`net1`). */
  readonly iface: string
  /** The masqueraded network (`10.0.1.0/24`). */
  readonly source: string
  readonly tasks: readonly string[]
  readonly verdict?: Verdict
}

/** A route (`net.route`). */
export interface TopoRoute {
  /** `default` or `A.B.C.D/len`. */
  readonly destination: string
  readonly via?: string
  readonly dev?: string
  /** Inventory host whose `underlay_ip` is `via`. */
  readonly viaHost?: string
  readonly tasks: readonly string[]
}

/** A link MTU set by `net.setMtu` (the underlay's 1554 bytes). */
export interface TopoMtu {
  readonly dev: string
  /** Bytes. */
  readonly mtu: number
}

/** One host of the picture. */
export interface TopoHost {
  readonly name: string
  /** `router` for hosts in the inventory group `gateway`, `host` otherwise. */
  readonly role: 'router' | 'host'
  /** Inventory `underlay_ip` (tunnel endpoint address), when set and valid. */
  readonly underlayIp?: string
  /** Inventory `underlay_iface`, when set. */
  readonly underlayIface?: string
  readonly bridges: readonly TopoBridge[]
  /** Containers on this host (attached or not). */
  readonly containers: readonly TopoContainer[]
  readonly nat: readonly TopoNat[]
  readonly routes: readonly TopoRoute[]
  readonly mtu: readonly TopoMtu[]
  /** Addresses on links that are not OVS ports of this playbook (`dev` -> `A.B.C.D/len` list). */
  readonly linkAddresses: Readonly<Record<string, readonly string[]>>
  /** true when a `sysctl` task sets `net.ipv4.ip_forward` to 1. */
  readonly forwarding: boolean
  /** Number of tasks that remove something (`ensure: 'absent'`); they are not drawn. */
  readonly removals: number
}

/** A point on a bridge: host, bridge and VXLAN port name. */
export interface TunnelEnd {
  readonly host: string
  readonly bridge: string
  readonly port: string
  /** The `remoteIp` configured on this end. */
  readonly remoteIp: string
}

/** A VXLAN tunnel: two paired ends, or one end whose remote is not a host of this playbook (`b` undefined). */
export interface TopoTunnel {
  /** Stable id: `host1/vxlan1~host2/vxlan1` (or `host1/vxlan1~172.16.30.5`). */
  readonly id: string
  /** VNI. */
  readonly key: number
  readonly a: TunnelEnd
  readonly b?: TunnelEnd
  readonly verdict?: Verdict
}

/** The whole picture. */
export interface Topology {
  /** Playbook name. */
  readonly playbook: string
  /** Hosts in play order (routers and hosts). */
  readonly hosts: readonly TopoHost[]
  readonly tunnels: readonly TopoTunnel[]
  /** After {@link markTopology}: every verify check of the run, and whether it could be placed on an element. */
  readonly checks?: ReadonlyArray<VerdictCheck & { readonly placed: boolean }>
}

// ---------------------------------------------------------------------------------------------------------------------
// building

type Fields = Readonly<Record<string, unknown>>

function fieldsOf(t: AnyTask): Fields {
  return t.spec !== null && typeof t.spec === 'object' ? (t.spec as Fields) : {}
}
const str = (f: Fields, k: string): string | undefined => (typeof f[k] === 'string' ? (f[k] as string) : undefined)
const num = (f: Fields, k: string): number | undefined => (typeof f[k] === 'number' ? (f[k] as number) : undefined)
const isAbsent = (f: Fields): boolean => f.ensure === 'absent' || f.state === 'absent'

interface BridgeAcc {
  name: string
  datapathType?: 'system' | 'netdev'
  declared: boolean
  ports: Map<string, { type: 'internal' | 'system'; tasks: string[] }>
  vxlanPorts: TopoVxlanPort[]
  attachments: TopoAttachment[]
  tasks: string[]
}

interface HostAcc {
  name: string
  bridges: Map<string, BridgeAcc>
  containers: Map<string, { image?: string; bridges: string[]; tasks: string[] }>
  addresses: Map<string, { address: string; task: string }[]>
  nat: TopoNat[]
  routes: Array<Omit<TopoRoute, 'viaHost'>>
  mtu: Map<string, number>
  forwarding: boolean
  removals: number
}

/** Canonical IPv4 text, or undefined for anything that is not a dotted quad. */
function canonIp(value: unknown): string | undefined {
  if (typeof value !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(value)) return undefined
  return ipaddr.IPv4.parse(value).toString()
}

/** `underlay_ip` of every inventory host that has a valid one. */
function underlayIps(inventory: Inventory): Map<string, string> {
  const m = new Map<string, string>()
  for (const h of inventory.hosts()) {
    const ip = canonIp(h.vars.raw('underlay_ip'))
    if (ip !== undefined) m.set(h.name, ip)
  }
  return m
}

function addTask(list: string[], key: string): void {
  if (!list.includes(key)) list.push(key)
}

function collect(acc: HostAcc, t: AnyTask): void {
  const f = fieldsOf(t)
  if (isAbsent(f)) {
    if (['ovs.bridge', 'ovs.port', 'ovs.vxlanPort', 'net.ipAddress', 'net.route', 'docker.container', 'docker.containerPort', 'iptables.masq', 'sysctl'].includes(t.kind)) acc.removals++
    return
  }
  const bridge = (name: string): BridgeAcc => {
    let b = acc.bridges.get(name)
    if (!b) {
      b = { name, declared: false, ports: new Map(), vxlanPorts: [], attachments: [], tasks: [] }
      acc.bridges.set(name, b)
    }
    return b
  }
  switch (t.kind) {
    case 'ovs.bridge': {
      const name = str(f, 'name')
      if (name === undefined) return
      const b = bridge(name)
      b.declared = true
      const dp = str(f, 'datapathType')
      if (dp === 'system' || dp === 'netdev') b.datapathType = dp
      addTask(b.tasks, t.key)
      return
    }
    case 'ovs.port': {
      const name = str(f, 'name')
      const br = str(f, 'bridge')
      if (name === undefined || br === undefined) return
      for (const other of acc.bridges.values()) if (other.name !== br) other.ports.delete(name)
      bridge(br).ports.set(name, { type: str(f, 'type') === 'system' ? 'system' : 'internal', tasks: [t.key] })
      return
    }
    case 'ovs.vxlanPort': {
      const name = str(f, 'name')
      const br = str(f, 'bridge')
      const remoteIp = canonIp(f.remoteIp)
      const key = num(f, 'key')
      if (name === undefined || br === undefined || remoteIp === undefined || key === undefined) return
      const b = bridge(br)
      b.vxlanPorts = b.vxlanPorts.filter((p) => p.name !== name)
      b.vxlanPorts.push({ name, remoteIp, key, dstPort: num(f, 'dstPort') ?? 4789, tasks: [t.key] })
      return
    }
    case 'net.ipAddress': {
      const dev = str(f, 'dev')
      const address = str(f, 'address')
      if (dev === undefined || address === undefined) return
      const list = acc.addresses.get(dev) ?? []
      if (!list.some((a) => a.address === address)) list.push({ address, task: t.key })
      acc.addresses.set(dev, list)
      return
    }
    case 'net.route': {
      const destination = str(f, 'destination')
      if (destination === undefined) return
      const via = str(f, 'via')
      const dev = str(f, 'dev')
      acc.routes.push({ destination, ...(via !== undefined ? { via } : {}), ...(dev !== undefined ? { dev } : {}), tasks: [t.key] })
      return
    }
    case 'net.setMtu': {
      const dev = str(f, 'dev')
      const mtu = num(f, 'mtu')
      if (dev !== undefined && mtu !== undefined) acc.mtu.set(dev, mtu)
      return
    }
    case 'sysctl': {
      if (str(f, 'key') === 'net.ipv4.ip_forward') acc.forwarding = str(f, 'value') === '1' || num(f, 'value') === 1
      return
    }
    case 'iptables.masq': {
      const iface = str(f, 'iface')
      const source = str(f, 'source')
      if (iface !== undefined && source !== undefined) acc.nat.push({ iface, source, tasks: [t.key] })
      return
    }
    case 'docker.container': {
      const name = str(f, 'name')
      if (name === undefined) return
      const c = acc.containers.get(name) ?? { bridges: [], tasks: [] }
      const image = str(f, 'image')
      if (image !== undefined) c.image = image
      addTask(c.tasks, t.key)
      acc.containers.set(name, c)
      return
    }
    case 'docker.containerPort': {
      const container = str(f, 'container')
      const br = str(f, 'bridge')
      if (container === undefined || br === undefined) return
      const iface = str(f, 'iface') ?? 'eth0'
      const address = str(f, 'address')
      const gateway = canonIp(f.gateway)
      const b = bridge(br)
      b.attachments = b.attachments.filter((a) => !(a.container === container && a.iface === iface))
      b.attachments.push({ container, iface, ...(address !== undefined ? { address } : {}), ...(gateway !== undefined ? { gateway } : {}), tasks: [t.key] })
      const c = acc.containers.get(container) ?? { bridges: [], tasks: [] }
      if (!c.bridges.includes(br)) c.bridges.push(br)
      addTask(c.tasks, t.key)
      acc.containers.set(container, c)
      return
    }
    default:
      return
  }
}

/**
 * The topology that a built playbook plans (see {@link Topology}). Pure: reads the tasks' specs and the
 * inventory's `underlay_ip`, `underlay_iface` and `gateway` group; contacts no host.
 *
 * @param plays - what {@link buildPlaybook} returned (every play, every targeted host, validated tasks)
 * @param inventory - the inventory the plays were built with
 * @param playbook - the playbook name shown in the picture
 */
export function topologyOf(plays: readonly BuiltPlay[], inventory: Inventory, playbook: string): Topology {
  const accs = new Map<string, HostAcc>()
  for (const p of plays) {
    for (const { host, tasks } of p.hosts) {
      let acc = accs.get(host.name)
      if (!acc) {
        acc = { name: host.name, bridges: new Map(), containers: new Map(), addresses: new Map(), nat: [], routes: [], mtu: new Map(), forwarding: false, removals: 0 }
        accs.set(host.name, acc)
      }
      for (const t of tasks) collect(acc, t)
    }
  }
  const ips = underlayIps(inventory)
  const hostByIp = new Map([...ips].map(([h, ip]) => [ip, h]))
  const hosts: TopoHost[] = []
  for (const acc of accs.values()) {
    const inv = inventory.host(acc.name)
    const portNames = new Set<string>()
    const bridges: TopoBridge[] = [...acc.bridges.values()].map((b) => ({
      name: b.name,
      ...(b.datapathType !== undefined ? { datapathType: b.datapathType } : {}),
      declared: b.declared,
      ports: [...b.ports].map(([name, p]) => {
        portNames.add(name)
        const addrs = acc.addresses.get(name) ?? []
        return { name, type: p.type, addresses: addrs.map((a) => a.address), tasks: [...p.tasks, ...addrs.map((a) => a.task)] }
      }),
      vxlanPorts: b.vxlanPorts.map((v) => {
        const peer = hostByIp.get(v.remoteIp)
        return { ...v, ...(peer !== undefined ? { peer } : {}) }
      }),
      attachments: b.attachments,
      tasks: b.tasks,
    }))
    const linkAddresses: Record<string, string[]> = {}
    for (const [dev, list] of acc.addresses) if (!portNames.has(dev)) linkAddresses[dev] = list.map((a) => a.address)
    const underlayIp = ips.get(acc.name)
    const underlayIface = inv.vars.raw('underlay_iface')
    hosts.push({
      name: acc.name,
      role: inv.groups.includes('gateway') ? 'router' : 'host',
      ...(underlayIp !== undefined ? { underlayIp } : {}),
      ...(typeof underlayIface === 'string' ? { underlayIface } : {}),
      bridges,
      containers: [...acc.containers].map(([name, c]) => ({ name, host: acc.name, ...(c.image !== undefined ? { image: c.image } : {}), bridges: c.bridges, tasks: c.tasks })),
      nat: acc.nat,
      routes: acc.routes.map((r) => {
        const viaHost = r.via !== undefined ? hostByIp.get(r.via) : undefined
        return { ...r, ...(viaHost !== undefined ? { viaHost } : {}) }
      }),
      mtu: [...acc.mtu].map(([dev, mtu]) => ({ dev, mtu })),
      linkAddresses,
      forwarding: acc.forwarding,
      removals: acc.removals,
    })
  }
  return { playbook, hosts, tunnels: pairTunnels(hosts) }
}

/** Pair VXLAN ports into tunnels (see {@link Topology}); unpaired ports become one-ended tunnels. */
function pairTunnels(hosts: readonly TopoHost[]): TopoTunnel[] {
  const ends: Array<TunnelEnd & { key: number; peer?: string }> = []
  for (const h of hosts) for (const b of h.bridges) for (const v of b.vxlanPorts) ends.push({ host: h.name, bridge: b.name, port: v.name, remoteIp: v.remoteIp, key: v.key, ...(v.peer !== undefined ? { peer: v.peer } : {}) })
  const ipOf = new Map(hosts.filter((h) => h.underlayIp !== undefined).map((h) => [h.name, h.underlayIp!]))
  const used = new Set<number>()
  const out: TopoTunnel[] = []
  ends.forEach((a, i) => {
    if (used.has(i)) return
    used.add(i)
    const j = a.peer === undefined ? -1 : ends.findIndex((b, k) => !used.has(k) && b.host === a.peer && b.key === a.key && b.remoteIp === ipOf.get(a.host))
    const strip = (e: (typeof ends)[number]): TunnelEnd => ({ host: e.host, bridge: e.bridge, port: e.port, remoteIp: e.remoteIp })
    if (j >= 0) {
      used.add(j)
      const b = ends[j]!
      out.push({ id: `${a.host}/${a.port}~${b.host}/${b.port}`, key: a.key, a: strip(a), b: strip(b) })
    } else {
      out.push({ id: `${a.host}/${a.port}~${a.remoteIp}`, key: a.key, a: strip(a) })
    }
  })
  return out
}

// ---------------------------------------------------------------------------------------------------------------------
// marking after a run

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Where a name or address first occurs in a check's text as a whole token (-1 when absent). */
function tokenAt(text: string, token: string): number {
  const m = new RegExp(`(^|[^A-Za-z0-9_.-])${escapeRe(token)}(?=$|[^A-Za-z0-9_-]|\\.(?![A-Za-z0-9]))`).exec(text)
  return m ? m.index + m[1]!.length : -1
}

/** The address part of `A.B.C.D/len` (undefined when it is not one). */
function ipOfIface(cidr: string): string | undefined {
  try {
    return ipaddr.IPv4.parseCIDR(cidr)[0].toString()
  } catch {
    return undefined
  }
}
function inNetwork(ip: string, cidr: string): boolean {
  try {
    const [net, len] = ipaddr.IPv4.parseCIDR(cidr)
    return ipaddr.IPv4.parse(ip).match(net, len)
  } catch {
    return false
  }
}

interface Node {
  readonly host: string
  readonly bridge: string
}
const nodeId = (n: Node): string => `${n.host}/${n.bridge}`

/** Tunnel ids on the shortest path between two bridges through paired tunnels (undefined when not connected). */
function tunnelPath(topo: Topology, from: Node, to: Node): string[] | undefined {
  const start = nodeId(from)
  const goal = nodeId(to)
  const prev = new Map<string, { node: string; tunnel: string } | null>([[start, null]])
  const queue = [start]
  while (queue.length > 0) {
    const cur = queue.shift()!
    if (cur === goal) {
      const path: string[] = []
      for (let p = prev.get(cur); p; p = prev.get(p.node)) path.push(p.tunnel)
      return path.reverse()
    }
    for (const t of topo.tunnels) {
      if (!t.b) continue
      const ea = nodeId(t.a)
      const eb = nodeId(t.b)
      const next = ea === cur ? eb : eb === cur ? ea : undefined
      if (next !== undefined && !prev.has(next)) {
        prev.set(next, { node: cur, tunnel: t.id })
        queue.push(next)
      }
    }
  }
  return undefined
}

interface ContainerPlace {
  readonly host: string
  readonly name: string
  readonly attachments: ReadonlyArray<TopoAttachment & { readonly bridge: string }>
}

/**
 * Colour a topology from a finished run (its report's `tasks`, as `--json` writes them): each verify check
 * (`result` present, e.g. `ping doc1 -> doc3 (...)`) is attributed to the containers it names (by name or
 * address), to the tunnels on the path between them (through the source's gateway and the gateway host's
 * internal ports for routed checks, or from a router's route for checks run on the router), and, for checks
 * that mention NAT, to the NAT rules whose network holds the container. A failed task marks the element it
 * defines (a tunnel end, a container, a bridge, NAT) as failed. Returns a new topology; the input is not changed.
 */
export function markTopology(topo: Topology, tasks: readonly TaskReport[]): Topology {
  const verdicts = new Map<string, VerdictCheck[]>()
  const give = (id: string, c: VerdictCheck): void => {
    const list = verdicts.get(id) ?? []
    list.push(c)
    verdicts.set(id, list)
  }
  const containers: ContainerPlace[] = topo.hosts.flatMap((h) => h.containers.map((c) => ({
    host: h.name,
    name: c.name,
    attachments: h.bridges.flatMap((b) => b.attachments.filter((a) => a.container === c.name).map((a) => ({ ...a, bridge: b.name }))),
  })))
  const hostOf = new Map(topo.hosts.map((h) => [h.name, h]))
  /** The bridge on `host` with an internal port whose address is `ip` (exact) or whose network holds `ip`. */
  const bridgeHolding = (host: string, ip: string, exact: boolean): Node | undefined => {
    const h = hostOf.get(host)
    for (const b of h?.bridges ?? []) {
      for (const p of b.ports) if (p.addresses.some((a) => (exact ? ipOfIface(a) === ip : inNetwork(ip, a)))) return { host, bridge: b.name }
    }
    return undefined
  }
  const gatewayNode = (ip: string): Node | undefined => {
    for (const h of topo.hosts) {
      const n = bridgeHolding(h.name, ip, true)
      if (n) return n
    }
    return undefined
  }
  const pathsBetween = (src: ContainerPlace, dst: ContainerPlace): string[] | undefined => {
    for (const a of src.attachments) {
      for (const b of dst.attachments) {
        const direct = tunnelPath(topo, { host: src.host, bridge: a.bridge }, { host: dst.host, bridge: b.bridge })
        if (direct) return direct
      }
    }
    // routed: source -> its gateway's bridge, then from the gateway host's bridge for the target network to the target
    for (const a of src.attachments) {
      if (a.gateway === undefined) continue
      const gw = gatewayNode(a.gateway)
      if (!gw) continue
      const first = tunnelPath(topo, { host: src.host, bridge: a.bridge }, gw)
      for (const b of dst.attachments) {
        const ip = b.address !== undefined ? ipOfIface(b.address) : undefined
        if (ip === undefined) continue
        const exit = bridgeHolding(gw.host, ip, false)
        const second = exit ? tunnelPath(topo, exit, { host: dst.host, bridge: b.bridge }) : undefined
        if (first && second) return [...first, ...second]
      }
    }
    return undefined
  }
  const checks: Array<VerdictCheck & { placed: boolean }> = []
  for (const t of tasks) {
    if (t.result !== undefined) {
      const c: VerdictCheck = { check: t.result.check, ok: t.result.ok, detail: t.result.detail, host: t.host }
      const text = t.result.check
      const named = containers
        .map((p) => {
          const positions = [tokenAt(text, p.name), ...p.attachments.map((a) => {
            const ip = a.address !== undefined ? ipOfIface(a.address) : undefined
            return ip !== undefined ? tokenAt(text, ip) : -1
          })].filter((i) => i >= 0)
          return { p, at: positions.length > 0 ? Math.min(...positions) : -1 }
        })
        .filter((x) => x.at >= 0)
        .sort((x, y) => x.at - y.at)
        .map((x) => x.p)
      const targets = new Set<string>()
      for (const p of named) targets.add(`container:${p.host}/${p.name}`)
      const [src, ...rest] = named
      if (src) {
        for (const dst of rest) for (const id of pathsBetween(src, dst) ?? []) targets.add(`tunnel:${id}`)
        // a check run from another host (the router): follow its route to the container's network
        const runHost = hostOf.get(t.host)
        if (named.length === 1 && runHost && runHost.name !== src.host) {
          for (const a of src.attachments) {
            const ip = a.address !== undefined ? ipOfIface(a.address) : undefined
            if (ip === undefined) continue
            const r = runHost.routes.find((x) => x.viaHost !== undefined && x.destination !== 'default' && inNetwork(ip, x.destination))
            const entry = r?.viaHost !== undefined ? bridgeHolding(r.viaHost, ip, false) : undefined
            for (const id of entry ? (tunnelPath(topo, entry, { host: src.host, bridge: a.bridge }) ?? []) : []) targets.add(`tunnel:${id}`)
          }
        }
        if (/\bNAT\b/.test(text)) {
          for (const h of topo.hosts) {
            for (const n of h.nat) {
              for (const a of src.attachments) {
                const ip = a.address !== undefined ? ipOfIface(a.address) : undefined
                if (ip === undefined || !inNetwork(ip, n.source)) continue
                targets.add(`nat:${h.name}/${n.iface}`)
                // the way out: from the container's bridge to the NAT host's bridge for that network
                const exit = bridgeHolding(h.name, ip, false)
                for (const id of exit ? (tunnelPath(topo, { host: src.host, bridge: a.bridge }, exit) ?? []) : []) targets.add(`tunnel:${id}`)
              }
            }
          }
        }
      }
      for (const id of targets) give(id, c)
      checks.push({ ...c, placed: targets.size > 0 })
    } else if (t.status === 'failed') {
      const c: VerdictCheck = { check: `task ${t.key}`, ok: false, detail: t.error ?? 'failed', host: t.host }
      const h = hostOf.get(t.host)
      if (!h) continue
      for (const b of h.bridges) {
        if (b.tasks.includes(t.key)) give(`bridge:${h.name}/${b.name}`, c)
        for (const p of b.ports) if (p.tasks.includes(t.key)) give(`port:${h.name}/${p.name}`, c)
        for (const v of b.vxlanPorts) {
          if (!v.tasks.includes(t.key)) continue
          const tun = topo.tunnels.find((x) => (x.a.host === h.name && x.a.port === v.name) || (x.b?.host === h.name && x.b.port === v.name))
          if (tun) give(`tunnel:${tun.id}`, c)
        }
      }
      for (const x of h.containers) if (x.tasks.includes(t.key)) give(`container:${h.name}/${x.name}`, c)
      for (const n of h.nat) if (n.tasks.includes(t.key)) give(`nat:${h.name}/${n.iface}`, c)
    }
  }
  const verdictOf = (id: string): { verdict?: Verdict } => {
    const list = verdicts.get(id)
    if (!list || list.length === 0) return {}
    return { verdict: { status: list.every((c) => c.ok) ? 'passed' : 'failed', checks: list } }
  }
  const strip = <T extends { verdict?: Verdict }>(x: T): Omit<T, 'verdict'> => {
    const { verdict: _drop, ...rest } = x
    return rest
  }
  return {
    playbook: topo.playbook,
    hosts: topo.hosts.map((h) => ({
      ...h,
      bridges: h.bridges.map((b) => ({
        ...strip(b),
        ...verdictOf(`bridge:${h.name}/${b.name}`),
        ports: b.ports.map((p) => ({ ...strip(p), ...verdictOf(`port:${h.name}/${p.name}`) })),
      })),
      containers: h.containers.map((c) => ({ ...strip(c), ...verdictOf(`container:${h.name}/${c.name}`) })),
      nat: h.nat.map((n) => ({ ...strip(n), ...verdictOf(`nat:${h.name}/${n.iface}`) })),
    })),
    tunnels: topo.tunnels.map((t) => ({ ...strip(t), ...verdictOf(`tunnel:${t.id}`) })),
    checks,
  }
}
