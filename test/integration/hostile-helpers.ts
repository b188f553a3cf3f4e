/**
 * Shared pieces of the hostile-*.test.ts files (issue #7): a small playbook that touches every kind of host
 * state the lab does (OVS bridge and ports, a VXLAN tunnel, a container and its attachment, an address, an
 * iptables rule, a file) under names the lab does not use, a CLI runner that keeps output and JSON report,
 * and counts of what exists on a host, read directly (not through vxlab).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { runCli } from '../../lib/cli.ts'
import { playbook, type PlaybookDef, type RunReport } from '../../lib/core/playbook.ts'
import type { AnyTask } from '../../lib/core/task.ts'
import type { InventoryHost } from '../../lib/inventory/inventory.ts'
import { labDockerfile } from '../../lib/lab/plays.ts'
import { command } from '../../lib/tasks/command.ts'
import { containerPort, dockerContainer, dockerImage } from '../../lib/tasks/docker.ts'
import { template } from '../../lib/tasks/file.ts'
import { iptablesRule } from '../../lib/tasks/iptables.ts'
import { ipAddress } from '../../lib/tasks/net.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../../lib/tasks/ovs.ts'
import { hostExec, testbedDir } from '../../lib/testbed/index.ts'

export const work = mkdtempSync(join(tmpdir(), 'vxlab-hostile-'))
afterAll(() => rmSync(work, { recursive: true, force: true })) // (registered for the importing test file)

/** Where the kill task leaves its mark (in the host's own /run), so a rerun does not kill again. */
export const KILLED_MARK = '/run/vxlab-hostile-killed'
export const HOSTILE_FILE = '/etc/vxlab-hostile.conf'

/** Every sshd process in the calling host's network namespace (hosts share the machine's pid namespace: never `pkill`). */
export const KILL_SSHD_SCRIPT = [
  'touch "$1"',
  'me=$(readlink /proc/self/ns/net)',
  'for p in /proc/[0-9]*; do',
  '  [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] || continue',
  '  [ "$(cat "$p/comm" 2>/dev/null)" = sshd ] && kill -9 "${p#/proc/}" 2>/dev/null',
  'done',
  'sleep 5', // the session is gone by now; never reached "normally"
].join('\n')

/** The lab image, with exactly the lab's inputs (so it is not rebuilt when the lab built it). */
export function labImage(host: InventoryHost): AnyTask {
  return dockerImage({
    name: 'con_img',
    context: host.vars.string('lab_image_context'),
    dockerfile: { text: labDockerfile('scratch') },
  })
}

export interface HostileOptions {
  /** Insert a task that kills every sshd of this host after the container and iptables tasks. */
  readonly killSshdOn?: string
  readonly state?: 'present' | 'absent'
}

/**
 * The hostile playbook on docker_hosts: image, bridge hxbr, internal port hxint with 10.99.N.1/24, tunnel
 * hxvx (key 4242) to the other host, container hxc, an iptables rule, [kill sshd], the container's port
 * (10.99.N.10/24), a file. `state: 'absent'` removes it all.
 */
export function hostileBook(o: HostileOptions = {}): PlaybookDef {
  return playbook({
    name: 'hostile',
    plays: [{
      name: 'hostile',
      hosts: 'docker_hosts',
      tasks: (host, { inventory }) => {
        const n = host.name.replace(/\D/g, '')
        const peer = inventory.groupHosts('docker_hosts').find((h) => h.name !== host.name)!
        const dp = host.vars.oneOf('ovs_datapath_type', ['system', 'netdev'] as const, 'system')
        const rule = ['-i', 'hxint', '-s', `10.99.${n}.0/24`, '-j', 'ACCEPT']
        if (o.state === 'absent') {
          return [
            command({ name: 'rm files', argv: ['rm', '-f', HOSTILE_FILE, KILLED_MARK], unless: ['sh', '-c', '! test -e "$0" && ! test -e "$1"', HOSTILE_FILE, KILLED_MARK] }),
            containerPort({ bridge: 'hxbr', container: 'hxc', ensure: 'absent' }),
            dockerContainer({ name: 'hxc', image: 'con_img', network: 'none', state: 'absent' }),
            iptablesRule({ chain: 'FORWARD', rule, ensure: 'absent' }),
            ovsBridge({ name: 'hxbr', ensure: 'absent' }),
          ]
        }
        return [
          labImage(host),
          ovsBridge({ name: 'hxbr', datapathType: dp }),
          ovsPort({ bridge: 'hxbr', name: 'hxint', type: 'internal' }),
          vxlanPort({ bridge: 'hxbr', name: 'hxvx', remoteIp: peer.vars.ipv4('underlay_ip'), key: 4242 }),
          dockerContainer({ name: 'hxc', image: 'con_img', network: 'none' }),
          iptablesRule({ chain: 'FORWARD', rule }),
          ...(o.killSshdOn === host.name ? [command({ name: 'kill sshd', script: KILL_SSHD_SCRIPT, args: [KILLED_MARK], creates: KILLED_MARK })] : []),
          containerPort({ bridge: 'hxbr', container: 'hxc', address: `10.99.${n}.10/24`, gateway: `10.99.${n}.1` }),
          ipAddress({ dev: 'hxint', address: `10.99.${n}.1/24` }),
          template({ dest: HOSTILE_FILE, src: { inline: 'host {{name}}\n' }, vars: { name: host.name } }),
        ]
      },
    }],
  })
}

export interface CliRun {
  readonly code: number
  readonly out: string
  readonly report: RunReport
  readonly ms: number
}

let runs = 0
/** Run a playbook through the CLI against the testbed inventory (or `-i` in args), with a JSON report. */
export async function cli(pb: PlaybookDef, args: readonly string[] = [], opts: { inventory?: string } = {}): Promise<CliRun> {
  let out = ''
  mkdirSync(work, { recursive: true })
  const json = join(work, `report-${runs++}.json`)
  const t0 = Date.now()
  const code = await runCli(pb, ['-i', opts.inventory ?? join(testbedDir(), 'inventory.yml'), '--json', json, ...args], { out: (s) => (out += s), err: (s) => (out += s) })
  const ms = Date.now() - t0
  if (!existsSync(json)) throw new Error(`no report (exit ${code}):\n${out}`)
  return { code, out, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport, ms }
}

/** Failed tasks as "host key: error" lines (for assertion messages). */
export function failures(r: RunReport): string[] {
  return r.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.key}: ${t.error ?? ''}`)
}

async function sh(host: string, script: string): Promise<string> {
  const r = await hostExec(host, ['sh', '-c', script])
  return r.stdout.trim()
}

/** What the hostile playbook made on a host, counted directly: each must be exactly 1 when converged. */
export async function hostileCounts(host: string): Promise<Record<string, unknown>> {
  const n = host.replace(/\D/g, '')
  return {
    ports: (await sh(host, 'ovs-vsctl --timeout=5 list-ports hxbr 2>/dev/null | sort')).split('\n').filter((p) => p !== '').map((p) => (p === 'hxint' || p === 'hxvx' ? p : 'container port')).sort(),
    bridges: Number(await sh(host, 'ovs-vsctl --timeout=5 list-br | grep -cx hxbr')),
    rules: Number(await sh(host, `iptables-save -t filter | grep -c -- '-A FORWARD -s 10.99.${n}.0/24 -i hxint -j ACCEPT'`)),
    containers: Number(await sh(host, "docker ps -a --format '{{.Names}}' | grep -cx hxc")),
    running: await sh(host, "docker inspect -f '{{.State.Running}}' hxc 2>/dev/null"),
    addresses: Number(await sh(host, `ip -o -4 addr show dev hxint 2>/dev/null | grep -c '10.99.${n}.1/24'`)),
    containerAddr: await sh(host, `pid=$(docker inspect -f '{{.State.Pid}}' hxc 2>/dev/null) && nsenter -t "$pid" -n ip -o -4 addr show dev eth0 | awk '{print $4}'`),
    attachments: Number(await sh(host, 'ovs-vsctl --timeout=5 --format=csv --no-headings --columns=name find Interface external_ids:container_id=hxc | wc -l')),
    file: await sh(host, `cat ${HOSTILE_FILE} 2>/dev/null`),
  }
}

/** Remove everything the hostile playbook made on both docker hosts (through vxlab itself, then checked). */
export async function cleanupHostile(): Promise<void> {
  const r = await cli(hostileBook({ state: 'absent' }))
  if (r.code !== 0) throw new Error(`hostile cleanup failed:\n${failures(r.report).join('\n')}\n${r.out}`)
}
