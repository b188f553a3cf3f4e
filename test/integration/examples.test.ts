import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extraContainer } from '../../examples/extra-container.ts'
import { net3 } from '../../examples/net3.ts'
import { runCli } from '../../lib/cli.ts'
import type { PlaybookDef, RunReport } from '../../lib/core/playbook.ts'
import { ensureTestbed, hostExec, testbedDir } from '../../lib/testbed/index.ts'
import { lab } from '../../playbooks/lab.ts'

/**
 * The examples/ playbooks on the testbed: the lab is converged first (through the CLI, as a user would),
 * each example converges, reruns with 0 changed, works (doc5 pings doc1 across the tunnel; net3's port and
 * tunnels are in OVSDB with key 7000), leaves the lab converged, and `--state absent` removes exactly what
 * it added (the testbed is left as the lab).
 */

const work = mkdtempSync(join(tmpdir(), 'vxlab-examples-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))
let n = 0
async function run(pb: PlaybookDef, ...args: string[]): Promise<{ code: number; out: string; report: RunReport }> {
  let out = ''
  const json = join(work, `r${n++}.json`)
  const code = await runCli(pb, ['-i', join(testbedDir(), 'inventory.yml'), '--json', json, ...args], { out: (s) => (out += s), err: (s) => (out += s) })
  if (!existsSync(json)) throw new Error(`no report (exit ${code}):\n${out}`)
  return { code, out, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport }
}
const changed = (r: RunReport): number => Object.values(r.hosts).reduce((s, h) => s + h.changed, 0)
const failures = (r: RunReport): string[] => r.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.key}: ${t.error ?? t.result?.detail ?? ''}`)
async function sh(host: string, command: string): Promise<string> {
  const r = await hostExec(host, ['sh', '-c', command])
  return `${r.stdout}${r.stderr}`.trim()
}

describe('examples/ on the testbed', () => {
  beforeAll(async () => {
    await ensureTestbed({ hosts: 2 })
    const r = await run(lab)
    expect(failures(r.report), r.out).toEqual([])
    expect(r.code).toBe(0)
  })

  afterAll(async () => {
    // whatever happened above, leave the testbed as the lab
    await run(extraContainer, '--state', 'absent').catch(() => undefined)
    await run(net3, '--state', 'absent').catch(() => undefined)
  })

  it('net3: a third network with key 7000 between host1 and host2, idempotent', async () => {
    const r = await run(net3)
    expect(failures(r.report), r.out).toEqual([])
    expect(r.code).toBe(0)
    const again = await run(net3)
    expect(again.code).toBe(0)
    expect(changed(again.report), again.out).toBe(0)
    const opts = (host: string) => sh(host, 'ovs-vsctl --timeout=5 get interface vxlan3 type options; ovs-vsctl --timeout=5 port-to-br vxlan3')
    const h1 = await opts('host1')
    expect(h1).toContain('vxlan')
    expect(h1).toMatch(/key="?7000"?/)
    expect(h1).toMatch(/remote_ip="?172\.16\.20\.100"?/)
    expect(h1).toContain('br3')
    expect(await opts('host2')).toMatch(/remote_ip="?172\.16\.10\.100"?/)
    expect(await sh('host1', 'ip -4 -o addr show dev net3')).toContain('10.0.3.1/24')
    expect(await sh('host2', 'ovs-vsctl --timeout=5 get bridge br3 datapath_type')).toContain('netdev')
  })

  it('extra-container: doc5 on host2 net1 pings doc1 across the tunnel and the gateway; rerun changes nothing', async () => {
    const picture = join(work, 'doc5.svg')
    const r = await run(extraContainer, '--verify', '--graph-after', picture)
    expect(failures(r.report), r.out).toEqual([])
    expect(r.code).toBe(0)
    // the picture after the run: doc5 verified (green), both checks placed
    const svg = readFileSync(picture, 'utf8')
    expect(svg).toMatch(/fill="#d7f5dd" stroke="#2e7d32"\/>\s*<text[^>]*>▣ doc5 eth0 10\.0\.1\.30\/24/)
    expect(svg).toContain('verify: 2 passed, 0 failed')
    const results = Object.fromEntries(r.report.tasks.filter((t) => t.result).map((t) => [t.result!.check, t.result!.ok]))
    expect(results).toEqual({ 'ping doc5 -> doc1 (10.0.1.10)': true, 'ping doc5 -> net1 gateway (10.0.1.1)': true })
    const again = await run(extraContainer)
    expect(changed(again.report), again.out).toBe(0)
    expect(await sh('host2', 'docker inspect -f "{{.State.Running}} {{.Config.Image}}" doc5')).toBe('true con_img')
  })

  it('the lab is still converged with both examples applied', async () => {
    const r = await run(lab, '--check')
    expect(r.code).toBe(0)
    expect(r.report.tasks.filter((t) => t.status !== 'ok'), r.out).toEqual([])
  })

  it('--state absent removes what the examples added, and a second removal changes nothing', async () => {
    const a = await run(extraContainer, '--state', 'absent')
    expect(failures(a.report), a.out).toEqual([])
    const b = await run(net3, '--state', 'absent')
    expect(failures(b.report), b.out).toEqual([])
    expect(changed(a.report)).toBeGreaterThan(0)
    expect(changed(b.report)).toBeGreaterThan(0)
    expect(changed((await run(extraContainer, '--state', 'absent')).report)).toBe(0)
    expect(changed((await run(net3, '--state', 'absent')).report)).toBe(0)
    expect(await sh('host2', 'docker ps -a --format "{{.Names}}"')).not.toMatch(/\bdoc5\b/)
    for (const h of ['host1', 'host2']) {
      expect(await sh(h, 'ovs-vsctl --timeout=5 list-br')).not.toContain('br3')
      expect(await sh(h, 'ip -o link show')).not.toMatch(/\bnet3\b|vxlan3/)
    }
    // the lab is untouched by the removals
    const lab2 = await run(lab, '--check')
    expect(lab2.report.tasks.filter((t) => t.status !== 'ok'), lab2.out).toEqual([])
  })
})
