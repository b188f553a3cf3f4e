/**
 * up / down / status / ensureTestbed / hostExec: the testbed's life cycle.
 * See lib/testbed/README.md for the layout and the pitfalls each step handles.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { chmod, copyFile, mkdir, open, readdir, readFile, readlink, realpath, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { NodeSSH } from 'node-ssh'
import pLimit from 'p-limit'
import { cleanEnv, run, runOk, sleep, type RunResult } from './exec.ts'
import { inventoryYaml, knownHostsText, writeAtomic } from './files.ts'
import {
  batchFile,
  dockerHostInit,
  DOCKERD_CONFIG,
  externalInit,
  gatewayInit,
  INET_INDEX_HTML,
  livePaths,
  sshdConfig,
  WHOAMI_CGI,
} from './hostinit.ts'
import { ensureImageContext } from './image.ts'
import { hostLogDir, hostRunDir, paths, projectRoot, type TestbedPaths } from './paths.ts'
import {
  INET_IP,
  MGMT_BRIDGE,
  MGMT_CONTROLLER_IP,
  MGMT_LINK_RE,
  MGMT_PREFIX_LEN,
  NS_NAME_RE,
  nsOfHost,
  planTestbed,
  rootBatch,
  UNDERLAY_BRIDGE,
  UNDERLAY_IFACE,
  type DockerHostPlan,
  type TestbedPlan,
} from './plan.ts'
import { checkPrerequisites, PrerequisiteError, which } from './prereq.ts'
import { killTestbedProcs, listProcs, netnsInode, removeTestbedCgroups } from './procs.ts'

// ---------------------------------------------------------------------------------------------
// Shapes

/** One docker host of a running testbed (state.json `hostsList[]`). */
export interface TestbedHostInfo {
  /** inventory name: host1, host2, ... */
  name: string
  /** network namespace: vx-h1, ... */
  ns: string
  /** management address (what the controller connects to): 172.16.99.(100+N) */
  mgmtIp: string
  /** underlay address, on br-phy: 172.16.(10N).100 (N <= 25) or 172.17.N.100 */
  underlayIp: string
  /** the host's default gateway: gw's end of the underlay link */
  underlayGateway: string
  underlayPrefixLen: number
  underlayIface: string
  underlayBridge: string
  /** gw's interface towards this host (gw-hN) */
  gwIface: string
  /** docker --cgroup-parent (absent in light mode) */
  cgroupParent: string
  /** init pid (sshd): `nsenter -t <pid> -n -m -u` enters the host */
  pid: number
}

/**
 * A running testbed, as returned by `up`/`ensureTestbed` and stored in `.testbed/state.json`:
 * ```
 * { version: 1, id, hosts: N, light, createdAt, upMs,
 *   dir, runDir, inventory, knownHosts, privateKey, imageContext, statePath,   // absolute paths
 *   mgmt: {bridge: 'vx-mgmt', controllerIp: '172.16.99.1', prefixLen: 24},
 *   gateway: {name: 'gw', ns: 'vx-gw', mgmtIp: '172.16.99.254', wanIface: 'wan', wanIp: '203.0.113.254', underlayIfaces: ['gw-h1', ...], pid},
 *   external: {name: 'inet', ns: 'vx-inet', ip: '203.0.113.10', url: 'http://203.0.113.10/', whoamiUrl: '.../cgi-bin/whoami', pid},
 *   hostsList: [{name: 'host1', ns: 'vx-h1', mgmtIp, underlayIp, ...TestbedHostInfo}],
 *   image: {context, iputilsPing} }
 * ```
 */
export interface TestbedInfo {
  version: 1
  /** random id of this `up`; run dir's current.json names the id that owns the vx-* namespaces */
  id: string
  hosts: number
  light: boolean
  createdAt: string
  upMs: number
  dir: string
  runDir: string
  inventory: string
  knownHosts: string
  privateKey: string
  imageContext: string
  statePath: string
  mgmt: { bridge: string; controllerIp: string; prefixLen: number }
  gateway: {
    name: 'gw'
    ns: string
    mgmtIp: string
    wanIface: string
    wanIp: string
    underlayIfaces: string[]
    pid: number
  }
  external: { name: 'inet'; ns: string; ip: string; url: string; whoamiUrl: string; pid: number }
  hostsList: TestbedHostInfo[]
  image: { context: string; iputilsPing: boolean }
}

export type ServiceName = 'process' | 'sshd' | 'ovsdb' | 'docker' | 'httpd'

export interface ServiceStatus {
  name: ServiceName
  ok: boolean
  /** what answered, or why not */
  detail: string
}

/** `status()` entry: one per testbed host (gw, host1..N, inet). */
export interface HostStatus {
  name: string
  role: 'gateway' | 'docker' | 'external'
  ns: string
  /** absent for inet (no management link) */
  mgmtIp?: string
  /** gw: its wan address; inet: 203.0.113.10 */
  underlayIp: string
  ok: boolean
  services: ServiceStatus[]
}

export interface UpOptions {
  /** docker hosts (default 2, max 150) */
  hosts?: number
  /** hosts with sshd and OVS but no dockerd (scale benchmarks) */
  light?: boolean
  /** progress lines (default: silent) */
  log?: (line: string) => void
}

// ---------------------------------------------------------------------------------------------
// Lock: up/down/ensureTestbed of concurrent processes (test files, CLI) take turns.

/** Set inside a locked section: nested up/down/ensureTestbed calls of the same async flow re-enter. */
const lockHeld = new AsyncLocalStorage<true>()
/** In-process queue: concurrent calls of one process take turns before the file lock. */
let lockQueue: Promise<unknown> = Promise.resolve()

async function pidAlive(pid: number): Promise<boolean> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return s !== '' && s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) !== 'Z'
}

async function acquireFileLock(p: TestbedPaths, log: (l: string) => void): Promise<void> {
  await mkdir(p.run, { recursive: true })
  const deadline = Date.now() + 15 * 60_000
  let said = false
  for (;;) {
    try {
      const fh = await open(p.lock, 'wx')
      await fh.writeFile(`${process.pid}\n`)
      await fh.close()
      return
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const holder = Number((await readFile(p.lock, 'utf8').catch(() => '')).trim())
      if (!Number.isInteger(holder) || holder <= 0 || holder === process.pid || !(await pidAlive(holder))) {
        await unlink(p.lock).catch(() => {})
        continue
      }
      if (Date.now() > deadline) throw new Error(`testbed is locked by pid ${holder} (${p.lock}) for more than 15 min`)
      if (!said) {
        log(`waiting for pid ${holder}, which holds the testbed lock ${p.lock}`)
        said = true
      }
      await sleep(250)
    }
  }
}

async function withLock<T>(fn: () => Promise<T>, log: (l: string) => void = () => {}): Promise<T> {
  if (lockHeld.getStore()) return fn()
  const turn = lockQueue.then(async () => {
    const p = paths()
    await acquireFileLock(p, log)
    try {
      return await lockHeld.run(true, fn)
    } finally {
      await unlink(p.lock).catch(() => {})
    }
  })
  lockQueue = turn.catch(() => {})
  return turn
}

/**
 * Run `fn` holding the testbed lock: `up`/`down`/`ensureTestbed` of other processes wait until it ends
 * (fault injection uses it, so nobody rebuilds a testbed whose host is broken on purpose). Re-entrant in `fn`.
 */
export function withTestbedLock<T>(fn: () => Promise<T>): Promise<T> {
  return withLock(fn)
}

// ---------------------------------------------------------------------------------------------
// Host pids and hostExec

/** init pids by host name, learnt at spawn or from state.json; always re-validated before use */
const knownPids = new Map<string, number>()

async function pidInNetns(pid: number, ino: number): Promise<boolean> {
  try {
    const link = await readlink(`/proc/${pid}/ns/net`)
    return link === `net:[${ino}]` && (await pidAlive(pid))
  } catch {
    return false
  }
}

/**
 * The init pid of a testbed host ('gw', 'inet', 'host<N>'): from memory or state.json, checked against
 * the host's network namespace; else the root of the process tree inside that namespace.
 */
export async function hostPid(name: string): Promise<number> {
  const ns = nsOfHost(name)
  if (!ns) throw new Error(`not a testbed host name: ${JSON.stringify(name)} (gw, inet, host1, host2, ...)`)
  const ino = await netnsInode(ns)
  if (ino === undefined) throw new Error(`testbed host ${name} is not running (no network namespace ${ns})`)
  const candidates: number[] = []
  const mem = knownPids.get(name)
  if (mem) candidates.push(mem)
  const st = await readState()
  if (st) {
    const fromState =
      name === 'gw' ? st.gateway.pid : name === 'inet' ? st.external.pid : st.hostsList.find((h) => h.name === name)?.pid
    if (fromState) candidates.push(fromState)
  }
  for (const pid of candidates) {
    if (await pidInNetns(pid, ino)) {
      knownPids.set(name, pid)
      return pid
    }
  }
  const procs = (await listProcs()).filter((p) => p.netns === ino && p.state !== 'Z')
  const inside = new Set(procs.map((p) => p.pid))
  const root = procs.filter((p) => !inside.has(p.ppid)).sort((a, b) => a.pid - b.pid)[0]
  if (!root) throw new Error(`testbed host ${name} is not running (no process in ${ns})`)
  knownPids.set(name, root.pid)
  return root.pid
}

export interface HostExecOptions {
  /** default 60 s; the program is killed after it (code 124) */
  timeoutMs?: number
  /** written to the program's stdin */
  input?: string
}

/**
 * Runs argv inside a testbed host's network, mount and UTS namespaces (nsenter into its init
 * process), without SSH. `ovs-vsctl`, `docker`, `ip` work there with their default paths.
 * Never throws for a non-zero exit: check `code`.
 */
export async function hostExec(
  name: string,
  argv: string[],
  opts: HostExecOptions = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  if (argv.length === 0) throw new Error('hostExec: empty argv')
  const pid = await hostPid(name)
  const o: { timeoutMs: number; input?: string } = { timeoutMs: opts.timeoutMs ?? 60_000 }
  if (opts.input !== undefined) o.input = opts.input
  return run(['nsenter', '-t', String(pid), '-n', '-m', '-u', ...argv], o)
}

// ---------------------------------------------------------------------------------------------
// State files

/** Reads `.testbed/state.json`; undefined when absent or unreadable. */
export async function readState(): Promise<TestbedInfo | undefined> {
  try {
    const s = JSON.parse(await readFile(paths().state, 'utf8')) as TestbedInfo
    return s.version === 1 ? s : undefined
  } catch {
    return undefined
  }
}

interface CurrentOwner {
  id: string
  dir: string
  /** /run/netns was not a mount point before this testbed: `down` unmounts it when empty */
  madeNetnsMount: boolean
  /** /run/netns did not exist before this testbed: `down` removes it when empty */
  madeNetnsDir: boolean
}

async function readCurrent(p: TestbedPaths): Promise<CurrentOwner | undefined> {
  try {
    return JSON.parse(await readFile(p.current, 'utf8')) as CurrentOwner
  } catch {
    return undefined
  }
}

async function isMountPoint(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  return info.split('\n').some((l) => l.split(' ')[4] === dir)
}

// ---------------------------------------------------------------------------------------------
// SSH helpers

/**
 * `ssh` options for the testbed: strict host key checking against `.testbed/known_hosts`, the
 * testbed client key, no user config. Usage: `['ssh', ...sshOptions(), 'root@172.16.99.101', 'cmd']`.
 */
export function sshOptions(p: { knownHosts: string; privateKey: string } = paths()): string[] {
  return [
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${p.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=5',
    '-o', 'LogLevel=ERROR',
    '-i', p.privateKey,
  ]
}

/** Host keys by address from a known_hosts file (plain `<ip> <type> <base64>` lines, as `up` writes). */
async function knownHostKeys(file: string): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>()
  for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) {
    const [host, , key] = line.trim().split(/\s+/)
    if (host && key && !host.startsWith('#')) m.set(host, Buffer.from(key, 'base64'))
  }
  return m
}

/**
 * One SSH login as root running `true`, in-process (node-ssh), with the host key checked against
 * `.testbed/known_hosts` (a mismatch fails). Cheaper than spawning `ssh` when polling many hosts.
 * Returns undefined on success, else the reason.
 */
export async function sshLoginProbe(
  ip: string,
  p: { knownHosts: string; privateKey: string } = paths(),
  timeoutMs = 10_000,
): Promise<string | undefined> {
  const expected = (await knownHostKeys(p.knownHosts)).get(ip)
  if (!expected) return `${ip} is not in ${p.knownHosts}`
  const ssh = new NodeSSH()
  let mismatch = false
  try {
    await ssh.connect({
      host: ip,
      port: 22,
      username: 'root',
      privateKeyPath: p.privateKey,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        mismatch = !key.equals(expected)
        return !mismatch
      },
    })
    const r = await ssh.execCommand('true')
    return r.code === 0 ? undefined : `ssh ${ip} true: exit ${String(r.code)} ${r.stderr}`
  } catch (e) {
    return mismatch ? `host key of ${ip} does not match ${p.knownHosts}` : `ssh ${ip}: ${(e as Error).message}`
  } finally {
    ssh.dispose()
  }
}

function tcpOpen(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    const done = (err: string | undefined) => {
      s.removeAllListeners()
      s.destroy()
      resolve(err)
    }
    s.setTimeout(timeoutMs, () => done(`timeout after ${timeoutMs} ms`))
    s.once('connect', () => done(undefined))
    s.once('error', (e) => done(e.message))
  })
}

// ---------------------------------------------------------------------------------------------
// down

async function linksOfRootNs(): Promise<string[]> {
  const out = await runOk(['ip', '-j', 'link', 'show'], { timeoutMs: 20_000 })
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname)
}

async function downUnlocked(log: (l: string) => void): Promise<void> {
  const p = paths()
  const t0 = Date.now()
  const names = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => NS_NAME_RE.test(n))
  const inodes = new Set<number>()
  for (const n of names) {
    const ino = await netnsInode(n)
    if (ino !== undefined) inodes.add(ino)
  }
  // 1. every process: daemons, sessions, containerd shims and container processes (by cgroup)
  const killed = await killTestbedProcs(inodes)
  knownPids.clear()
  // 2. namespaces, then the management bridge and any veth end left in the root namespace
  if (names.length > 0) {
    const r = await run(['ip', '-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}\n`).join(''), timeoutMs: 60_000 })
    if (r.code !== 0) log(`warning: ip netns del: ${r.stderr.trim()}`)
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    const left = (await linksOfRootNs()).filter((l) => l === MGMT_BRIDGE || MGMT_LINK_RE.test(l))
    if (left.length === 0) break
    for (const l of left) await run(['ip', 'link', 'del', l], { timeoutMs: 10_000 })
    if (Date.now() > deadline) throw new Error(`testbed down: links remain in the root namespace: ${left.join(', ')}`)
    await sleep(50)
  }
  // 3. cgroups docker made for containers
  await removeTestbedCgroups()
  // 4. /run/netns itself, if this testbed made it a mount point and nothing else uses it
  const cur = await readCurrent(p)
  if ((await readdir('/run/netns').catch(() => ['?'])).length === 0) {
    if (cur?.madeNetnsMount && (await isMountPoint('/run/netns'))) await run(['umount', '/run/netns'], { timeoutMs: 10_000 })
    if (cur?.madeNetnsDir && !(await isMountPoint('/run/netns'))) await rmdir('/run/netns').catch(() => {})
  }
  // 5. host state (logs stay in run/logs for post-mortems), client files
  await rm(path.join(p.run, 'hosts'), { recursive: true, force: true })
  await rm(p.current, { force: true })
  for (const f of [p.state, p.inventory, p.knownHosts]) await rm(f, { force: true })
  if (names.length > 0 || killed > 0) log(`testbed down: ${names.length} namespaces, ${killed} processes, ${Date.now() - t0} ms`)
}

/** Tears the testbed down: no namespaces, links, processes, mounts or cgroups left. Idempotent. */
export async function down(opts: { log?: (line: string) => void } = {}): Promise<void> {
  const log = opts.log ?? (() => {})
  await withLock(() => downUnlocked(log), log)
}

// ---------------------------------------------------------------------------------------------
// up

interface Runtime {
  name: string
  role: 'gateway' | 'docker' | 'external'
  ns: string
  mgmtIp?: string
  hostDir: string
  logDir: string
  initPath: string
  pid: number
  exited?: { code: number | null; signal: string | null }
}

/** Failure of one host's service during `up`: names host and service, carries the log tails. */
export class TestbedStartError extends Error {
  constructor(
    readonly host: string,
    readonly service: string,
    message: string,
  ) {
    super(message)
    this.name = 'TestbedStartError'
  }
}

async function tail(file: string, lines = 25): Promise<string> {
  const text = await readFile(file, 'utf8').catch((e: Error) => `(cannot read: ${e.message})`)
  return text.split('\n').slice(-lines - 1).join('\n')
}

async function failure(rt: Runtime, service: string, why: string, logs: string[]): Promise<TestbedStartError> {
  const parts = [`testbed host ${rt.name}: ${service} ${why}`]
  for (const l of logs) {
    const f = path.join(rt.logDir, l)
    parts.push(`--- tail of ${f} ---\n${await tail(f)}`)
  }
  return new TestbedStartError(rt.name, service, parts.join('\n'))
}

/** Polls `probe` until it returns undefined (= ready); bounded by `deadline`; fails fast if init died. */
async function poll(
  rt: Runtime,
  service: string,
  logs: string[],
  deadline: number,
  probe: () => Promise<string | undefined>,
): Promise<void> {
  let last = ''
  let delay = 50
  for (;;) {
    if (rt.exited) {
      throw await failure(rt, service, `cannot start: the host's init exited (code ${rt.exited.code ?? '-'}, signal ${rt.exited.signal ?? '-'})`, ['init.log', ...logs.filter((l) => l !== 'init.log')])
    }
    const err = await probe()
    if (err === undefined) return
    last = err
    if (Date.now() > deadline) {
      throw await failure(rt, service, `did not answer in time (last error: ${last.trim().split('\n').slice(-3).join(' | ')})`, logs)
    }
    await sleep(delay)
    delay = Math.min(500, delay * 2)
  }
}

function resultError(r: RunResult): string | undefined {
  return r.code === 0 ? undefined : `exit ${r.code}: ${(r.stderr || r.stdout).trim()}`
}

async function waitReady(
  rt: Runtime,
  plan: TestbedPlan,
  p: TestbedPaths,
  deadline: number,
  limits: { ssh: ReturnType<typeof pLimit>; exec: ReturnType<typeof pLimit> },
): Promise<void> {
  const exec = (argv: string[], timeoutMs = 10_000) =>
    limits.exec(() => run(['nsenter', '-t', String(rt.pid), '-n', '-m', '-u', ...argv], { timeoutMs }))
  if (rt.role === 'external') {
    const busybox = (await which('busybox')) ?? 'busybox'
    await poll(rt, 'httpd', ['init.log'], deadline, async () => {
      const r = await exec([busybox, 'timeout', '5', busybox, 'wget', '-q', '-O', '-', `http://${INET_IP}/cgi-bin/whoami`])
      if (r.code !== 0) return resultError(r)
      return r.stdout.trim() === INET_IP ? undefined : `whoami answered ${JSON.stringify(r.stdout.trim())}`
    })
    return
  }
  const ip = rt.mgmtIp ?? ''
  await poll(rt, 'sshd', ['init.log', 'sshd.log'], deadline, () => tcpOpen(ip, 22, 2_000))
  await poll(rt, 'sshd', ['init.log', 'sshd.log'], deadline, () => limits.ssh(() => sshLoginProbe(ip, p)))
  if (rt.role !== 'docker') return
  await poll(rt, 'ovsdb', ['init.log', 'ovsdb-server.log', 'ovs-vswitchd.log'], deadline, async () =>
    resultError(await exec(['ovs-vsctl', '--timeout=5', 'show'])),
  )
  if (plan.light) return
  await poll(rt, 'docker', ['dockerd.log'], deadline, async () =>
    resultError(await exec(['docker', 'info', '--format', '{{.ServerVersion}}'], 20_000)),
  )
}

function spawnInit(rt: Runtime): void {
  const fd = openSync(path.join(rt.logDir, 'init.log'), 'a')
  try {
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${rt.ns}`, 'unshare', '-m', '-u', '--propagation', 'private', '/bin/sh', rt.initPath],
      { detached: true, stdio: ['ignore', fd, fd], env: cleanEnv(), cwd: '/' },
    )
    if (child.pid === undefined) throw new Error(`cannot start testbed host ${rt.name}: spawn nsenter failed`)
    rt.pid = child.pid
    child.on('exit', (code, signal) => {
      rt.exited = { code, signal }
    })
    child.on('error', () => {
      rt.exited = { code: null, signal: null }
    })
    child.unref()
  } finally {
    closeSync(fd)
  }
}

async function prepareHost(rt: Runtime, files: { init: string; batch: string; sshd?: string }, p: TestbedPaths): Promise<void> {
  await rm(rt.hostDir, { recursive: true, force: true })
  await rm(rt.logDir, { recursive: true, force: true })
  await mkdir(rt.hostDir, { recursive: true, mode: 0o700 })
  await mkdir(rt.logDir, { recursive: true })
  await writeFile(rt.initPath, files.init, { mode: 0o700 })
  await writeFile(path.join(rt.hostDir, 'net.batch'), files.batch)
  if (files.sshd !== undefined) {
    await writeFile(path.join(rt.hostDir, 'sshd_config'), files.sshd)
    await copyFile(p.publicKey, path.join(rt.hostDir, 'authorized_keys'))
    await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `vxlab-testbed-${rt.name}`, '-f', path.join(rt.hostDir, 'ssh_host_ed25519_key')], { timeoutMs: 30_000 })
  }
}

/**
 * Builds the testbed from scratch (an earlier one is torn down first): gw, `hosts` docker hosts,
 * inet, the management network; writes inventory.yml, known_hosts, state.json and the lab image
 * context into `.testbed/`. Resolves when every service answers; on failure the error names the host
 * and service and carries its log tail (and the half-built testbed is torn down unless
 * VXLAB_KEEP_TESTBED=1).
 */
export async function up(opts: UpOptions = {}): Promise<TestbedInfo> {
  const log = opts.log ?? (() => {})
  const plan = planTestbed(opts)
  const pre = await checkPrerequisites()
  if (!pre.ok) throw new PrerequisiteError(pre)
  for (const w of pre.warnings) log(`warning: ${w}`)
  return withLock(async () => {
    const t0 = Date.now()
    // one testbed per machine: say so when it belonged to another checkout
    const cur = await readCurrent(paths())
    if (cur && cur.dir !== paths().dir) log(`replacing the testbed of another checkout (${cur.dir}): one testbed per machine`)
    await downUnlocked(log)
    try {
      return await upUnlocked(plan, log, t0)
    } catch (e) {
      if (process.env['VXLAB_KEEP_TESTBED'] !== '1') {
        await downUnlocked(log).catch((d: unknown) => log(`warning: cleanup after failed up: ${String(d)}`))
      }
      throw e
    }
  }, log)
}

async function upUnlocked(plan: TestbedPlan, log: (l: string) => void, t0: number): Promise<TestbedInfo> {
  const p = paths()
  const id = `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`
  log(`testbed up: gw + ${plan.hosts} ${plan.light ? 'light ' : ''}docker host${plan.hosts > 1 ? 's' : ''} + inet (state ${p.run}, client files ${p.dir})`)

  await mkdir(p.dir, { recursive: true })
  await mkdir(p.clientDir, { recursive: true, mode: 0o700 })
  await chmod(p.clientDir, 0o700)
  await mkdir(path.join(p.run, 'hosts'), { recursive: true, mode: 0o700 })
  await mkdir(path.join(p.run, 'logs'), { recursive: true })
  if (!plan.light) {
    // mount points for each host's own docker/containerd dirs (created if absent, as the docker.io service would)
    await mkdir('/var/lib/docker', { recursive: true, mode: 0o710 })
    await mkdir('/var/lib/containerd', { recursive: true, mode: 0o711 })
  }
  const haveKey = await stat(p.privateKey).then(() => stat(p.publicKey)).then(() => true, () => false)
  if (!haveKey) {
    await rm(p.privateKey, { force: true })
    await rm(p.publicKey, { force: true })
    await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'vxlab-testbed-client', '-f', p.privateKey], { timeoutMs: 30_000 })
  }
  // The image context is only read later (docker build by the lab): build it while hosts start.
  const image = ensureImageContext(p.image, p.imageStamp)
  image.catch(() => {}) // awaited below; avoid an unhandled rejection meanwhile

  const busybox = (await which('busybox')) ?? 'busybox'
  const sshd = (await which('sshd')) ?? '/usr/sbin/sshd'
  const live = livePaths([await realpath(projectRoot()), await realpath(p.dir)])
  const mk = (name: string, role: Runtime['role'], ns: string, mgmtIp?: string): Runtime => {
    const hostDir = hostRunDir(name)
    const rt: Runtime = { name, role, ns, hostDir, logDir: hostLogDir(name), initPath: path.join(hostDir, 'init.sh'), pid: 0 }
    if (mgmtIp !== undefined) rt.mgmtIp = mgmtIp
    return rt
  }
  const gwRt = mk('gw', 'gateway', plan.gateway.ns, plan.gateway.mgmtIp)
  const inetRt = mk('inet', 'external', plan.external.ns)
  const hostRts = plan.dockerHosts.map((h) => ({ h, rt: mk(h.name, 'docker', h.ns, h.mgmtIp) }))
  const all = [gwRt, inetRt, ...hostRts.map((x) => x.rt)]

  // 1. files of every host (keys, configs, init scripts), in parallel
  const prep = pLimit(8)
  const filesOf = (rt: Runtime, h?: DockerHostPlan) => {
    const f = { hostDir: rt.hostDir, logDir: rt.logDir, live, sshd }
    if (rt.role === 'gateway') return { init: gatewayInit(plan, f), batch: batchFile(plan, 'gw'), sshd: sshdConfig(rt.name, f) }
    if (rt.role === 'external') return { init: externalInit(plan, f, busybox), batch: batchFile(plan, 'inet') }
    if (!h) throw new Error('docker host without plan')
    return { init: dockerHostInit(plan, h, f), batch: batchFile(plan, h), sshd: sshdConfig(rt.name, f) }
  }
  await Promise.all([
    prep(() => prepareHost(gwRt, filesOf(gwRt), p)),
    prep(async () => {
      await prepareHost(inetRt, filesOf(inetRt), p)
      const www = path.join(inetRt.hostDir, 'www')
      await mkdir(path.join(www, 'cgi-bin'), { recursive: true })
      await chmod(inetRt.hostDir, 0o755)
      await writeFile(path.join(www, 'index.html'), INET_INDEX_HTML)
      await writeFile(path.join(www, 'cgi-bin', 'whoami'), WHOAMI_CGI, { mode: 0o755 })
    }),
    ...hostRts.map(({ h, rt }) =>
      prep(async () => {
        await prepareHost(rt, filesOf(rt, h), p)
        if (!plan.light) {
          await writeFile(path.join(rt.hostDir, 'daemon.json'), DOCKERD_CONFIG)
          await mkdir(path.join(rt.hostDir, 'docker'), { mode: 0o710 })
          await mkdir(path.join(rt.hostDir, 'containerd'), { mode: 0o711 })
        }
      }),
    ),
  ])
  log(`  host files ready (${Date.now() - t0} ms)`)

  // 2. namespaces, management bridge and veths: one `ip -batch` in the root namespace
  const madeNetnsMount = !(await isMountPoint('/run/netns'))
  const madeNetnsDir = !(await stat('/run/netns').then(() => true, () => false))
  const current: CurrentOwner = { id, dir: p.dir, madeNetnsMount, madeNetnsDir }
  await writeAtomic(p.current, `${JSON.stringify(current)}\n`)
  const batch = rootBatch(plan)
  const r = await run(['ip', '-batch', '-'], { input: `${batch.join('\n')}\n`, timeoutMs: 120_000 })
  if (r.code !== 0) throw new Error(`testbed up: creating namespaces and links failed: ${r.stderr.trim()}`)
  log(`  ${2 + plan.hosts} namespaces and ${plan.hosts * 2 + 2} veth pairs (${Date.now() - t0} ms)`)

  // 3. known_hosts and inventory (readiness checks use known_hosts)
  const sshHosts = [gwRt, ...hostRts.map((x) => x.rt)]
  const pubs = await Promise.all(sshHosts.map((rt) => readFile(path.join(rt.hostDir, 'ssh_host_ed25519_key.pub'), 'utf8')))
  await writeAtomic(p.knownHosts, knownHostsText(sshHosts.map((rt, i) => ({ ip: rt.mgmtIp ?? '', publicKey: pubs[i] ?? '' }))))
  await writeAtomic(p.inventory, inventoryYaml(plan, { privateKey: p.privateKey, knownHosts: p.knownHosts, image: p.image }))

  // 4. start every host, then poll every service until it answers (bounded, concurrent)
  for (const rt of all) {
    spawnInit(rt)
    knownPids.set(rt.name, rt.pid)
  }
  const timeoutMs = Number(process.env['VXLAB_TESTBED_TIMEOUT_MS'] ?? '') || 60_000 + 1_000 * plan.hosts
  const deadline = Date.now() + timeoutMs
  const limits = { ssh: pLimit(6), exec: pLimit(8) }
  const results = await Promise.allSettled(
    all.map((rt) => waitReady(rt, plan, p, deadline, limits).then(() => rt.name)),
  )
  const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason as Error)
  if (failed.length > 0) {
    const first = failed[0]
    if (failed.length > 1 && first) first.message += `\n(${failed.length - 1} more host(s) failed too: ${failed.slice(1).map((e) => (e instanceof TestbedStartError ? `${e.host}/${e.service}` : e.message.split('\n')[0])).join(', ')})`
    throw first
  }
  log(`  every service answers (${Date.now() - t0} ms)`)
  const img = await image

  // 5. state.json
  const info: TestbedInfo = {
    version: 1,
    id,
    hosts: plan.hosts,
    light: plan.light,
    createdAt: new Date().toISOString(),
    upMs: Date.now() - t0,
    dir: p.dir,
    runDir: p.run,
    inventory: p.inventory,
    knownHosts: p.knownHosts,
    privateKey: p.privateKey,
    imageContext: p.image,
    statePath: p.state,
    mgmt: { bridge: MGMT_BRIDGE, controllerIp: MGMT_CONTROLLER_IP, prefixLen: MGMT_PREFIX_LEN },
    gateway: {
      name: 'gw',
      ns: plan.gateway.ns,
      mgmtIp: plan.gateway.mgmtIp,
      wanIface: plan.gateway.wanIface,
      wanIp: plan.gateway.wanIp,
      underlayIfaces: plan.gateway.underlayIfaces.map((u) => u.iface),
      pid: gwRt.pid,
    },
    external: {
      name: 'inet',
      ns: plan.external.ns,
      ip: plan.external.ip,
      url: `http://${plan.external.ip}/`,
      whoamiUrl: `http://${plan.external.ip}/cgi-bin/whoami`,
      pid: inetRt.pid,
    },
    hostsList: hostRts.map(({ h, rt }) => ({
      name: h.name,
      ns: h.ns,
      mgmtIp: h.mgmtIp,
      underlayIp: h.underlayIp,
      underlayGateway: h.underlayGateway,
      underlayPrefixLen: h.underlayPrefixLen,
      underlayIface: UNDERLAY_IFACE,
      underlayBridge: UNDERLAY_BRIDGE,
      gwIface: h.gwIface,
      cgroupParent: h.cgroupParent,
      pid: rt.pid,
    })),
    image: { context: img.context, iputilsPing: img.iputilsPing },
  }
  await writeAtomic(p.state, `${JSON.stringify(info, null, 2)}\n`)
  log(`testbed up in ${info.upMs} ms: inventory ${p.inventory}`)
  return info
}

// ---------------------------------------------------------------------------------------------
// status and ensureTestbed

/**
 * Every host of the testbed described by state.json, with whether each service answers:
 * process (init alive in its namespace), sshd (TCP port open and an SSH login with strict host key
 * checking), ovsdb (`ovs-vsctl --timeout=5 show`), docker (`docker info`), httpd (inet's whoami).
 * Empty when there is no state.json.
 */
export async function status(): Promise<HostStatus[]> {
  const st = await readState()
  if (!st) return []
  const p = paths()
  const sshLimit = pLimit(6)
  const execLimit = pLimit(8)
  const busybox = (await which('busybox')) ?? 'busybox'
  const cur = await readCurrent(p)
  const owner = cur?.id === st.id ? undefined : `the vx-* namespaces belong to another testbed (${cur ? cur.dir : 'none is up'})`

  const check = async (
    name: string,
    role: HostStatus['role'],
    ns: string,
    underlayIp: string,
    mgmtIp: string | undefined,
    wanted: ServiceName[],
  ): Promise<HostStatus> => {
    const services: ServiceStatus[] = []
    let pid: number | undefined
    try {
      if (owner) throw new Error(owner)
      pid = await hostPid(name)
      services.push({ name: 'process', ok: true, detail: `pid ${pid}` })
    } catch (e) {
      services.push({ name: 'process', ok: false, detail: (e as Error).message })
    }
    const exec = async (argv: string[], timeoutMs: number): Promise<ServiceStatus['detail'] | Error> => {
      if (pid === undefined) return new Error('host not running')
      const r = await execLimit(() => run(['nsenter', '-t', String(pid), '-n', '-m', '-u', ...argv], { timeoutMs }))
      return r.code === 0 ? r.stdout.trim() : new Error(resultError(r) ?? '')
    }
    const results = await Promise.all(
      wanted.map(async (svc): Promise<ServiceStatus> => {
        if (svc === 'sshd') {
          const err = await tcpOpen(mgmtIp ?? '', 22, 2_000)
          if (err) return { name: svc, ok: false, detail: `port 22 on ${mgmtIp ?? '?'}: ${err}` }
          const loginErr = await sshLimit(() => sshLoginProbe(mgmtIp ?? '', p))
          return loginErr === undefined
            ? { name: svc, ok: true, detail: 'port open, login ok' }
            : { name: svc, ok: false, detail: `port open, login failed: ${loginErr}` }
        }
        const argv =
          svc === 'ovsdb'
            ? ['ovs-vsctl', '--timeout=5', 'show']
            : svc === 'docker'
              ? ['docker', 'info', '--format', '{{.ServerVersion}}']
              : [busybox, 'timeout', '5', busybox, 'wget', '-q', '-O', '-', `http://${INET_IP}/cgi-bin/whoami`]
        const out = await exec(argv, 20_000)
        if (out instanceof Error) return { name: svc, ok: false, detail: out.message }
        const detail = svc === 'ovsdb' ? 'answers' : svc === 'docker' ? `docker ${out}` : `whoami: ${out}`
        return { name: svc, ok: true, detail }
      }),
    )
    services.push(...results)
    const hs: HostStatus = { name, role, ns, underlayIp, ok: services.every((s) => s.ok), services }
    if (mgmtIp !== undefined) hs.mgmtIp = mgmtIp
    return hs
  }
  const dockerSvcs: ServiceName[] = st.light ? ['sshd', 'ovsdb'] : ['sshd', 'ovsdb', 'docker']
  return Promise.all([
    check('gw', 'gateway', st.gateway.ns, st.gateway.wanIp, st.gateway.mgmtIp, ['sshd']),
    ...st.hostsList.map((h) => check(h.name, 'docker', h.ns, h.underlayIp, h.mgmtIp, dockerSvcs)),
    check('inet', 'external', st.external.ns, st.external.ip, undefined, ['httpd']),
  ])
}

/**
 * Returns the running testbed when state.json matches `hosts`/`light` and every host answers;
 * otherwise (or with `fresh`) brings a new one up. Throws at once when the environment flag
 * VXLAB_TESTBED_UNAVAILABLE (set by the integration global setup) carries a reason.
 */
export async function ensureTestbed(
  opts: { hosts?: number; light?: boolean; fresh?: boolean; log?: (line: string) => void } = {},
): Promise<TestbedInfo> {
  const unavailable = process.env['VXLAB_TESTBED_UNAVAILABLE']
  if (unavailable) throw new Error(`the testbed is unavailable: ${unavailable}`)
  const plan = planTestbed(opts)
  const upOpts: UpOptions = { hosts: plan.hosts, light: plan.light }
  if (opts.log) upOpts.log = opts.log
  const log = opts.log ?? (() => {})
  return withLock(async () => {
    if (!opts.fresh) {
      const st = await readState()
      if (st && st.hosts === plan.hosts && st.light === plan.light) {
        const s = await status()
        const bad = s.filter((h) => !h.ok)
        if (s.length > 0 && bad.length === 0) return st
        log(`testbed: rebuilding (${bad.map((h) => `${h.name}: ${h.services.filter((x) => !x.ok).map((x) => `${x.name} ${x.detail}`).join('; ')}`).join(' / ')})`)
      }
    }
    return up(upOpts)
  }, log)
}
