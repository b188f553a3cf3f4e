import type { TopoAttachment, TopoBridge, TopoHost, TopoNat, TopoPort, TopoTunnel, TopoVxlanPort, Verdict } from './topology.ts'

/**
 * The words of the picture, shared by the Mermaid and SVG renderers so both name the same things the same
 * way (tests search either output for them).
 */

/** `host1 · underlay 172.16.10.100` (and the underlay link). */
export function hostTitle(h: TopoHost): string {
  const role = h.role === 'router' ? ' · gateway router' : ''
  const underlay = h.underlayIp !== undefined ? ` · underlay ${h.underlayIp}${h.underlayIface !== undefined ? ` (${h.underlayIface})` : ''}` : ''
  return `${h.name}${role}${underlay}`
}

/** Host-level facts: forwarding, MTU per link, addresses on non-OVS links, removals. */
export function hostNotes(h: TopoHost): string[] {
  const out: string[] = []
  if (h.forwarding) out.push('ip_forward=1')
  const byMtu = new Map<number, string[]>()
  for (const m of h.mtu) byMtu.set(m.mtu, [...(byMtu.get(m.mtu) ?? []), m.dev])
  for (const [mtu, devs] of byMtu) out.push(`MTU ${mtu}: ${devs.join(', ')}`)
  for (const [dev, addrs] of Object.entries(h.linkAddresses)) out.push(`${dev} ${addrs.join(', ')}`)
  if (h.removals > 0) out.push(`removes ${h.removals} object${h.removals === 1 ? '' : 's'}`)
  return out
}

/** Routes of a router (or host), grouped by next hop: `10.0.1.0/24, 10.0.2.0/24 via 172.16.10.100`. */
export function routeGroups(h: TopoHost): Array<{ viaHost?: string; label: string }> {
  const groups = new Map<string, { viaHost?: string; dests: string[] }>()
  for (const r of h.routes) {
    const hop = `${r.via !== undefined ? `via ${r.via}` : ''}${r.dev !== undefined ? `${r.via !== undefined ? ' ' : ''}dev ${r.dev}` : ''}`
    const g = groups.get(hop) ?? { ...(r.viaHost !== undefined ? { viaHost: r.viaHost } : {}), dests: [] }
    g.dests.push(r.destination)
    groups.set(hop, g)
  }
  return [...groups].map(([hop, g]) => ({ ...(g.viaHost !== undefined ? { viaHost: g.viaHost } : {}), label: `${g.dests.join(', ')} ${hop}`.trim() }))
}

/** `br1 · OVS bridge (netdev)`. */
export function bridgeTitle(b: TopoBridge): string {
  return `${b.name} · OVS bridge${b.datapathType !== undefined ? ` (${b.datapathType})` : ''}${b.declared ? '' : ' (existing)'}`
}

/** `net1 · internal 10.0.1.1/24`. */
export function portLabel(p: TopoPort): string {
  return `${p.name} · ${p.type}${p.addresses.length > 0 ? ` ${p.addresses.join(', ')}` : ''}`
}

/** `vxlan1 → 172.16.20.100 key 5000`. */
export function vxlanLabel(v: TopoVxlanPort): string {
  return `${v.name} → ${v.remoteIp} key ${v.key}${v.dstPort !== 4789 ? ` udp ${v.dstPort}` : ''}`
}

/** `doc1 eth0 10.0.1.10/24 gw 10.0.1.1`. */
export function attachmentLabel(a: TopoAttachment, image?: string): string {
  return `${a.container} ${a.iface}${a.address !== undefined ? ` ${a.address}` : ''}${a.gateway !== undefined ? ` gw ${a.gateway}` : ''}${image !== undefined ? ` [${image}]` : ''}`
}

/** `NAT: MASQUERADE 10.0.1.0/24 (net1)`. */
export function natLabel(n: TopoNat): string {
  return `NAT: MASQUERADE ${n.source} (${n.iface})`
}

/** `VXLAN key 5000`. */
export function tunnelTitle(t: TopoTunnel): string {
  return `VXLAN key ${t.key}`
}

/** `host1 vxlan1 → 172.16.20.100` for one end. */
export function tunnelEndLabel(e: { host: string; port: string; remoteIp: string }): string {
  return `${e.host} ${e.port} → ${e.remoteIp}`
}

/** `verified (3 checks)` / `FAILED: ping doc1 -> doc3 (...)`; undefined before a run. */
export function verdictLabel(v: Verdict | undefined): string | undefined {
  if (!v) return undefined
  if (v.status === 'passed') return `verified (${v.checks.length} check${v.checks.length === 1 ? '' : 's'})`
  const bad = v.checks.filter((c) => !c.ok)
  return `FAILED: ${bad.map((c) => c.check).join('; ')}`
}

/** Summary of a marked topology's checks: `verify: 16 passed, 0 failed`; undefined before a run. */
export function checksSummary(checks: ReadonlyArray<{ ok: boolean; placed: boolean }> | undefined): string | undefined {
  if (!checks) return undefined
  const passed = checks.filter((c) => c.ok).length
  const unplaced = checks.filter((c) => !c.placed).length
  return `verify: ${passed} passed, ${checks.length - passed} failed${unplaced > 0 ? ` (${unplaced} not drawn)` : ''}`
}
