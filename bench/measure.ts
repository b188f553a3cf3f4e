/**
 * Measuring helpers of the benchmark: spawn a command and time it by the wall clock, with the peak RSS of the
 * process that runs the playbook (recorded by that process at exit); min/median statistics.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** One timed run of a command. */
export interface Timed {
  readonly wallMs: number
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Peak resident set size (getrusage ru_maxrss) in KiB of the process whose command line matches `rssOf`, 0 when not seen. */
  readonly peakRssKiB: number
  /** The signal that ended the command (`code` is null then). */
  readonly signal?: string
}

/** How a command ended: `exit N`, or `killed by SIGNAL`. */
export function ended(t: Pick<Timed, 'code' | 'signal'>): string {
  return t.signal !== undefined ? `killed by ${t.signal}` : `exit ${String(t.code)}`
}

/** Process groups of the commands {@link timed} is running. */
const running = new Set<number>()

/** SIGKILL the process group of every command {@link timed} is running (for the bench's SIGINT and SIGTERM). */
export function killRunning(): void {
  for (const pid of running) killGroup(pid)
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    /* the group is gone */
  }
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

const PROBE = fileURLToPath(new URL('./rss-probe.cjs', import.meta.url))

/** The peak RSS (KiB) of the probed processes whose command line satisfies `rssOf`, from the probe's file. */
function peakOf(file: string, rssOf: (cmdline: string) => boolean): number {
  let peak = 0
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  for (const line of text.split('\n')) {
    if (line === '') continue
    const r = JSON.parse(line) as { maxRssKiB: number; cmdline: string }
    if (rssOf(r.cmdline)) peak = Math.max(peak, r.maxRssKiB)
  }
  return peak
}

/**
 * Run `argv` (cwd, env), wall-clock timed from spawn to exit. With `rssOf`, every node process of the command loads
 * bench/rss-probe.cjs (NODE_OPTIONS `--require`), which records its kernel-measured peak RSS at exit; the peak of
 * those whose command line satisfies `rssOf` is reported. Nothing runs beside the command while it is timed (an
 * earlier version walked /proc every 25 ms, which took CPU from the run it measured).
 */
export function timed(argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; rssOf?: (cmdline: string) => boolean; timeoutMs?: number } = {}): Promise<Timed> {
  const base = opts.env ?? process.env
  const rssFile = opts.rssOf === undefined ? undefined : join(mkdtempSync(join(tmpdir(), 'vxlab-bench-rss-')), 'rss.jsonl')
  const env = rssFile === undefined ? base : {
    ...base,
    NODE_OPTIONS: `${base.NODE_OPTIONS ?? ''} --require ${JSON.stringify(PROBE)}`.trim(),
    VXLAB_BENCH_RSS_FILE: rssFile,
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    // a process group of its own: when the command ends (or runs out of time), whatever it left running is killed.
    // An orphaned worker of a killed ansible-playbook kept the pipes open, and the bench waited for them forever.
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const pid = child.pid
    if (pid !== undefined) running.add(pid)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const killer = opts.timeoutMs !== undefined && pid !== undefined ? setTimeout(() => killGroup(pid), opts.timeoutMs) : undefined
    let exited: { code: number | null; signal: NodeJS.Signals | null; wallMs: number } | undefined
    let grace: NodeJS.Timeout | undefined
    let settled = false
    /** Once the command exited and its pipes closed (or 2 s later, when something it started still holds them). */
    const finish = (): void => {
      if (settled || exited === undefined) return
      settled = true
      if (killer) clearTimeout(killer)
      if (grace) clearTimeout(grace)
      if (pid !== undefined) {
        killGroup(pid)
        running.delete(pid)
      }
      child.stdout.destroy()
      child.stderr.destroy()
      let peakRssKiB = 0
      if (rssFile !== undefined && opts.rssOf !== undefined) {
        peakRssKiB = peakOf(rssFile, opts.rssOf)
        rmSync(dirname(rssFile), { recursive: true, force: true })
      }
      const { code, signal, wallMs } = exited
      resolve({ wallMs, code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), peakRssKiB, ...(signal !== null ? { signal } : {}) })
    }
    child.on('error', (e) => {
      if (killer) clearTimeout(killer)
      if (pid !== undefined) running.delete(pid)
      reject(e)
    })
    child.on('exit', (code, signal) => {
      exited = { code, signal, wallMs: performance.now() - t0 }
      grace = setTimeout(finish, 2_000)
    })
    child.on('close', finish)
  })
}

/** Format ms as seconds with 2 decimals. */
export const sec = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-')
