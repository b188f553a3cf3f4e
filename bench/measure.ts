/**
 * Measuring helpers of the benchmark: spawn a command and time it by the wall clock, sampling the peak RSS
 * (VmHWM) of the process that runs the playbook; min/median statistics.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** One timed run of a command. */
export interface Timed {
  readonly wallMs: number
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Peak resident set size (VmHWM) in KiB of the process whose command line matches `rssOf`, 0 when not seen. */
  readonly peakRssKiB: number
}

/** min and median of some numbers. */
export interface Stats {
  readonly n: number
  readonly min: number
  readonly median: number
  readonly max: number
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return { n: 0, min: NaN, median: NaN, max: NaN }
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { n: s.length, min: s[0]!, median, max: s[s.length - 1]! }
}

function childrenOf(): Map<number, number[]> {
  const m = new Map<number, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1])
      const list = m.get(ppid) ?? []
      list.push(Number(d))
      m.set(ppid, list)
    } catch {
      /* gone */
    }
  }
  return m
}

function descendants(pid: number): number[] {
  const m = childrenOf()
  const out: number[] = []
  const todo = [pid]
  while (todo.length > 0) {
    const p = todo.pop()!
    out.push(p)
    todo.push(...(m.get(p) ?? []))
  }
  return out
}

function hwmKiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
  } catch {
    return ''
  }
}

/**
 * Run `argv` (cwd, env), wall-clock timed from spawn to exit. Every `sampleMs` the process tree is walked and
 * the VmHWM of processes whose command line satisfies `rssOf` is kept (the peak of the largest one).
 */
export function timed(argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; rssOf?: (cmdline: string) => boolean; sampleMs?: number; timeoutMs?: number } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const peak = new Map<number, number>()
    const sample = (): void => {
      if (child.pid === undefined || opts.rssOf === undefined) return
      for (const p of descendants(child.pid)) {
        if (!peak.has(p) && !opts.rssOf(cmdline(p))) continue
        peak.set(p, Math.max(peak.get(p) ?? 0, hwmKiB(p)))
      }
    }
    const timer = setInterval(sample, opts.sampleMs ?? 25)
    const killer = opts.timeoutMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
    child.on('error', (e) => {
      clearInterval(timer)
      reject(e)
    })
    child.on('close', (code) => {
      const wallMs = performance.now() - t0
      clearInterval(timer)
      if (killer) clearTimeout(killer)
      resolve({
        wallMs, code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
        peakRssKiB: Math.max(0, ...peak.values()),
      })
    })
  })
}

/** Format ms as seconds with 2 decimals. */
export const sec = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-')
