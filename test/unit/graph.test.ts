import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../../lib/cli.ts'
import type { PlaybookDef, TaskReport } from '../../lib/core/playbook.ts'
import { graphFormatOf, graphPlaybook, markTopology, mermaidText, toMermaid, toSvg, type Topology } from '../../lib/graph/index.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { labPlaybook } from '../../lib/lab/plays.ts'
import { containerPort, dockerContainer, ipAddress, ovsBridge, ovsPort, vxlanPort } from '../../lib/index.ts'
import { LAB, lab } from '../../playbooks/lab.ts'
import { net3 } from '../../examples/net3.ts'
import { extraContainer } from '../../examples/extra-container.ts'

const FIX = join(import.meta.dirname, '..', 'fixtures', 'inventory')
const INV2 = join(FIX, 'graph-2hosts.yml')
const INV3 = join(FIX, 'graph-3hosts.yml')

/**
 * XML well-formedness, enough for our SVG: one root element, tags nested and closed in order, attributes
 * quoted and unique, only the five predefined entities and character references, no stray `<` or `&`.
 * Returns the element names in document order; throws with the offset of the first problem.
 */
function parseXml(text: string): string[] {
  const names: string[] = []
  const stack: string[] = []
  let i = 0
  let roots = 0
  const fail = (msg: string): never => {
    throw new Error(`XML: ${msg} at offset ${i}: ${JSON.stringify(text.slice(Math.max(0, i - 40), i + 40))}`)
  }
  const checkText = (s: string): void => {
    if (s.includes('<')) fail('stray <')
    for (const m of s.matchAll(/&([^;\s]*);?/g)) {
      if (!/^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);$/.test(m[0])) fail(`bad entity ${m[0]}`)
    }
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i)
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt)
    if (stack.length === 0 && chunk.trim() !== '') fail('text outside the root element')
    checkText(chunk)
    if (lt < 0) break
    i = lt
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i)
      if (end < 0 || roots > 0 || stack.length > 0) fail('bad processing instruction')
      i = end + 2
      continue
    }
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i)
      if (end < 0) fail('unclosed comment')
      i = end + 3
      continue
    }
    const gt = text.indexOf('>', i)
    if (gt < 0) fail('unclosed tag')
    const tag = text.slice(i + 1, gt)
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim()
      if (stack.pop() !== name) fail(`closing </${name}> does not match`)
    } else {
      const selfClosing = tag.endsWith('/')
      const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*\/?$/.exec(tag)
      if (!m) fail(`malformed tag <${tag.slice(0, 60)}>`)
      const attrs = [...m![2]!.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*("[^"]*"|'[^']*')/g)]
      const seen = new Set<string>()
      for (const a of attrs) {
        if (seen.has(a[1]!)) fail(`duplicate attribute ${a[1]}`)
        seen.add(a[1]!)
        checkText(a[2]!.slice(1, -1))
      }
      if (stack.length === 0) roots++
      if (roots > 1) fail('more than one root element')
      names.push(m![1]!)
      if (!selfClosing) stack.push(m![1]!)
    }
    i = gt + 1
  }
  if (stack.length > 0) throw new Error(`XML: unclosed <${stack.join('>, <')}>`)
  if (roots !== 1) throw new Error('XML: no root element')
  return names
}

/** Text content of an SVG (tags removed, entities decoded), to search for names. */
function svgText(svg: string): string {
  return svg.replace(/<[^>]*>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')
}

/** A verify check as the JSON report holds it. */
function check(host: string, name: string, ok: boolean): TaskReport {
  return { play: 'verify', host, key: `verify[${name}]`, status: ok ? 'ok' : 'failed', changes: [], result: { ok, check: name, detail: ok ? 'reply after 0 lost' : 'no reply in 10 tries' } }
}

describe('the lab topology from its built tasks', () => {
  const inventory = Inventory.load(INV2)
  const topo = graphPlaybook(lab, { inventory, flags: {} })

  it('has the router, both hosts with underlay addresses, bridges, ports, containers, NAT and paired tunnels', () => {
    expect(topo.hosts.map((h) => [h.name, h.role, h.underlayIp])).toEqual([['gw', 'router', undefined], ['host1', 'host', '172.16.10.100'], ['host2', 'host', '172.16.20.100']])
    const [gw, h1, h2] = topo.hosts
    expect(gw!.routes.map((r) => [r.destination, r.via, r.viaHost])).toEqual([['10.0.1.0/24', '172.16.10.100', 'host1'], ['10.0.2.0/24', '172.16.10.100', 'host1']])
    expect(gw!.forwarding).toBe(true)
    expect(gw!.mtu).toEqual([{ dev: 'gw-h1', mtu: 1554 }, { dev: 'gw-h2', mtu: 1554 }])
    expect(h1!.bridges.map((b) => [b.name, b.datapathType, b.declared])).toEqual([['br1', 'netdev', true], ['br2', 'netdev', true]])
    expect(h1!.bridges[0]!.ports).toMatchObject([{ name: 'net1', type: 'internal', addresses: ['10.0.1.1/24'] }])
    expect(h1!.bridges[0]!.attachments).toMatchObject([{ container: 'doc1', iface: 'eth0', address: '10.0.1.10/24', gateway: '10.0.1.1' }])
    expect(h2!.bridges[1]!.attachments).toMatchObject([{ container: 'doc4', address: '10.0.2.20/24', gateway: '10.0.2.1' }])
    expect(h1!.nat.map((n) => [n.iface, n.source])).toEqual([['net1', '10.0.1.0/24'], ['net2', '10.0.2.0/24']])
    expect(h2!.nat).toEqual([])
    expect(h1!.containers.map((c) => [c.name, c.image, c.bridges])).toEqual([['doc1', 'con_img', ['br1']], ['doc2', 'con_img', ['br2']]])
    expect(topo.tunnels.map((t) => [t.id, t.key, t.a.remoteIp, t.b?.remoteIp])).toEqual([
      ['host1/vxlan1~host2/vxlan1', 5000, '172.16.20.100', '172.16.10.100'],
      ['host1/vxlan2~host2/vxlan2', 6000, '172.16.20.100', '172.16.10.100'],
    ])
  })

  it('Mermaid names every host, tunnel, key, container and address, with the router and NAT', () => {
    const mmd = toMermaid(topo)
    expect(mmd).toMatch(/^%%.*\nflowchart TB\n/)
    for (const s of ['gw · gateway router', 'host1 · underlay 172.16.10.100', 'host2 · underlay 172.16.20.100', 'br1 · OVS bridge (netdev)', 'br2',
      'VXLAN key 5000', 'VXLAN key 6000', 'host1 vxlan1 → 172.16.20.100', 'host2 vxlan1 → 172.16.10.100', 'host2 vxlan2 → 172.16.10.100',
      'doc1 eth0 10.0.1.10/24 gw 10.0.1.1', 'doc2 eth0 10.0.2.10/24', 'doc3 eth0 10.0.1.20/24', 'doc4 eth0 10.0.2.20/24',
      'net1 · internal 10.0.1.1/24', 'net2 · internal 10.0.2.1/24', 'NAT: MASQUERADE 10.0.1.0/24 (net1)', 'NAT: MASQUERADE 10.0.2.0/24 (net2)',
      '10.0.1.0/24, 10.0.2.0/24 via 172.16.10.100', 'ip_forward=1', 'MTU 1554: gw-h1, gw-h2']) {
      expect(mmd).toContain(s)
    }
    // two thick tunnel links between the bridges of different hosts
    expect(mmd.match(/bridge_host1_br\d <==>\|".*"\| bridge_host2_br\d/g)).toHaveLength(2)
    // every label is quoted and carries no raw quote or angle bracket (only <br/> line breaks)
    for (const m of mmd.matchAll(/"([^"]*)"/g)) expect(m[1]!.replace(/<br\/>/g, '')).not.toMatch(/[<>"]/)
    // no colours before a run
    expect(mmd).not.toMatch(/:::(passed|failed)/)
  })

  it('SVG is well-formed XML and names every host, tunnel, key, container and address', () => {
    const svg = toSvg(topo)
    const elements = parseXml(svg)
    expect(elements[0]).toBe('svg')
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"')
    const text = svgText(svg)
    for (const s of ['gw · gateway router', 'host1 · underlay 172.16.10.100 (eth0)', 'host2 · underlay 172.16.20.100 (eth0)', 'br1 · OVS bridge (netdev)',
      'VXLAN key 5000', 'VXLAN key 6000', 'vxlan1 → 172.16.20.100 key 5000', 'vxlan1 → 172.16.10.100 key 5000', 'vxlan2 → 172.16.10.100 key 6000',
      'doc1 eth0 10.0.1.10/24 gw 10.0.1.1', 'doc2', 'doc3 eth0 10.0.1.20/24', 'doc4 eth0 10.0.2.20/24', 'net1 · internal 10.0.1.1/24',
      'NAT: MASQUERADE 10.0.1.0/24 (net1)', '10.0.1.0/24, 10.0.2.0/24 via 172.16.10.100']) {
      expect(text).toContain(s)
    }
    expect(svg.match(/<g class="tunnel">/g)).toHaveLength(2)
    // self-contained: no external references
    expect(svg).not.toMatch(/href=|@import|url\(/)
  })

  it('the well-formedness check itself rejects broken XML', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/does not match/)
    expect(() => parseXml('<svg><text>a < b</text></svg>')).toThrow(/malformed tag|stray/)
    expect(() => parseXml('<svg><text>R&D</text></svg>')).toThrow(/bad entity/)
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/duplicate attribute/)
    expect(() => parseXml('<svg/><svg/>')).toThrow(/more than one root/)
    expect(parseXml('<?xml version="1.0"?>\n<svg x="&amp;&#10;"><t>a &lt; b</t></svg>\n')).toEqual(['svg', 't'])
  })
})

describe('colours from a run', () => {
  const inventory = Inventory.load(INV2)
  const topo = graphPlaybook(lab, { inventory, flags: { verify: true } })
  const tasks: TaskReport[] = [
    { play: 'docker hosts', host: 'host1', key: 'ovs.bridge[br1]', status: 'ok', changes: [] },
    check('host1', 'ping doc1 -> doc3 (10.0.1.20, net1 VNI 5000)', true),
    check('host1', 'ping doc2 -> doc4 (10.0.2.20, net2 VNI 6000)', false),
    check('host2', 'routed doc3 -> doc2 (10.0.2.10)', true),
    check('host1', 'NAT doc1 -> http://203.0.113.10/cgi-bin/whoami', true),
    check('gw', 'web doc3 (10.0.1.20) from gw', true),
    check('host1', 'iperf3 server started', true),
  ]
  const marked = markTopology(topo, tasks)

  it('attributes checks to the containers they name and the tunnels between them', () => {
    const tunnel = (id: string) => marked.tunnels.find((t) => t.id === id)!
    expect(tunnel('host1/vxlan1~host2/vxlan1').verdict).toMatchObject({ status: 'passed' })
    expect(tunnel('host1/vxlan1~host2/vxlan1').verdict!.checks.map((c) => c.check)).toEqual([
      'ping doc1 -> doc3 (10.0.1.20, net1 VNI 5000)', 'routed doc3 -> doc2 (10.0.2.10)', 'web doc3 (10.0.1.20) from gw',
    ])
    expect(tunnel('host1/vxlan2~host2/vxlan2').verdict).toMatchObject({ status: 'failed', checks: [{ check: 'ping doc2 -> doc4 (10.0.2.20, net2 VNI 6000)', ok: false }] })
    const c = (host: string, name: string) => marked.hosts.find((h) => h.name === host)!.containers.find((x) => x.name === name)!
    expect(c('host1', 'doc1').verdict?.status).toBe('passed')
    expect(c('host1', 'doc2').verdict?.status).toBe('failed')
    expect(c('host2', 'doc4').verdict?.status).toBe('failed')
    expect(marked.hosts[1]!.nat[0]!.verdict).toMatchObject({ status: 'passed', checks: [{ check: 'NAT doc1 -> http://203.0.113.10/cgi-bin/whoami' }] })
    expect(marked.hosts[1]!.nat[1]!.verdict).toBeUndefined()
    expect(marked.checks!.filter((x) => !x.placed).map((x) => x.check)).toEqual(['iperf3 server started'])
    // the input is not changed
    expect(topo.tunnels[0]!.verdict).toBeUndefined()
  })

  it('a failed task marks what it defines', () => {
    const m = markTopology(topo, [{ play: 'docker hosts', host: 'host2', key: 'ovs.vxlanPort[vxlan2]', status: 'failed', changes: [], error: 'ovs-vsctl: no bridge named br2' }])
    expect(m.tunnels[1]!.verdict).toMatchObject({ status: 'failed', checks: [{ check: 'task ovs.vxlanPort[vxlan2]', detail: 'ovs-vsctl: no bridge named br2', host: 'host2' }] })
    expect(m.tunnels[0]!.verdict).toBeUndefined()
  })

  it('Mermaid: passed elements green, failed red, tunnel links styled, a summary node', () => {
    const mmd = toMermaid(marked)
    expect(mmd).toMatch(/container_host1_doc1_eth0\[".*verified \(2 checks\)"\]:::passed/)
    expect(mmd).toMatch(/container_host1_doc2_eth0\[".*FAILED: ping doc2 -#gt; doc4.*"\]:::failed/)
    const links = mmd.split('\n').filter((l) => /^ {2}\S+ (---|-\.-|<==>|==>|-->|-\.-\|)/.test(l))
    const idx = (re: RegExp) => links.findIndex((l) => re.test(l))
    expect(mmd).toContain(`linkStyle ${idx(/bridge_host1_br1 <==>/)} stroke:#2e7d32,stroke-width:3px`)
    expect(mmd).toContain(`linkStyle ${idx(/bridge_host1_br2 <==>/)} stroke:#c62828,stroke-width:3px`)
    expect(mmd).toContain('verify: 5 passed, 1 failed (1 not drawn)')
  })

  it('SVG: coloured, still well-formed, with the checks in hover titles', () => {
    const svg = toSvg(marked)
    parseXml(svg)
    const tunnels = [...svg.matchAll(/<g class="tunnel">([\s\S]*?)<\/g>/g)].map((m) => m[1]!)
    expect(tunnels[0]).toMatch(/stroke="#2e7d32"/)
    expect(tunnels[0]).toContain('PASS ping doc1 -&gt; doc3')
    expect(tunnels[1]).toMatch(/stroke="#c62828"/)
    expect(svg).toMatch(/fill="#fde0e0" stroke="#c62828"\/>\s*<text[^>]*>▣ doc2/)
    expect(svgText(svg)).toContain('verify: 5 passed, 1 failed (1 not drawn)')
  })
})

describe('any playbook, not only the lab', () => {
  it('three Docker hosts: hub-and-spoke tunnels, the non-adjacent one through a lane, routed paths through the hub', () => {
    const inventory = Inventory.load(INV3)
    const pb = labPlaybook({ ...LAB, containers: [...LAB.containers, { name: 'doc5', host: 'host3', network: 'net1', address: '10.0.1.30' }] })
    const topo = graphPlaybook(pb, { inventory, flags: {} })
    expect(topo.tunnels.map((t) => t.id)).toEqual([
      'host1/vxlan1~host2/vxlan1', 'host1/vxlan1-3~host3/vxlan1', 'host1/vxlan2~host2/vxlan2', 'host1/vxlan2-3~host3/vxlan2',
    ])
    const m = markTopology(topo, [check('host2', 'ping doc3 -> doc5 (10.0.1.30, net1 VNI 5000)', true)])
    expect(m.tunnels.filter((t) => t.verdict).map((t) => t.id)).toEqual(['host1/vxlan1~host2/vxlan1', 'host1/vxlan1-3~host3/vxlan1'])
    const svg = toSvg(m)
    parseXml(svg)
    expect(svgText(svg)).toContain('VXLAN key 5000 ✓  host1 vxlan1-3 ⇄ host3 vxlan1')
    expect(svgText(svg)).toContain('host3 · underlay 172.16.30.100')
    expect(toMermaid(m)).toContain('doc5 eth0 10.0.1.30/24')
  })

  it('a hand-written playbook: existing bridge dashed, tunnel to an address outside the inventory, removals counted', () => {
    const inventory = Inventory.load(INV2)
    const pb: PlaybookDef = {
      name: 'custom',
      plays: [{
        name: 'p',
        hosts: 'host1',
        tasks: () => [
          ovsPort({ bridge: 'br-ext', name: 'uplink', type: 'system' }),
          vxlanPort({ bridge: 'br-ext', name: 'vx-far', remoteIp: '198.51.100.7', key: 42, dstPort: 8472 }),
          ovsBridge({ name: 'br-old', ensure: 'absent' }),
          ipAddress({ dev: 'eth9', address: '192.168.5.1/24' }),
          dockerContainer({ name: 'lonely', image: 'busybox', network: 'none' }),
          containerPort({ bridge: 'br-ext', container: 'web', address: '10.9.0.2/24' }),
        ],
      }],
    }
    const topo: Topology = graphPlaybook(pb, { inventory })
    const h1 = topo.hosts[0]!
    expect(h1.bridges).toMatchObject([{ name: 'br-ext', declared: false, ports: [{ name: 'uplink', type: 'system' }] }])
    expect(h1.removals).toBe(1)
    expect(h1.linkAddresses).toEqual({ eth9: ['192.168.5.1/24'] })
    expect(h1.containers.map((c) => [c.name, c.bridges])).toEqual([['lonely', []], ['web', ['br-ext']]])
    expect(topo.tunnels).toEqual([{ id: 'host1/vx-far~198.51.100.7', key: 42, a: { host: 'host1', bridge: 'br-ext', port: 'vx-far', remoteIp: '198.51.100.7' } }])
    const svg = toSvg(topo)
    parseXml(svg)
    expect(svg).toContain('stroke-dasharray="5 3"')
    expect(svgText(svg)).toContain('198.51.100.7 (not in this playbook)')
    expect(svgText(svg)).toContain('vx-far → 198.51.100.7 key 42 udp 8472')
    expect(svgText(svg)).toContain('removes 1 object')
    const mmd = toMermaid(topo)
    expect(mmd).toContain('br-ext · OVS bridge (existing)')
    expect(mmd).toContain('lonely (no bridge) [busybox]')
    expect(mmd).toMatch(/bridge_host1_br_ext ==>\|"VXLAN key 42<br\/>host1 vx-far → 198\.51\.100\.7"\| remote_198_51_100_7/)
  })

  it('the examples draw without contacting hosts: net3 on br3 with key 7000, doc5 on host2 br1', () => {
    const inventory = Inventory.load(INV2)
    const n3 = graphPlaybook(net3, { inventory, flags: {} })
    expect(n3.tunnels.map((t) => [t.id, t.key])).toEqual([['host1/vxlan3~host2/vxlan3', 7000]])
    expect(n3.hosts[0]!.bridges[0]).toMatchObject({ name: 'br3', datapathType: 'netdev', ports: [{ name: 'net3', addresses: ['10.0.3.1/24'] }] })
    expect(graphPlaybook(net3, { inventory, flags: { state: 'absent' } }).tunnels).toEqual([])
    const ex = graphPlaybook(extraContainer, { inventory, flags: {} })
    expect(ex.hosts.map((h) => h.name)).toEqual(['host2'])
    expect(ex.hosts[0]!.bridges[0]).toMatchObject({ name: 'br1', declared: false, attachments: [{ container: 'doc5', address: '10.0.1.30/24', gateway: '10.0.1.1' }] })
    expect(toMermaid(ex)).toContain('doc5 eth0 10.0.1.30/24 gw 10.0.1.1 [con_img]')
  })

  it('the absent lab draws hosts without objects', () => {
    const topo = graphPlaybook(lab, { inventory: Inventory.load(INV2), flags: { state: 'absent' } })
    expect(topo.tunnels).toEqual([])
    expect(topo.hosts.every((h) => h.bridges.length === 0 && h.containers.length === 0)).toBe(true)
    expect(topo.hosts.find((h) => h.name === 'host1')!.removals).toBeGreaterThan(5)
    parseXml(toSvg(topo))
  })

  it('Mermaid text escaping and the format by extension', () => {
    expect(mermaidText(['a "b" <c> #1', 'second'])).toBe('a #quot;b#quot; #lt;c#gt; #35;1<br/>second')
    expect(graphFormatOf('x/lab.MMD')).toBe('mermaid')
    expect(graphFormatOf('lab.svg')).toBe('svg')
    expect(() => graphFormatOf('lab.png')).toThrow(/unknown picture format ".png"; use .mmd \(Mermaid\) or .svg/)
  })
})

describe('--graph on the command line', () => {
  const work = mkdtempSync(join(tmpdir(), 'vxlab-graph-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))
  const run = async (...args: string[]) => {
    let out = ''
    let err = ''
    const code = await runCli(lab, args, { out: (s) => (out += s), err: (s) => (err += s) })
    return { code, out, err }
  }

  it('writes the picture without contacting any host (the fixture hosts do not exist)', async () => {
    const file = join(work, 'lab.svg')
    const r = await run('-i', INV2, '--graph', file)
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toContain(`graph: wrote ${file} (3 hosts, 2 tunnels, 4 containers); no host was contacted`)
    expect(r.out).not.toContain('PLAY')
    parseXml(readFileSync(file, 'utf8'))
    const mmd = join(work, 'lab.mmd')
    expect((await run('-i', INV2, '--graph', mmd, '--limit', 'host2')).code).toBe(0)
    const text = readFileSync(mmd, 'utf8')
    expect(text).toContain('host2 · underlay')
    expect(text).not.toContain('host1 · underlay')
  })

  it('--graph-report colours from a saved JSON report', async () => {
    const report = join(work, 'run.json')
    writeFileSync(report, JSON.stringify({ playbook: 'lab', check: false, durationMs: 1, hosts: {}, tasks: [check('host1', 'ping doc1 -> doc3 (10.0.1.20, net1 VNI 5000)', true)] }))
    const file = join(work, 'colour.mmd')
    const r = await run('-i', INV2, '--graph', file, '--graph-report', report)
    expect(r.code).toBe(0)
    expect(readFileSync(file, 'utf8')).toContain('stroke:#2e7d32')
    writeFileSync(report, JSON.stringify({ playbook: 'lab', tasks: [{ host: 'h', key: 'k', status: 'weird', changes: [] }] }))
    const bad = await run('-i', INV2, '--graph', file, '--graph-report', report)
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('tasks[0].status: not one of ok, changed, failed, skipped')
  })

  it('usage errors exit 2 before anything is drawn', async () => {
    const png = join(work, 'lab.png')
    const r1 = await run('-i', INV2, '--graph', png)
    expect(r1.code).toBe(2)
    expect(r1.err).toContain(`--graph ${png}: unknown picture format`)
    expect(existsSync(png)).toBe(false)
    // the flag named is the one given: --graph-after, not --graph
    const r2 = await run('-i', INV2, '--graph-after', png)
    expect(r2.code).toBe(2)
    expect(r2.err).toContain(`--graph-after ${png}: unknown picture format ".png"`)
    expect((await run('-i', INV2, '--graph-report', 'x.json')).err).toContain('--graph-report needs --graph FILE')
    expect((await run('-i', INV2, '--graph', join(work, 'a.svg'), '--graph-after', join(work, 'b.svg'))).code).toBe(2)
    expect((await run('-i', INV2, '--graph', join(work, 'a.svg'), '--state', 'sideways')).err).toContain('--state: expected present or absent, got "sideways"')
    expect((await run('--help')).out).toContain('--graph FILE')
  })
})
