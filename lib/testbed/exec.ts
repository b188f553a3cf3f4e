/**
 * Running local programs for the testbed: argv arrays only (never a shell string built from values),
 * bounded by a timeout, with a clean environment. `shQuote` is used for the one place where the
 * testbed writes shell text: each host's generated init script.
 */
import { spawn } from 'node:child_process'

/** PATH for every program the testbed runs (sbin first: ip, sshd, ovs-* live there). */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Environment for testbed processes: nothing inherited but PATH additions, so e.g. DOCKER_HOST leaks nowhere. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const inherited = (process.env['PATH'] ?? '').split(':').filter((p) => p.startsWith('/') && !SAFE_PATH.split(':').includes(p))
  return {
    PATH: [SAFE_PATH, ...inherited].join(':'),
    HOME: '/root',
    LANG: 'C',
    LC_ALL: 'C',
    ...extra,
  }
}

/** Result of a finished program. `code` is the exit code; 124 after a timeout, 128+N after signal N. */
export interface RunResult {
  stdout: string
  stderr: string
  code: number
}

export interface RunOptions {
  /** written to stdin, then stdin is closed */
  input?: string
  /** kill (SIGKILL) after this many ms; default 60 s */
  timeoutMs?: number
  env?: Record<string, string>
  cwd?: string
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 }

/** Runs argv[0] with argv[1..]; never throws for a non-zero exit (see `runOk`). */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv
  if (cmd === undefined) return Promise.reject(new Error('run: empty argv'))
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? cleanEnv(),
      cwd: opts.cwd ?? '/',
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 60_000)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.stdin.on('error', () => {}) // EPIPE when the program does not read its stdin
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve({ stdout: '', stderr: `${cmd}: ${e.message}`, code: 127 })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      let stderr = Buffer.concat(err).toString()
      let rc = code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : 1)
      if (timedOut) {
        rc = 124
        stderr += `\n${cmd}: timed out after ${opts.timeoutMs ?? 60_000} ms`
      }
      resolve({ stdout: Buffer.concat(out).toString(), stderr, code: rc })
    })
    child.stdin.end(opts.input ?? '')
  })
}

/** Error of a program that exited non-zero; the message names the command and carries its stderr. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n')
    super(`command failed (exit ${result.code}): ${argv.map(shQuote).join(' ')}${detail ? `\n${detail}` : ''}`)
    this.name = 'CommandError'
  }
}

/** Runs argv and returns stdout; throws CommandError on a non-zero exit. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts)
  if (r.code !== 0) throw new CommandError(argv, r)
  return r.stdout
}

/**
 * POSIX single-quote one word for sh/dash/busybox sh: `'...'`, with each `'` written as `'\''`;
 * the empty string becomes `''`. Words made only of safe characters are left bare.
 */
export function shQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s
  return `'${s.replace(/'/g, `'\\''`)}'`
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
