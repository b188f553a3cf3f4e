/**
 * Finding and ending the testbed's processes by reading /proc (no `ip netns pids`, which misses
 * container processes: they live in their own network namespaces).
 *
 * A process belongs to the testbed when it is in one of the testbed's network namespaces, or in one of
 * the testbed hosts' mount namespaces, or in a `vxlab-hN` cgroup (docker's --cgroup-parent, which is
 * where every container process lands).
 */
import { readdir, readFile, readlink, rmdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { CGROUP_RE } from './plan.ts'
import { sleep } from './exec.ts'

export interface ProcInfo {
  pid: number
  ppid: number
  /** one-letter state from /proc/PID/stat (Z = zombie) */
  state: string
  comm: string
  cmdline: string[]
  /** inode of the network namespace (undefined when unreadable, e.g. a zombie) */
  netns?: number
  mntns?: number
  /** cgroup paths, one per hierarchy (from /proc/PID/cgroup) */
  cgroups: string[]
}

function nsInode(link: string): number | undefined {
  const m = /\[(\d+)\]$/.exec(link)
  return m?.[1] ? Number(m[1]) : undefined
}

async function readProc(pid: number): Promise<ProcInfo | undefined> {
  const base = `/proc/${pid}`
  try {
    const statText = await readFile(`${base}/stat`, 'utf8')
    // pid (comm) S ppid ...: comm may contain spaces and parentheses, so cut at the last ')'
    const close = statText.lastIndexOf(')')
    const comm = statText.slice(statText.indexOf('(') + 1, close)
    const rest = statText.slice(close + 2).split(' ')
    const [cmdline, net, mnt, cgroup] = await Promise.all([
      readFile(`${base}/cmdline`, 'utf8').catch(() => ''),
      readlink(`${base}/ns/net`).catch(() => ''),
      readlink(`${base}/ns/mnt`).catch(() => ''),
      readFile(`${base}/cgroup`, 'utf8').catch(() => ''),
    ])
    const info: ProcInfo = {
      pid,
      ppid: Number(rest[1] ?? 0),
      state: rest[0] ?? '?',
      comm,
      cmdline: cmdline.split('\0').filter((s) => s !== ''),
      cgroups: cgroup
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(':').slice(2).join(':')),
    }
    const netns = nsInode(net)
    const mntns = nsInode(mnt)
    if (netns !== undefined) info.netns = netns
    if (mntns !== undefined) info.mntns = mntns
    return info
  } catch {
    return undefined // exited while we looked
  }
}

/** Every process on the machine (user-space ones; kernel threads included, harmless). */
export async function listProcs(): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number)
  const infos = await Promise.all(pids.map(readProc))
  return infos.filter((p): p is ProcInfo => p !== undefined)
}

/** Inode of a named network namespace (/run/netns/NAME), or undefined when absent. */
export async function netnsInode(name: string): Promise<number | undefined> {
  try {
    return (await stat(`/run/netns/${name}`)).ino
  } catch {
    return undefined
  }
}

/** Mount namespaces of the machine (pid 1) and of the caller: never a testbed host's. */
async function machineMountNs(): Promise<Set<number>> {
  const r = new Set<number>()
  for (const pid of ['1', 'self']) {
    const ino = nsInode(await readlink(`/proc/${pid}/ns/mnt`).catch(() => ''))
    if (ino !== undefined) r.add(ino)
  }
  return r
}

export function inTestbedCgroup(p: ProcInfo): boolean {
  return p.cgroups.some((c) => c.split('/').some((seg) => CGROUP_RE.test(seg)))
}

/**
 * Processes that belong to the testbed whose network namespaces have the given inodes:
 * in those netns, in a mount namespace of such a process (other than the machine's), or in a
 * vxlab-hN cgroup. Never the calling process or its ancestors.
 */
export async function testbedProcs(netnsInodes: ReadonlySet<number>): Promise<ProcInfo[]> {
  const procs = await listProcs()
  const machineMnt = await machineMountNs()
  const byPid = new Map(procs.map((p) => [p.pid, p]))
  const protectedPids = new Set<number>([1])
  for (let p: ProcInfo | undefined = byPid.get(process.pid); p && p.pid > 1; p = byPid.get(p.ppid)) protectedPids.add(p.pid)
  const hostMnt = new Set<number>()
  for (const p of procs) {
    if (p.netns !== undefined && netnsInodes.has(p.netns) && p.mntns !== undefined && !machineMnt.has(p.mntns)) hostMnt.add(p.mntns)
  }
  return procs.filter(
    (p) =>
      !protectedPids.has(p.pid) &&
      p.state !== 'Z' &&
      ((p.netns !== undefined && netnsInodes.has(p.netns)) ||
        (p.mntns !== undefined && hostMnt.has(p.mntns)) ||
        inTestbedCgroup(p)),
  )
}

function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (s) => s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) !== 'Z',
    () => false,
  )
}

/**
 * SIGKILLs every testbed process (repeatedly: daemons may spawn while we kill) until none is left.
 * Bounded; throws with the survivors' names after `timeoutMs`.
 */
export async function killTestbedProcs(netnsInodes: ReadonlySet<number>, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let killed = 0
  for (;;) {
    const procs = await testbedProcs(netnsInodes)
    if (procs.length === 0) return killed
    if (Date.now() > deadline) {
      throw new Error(`testbed down: processes survive SIGKILL: ${procs.map((p) => `${p.pid} ${p.comm}`).join(', ')}`)
    }
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGKILL')
        killed++
      } catch {
        // gone already
      }
    }
    // wait for them to go (zombies count as gone)
    const until = Math.min(deadline, Date.now() + 3_000)
    while (Date.now() < until) {
      const states = await Promise.all(procs.map((p) => alive(p.pid)))
      if (!states.some(Boolean)) break
      await sleep(20)
    }
  }
}

/** Directories of the testbed's cgroups (vxlab-hN) in every mounted hierarchy, deepest first. */
export async function testbedCgroupDirs(root = '/sys/fs/cgroup'): Promise<string[]> {
  const tops: string[] = [root]
  for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) tops.push(path.join(root, e.name))
  }
  const found: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(dir, e.name))
    }
    found.push(dir)
  }
  for (const top of tops) {
    for (const e of await readdir(top, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory() && CGROUP_RE.test(e.name)) await walk(path.join(top, e.name))
    }
  }
  return found
}

/** Removes the (empty) vxlab-hN cgroups; retries briefly while the kernel releases exited tasks. */
export async function removeTestbedCgroups(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const dirs = await testbedCgroupDirs()
    if (dirs.length === 0) return
    const errors: string[] = []
    for (const d of dirs) {
      await rmdir(d).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') errors.push(`${d}: ${e.code ?? e.message}`)
      })
    }
    if (errors.length === 0) return
    if (Date.now() > deadline) throw new Error(`testbed down: cannot remove cgroups: ${errors.join(', ')}`)
    await sleep(100)
  }
}
