/**
 * Fault injection for tests of how vxlab behaves when things go wrong (issue #7): stop and start a testbed
 * host's sshd, dockerd or ovsdb-server, and replace a host's SSH host key. Every fault is applied inside
 * {@link withFault}, which holds the testbed lock (so a concurrent `ensureTestbed` of another test process
 * waits instead of "repairing" the testbed by rebuilding it) and always restores the host, even when the
 * callback throws.
 *
 * ```ts
 * await withFault({ host: 'host2', stop: 'sshd' }, async () => { ...run a playbook: host2 is unreachable... })
 * await withFault({ host: 'host2', newHostKey: true }, async ({ oldFingerprint, newFingerprint }) => { ... })
 * ```
 *
 * Services are started again exactly as the host's init started them (lib/testbed/hostinit.ts), and each
 * start waits (bounded) until the service answers. Stopping sshd stops its listener only, as
 * `systemctl stop ssh` does: open sessions live on.
 */
import { createHash } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import net from 'node:net'
import { runOk, sleep } from './exec.ts'
import { hostExec, readState, sshLoginProbe, withTestbedLock } from './lifecycle.ts'
import { hostLogDir, hostRunDir, paths } from './paths.ts'
import { nsOfHost } from './plan.ts'
import { which } from './prereq.ts'
import { listProcs, netnsInode, type ProcInfo } from './procs.ts'

/** A daemon of a testbed host that a fault can stop. */
export type FaultService = 'sshd' | 'dockerd' | 'ovsdb-server'

const STOP_TIMEOUT_MS = 20_000
const START_TIMEOUT_MS = 60_000

async function hostProcs(host: string): Promise<ProcInfo[]> {
  const ns = nsOfHost(host)
  const ino = ns === undefined ? undefined : await netnsInode(ns)
  if (ino === undefined) throw new Error(`testbed host ${host} is not running`)
  return (await listProcs()).filter((p) => p.netns === ino && p.state !== 'Z')
}

/** The processes of a service in a host: sshd's listener (not its sessions), dockerd, ovsdb-server. */
async function serviceProcs(host: string, svc: FaultService): Promise<ProcInfo[]> {
  const procs = await hostProcs(host)
  // dockerd's own containerd goes with it (a containerd left behind makes the next dockerd time out)
  if (svc === 'dockerd') return procs.filter((p) => p.comm === 'dockerd' || (p.comm === 'containerd' && p.cmdline.join(' ').includes('/var/run/docker/containerd/')))
  if (svc !== 'sshd') return procs.filter((p) => p.comm === svc)
  const sshd = procs.filter((p) => p.comm === 'sshd')
  const pids = new Set(sshd.map((p) => p.pid))
  return sshd.filter((p) => p.cmdline.join(' ').includes('[listener]') || !pids.has(p.ppid))
}

/** Whether a service of a host answers: sshd a login (host key checked), dockerd `docker info`, ovsdb `ovs-vsctl show`. */
export async function serviceAnswers(host: string, svc: FaultService): Promise<boolean> {
  if (svc === 'sshd') {
    const st = await readState()
    const ip = host === 'gw' ? st?.gateway.mgmtIp : st?.hostsList.find((h) => h.name === host)?.mgmtIp
    if (ip === undefined) throw new Error(`testbed host ${host} has no management address`)
    return (await sshLoginProbe(ip, paths(), 5_000)) === undefined
  }
  const argv = svc === 'dockerd' ? ['docker', 'info', '--format', '{{.ServerVersion}}'] : ['ovs-vsctl', '--timeout=5', 'show']
  return (await hostExec(host, argv, { timeoutMs: 15_000 })).code === 0
}

/**
 * Stop a service of a host: SIGTERM, or for dockerd SIGKILL of dockerd and its containerd (a crash: the
 * containers' shims keep them running, and the next dockerd finds them), then wait until the processes are
 * gone. Idempotent.
 */
export async function stopService(host: string, svc: FaultService): Promise<void> {
  const procs = await serviceProcs(host, svc)
  for (const p of procs) {
    try {
      process.kill(p.pid, svc === 'dockerd' ? 'SIGKILL' : 'SIGTERM')
    } catch {
      /* gone already */
    }
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while ((await serviceProcs(host, svc)).length > 0) {
    if (Date.now() > deadline) throw new Error(`${host}: ${svc} did not stop within ${STOP_TIMEOUT_MS} ms`)
    await sleep(50)
  }
}

/** Start a service of a host as its init did, unless it runs already; resolves when it answers. */
export async function startService(host: string, svc: FaultService): Promise<void> {
  if ((await serviceProcs(host, svc)).filter((p) => p.comm !== 'containerd').length === 0) {
    const H = hostRunDir(host)
    const L = hostLogDir(host)
    let argv: string[]
    if (svc === 'sshd') {
      // without -D sshd detaches itself (and re-executes itself per connection: it needs its absolute path)
      argv = [(await which('sshd')) ?? '/usr/sbin/sshd', '-f', path.join(H, 'sshd_config'), '-E', path.join(L, 'sshd.log')]
    } else if (svc === 'ovsdb-server') {
      argv = ['ovsdb-server', path.join(H, 'conf.db'), '--remote=punix:/run/openvswitch/db.sock', '--pidfile', '--detach', '--no-chdir', `--log-file=${path.join(L, 'ovsdb-server.log')}`]
    } else {
      const cg = (await readState())?.hostsList.find((h) => h.name === host)?.cgroupParent
      if (cg === undefined) throw new Error(`${host} is not a docker host of the testbed`)
      // pid files of the killed daemons go first: a killed containerd can linger as a zombie (the machine's
      // pid 1 reaps it when it does), and dockerd would wait for a "still running" containerd that never answers
      argv = ['sh', '-c', 'rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid; dockerd --config-file "$1" --iptables=false --bridge=none --ip-forward=false --ip-masq=false ' +
        '--cgroup-parent="$2" --exec-opt native.cgroupdriver=cgroupfs >>"$3" 2>&1 </dev/null &',
      'sh', path.join(H, 'daemon.json'), cg, path.join(L, 'dockerd.log')]
    }
    const r = await hostExec(host, argv, { timeoutMs: 30_000 })
    if (r.code !== 0) throw new Error(`${host}: starting ${svc} failed (exit ${r.code}): ${r.stderr.trim()}`)
  }
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!(await serviceAnswers(host, svc))) {
    if (Date.now() > deadline) throw new Error(`${host}: ${svc} does not answer ${START_TIMEOUT_MS} ms after its start`)
    await sleep(100)
  }
}

/** SHA256 fingerprint of an OpenSSH public key line, as ssh-keygen -l prints it. */
function fingerprintOf(pubLine: string): string {
  const blob = Buffer.from(pubLine.trim().split(/\s+/)[1] ?? '', 'base64')
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** What a fault callback learns: for a new host key, the fingerprints known_hosts expects and sshd now offers. */
export interface FaultInfo {
  readonly oldFingerprint?: string
  readonly newFingerprint?: string
}

export interface Fault {
  readonly host: string
  /** Stop these services for the duration of the callback. */
  readonly stop?: readonly FaultService[] | FaultService
  /** Give the host's sshd a newly generated host key (known_hosts keeps the old one). */
  readonly newHostKey?: boolean
  /** Services the callback itself may kill (e.g. a playbook that kills sshd): started again afterwards. */
  readonly ensure?: readonly FaultService[]
}

/**
 * Apply a fault to a testbed host, run `fn`, then restore the host (services started and answering, the
 * original host key back), even when `fn` throws. Holds the testbed lock throughout.
 */
export async function withFault<T>(fault: Fault, fn: (info: FaultInfo) => Promise<T>): Promise<T> {
  return withTestbedLock(async () => {
    const stops = fault.stop === undefined ? [] : typeof fault.stop === 'string' ? [fault.stop] : [...fault.stop]
    const keyFile = path.join(hostRunDir(fault.host), 'ssh_host_ed25519_key')
    let savedKey: { priv: string; pub: string } | undefined
    try {
      let info: FaultInfo = {}
      if (fault.newHostKey === true) {
        savedKey = { priv: await readFile(keyFile, 'utf8'), pub: await readFile(`${keyFile}.pub`, 'utf8') }
        await rm(keyFile, { force: true })
        await rm(`${keyFile}.pub`, { force: true })
        await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `vxlab-testbed-${fault.host}-replaced`, '-f', keyFile], { timeoutMs: 30_000 })
        info = { oldFingerprint: fingerprintOf(savedKey.pub), newFingerprint: fingerprintOf(await readFile(`${keyFile}.pub`, 'utf8')) }
        await stopService(fault.host, 'sshd')
        await startListenerOnly(fault.host)
      }
      for (const s of stops) await stopService(fault.host, s)
      return await fn(info)
    } finally {
      if (savedKey) {
        await writeFile(keyFile, savedKey.priv, { mode: 0o600 })
        await writeFile(`${keyFile}.pub`, savedKey.pub)
        await stopService(fault.host, 'sshd')
      }
      for (const s of new Set<FaultService>([...stops, ...(fault.ensure ?? []), ...(savedKey ? ['sshd' as const] : [])])) await startService(fault.host, s)
    }
  })
}

/** Start sshd without waiting for a login to succeed (it cannot while its host key differs from known_hosts). */
async function startListenerOnly(host: string): Promise<void> {
  const H = hostRunDir(host)
  const argv = [(await which('sshd')) ?? '/usr/sbin/sshd', '-f', path.join(H, 'sshd_config'), '-E', path.join(hostLogDir(host), 'sshd.log')]
  const r = await hostExec(host, argv, { timeoutMs: 30_000 })
  if (r.code !== 0) throw new Error(`${host}: starting sshd failed (exit ${r.code}): ${r.stderr.trim()}`)
  const st = await readState()
  const ip = host === 'gw' ? st?.gateway.mgmtIp : st?.hostsList.find((h) => h.name === host)?.mgmtIp
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!(await portOpen(ip ?? '', 22))) {
    if (Date.now() > deadline) throw new Error(`${host}: sshd did not start listening`)
    await sleep(50)
  }
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    const done = (ok: boolean): void => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(2_000, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}
