import {
  attachmentLabel, bridgeTitle, checksSummary, hostNotes, hostTitle, natLabel, portLabel, routeGroups, tunnelTitle, verdictLabel, vxlanLabel,
} from './labels.ts'
import type { TopoBridge, TopoHost, Topology, Verdict } from './topology.ts'

/**
 * A self-contained SVG picture of a {@link Topology}, laid out by hand (no browser, no layout engine):
 * hosts as boxes in columns (inventory order) with their underlay address, OVS bridges inside (bridges of
 * the same name aligned across hosts), each bridge listing its VXLAN ports, internal ports with addresses
 * and containers with addresses; tunnels as labelled lines between bridges of different hosts (adjacent
 * columns directly, others through lanes below the hosts); the gateway router on top, linked to the hosts
 * it routes through; NAT noted on the host that does it. After {@link markTopology}, verified elements are
 * green and failed ones red, with the checks in hover titles.
 *
 * Text widths are estimated for a 12 px monospace font (7.25 px per character).
 */

const CW = 7.25
const ROW = 18
const PAD = 10
const GAP = 170
const M = 24
const BLUE = '#1f5fa8'
const GREEN = '#2e7d32'
const RED = '#c62828'

/** XML-escape text for element content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

const textW = (s: string): number => Math.ceil(s.length * CW)
const colorOf = (v: Verdict | undefined, dflt: string): string => (v ? (v.status === 'passed' ? GREEN : RED) : dflt)
const fillOf = (v: Verdict | undefined, dflt: string): string => (v ? (v.status === 'passed' ? '#d7f5dd' : '#fde0e0') : dflt)
function titleOf(v: Verdict | undefined): string {
  if (!v) return ''
  return `<title>${xmlEscape(v.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'} ${c.check}${c.detail ? `: ${c.detail}` : ''} (on ${c.host})`).join('\n'))}</title>`
}

interface Row {
  readonly kind: 'vxlan' | 'port' | 'container'
  readonly text: string
  readonly verdict?: Verdict
  /** VXLAN port name (tunnel anchor). */
  readonly port?: string
}

function bridgeRows(h: TopoHost, b: TopoBridge): Row[] {
  const images = new Map(h.containers.map((c) => [c.name, c]))
  return [
    ...b.vxlanPorts.map((v): Row => ({ kind: 'vxlan', text: vxlanLabel(v), port: v.name })),
    ...b.ports.map((p): Row => ({ kind: 'port', text: portLabel(p), ...(p.verdict ? { verdict: p.verdict } : {}) })),
    ...b.attachments.map((a): Row => {
      const c = images.get(a.container)
      return { kind: 'container', text: attachmentLabel(a, c?.image), ...(c?.verdict ? { verdict: c.verdict } : {}) }
    }),
  ]
}

const bridgeHeight = (rows: readonly Row[]): number => 26 + rows.length * (ROW + 4) + 6

/** Render a topology as a standalone SVG document (text ending in a newline). */
export function toSvg(topo: Topology): string {
  const routers = topo.hosts.filter((h) => h.role === 'router')
  const hosts = topo.hosts.filter((h) => h.role === 'host')
  const body: string[] = []

  // ---- horizontal layout: one column per host
  const bridgeNames: string[] = []
  for (const h of hosts) for (const b of h.bridges) if (!bridgeNames.includes(b.name)) bridgeNames.push(b.name)
  const footerLines = (h: TopoHost): Array<{ text: string; fill: string; stroke: string; verdict?: Verdict }> => [
    ...h.nat.map((n) => ({ text: natLabel(n), fill: '#fff8c4', stroke: '#a68b00', ...(n.verdict ? { verdict: n.verdict } : {}) })),
    ...h.containers.filter((c) => c.bridges.length === 0).map((c) => ({
      text: `▣ ${c.name} (no bridge)${c.image !== undefined ? ` [${c.image}]` : ''}`, fill: '#ffffff', stroke: '#444', ...(c.verdict ? { verdict: c.verdict } : {}),
    })),
  ]
  const routeLabels = new Map<string, string[]>()
  for (const r of routers) {
    for (const g of routeGroups(r)) if (g.viaHost !== undefined) routeLabels.set(g.viaHost, [...(routeLabels.get(g.viaHost) ?? []), `${r.name}: ${g.label}`])
  }
  const widths = hosts.map((h) => {
    const texts = [hostTitle(h), ...hostNotes(h), ...footerLines(h).map((l) => l.text), ...(routeLabels.get(h.name) ?? [])]
    const rowTexts = h.bridges.flatMap((b) => [bridgeTitle(b), ...bridgeRows(h, b).map((r) => `${r.text}  ${verdictLabel(r.verdict) !== undefined ? 'xx' : ''}`)])
    return Math.max(260, ...texts.map((t) => textW(t) + 2 * PAD + 8), ...rowTexts.map((t) => textW(t) + 2 * PAD + 40))
  })
  const xs: number[] = []
  widths.forEach((w, i) => xs.push(i === 0 ? M : xs[i - 1]! + widths[i - 1]! + GAP))
  const hostsRight = hosts.length > 0 ? xs[hosts.length - 1]! + widths[hosts.length - 1]! : M

  // ---- vertical layout
  const routerLines = (r: TopoHost): string[] => [hostTitle(r), ...hostNotes(r)]
  const routerH = routers.length > 0 ? Math.max(...routers.map((r) => 30 + (routerLines(r).length - 1) * ROW + 10)) : 0
  const hostTop = routers.length > 0 ? M + routerH + 84 : M
  const maxNotes = Math.max(0, ...hosts.map((h) => hostNotes(h).length))
  const headerH = 32 + maxNotes * ROW
  const bandH = bridgeNames.map((name) => Math.max(0, ...hosts.map((h) => {
    const b = h.bridges.find((x) => x.name === name)
    return b ? bridgeHeight(bridgeRows(h, b)) : 0
  })))
  const bandY: number[] = []
  bandH.forEach((hgt, i) => bandY.push(i === 0 ? hostTop + headerH : bandY[i - 1]! + bandH[i - 1]! + 12))
  const bridgesEnd = bandY.length > 0 ? bandY[bandY.length - 1]! + bandH[bandH.length - 1]! : hostTop + headerH
  const footerN = Math.max(0, ...hosts.map((h) => footerLines(h).length))
  const hostBottom = bridgesEnd + (footerN > 0 ? 10 + footerN * (ROW + 4) : 0) + PAD

  // anchor points of VXLAN ports: host -> port -> {xLeft, xRight, y}
  const anchors = new Map<string, { xl: number; xr: number; y: number }>()

  // ---- hosts
  hosts.forEach((h, i) => {
    const x = xs[i]!
    const w = widths[i]!
    body.push(`<g class="host" id="${xmlEscape(`host-${h.name}`)}">`)
    body.push(`<rect x="${x}" y="${hostTop}" width="${w}" height="${hostBottom - hostTop}" rx="8" fill="#fafafa" stroke="#555" stroke-width="1.5"/>`)
    body.push(`<text x="${x + PAD}" y="${hostTop + 20}" class="h">${xmlEscape(hostTitle(h))}</text>`)
    hostNotes(h).forEach((n, k) => body.push(`<text x="${x + PAD}" y="${hostTop + 20 + (k + 1) * ROW}" class="n">${xmlEscape(n)}</text>`))
    bridgeNames.forEach((name, bi) => {
      const b = h.bridges.find((z) => z.name === name)
      if (!b) return
      const rows = bridgeRows(h, b)
      const by = bandY[bi]!
      const bx = x + PAD
      const bw = w - 2 * PAD
      const stroke = colorOf(b.verdict, BLUE)
      body.push(`<g class="bridge">${titleOf(b.verdict)}<rect x="${bx}" y="${by}" width="${bw}" height="${bridgeHeight(rows)}" rx="6" fill="#eef3fc" stroke="${stroke}" stroke-width="1.5"${b.declared ? '' : ' stroke-dasharray="5 3"'}/>`)
      body.push(`<text x="${bx + 8}" y="${by + 17}" class="b">${xmlEscape(bridgeTitle(b))}</text></g>`)
      rows.forEach((r, k) => {
        const ry = by + 26 + k * (ROW + 4)
        const label = verdictLabel(r.verdict)
        if (r.kind === 'container') {
          body.push(`<g class="container">${titleOf(r.verdict)}<rect x="${bx + 8}" y="${ry}" width="${bw - 16}" height="${ROW + 1}" rx="3" fill="${fillOf(r.verdict, '#ffffff')}" stroke="${colorOf(r.verdict, '#444')}"/>`)
          body.push(`<text x="${bx + 14}" y="${ry + 13}" class="t">▣ ${xmlEscape(r.text)}${label !== undefined ? (r.verdict?.status === 'passed' ? ' ✓' : ' ✗') : ''}</text></g>`)
        } else if (r.kind === 'port') {
          body.push(`<g class="port">${titleOf(r.verdict)}<text x="${bx + 14}" y="${ry + 13}" class="t">◆ ${xmlEscape(r.text)}</text></g>`)
        } else {
          body.push(`<text x="${bx + 14}" y="${ry + 13}" class="t">⇄ ${xmlEscape(r.text)}</text>`)
          anchors.set(`${h.name}/${r.port ?? ''}`, { xl: bx, xr: bx + bw, y: ry + 9 })
        }
      })
    })
    footerLines(h).forEach((l, k) => {
      const fy = bridgesEnd + 10 + k * (ROW + 4)
      body.push(`<g class="nat">${titleOf(l.verdict)}<rect x="${x + PAD}" y="${fy}" width="${w - 2 * PAD}" height="${ROW + 1}" rx="3" fill="${fillOf(l.verdict, l.fill)}" stroke="${colorOf(l.verdict, l.stroke)}"/>`)
      body.push(`<text x="${x + PAD + 6}" y="${fy + 13}" class="t">${xmlEscape(l.text)}</text></g>`)
    })
    body.push('</g>')
  })

  // ---- tunnels
  const col = new Map(hosts.map((h, i) => [h.name, i]))
  let lane = 0
  let rightmost = hostsRight + M
  const lanesY = hostBottom + 28
  for (const t of topo.tunnels) {
    const color = colorOf(t.verdict, BLUE)
    const a = anchors.get(`${t.a.host}/${t.a.port}`)
    const ca = col.get(t.a.host)
    if (!a || ca === undefined) continue
    const title = `<title>${xmlEscape([tunnelTitle(t), `${t.a.host} ${t.a.port} → ${t.a.remoteIp}`, ...(t.b ? [`${t.b.host} ${t.b.port} → ${t.b.remoteIp}`] : []), ...(t.verdict ? t.verdict.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'} ${c.check}`) : [])].join('\n'))}</title>`
    const mark = t.verdict ? (t.verdict.status === 'passed' ? ' ✓' : ' ✗') : ''
    const b = t.b ? anchors.get(`${t.b.host}/${t.b.port}`) : undefined
    const cb = t.b ? col.get(t.b.host) : undefined
    if (!t.b || !b || cb === undefined) {
      const x1 = a.xr
      body.push(`<g class="tunnel">${title}<path d="M${x1} ${a.y} h54" stroke="${color}" stroke-width="3" stroke-dasharray="7 4" fill="none"/>`)
      body.push(`<circle cx="${x1 + 60}" cy="${a.y}" r="6" fill="#fff" stroke="${color}" stroke-width="2"/>`)
      body.push(`<text x="${x1 + 70}" y="${a.y - 6}" class="l">${xmlEscape(`${tunnelTitle(t)}${mark}`)}</text>`)
      const far = `${t.a.remoteIp} (not in this playbook)`
      body.push(`<text x="${x1 + 70}" y="${a.y + 14}" class="l">${xmlEscape(far)}</text></g>`)
      rightmost = Math.max(rightmost, x1 + 70 + textW(far) + M)
      continue
    }
    const [left, right] = ca <= cb ? [a, b] : [b, a]
    const [cl, cr] = ca <= cb ? [ca, cb] : [cb, ca]
    if (cr - cl === 1) {
      const mx = (left.xr + right.xl) / 2
      body.push(`<g class="tunnel">${title}<path d="M${left.xr} ${left.y} C${mx} ${left.y} ${mx} ${right.y} ${right.xl} ${right.y}" stroke="${color}" stroke-width="3" fill="none"/>`)
      const ly = Math.min(left.y, right.y)
      body.push(`<text x="${mx}" y="${ly - 7}" class="l" text-anchor="middle">${xmlEscape(`${tunnelTitle(t)}${mark}`)}</text>`)
      body.push(`<text x="${mx}" y="${Math.max(left.y, right.y) + 15}" class="s" text-anchor="middle">${xmlEscape(`${t.a.port} ⇄ ${t.b.port}`)}</text></g>`)
    } else {
      // non-adjacent columns: down into a lane below the hosts, across, and up
      const y = lanesY + lane * 24
      lane++
      const gl = xs[cl]! + widths[cl]! + 16 + lane * 6
      const gr = xs[cr]! - 16 - lane * 6
      body.push(`<g class="tunnel">${title}<path d="M${left.xr} ${left.y} H${gl} V${y} H${gr} V${right.y} H${right.xl}" stroke="${color}" stroke-width="3" fill="none" stroke-linejoin="round"/>`)
      body.push(`<text x="${(gl + gr) / 2}" y="${y - 6}" class="l" text-anchor="middle">${xmlEscape(`${tunnelTitle(t)}${mark}  ${t.a.host} ${t.a.port} ⇄ ${t.b.host} ${t.b.port}`)}</text></g>`)
    }
  }
  const lanesEnd = lane > 0 ? lanesY + lane * 24 : hostBottom

  // ---- routers on top, linked to the hosts they route through
  const rWidths = routers.map((r) => Math.max(220, ...routerLines(r).map((l) => textW(l) + 2 * PAD + 8)))
  const rTotal = rWidths.reduce((s, w) => s + w, 0) + Math.max(0, routers.length - 1) * 40
  let width = Math.max(rightmost, rTotal + 2 * M)
  let rx = (width - rTotal) / 2
  routers.forEach((r, i) => {
    const w = rWidths[i]!
    const cx = rx + w / 2
    body.push(`<g class="router" id="${xmlEscape(`host-${r.name}`)}"><rect x="${rx}" y="${M}" width="${w}" height="${routerH}" rx="14" fill="#fff4e0" stroke="#b26a00" stroke-width="1.5"/>`)
    routerLines(r).forEach((l, k) => body.push(`<text x="${cx}" y="${M + 20 + k * ROW}" class="${k === 0 ? 'h' : 'n'}" text-anchor="middle">${xmlEscape(l)}</text>`))
    body.push('</g>')
    const routed = new Set(routeGroups(r).flatMap((g) => (g.viaHost !== undefined ? [g.viaHost] : [])))
    hosts.forEach((h, k) => {
      const hx = xs[k]! + widths[k]! / 2
      const labels = (routeLabels.get(h.name) ?? []).filter((l) => l.startsWith(`${r.name}: `))
      const isRouted = routed.has(h.name)
      if (!isRouted && h.underlayIp === undefined) return
      const endY = hostTop - 8 - (isRouted ? labels.length * 15 + 4 : 0)
      body.push(`<path d="M${cx} ${M + routerH} L${hx} ${endY}" stroke="#b26a00" stroke-width="1.5" fill="none"${isRouted ? '' : ' stroke-dasharray="4 4"'}/>`)
      if (isRouted) labels.forEach((l, j) => body.push(`<text x="${hx}" y="${hostTop - 8 - (labels.length - 1 - j) * 15}" class="s" text-anchor="middle">${xmlEscape(l.slice(r.name.length + 2))}</text>`))
    })
    rx += w + 40
  })

  // ---- legend and verification summary
  const legendY = lanesEnd + 30
  const summary = checksSummary(topo.checks)
  const legend = [
    `vxlab topology of playbook ${topo.playbook} (planned from its tasks${topo.checks ? '; colours from the run report' : ''})`,
    'blue line: VXLAN tunnel (key = VNI) · orange line: routes of the gateway router (dashed: underlay only)',
    '◆ OVS port · ▣ container · ⇄ VXLAN port · dashed bridge: not created by this playbook',
    ...(summary !== undefined ? [`${summary} · green: verified · red: failed (hover for the checks)`] : []),
  ]
  legend.forEach((l, k) => body.push(`<text x="${M}" y="${legendY + k * 16}" class="s">${xmlEscape(l)}</text>`))
  width = Math.max(width, ...legend.map((l) => textW(l) * 0.92 + 2 * M))
  const height = legendY + legend.length * 16 + M
  if (topo.hosts.length === 0) body.push(`<text x="${M}" y="${M + 20}" class="h">(nothing to draw: the playbook creates no bridges, tunnels, containers or routes)</text>`)

  const W = Math.ceil(width)
  const H = Math.ceil(height)
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${xmlEscape(`vxlab topology of playbook ${topo.playbook}`)}">`,
    `<title>${xmlEscape(`vxlab topology: ${topo.playbook}`)}</title>`,
    '<style>',
    'text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:12px;fill:#222}',
    '.h{font-size:13px;font-weight:bold}.n{fill:#555}.b{font-weight:bold;fill:#1f3f78}.l{font-size:12px;font-weight:bold;fill:#1f3f78}.s{font-size:11px;fill:#444}',
    '</style>',
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
  ].join('\n') + '\n'
}
