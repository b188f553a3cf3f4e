import type { Fact } from '../core/task.ts'
import { nameRecord } from './records.ts'

/**
 * Reading links, addresses and routes with iproute2's JSON output (`ip -j -d addr show`, `ip -j route show`,
 * ip(8)).
 */

/** One IPv4 address on a link, canonical `A.B.C.D/len`. */
export interface LinkAddress {
  readonly address: string
  readonly prefixlen: number
  /** `A.B.C.D/len` */
  readonly cidr: string
}

/** One network interface (link) with its IPv4 addresses. */
export interface Link {
  readonly name: string
  readonly ifindex: number
  readonly mtu: number
  /** Administrative state: the UP flag is set. */
  readonly up: boolean
  readonly operstate: string
  /** MAC address for ethernet links. */
  readonly mac?: string
  /** `veth`, `openvswitch`, `bridge`, `tun`, ... (linkinfo.info_kind); undefined for physical links. */
  readonly kind?: string
  /** Master device (bridge) when enslaved. */
  readonly master?: string
  readonly ipv4: readonly LinkAddress[]
}

/** Links by name. */
export type Links = Readonly<Record<string, Link>>

interface IpJsonLink {
  ifindex: number
  ifname: string
  flags?: string[]
  mtu: number
  operstate?: string
  address?: string
  link_type?: string
  master?: string
  linkinfo?: { info_kind?: string }
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>
}

/** Parse `ip -j -d addr show` output. */
export function parseLinks(stdout: string): Links {
  const arr = JSON.parse(stdout.trim() === '' ? '[]' : stdout) as IpJsonLink[]
  const out = nameRecord<Link>()
  for (const l of arr) {
    // veth peers in other namespaces are shown as "name@ifN"; ip -j gives ifname without the suffix
    const ipv4 = (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ address: a.local, prefixlen: a.prefixlen, cidr: `${a.local}/${a.prefixlen}` }))
    out[l.ifname] = {
      name: l.ifname,
      ifindex: l.ifindex,
      mtu: l.mtu,
      up: (l.flags ?? []).includes('UP'),
      operstate: l.operstate ?? 'UNKNOWN',
      ...(l.link_type === 'ether' && l.address !== undefined ? { mac: l.address } : {}),
      ...(l.linkinfo?.info_kind !== undefined ? { kind: l.linkinfo.info_kind } : {}),
      ...(l.master !== undefined ? { master: l.master } : {}),
      ipv4,
    }
  }
  return out
}

/** One IPv4 route of the main table. */
export interface Route {
  /** `default` or `A.B.C.D/len` (host routes get `/32`). */
  readonly destination: string
  readonly via?: string
  readonly dev?: string
  readonly protocol?: string
  readonly scope?: string
}

/** Parse `ip -j route show` output. */
export function parseRoutes(stdout: string): Route[] {
  const arr = JSON.parse(stdout.trim() === '' ? '[]' : stdout) as Array<{ dst: string; gateway?: string; dev?: string; protocol?: string; scope?: string }>
  return arr.map((r) => ({
    destination: r.dst === 'default' || r.dst.includes('/') ? r.dst : `${r.dst}/32`,
    ...(r.gateway !== undefined ? { via: r.gateway } : {}),
    ...(r.dev !== undefined ? { dev: r.dev } : {}),
    ...(r.protocol !== undefined ? { protocol: r.protocol } : {}),
    ...(r.scope !== undefined ? { scope: r.scope } : {}),
  }))
}

/** Fact: every link of the host with its addresses (`ip -j -d addr show`). */
export const linksFact: Fact<Links> = {
  id: 'ip.links',
  command: { argv: ['ip', '-j', '-d', 'addr', 'show'] },
  parse: (o) => parseLinks(o.stdout),
}

/** Fact: the main IPv4 routing table (`ip -j -4 route show`). */
export const routesFact: Fact<Route[]> = {
  id: 'ip.routes',
  command: { argv: ['ip', '-j', '-4', 'route', 'show'] },
  parse: (o) => parseRoutes(o.stdout),
}
