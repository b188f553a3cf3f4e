/**
 * The testbed at other sizes: 4 docker hosts, and 50 light hosts (sshd + OVS, no dockerd) for scale
 * benchmarks. Slow-ish (~30 s together on 2 cores); restores the default 2-host testbed at the end.
 */
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ensureTestbed, hostExec, status, type HostStatus } from '../../lib/testbed/index.ts'

function notOk(s: HostStatus[]): string[] {
  return s.filter((h) => !h.ok).map((h) => `${h.name}: ${h.services.filter((x) => !x.ok).map((x) => `${x.name} ${x.detail}`).join('; ')}`)
}

describe('testbed at scale', () => {
  afterAll(async () => {
    await ensureTestbed({ hosts: 2 }) // later test files expect the default testbed
  })

  it('--hosts 4: every host answers', async () => {
    const t0 = Date.now()
    const tb = await ensureTestbed({ hosts: 4, fresh: true })
    const upMs = Date.now() - t0
    expect(tb.hostsList.map((h) => `${h.name} ${h.mgmtIp} ${h.underlayIp}`)).toEqual([
      'host1 172.16.99.101 172.16.10.100',
      'host2 172.16.99.102 172.16.20.100',
      'host3 172.16.99.103 172.16.30.100',
      'host4 172.16.99.104 172.16.40.100',
    ])
    const s = await status()
    expect(s).toHaveLength(6)
    expect(notOk(s)).toEqual([])
    const inv = parse(readFileSync(tb.inventory, 'utf8')) as { all: { children: { gateway: { hosts: { gw: { underlay_ifaces: string[] } } } } } }
    expect(inv.all.children.gateway.hosts.gw.underlay_ifaces).toEqual(['gw-h1', 'gw-h2', 'gw-h3', 'gw-h4'])
    expect((await hostExec('host4', ['docker', 'info', '--format', '{{.ServerVersion}}'])).code).toBe(0)
    console.log(`testbed up --hosts 4: ${upMs} ms`)
  })

  it('--light --hosts 50: every host answers (sshd, ovsdb), no dockerd, 172.17.N underlays above host25', async () => {
    const t0 = Date.now()
    const tb = await ensureTestbed({ hosts: 50, light: true, fresh: true })
    const upMs = Date.now() - t0
    expect(tb.light).toBe(true)
    expect(tb.hostsList).toHaveLength(50)
    expect(tb.hostsList[24]?.underlayIp).toBe('172.16.250.100')
    expect(tb.hostsList[25]?.underlayIp).toBe('172.17.26.100')
    expect(tb.hostsList[49]?.mgmtIp).toBe('172.16.99.150')
    const t1 = Date.now()
    const s = await status()
    const statusMs = Date.now() - t1
    expect(s).toHaveLength(52)
    expect(notOk(s)).toEqual([])
    expect(s.find((h) => h.name === 'host50')?.services.map((x) => x.name)).toEqual(['process', 'sshd', 'ovsdb'])
    const inv = parse(readFileSync(tb.inventory, 'utf8')) as { all: { vars: Record<string, unknown> } }
    expect(inv.all.vars['testbed_light']).toBe(true)
    const h26 = await hostExec('host26', ['ip', '-4', '-o', 'addr', 'show', 'br-phy'])
    expect(h26.stdout).toContain('inet 172.17.26.100/24')
    expect((await hostExec('host26', ['ip', 'route', 'show', 'default'])).stdout).toContain('via 172.17.26.1')
    expect((await hostExec('host50', ['docker', 'info'], { timeoutMs: 15_000 })).code).not.toBe(0) // light: no dockerd
    console.log(`testbed up --light --hosts 50: ${upMs} ms; status of 52 hosts: ${statusMs} ms`)
  })
})
