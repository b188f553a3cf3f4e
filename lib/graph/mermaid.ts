import {
  attachmentLabel, bridgeTitle, checksSummary, hostNotes, hostTitle, natLabel, portLabel, routeGroups, tunnelEndLabel, tunnelTitle, verdictLabel, vxlanLabel,
} from './labels.ts'
import type { Topology, Verdict } from './topology.ts'

/**
 * Mermaid flowchart of a {@link Topology} (renders on GitHub inside a ```mermaid block, or as a `.mmd` file
 * with the Mermaid CLI): one subgraph per host with its underlay address, bridges as subroutine nodes,
 * internal ports, VXLAN ports and containers linked to their bridge, NAT notes, thick labelled links for
 * tunnels between bridges of different hosts, and the gateway router on top with its routes. Elements with
 * a verdict (after {@link markTopology}) get the `passed` (green) or `failed` (red) class.
 */

/** Text inside a quoted Mermaid label: quotes, angle brackets and `#` as Mermaid entity codes, lines joined by `<br/>`. */
export function mermaidText(lines: readonly string[]): string {
  return lines.map((l) => l.replace(/#/g, '#35;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;')).join('<br/>')
}

const GREEN = '#2e7d32'
const RED = '#c62828'

/** Render a topology as a Mermaid flowchart (text ending in a newline). */
export function toMermaid(topo: Topology): string {
  const used = new Set<string>()
  const ids = new Map<string, string>()
  const id = (key: string): string => {
    let v = ids.get(key)
    if (v !== undefined) return v
    const base = key.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'n'
    v = /^[0-9]/.test(base) ? `n_${base}` : base
    for (let i = 2; used.has(v); i++) v = `${base}_${i}`
    used.add(v)
    ids.set(key, v)
    return v
  }
  const cls = (v: Verdict | undefined, dflt: string): string => (v ? (v.status === 'passed' ? 'passed' : 'failed') : dflt)
  const withVerdict = (lines: string[], v: Verdict | undefined): string[] => {
    const l = verdictLabel(v)
    return l !== undefined ? [...lines, l] : lines
  }
  const out: string[] = [
    `%% vxlab topology of playbook ${JSON.stringify(topo.playbook)} (vxlab --graph). Render: GitHub markdown, mermaid.live or mmdc.`,
    'flowchart TB',
    '  classDef router fill:#fff4e0,stroke:#b26a00,color:#222',
    '  classDef bridge fill:#e8f0fe,stroke:#1f5fa8,color:#222',
    '  classDef port fill:#f5f5f5,stroke:#777,color:#222',
    '  classDef container fill:#ffffff,stroke:#444,color:#222',
    '  classDef nat fill:#fff8c4,stroke:#a68b00,color:#222',
    `  classDef passed fill:#d7f5dd,stroke:${GREEN},stroke-width:2px,color:#222`,
    `  classDef failed fill:#fde0e0,stroke:${RED},stroke-width:2px,color:#222`,
  ]
  const links: string[] = []
  const linkStyles: string[] = []
  const link = (line: string, color?: string): void => {
    if (color !== undefined) linkStyles.push(`  linkStyle ${links.length} stroke:${color},stroke-width:3px`)
    links.push(line)
  }
  const containerImage = new Map(topo.hosts.flatMap((h) => h.containers.map((c) => [`${h.name}/${c.name}`, c] as const)))

  for (const h of topo.hosts.filter((x) => x.role === 'router')) {
    const hid = id(`host ${h.name}`)
    out.push(`  ${hid}{{"${mermaidText([hostTitle(h), ...hostNotes(h)])}"}}:::router`)
  }
  for (const h of topo.hosts.filter((x) => x.role === 'host')) {
    const hid = id(`host ${h.name}`)
    out.push(`  subgraph ${hid}["${mermaidText([hostTitle(h)])}"]`, '    direction TB')
    const notes = hostNotes(h)
    if (notes.length > 0) out.push(`    ${id(`notes ${h.name}`)}["${mermaidText(notes)}"]:::port`)
    for (const b of h.bridges) {
      const bid = id(`bridge ${h.name} ${b.name}`)
      out.push(`    ${bid}[["${mermaidText(withVerdict([bridgeTitle(b)], b.verdict))}"]]:::${cls(b.verdict, 'bridge')}`)
      for (const v of b.vxlanPorts) {
        const vid = id(`vxlan ${h.name} ${v.name}`)
        out.push(`    ${vid}(["${mermaidText([vxlanLabel(v)])}"]):::port`)
        link(`  ${vid} --- ${bid}`)
      }
      for (const p of b.ports) {
        const pid = id(`port ${h.name} ${p.name}`)
        out.push(`    ${pid}(["${mermaidText(withVerdict([portLabel(p)], p.verdict))}"]):::${cls(p.verdict, 'port')}`)
        link(`  ${pid} --- ${bid}`)
      }
      for (const a of b.attachments) {
        const c = containerImage.get(`${h.name}/${a.container}`)
        const cid = id(`container ${h.name} ${a.container} ${a.iface}`)
        out.push(`    ${cid}["${mermaidText(withVerdict([attachmentLabel(a, c?.image)], c?.verdict))}"]:::${cls(c?.verdict, 'container')}`)
        link(`  ${cid} --- ${bid}`)
      }
    }
    for (const c of h.containers.filter((x) => x.bridges.length === 0)) {
      out.push(`    ${id(`container ${h.name} ${c.name}`)}["${mermaidText(withVerdict([`${c.name} (no bridge)${c.image !== undefined ? ` [${c.image}]` : ''}`], c.verdict))}"]:::${cls(c.verdict, 'container')}`)
    }
    for (const n of h.nat) {
      const nid = id(`nat ${h.name} ${n.iface}`)
      out.push(`    ${nid}>"${mermaidText(withVerdict([natLabel(n)], n.verdict))}"]:::${cls(n.verdict, 'nat')}`)
      const port = h.bridges.find((b) => b.ports.some((p) => p.name === n.iface))
      if (port) link(`  ${nid} -.- ${id(`port ${h.name} ${n.iface}`)}`)
    }
    out.push('  end')
  }
  for (const t of topo.tunnels) {
    const color = t.verdict ? (t.verdict.status === 'passed' ? GREEN : RED) : '#1f5fa8'
    const from = id(`bridge ${t.a.host} ${t.a.bridge}`)
    if (t.b) {
      const label = mermaidText(withVerdict([tunnelTitle(t), tunnelEndLabel(t.a), tunnelEndLabel(t.b)], t.verdict))
      link(`  ${from} <==>|"${label}"| ${id(`bridge ${t.b.host} ${t.b.bridge}`)}`, color)
    } else {
      const rid = id(`remote ${t.a.remoteIp}`)
      if (!out.some((l) => l.includes(`${rid}(`))) out.push(`  ${rid}(("${mermaidText([`${t.a.remoteIp}`, 'not in this playbook'])}")):::port`)
      link(`  ${from} ==>|"${mermaidText(withVerdict([tunnelTitle(t), tunnelEndLabel(t.a)], t.verdict))}"| ${rid}`, color)
    }
  }
  for (const h of topo.hosts.filter((x) => x.role === 'router')) {
    const hid = id(`host ${h.name}`)
    const routed = new Set<string>()
    for (const g of routeGroups(h)) {
      if (g.viaHost === undefined || !topo.hosts.some((x) => x.name === g.viaHost && x.role === 'host')) continue
      routed.add(g.viaHost)
      link(`  ${hid} -->|"${mermaidText([g.label])}"| ${id(`host ${g.viaHost}`)}`)
    }
    for (const other of topo.hosts.filter((x) => x.role === 'host' && !routed.has(x.name) && x.underlayIp !== undefined)) {
      link(`  ${hid} -.-|"underlay"| ${id(`host ${other.name}`)}`)
    }
  }
  const summary = checksSummary(topo.checks)
  if (summary !== undefined) out.push(`  ${id('verify summary')}["${mermaidText([summary])}"]:::${topo.checks!.every((c) => c.ok) ? 'passed' : 'failed'}`)
  return [...out, ...links, ...linkStyles].join('\n') + '\n'
}
