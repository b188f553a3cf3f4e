import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { RunReport, TaskReport } from '../../lib/core/playbook.ts'
import { ensureTestbed, hostExec } from '../../lib/testbed/index.ts'
import { cliRunner } from './helpers.ts'
import { lab } from '../../playbooks/lab.ts'

// `--state absent` removes what the lab built and nothing the user had (README "Tearing the lab down"): a user's port
// on a lab bridge, a user's container on the lab image (or with a lab container's name), forwarding that was on, the MTU the link had. Each test
// starts from the converged lab and converges it again at the end.

const runLab = cliRunner(lab, 'vxlab-teardown-')
async function sh(host: string, script: string): Promise<string> {
  const r = await hostExec(host, ['sh', '-c', script], { timeoutMs: 30_000 })
  if (r.code !== 0) throw new Error(`${host}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout.trim()
}
const task = (r: RunReport, host: string, key: string): TaskReport | undefined => r.tasks.find((t) => t.host === host && t.key === key)
const failed = (r: RunReport): TaskReport[] => r.tasks.filter((t) => t.status === 'failed')
/** What each task of a run did (hosts finish in any order): check mode must list exactly what the apply run then does. */
const outline = (r: RunReport): string[] => r.tasks.map((t) => `${t.host} ${t.key} ${t.status} ${t.error ?? ''} ${t.changes.map((c) => c.commands.join(' && ')).join('; ')}`).sort()

async function converge(): Promise<void> {
  const r = await runLab()
  expect(failed(r.report), r.out).toEqual([])
  expect(r.code).toBe(0)
}

/** absent in check mode, then for real (the same plan), then again (a no-op); returns the apply run. */
async function teardown(): Promise<{ check: RunReport; apply: RunReport; out: string }> {
  const check = await runLab('--state', 'absent', '--check', '--diff')
  expect(failed(check.report), check.out).toEqual([])
  expect(check.code).toBe(0)
  const apply = await runLab('--state', 'absent')
  expect(failed(apply.report), apply.out).toEqual([])
  expect(apply.code).toBe(0)
  expect(outline(apply.report)).toEqual(outline(check.report))
  const again = await runLab('--state', 'absent')
  expect(again.code).toBe(0)
  for (const h of ['gw', 'host1', 'host2']) expect(again.report.hosts[h], again.out).toMatchObject({ changed: 0, failed: 0 })
  // what was kept is kept again, for the same reason
  const skips = (r: RunReport) => outline(r).filter((l) => l.includes(' skipped '))
  expect(skips(again.report)).toEqual(skips(apply.report))
  return { check: check.report, apply: apply.report, out: apply.out }
}

/** The underlay links and the MTU the testbed gives them. */
const UNDERLAY: ReadonlyArray<[string, string]> = [['gw', 'gw-h1'], ['gw', 'gw-h2'], ['host1', 'eth0'], ['host2', 'eth0']]
const mtuOf = (h: string, dev: string) => sh(h, `cat /sys/class/net/${dev}/mtu`)

describe('lab teardown keeps what the user had', () => {
  beforeAll(async () => {
    await ensureTestbed({ hosts: 2 })
    // from the testbed's own state (a lab built by an older vxlab recorded no MTU): the lab records 1500 as it builds
    const r = await runLab('--state', 'absent')
    expect(failed(r.report), r.out).toEqual([])
    for (const [h, dev] of UNDERLAY) await sh(h, `ip link set dev ${dev} mtu 1500`)
    await converge()
  })

  it('a port of the user on a lab bridge survives --state absent: the bridge is kept, saying why; the rest goes', async () => {
    await sh('host1', 'ovs-vsctl --timeout=5 add-port br1 vxtestport -- set interface vxtestport type=internal')
    try {
      const { check, apply, out } = await teardown()
      for (const r of [check, apply]) {
        expect(task(r, 'host1', 'ovs.bridge[br1]')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/^kept bridge br1: it has a port this playbook did not make \(vxtestport\)/) })
        expect(task(r, 'host1', 'ovs.bridge[br2]')?.status).toBe('changed')
        expect(task(r, 'host2', 'ovs.bridge[br1]')?.status).toBe('changed')
      }
      expect(out).toMatch(/\. ovs\.bridge\[br1\] skipped: kept bridge br1: .*vxtestport/) // shown without -v
      // only the user's port is left on br1; the lab's ports and its other bridges are gone
      expect(await sh('host1', 'ovs-vsctl --timeout=5 list-ports br1')).toBe('vxtestport')
      expect(await sh('host1', 'ovs-vsctl --timeout=5 list-br')).toBe('br-phy\nbr1')
      expect(await sh('host2', 'ovs-vsctl --timeout=5 list-br')).toBe('br-phy')
      expect(await sh('host1', 'docker ps -a --format "{{.Names}}"')).toBe('')
      // once the user's port is gone, absent deletes the bridge
      await sh('host1', 'ovs-vsctl --timeout=5 del-port br1 vxtestport')
      const last = await runLab('--state', 'absent')
      expect(task(last.report, 'host1', 'ovs.bridge[br1]')?.status).toBe('changed')
      expect(await sh('host1', 'ovs-vsctl --timeout=5 list-br')).toBe('br-phy')
    } finally {
      await sh('host1', 'ovs-vsctl --timeout=5 --if-exists del-port vxtestport')
      await converge()
    }
  })

  it('a container of the user on the lab image survives: the image is kept, saying why, and the rest of the teardown runs', async () => {
    await sh('host1', 'docker run -d --name vxtestuser --network none con_img >/dev/null')
    try {
      const { check, apply, out } = await teardown()
      for (const r of [check, apply]) {
        expect(task(r, 'host1', 'docker.image[con_img]')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/^kept image con_img \(\w+\): in use by container vxtestuser, which this playbook did not create/) })
        expect(task(r, 'host2', 'docker.image[con_img]')?.status).toBe('changed')
        // what does not depend on the image still runs: the MTU, the lab's containers, ports and bridges
        for (const key of ['net.setMtu[eth0]', 'docker.container[doc1]', 'ovs.bridge[br1]', 'ovs.bridge[br2]']) expect(task(r, 'host1', key)?.status, key).toBe('changed')
      }
      expect(out).toMatch(/\. docker\.image\[con_img\] skipped: kept image con_img/)
      expect(await sh('host1', 'docker ps --format "{{.Names}} {{.Image}}"')).toBe('vxtestuser con_img')
      expect(await sh('host1', 'docker image inspect -f "{{.Id}}" con_img')).toMatch(/^sha256:/)
      expect(await mtuOf('host1', 'eth0')).toBe('1500')
      expect(await sh('host1', 'ovs-vsctl --timeout=5 list-br')).toBe('br-phy')
      expect((await hostExec('host2', ['docker', 'image', 'inspect', 'con_img'])).code).toBe(1)
    } finally {
      await sh('host1', 'docker rm -f vxtestuser >/dev/null 2>&1 || true')
      await converge()
    }
  })

  it('a container of the user that merely has a lab name survives: it and the image are kept, saying why, and the rest goes', async () => {
    // the lab's doc3 on host2 goes, and the user runs a container of the same name on the lab image (as after a
    // teardown): it inherits the image's vxlab.hash label, but not vxlab.spec, which only the lab's docker run sets
    await sh('host2', 'docker rm -f doc3 >/dev/null && docker run -d --name doc3 --net none -l mine=yes con_img >/dev/null')
    expect(await sh('host2', `docker inspect -f '{{index .Config.Labels "mine"}} {{index .Config.Labels "vxlab.spec"}}' doc3`)).toBe('yes')
    try {
      const { check, apply, out } = await teardown()
      for (const r of [check, apply]) {
        expect(task(r, 'host2', 'docker.container[doc3]')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/^kept container doc3: not made by vxlab \(no vxlab\.spec label\); remove or rename it/) })
        expect(task(r, 'host2', 'docker.container[doc3]')?.changes).toEqual([])
        expect(task(r, 'host2', 'docker.image[con_img]')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/^kept image con_img \(\w+\): in use by container doc3 \(no vxlab\.spec label\), which this playbook did not create/) })
        expect(task(r, 'host1', 'docker.image[con_img]')?.status).toBe('changed')
        // the rest of the teardown runs: the lab's other container, the stale port of its doc3, the bridges, the MTU
        for (const key of ['docker.container[doc4]', 'docker.containerPort[doc3:eth0]', 'ovs.bridge[br1]', 'ovs.bridge[br2]', 'net.setMtu[eth0]']) expect(task(r, 'host2', key)?.status, key).toBe('changed')
      }
      expect(out).toMatch(/\. docker\.container\[doc3\] skipped: kept container doc3: not made by vxlab/) // shown without -v
      expect(await sh('host2', 'docker ps -a --format "{{.Names}} {{.Image}} {{.Labels}}"')).toMatch(/^doc3 con_img .*mine=yes/)
      expect(await sh('host2', 'docker ps -a -q | wc -l')).toBe('1')
      expect(await sh('host2', 'docker image inspect -f "{{.Id}}" con_img')).toMatch(/^sha256:/)
      expect(await sh('host2', 'ovs-vsctl --timeout=5 list-br')).toBe('br-phy')
      expect(await mtuOf('host2', 'eth0')).toBe('1500')
      expect(await sh('host1', 'docker ps -a --format "{{.Names}}"')).toBe('')
      // once the user's container is gone, absent deletes the image
      await sh('host2', 'docker rm -f doc3 >/dev/null')
      const last = await runLab('--state', 'absent')
      expect(task(last.report, 'host2', 'docker.image[con_img]')?.status).toBe('changed')
      expect((await hostExec('host2', ['docker', 'image', 'inspect', 'con_img'])).code).toBe(1)
    } finally {
      await sh('host2', 'docker rm -f doc3 >/dev/null 2>&1 || true')
      await converge()
    }
  })

  it('forwarding goes back to what it was before the lab: on (as dockerd turns it on) stays on, off goes off again', async () => {
    const forwarding = (h: string) => sh(h, 'sysctl -n net.ipv4.ip_forward')
    const file = (h: string) => sh(h, 'cat /etc/sysctl.d/90-vxlab-ip-forward.conf 2>/dev/null || echo none')
    const host2Was = await forwarding('host2')
    try {
      // the Docker hosts forward before the lab, as on a real Docker host; the gateway router does not
      await runLab('--state', 'absent')
      await sh('gw', 'sysctl -qw net.ipv4.ip_forward=0')
      for (const h of ['host1', 'host2']) await sh(h, 'sysctl -qw net.ipv4.ip_forward=1')
      await converge()
      expect(await file('host1')).toContain('net.ipv4.ip_forward = 1')
      const { check } = await teardown()
      expect(task(check, 'host1', 'sysctl[net.ipv4.ip_forward]')?.changes.map((c) => c.summary)).toEqual(['delete /etc/sysctl.d/90-vxlab-ip-forward.conf (the runtime value of net.ipv4.ip_forward is left as is)'])
      expect(task(check, 'gw', 'sysctl[net.ipv4.ip_forward]')?.changes.map((c) => c.summary)).toEqual([
        'set net.ipv4.ip_forward back to 0 (recorded in /run/vxlab/sysctl/net.ipv4.ip_forward before it was set to 1)',
        'delete /etc/sysctl.d/90-vxlab-ip-forward.conf',
      ])
      // the only runtime sysctl write of the teardown is gw's, back to its recorded 0
      expect(check.tasks.flatMap((t) => t.changes.flatMap((c) => c.commands)).filter((c) => /sysctl\b.*\s-\w*w/.test(c))).toEqual(['sysctl -w net.ipv4.ip_forward=0'])
      for (const h of ['host1', 'host2']) expect(await forwarding(h), h).toBe('1')
      expect(await forwarding('gw')).toBe('0')
      for (const h of ['gw', 'host1']) expect(await file(h), h).toBe('none')
    } finally {
      await converge()
      await sh('host2', `sysctl -qw net.ipv4.ip_forward=${host2Was}`)
    }
  })

  it('the underlay MTU goes back to what the link had before the lab, not to a fixed value; one changed since is left alone, its record kept', async () => {
    try {
      // host2's eth0 had 1450 before the lab
      await runLab('--state', 'absent')
      await sh('host2', 'ip link set dev eth0 mtu 1450')
      await converge()
      expect(await mtuOf('host2', 'eth0')).toBe('1554')
      expect(await sh('host2', 'cat /run/vxlab/mtu/eth0')).toBe('1450')
      // gw-h2's MTU changed by hand after the lab: no longer the lab's, left alone
      await sh('gw', 'ip link set dev gw-h2 mtu 1600')
      const { check } = await teardown()
      expect(task(check, 'host2', 'net.setMtu[eth0]')?.changes.map((c) => c.summary)).toEqual(['set MTU of eth0 back to 1450 (recorded in /run/vxlab/mtu/eth0 before it was set to 1554)'])
      // its record is kept: the only copy of the MTU from before the lab, for an absent whose MTU the link has
      expect(task(check, 'gw', 'net.setMtu[gw-h2]')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/^left the MTU of gw-h2 at 1600: not the 1554 this playbook sets .* the MTU from before vxlab, 1500, stays recorded in \/run\/vxlab\/mtu\/gw-h2/) })
      expect(await mtuOf('host2', 'eth0')).toBe('1450')
      expect(await mtuOf('gw', 'gw-h1')).toBe('1500')
      expect(await mtuOf('gw', 'gw-h2')).toBe('1600')
      expect(await sh('host2', 'ls -A /run/vxlab/mtu 2>/dev/null || echo gone')).toBe('gone')
      expect(await sh('gw', 'ls -A /run/vxlab/mtu')).toBe('gw-h2')
      expect(await sh('gw', 'cat /run/vxlab/mtu/gw-h2')).toBe('1500')
    } finally {
      await runLab('--state', 'absent')
      for (const [h, dev] of UNDERLAY) await sh(h, `ip link set dev ${dev} mtu 1500`)
      await converge()
    }
  })
})
