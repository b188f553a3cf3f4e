/**
 * Issue #7, check mode never lies and never writes, on the seed lab (playbooks/lab.ts):
 * on a fresh testbed, on the converged lab and on a lab with drift made by hand, every host is snapshotted
 * directly (not through vxlab) before and after `--check`: identical. Then apply: the changes applied are
 * exactly those check mode listed (same hosts, task keys and ops), and check mode afterwards lists none.
 *
 * Not in the snapshot: /run (tmpfs) holds the run lock file and its owner line, which every run writes,
 * check mode included: vxlab's own bookkeeping, not host state a task manages.
 */
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { RunReport } from '../../lib/core/playbook.ts'
import { ensureTestbed, hostExec, runDir } from '../../lib/testbed/index.ts'
import { run } from '../../lib/testbed/exec.ts'
import { lab } from '../../playbooks/lab.ts'
import { cli, failures } from './hostile-helpers.ts'

const HOSTS = ['gw', 'host1', 'host2']
const SYSCTL_FILE = '/etc/sysctl.d/90-vxlab-ip-forward.conf'

/** Everything the lab could change on a host, read directly. Volatile values (counters, timers, DAD flags) are left out. */
const READS: Record<string, string> = {
  'ovs-vsctl show': 'ovs-vsctl --timeout=5 show 2>&1',
  'ovs bridges': 'ovs-vsctl --timeout=5 --format=json --columns=_uuid,name,datapath_type,ports,other_config,external_ids,fail_mode list bridge 2>&1',
  'ovs ports': 'ovs-vsctl --timeout=5 --format=json --columns=_uuid,name,interfaces,tag,trunks,other_config,external_ids list port 2>&1',
  'ovs interfaces': 'ovs-vsctl --timeout=5 --format=json --columns=_uuid,name,type,options,external_ids,mtu_request,ofport_request,mac list interface 2>&1',
  'ip -j addr': "ip -j addr | sed -e 's/\"tentative\":true,//g'",
  'ip -j -d link': "ip -j -d link | sed -e 's/\"stats64\":{[^}]*}//g'",
  // IPv4 only: the kernel adds IPv6 link-local routes on its own while duplicate address detection finishes
  'ip -j route': 'ip -4 -j route show table all',
  // rules and user chains (an empty table that iptables loaded on first use is not a change); no counters
  'iptables-save': "iptables-save | grep -E '^(\\*|-A |:[^ ]+ - )' | sed -e 's/\\[[0-9]*:[0-9]*\\]//'",
  'docker ps -a': "docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.Image}} {{.State}} {{.Command}}' 2>&1",
  'docker images': "docker images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' 2>&1",
  sysctl: 'sysctl net.ipv4.ip_forward net.ipv4.conf.all.forwarding 2>&1',
  [SYSCTL_FILE]: `cat ${SYSCTL_FILE} 2>&1`,
}

/**
 * Every file written on a host under its copy-on-write /etc, /tmp and /root (the overlay upper dirs hold exactly
 * those), with size, mode and mtime. Directories without mtime: a scratch folder made and removed again (mktemp -d
 * of a batch's parallel reads) leaves its parent's mtime changed and nothing else. root's ~/.pyenv is the
 * machine's login shell at work (its rehash lock), not vxlab.
 */
async function writtenFiles(host: string): Promise<string> {
  const dir = join(runDir(), 'hosts', host)
  const r = await run(['sh', '-c', 'cd "$1" && find etc-up tmp-up root-up -path root-up/.pyenv -prune -o \\( -type d -printf "%p/ %m\\n" \\) -o -printf "%p %y %s %m %T@\\n" 2>/dev/null | sort', 'sh', dir])
  return r.stdout
}

async function snapshot(): Promise<Record<string, string>> {
  const snap: Record<string, string> = {}
  await Promise.all(HOSTS.map(async (h) => {
    for (const [name, script] of Object.entries(READS)) {
      if (h === 'gw' && (name.startsWith('ovs') || name.startsWith('docker'))) continue
      snap[`${h}: ${name}`] = (await hostExec(h, ['sh', '-c', script])).stdout
    }
    snap[`${h}: files`] = await writtenFiles(h)
  }))
  return snap
}

/** What a run changed (apply) or would change (check): "host key: op op ..." per changed task. */
function changeList(r: RunReport): string[] {
  return r.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host} ${t.key}: ${t.changes.map((c) => c.op).join(' ')}`).sort()
}

function expectSame(after: Record<string, string>, before: Record<string, string>): void {
  for (const k of Object.keys(before)) expect(after[k], `${k} changed`).toBe(before[k])
}

describe('check mode never lies, never writes (the seed lab)', () => {
  let converged: Record<string, string>
  beforeAll(async () => {
    await ensureTestbed({ hosts: 2, fresh: true })
  })

  it('fresh testbed: check mode writes nothing and lists the whole lab; apply changes exactly that list', async () => {
    const before = await snapshot()
    const check = await cli(lab, ['--check', '--diff', '-v'])
    expect(failures(check.report)).toEqual([])
    expect(check.code).toBe(0)
    expectSame(await snapshot(), before)
    const planned = changeList(check.report)
    expect(planned.length).toBeGreaterThan(20)
    expect(planned).toContain('host1 ovs.vxlanPort[vxlan1]: create')

    const apply = await cli(lab)
    expect(failures(apply.report)).toEqual([])
    expect(apply.code).toBe(0)
    expect(changeList(apply.report)).toEqual(planned)
    converged = await snapshot()
  })

  it('converged lab: check mode lists no change and writes nothing', async () => {
    const check = await cli(lab, ['--check', '--diff'])
    expect(check.code).toBe(0)
    expect(check.report.tasks.filter((t) => t.status !== 'ok')).toEqual([])
    expectSame(await snapshot(), converged)
  })

  it('drift made by hand: check mode lists exactly the repairs, writes nothing; apply makes exactly those', async () => {
    await hostExec('host2', ['ovs-vsctl', '--timeout=5', 'set', 'interface', 'vxlan1', 'options:key=5001'])
    await hostExec('host1', ['sh', '-c', 'ovs-vsctl --timeout=5 del-port br2 vxlan2 && iptables -t nat -D POSTROUTING -s 10.0.1.0/24 -j MASQUERADE'])
    await hostExec('gw', ['sh', '-c', `echo 'net.ipv4.ip_forward = 0' > ${SYSCTL_FILE}`])
    const drifted = await snapshot()
    const check = await cli(lab, ['--check'])
    expect(check.code).toBe(0)
    expectSame(await snapshot(), drifted)
    const planned = changeList(check.report)
    expect(planned).toEqual(expect.arrayContaining([
      'gw sysctl[net.ipv4.ip_forward]: update',
      'host1 ovs.vxlanPort[vxlan2]: create',
      'host2 ovs.vxlanPort[vxlan1]: update',
    ]))
    expect(planned.some((p) => p.startsWith('host1 iptables.masq['))).toBe(true)
    const apply = await cli(lab)
    expect(failures(apply.report)).toEqual([])
    expect(changeList(apply.report)).toEqual(planned)
    const after = await cli(lab, ['--check'])
    expect(after.report.tasks.filter((t) => t.status !== 'ok')).toEqual([])
  })
})
