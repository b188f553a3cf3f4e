import { StringDecoder } from 'node:string_decoder'
import pLimit, { type LimitFunction } from 'p-limit'
import type { Command, SocketRead } from '../core/command.ts'
import { describeCommand, summarizeCommand } from '../core/command.ts'
import { CommandTimeoutError, VxlabError } from '../core/errors.ts'
import { mask } from '../core/secrets.ts'
import { buildBatchScript, parseBatchOutput, type BatchPart, type ExecResult } from './batch.ts'
import { quote, renderCommand } from './quote.ts'
import type { Connection, ExecLogger } from './types.ts'

/** Privilege escalation: `sudo -n` (no password), or `sudo -S` with the password on stdin. */
export interface Become {
  readonly enabled: boolean
  /** The become password; sent on stdin only, never printed. */
  readonly password?: string
}

/** Settings shared by every connection kind. */
export interface ConnectionOptions {
  /** Default per-command time limit in ms (default 120000). */
  readonly commandTimeoutMs?: number
  readonly become?: Become
  /** At most this many exec channels at once on the connection (default 10, OpenSSH's MaxSessions). */
  readonly maxChannels?: number
  /**
   * A batch's slow reads (parts marked `background`: docker, file hashing) run in up to this many parallel
   * lanes on the host, beside its other reads (default {@link DEFAULT_READ_LANES}); 1 runs every part one at a
   * time. Output and results are the same either way.
   */
  readonly readLanes?: number
  readonly log?: ExecLogger
}

/** What a transport must provide: run one shell command line with stdin, bounded in time. */
export interface RawExecResult extends ExecResult {
  readonly timedOut: boolean
}

/** A long-running command started with {@link BaseConnection.hold}: its stdin stays open until `release()`. */
export interface Held {
  /** Close the command's stdin and wait for it to end. */
  release(): Promise<void>
}

/** A raw streaming exec: lines of stdout as they come; stdin closed by `end()`. */
export interface RawStream {
  end(): void
  /** Resolves with the exit code when the command ends. */
  readonly exited: Promise<number | null>
}

/**
 * The become wrapper used with a password (see `#wrap`): "$1" is the command line. The first stdin line is the
 * password; `read` takes exactly that line off a pipe, so the command gets the rest of stdin untouched.
 */
const BECOME_WITH_PASSWORD =
  'IFS= read -r p || exit 1; if sudo -n true 2>/dev/null; then exec sudo -n -- sh -c "$1"; fi; ' +
  '{ printf \'%s\\n\' "$p"; exec cat; } | sudo -S -p \'\' -- sh -c "$1"'

/**
 * Default number of parallel lanes for a batch's slow reads: a host's facts are independent reads, and a slow
 * one (the docker CLI, hashing a build context) mostly waits on a daemon or the disk, so a few at once finish
 * sooner; cheap reads stay in order, since a background job costs more CPU than they do (bench/RESULTS.md).
 */
export const DEFAULT_READ_LANES = 4

/** Time limits of one socket read ({@link BaseConnection.socketRaw}), in ms: to open the socket, then for the answer. */
export interface SocketLimits {
  readonly openMs: number
  readonly answerMs: number
}

/**
 * The exchange on a socket once it is open (an SSH channel, a net.Socket): write `request`, then give `complete`
 * everything received so far (UTF-8; a character split between chunks stays whole) until it returns true. Resolves
 * with undefined then, or with why not: the stream closed or failed first, or no complete answer within `answerMs`.
 * Never rejects; the caller closes the stream.
 */
export function socketExchange(stream: NodeJS.ReadWriteStream, request: string, complete: (received: string) => boolean, answerMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const utf8 = new StringDecoder('utf8')
    let text = ''
    let settled = false
    const finish = (why: string | undefined): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(why)
    }
    const timer = setTimeout(() => finish(`no complete answer within ${answerMs} ms`), answerMs)
    stream.on('data', (b: Buffer) => {
      text += utf8.write(b)
      if (complete(text)) finish(undefined)
    })
    stream.on('close', () => finish('the socket closed before a complete answer'))
    stream.on('error', (e: Error) => finish(e.message))
    stream.write(request)
  })
}

/**
 * Milliseconds a {@link Command.socket} read waits for a complete answer, from its request, before its command runs instead (at
 * most the command's own limit): a daemon answers in milliseconds, so a silent one is hung, and its command then
 * fails in its own words (`ovsdb-client --timeout=10`: 10 s more).
 */
export const DEFAULT_SOCKET_TIMEOUT_MS = 1000

/** How `-v` shows the commands of one batch (quoting every argument of every part costs ms at 50 hosts: only with a log). */
function describeBatch(commands: readonly Command[]): string {
  return commands.length === 1 ? describeCommand(commands[0]!) : `batch of ${commands.length}: ${commands.map(describeCommand).join(' ; ')}`
}

/** The most a Node timer holds (2^31 - 1 ms, ~24.8 days): a longer delay fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A batch's time limit: the sum of its parts' limits, at most {@link MAX_TIMER_MS} (each part's limit is
 * bounded, but with `--command-timeout 2000000` two parts summed past it, and the batch timed out at once).
 */
export function totalLimitMs(limits: readonly number[]): number {
  return Math.min(MAX_TIMER_MS, limits.reduce((t, l) => t + l, 0))
}

/** The holder of {@link BaseConnection.holdThenBatch} ended or timed out before it printed its marker (its output says why). */
export class HoldRefusedError extends VxlabError {}

/** What {@link BaseConnection.execRaw} reports while a batch runs, and how a batch is ended early. */
export interface ExecWatch {
  onStdout(chunk: Buffer): void
  readonly signal: AbortSignal
}

/**
 * Each part of a batch within its own time limit: follows the part markers in the batch's stdout as it comes
 * (in the order the script prints them), arms a timer for the part that started, and aborts the exec when one
 * overruns (`expired` is its index). A background part prints only after it ran: its timer runs from the
 * moment the foreground parts before it are done (it has been running since its stretch began).
 */
class PartWatchdog implements ExecWatch {
  readonly #ac = new AbortController()
  readonly signal = this.#ac.signal
  readonly #utf8 = new StringDecoder('utf8')
  #buf = ''
  /** Position in `order` of the part awaited. */
  #pos = 0
  #running = false
  #timer: NodeJS.Timeout | undefined
  expired: number | undefined

  constructor(
    readonly token: string,
    readonly limits: readonly number[],
    readonly order: readonly number[] = limits.map((_, i) => i),
    readonly background: ReadonlySet<number> = new Set(),
  ) {
    this.#armIfBackground()
  }

  #arm(i: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.expired = i
      this.#ac.abort()
    }, this.limits[i])
  }

  /** Waiting for a background part's output: it is running already, so its time counts from now. */
  #armIfBackground(): void {
    const next = this.order[this.#pos]
    if (next !== undefined && this.background.has(next)) this.#arm(next)
  }

  onStdout(chunk: Buffer): void {
    this.#buf += this.#utf8.write(chunk)
    for (;;) {
      const part = this.order[this.#pos]
      if (part === undefined) return
      const mark = this.#running ? `\n${this.token}:${part}:done\n` : `${this.token}:${part}:out\n`
      const at = this.#buf.indexOf(mark)
      if (at < 0) {
        // keep only a tail that may hold the start of a marker
        if (this.#buf.length > 4096) this.#buf = this.#buf.slice(-256)
        return
      }
      this.#buf = this.#buf.slice(at + mark.length)
      clearTimeout(this.#timer)
      if (this.#running) {
        this.#running = false
        this.#pos++
        this.#armIfBackground()
      } else {
        this.#running = true
        this.#arm(part)
      }
    }
  }

  stop(): void {
    clearTimeout(this.#timer)
  }
}

/** Raised when a batch's exec failed part-way; `completed` holds the results of the parts that finished. */
export class BatchInterruptedError extends VxlabError {
  constructor(message: string, readonly completed: readonly ExecResult[], readonly failedPart: number | undefined, readonly cause2: unknown) {
    super(message)
  }
}

/** Whether `text` has `line` as a line of its own (never for an undefined line). */
function hasLine(text: string, line: string | undefined): boolean {
  return line !== undefined && (text.startsWith(`${line}\n`) || text.includes(`\n${line}\n`))
}

/** Why a holder did not hold: what it printed, without its line `refusedMarker`, or `otherwise` when nothing. */
function refusal(out: string, refusedMarker: string | undefined, otherwise: string): string {
  return out.split('\n').filter((l) => l !== refusedMarker).join('\n').trim() || otherwise
}

/**
 * What the lock holder's shell (`sh -s`) reads from its stdin after the lock script: the batch `script` (if any) started in the
 * background in a subshell with fd 9 (the lock) closed, printing `end` when done; then the holder waits for the end
 * of its stdin, runs `cleanup` and, if the batch still runs, kills its own process group.
 *
 * The whole input is ONE brace group: the shell parses all of it before it runs any of it. dash reads a script
 * from a pipe in blocks of 8 KiB, so a command that reads stdin gets whatever the shell has not read yet: with the
 * lines after the wait as separate commands, a script whose wait line ended just before a block boundary had
 * those lines read by the wait as input, and the hanging batch was never killed. The wait is a builtin `read`
 * loop (no process): nothing is written to the holder's stdin after this input, so it returns at the end of stdin.
 */
export function holderInput(script: string | undefined, end: string, cleanup: string): string {
  const wait = 'while read -r __x; do :; done'
  if (script === undefined) return `{\n${wait}\n${cleanup}}\n`
  // the end line from a group around the batch's subshell, not from an EXIT trap inside it: dash runs no trap when
  // the subshell dies of a signal (a part that kills its parent), and the batch would then wait for its time limit
  return `{\n{ (\nexec 9>&-\n${script})\nprintf '%s\\n' '${end}'\n} &\n__b=$!\n${wait}\njobs >/dev/null\n${cleanup}` +
    // still running: kill the holder's process group (field 3 after the command name in /proc/PID/stat, proc(5));
    // never group 0 or 1 (`kill -1` would signal every process)
    `if kill -0 "$__b" 2>/dev/null && read -r __s </proc/$$/stat; then set -- \${__s##*) }; [ "$3" -gt 1 ] 2>/dev/null && kill -KILL -"$3"; fi\n}\n`
}

/**
 * Shell lines run before an exec's command: record the exec in `dir` as a file named `PID-SID-START` (the shell's
 * pid, its session and its start time in clock ticks: fields 6 and 22 of /proc/PID/stat, proc(5); sshd and the
 * local connection start every exec in a session of its own). Builtins only, but `mkdir` the first time on a
 * host. Any failure leaves the command to run as it would.
 */
function registerExec(dir: string): string {
  return `{ __v=${quote(dir)}; [ -d "$__v" ] || mkdir -p -- "$__v"; read -r __s </proc/$$/stat && set -- \${__s##*) } && : >"$__v/$$-$4-\${20}"; } 2>/dev/null`
}

/**
 * The lock holder's last lines: for every exec recorded in `dir` ({@link registerExec}) whose shell still runs with
 * the recorded start time (a pid the kernel has given to another process since is left alone), kill every process
 * of its session (timeout(1) puts a command in a process group of its own, not in a session of its own); then
 * remove `dir`. After a normal run every exec has ended: nothing is killed and /proc is not scanned.
 */
function killRegistered(dir: string): string {
  return [
    `__v=${quote(dir)}`,
    'if [ -d "$__v" ]; then',
    '  for __f in "$__v"/*; do',
    '    [ -e "$__f" ] || continue',
    '    __n=${__f##*/}; __p=${__n%%-*}; __r=${__n#*-}; __g=${__r%%-*}; __t=${__r#*-}',
    '    read -r __s 2>/dev/null </proc/"$__p"/stat || continue',
    '    set -- ${__s##*) }',
    '    [ "${20}" = "$__t" ] && [ "$__g" -gt 1 ] 2>/dev/null || continue',
    '    for __q in /proc/[0-9]*/stat; do',
    '      read -r __s 2>/dev/null <"$__q" || continue',
    '      set -- ${__s##*) }',
    '      [ "$4" = "$__g" ] || continue',
    '      __k=${__q#/proc/}; kill -KILL "${__k%/stat}" 2>/dev/null',
    '    done',
    '  done',
    '  rm -rf -- "$__v"',
    'fi',
    '',
  ].join('\n')
}

/**
 * Shared logic of SSH and local connections: the channel limit, become wrapping, batching, timeouts, logging.
 * Subclasses implement {@link execRaw} only.
 */
export abstract class BaseConnection implements Connection {
  #execs = 0
  readonly #limit: LimitFunction
  protected readonly commandTimeoutMs: number
  protected readonly become: Become | undefined
  protected readonly log: ExecLogger | undefined
  readonly #lanes: number

  constructor(readonly host: string, opts: ConnectionOptions) {
    this.#limit = pLimit(opts.maxChannels ?? 10)
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 120_000
    this.become = opts.become
    this.log = opts.log
    this.#lanes = opts.readLanes ?? DEFAULT_READ_LANES
  }

  get execCount(): number {
    return this.#execs
  }

  /**
   * Run one command line. `watch` (batches): every stdout chunk as it comes, and a signal that, when aborted,
   * ends the exec as a timeout (`timedOut: true`), as `timeoutMs` passing does.
   */
  protected abstract execRaw(commandLine: string, stdin: string | Uint8Array | undefined, timeoutMs: number, watch?: ExecWatch): Promise<RawExecResult>

  /** Start a command with an open stdin (`stdin` written first, e.g. a become password), streaming its stdout and stderr (raw bytes, as they come). */
  protected abstract streamRaw(commandLine: string, onOutput: (chunk: Buffer) => void, stdin?: string | Uint8Array): Promise<RawStream>

  /**
   * Start `command` and keep it running with its stdin open (the run lock's holder), after writing `command.stdin`
   * (if any) to it. Resolves once its stdout shows `marker` on a line of its own; rejects with its output when it ends first or
   * `timeoutMs` passes. Counts as one exec.
   */
  async hold(command: Command, marker: string, timeoutMs: number, refusedMarker?: string): Promise<Held> {
    this.#execs++
    this.log?.(this.host, mask(describeCommand(command)))
    let out = ''
    let resolveSeen!: (r: 'held' | 'refused') => void
    const seen = new Promise<'held' | 'refused'>((r) => (resolveSeen = r))
    const w = this.#wrap(renderCommand(command), command.stdin)
    const utf8 = new StringDecoder('utf8')
    const stream = await this.streamRaw(w.line, (chunk) => {
      out += utf8.write(chunk)
      if (hasLine(out, marker)) resolveSeen('held')
      else if (hasLine(out, refusedMarker)) resolveSeen('refused')
    }, w.stdin)
    let timer: NodeJS.Timeout | undefined
    const outcome = await Promise.race([
      seen,
      stream.exited.then((code) => ({ code })),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ])
    clearTimeout(timer)
    if (outcome === 'held') return { release: async () => { stream.end(); await stream.exited } }
    stream.end()
    const why = refusal(out, refusedMarker, outcome === 'timeout' ? `no answer within ${timeoutMs} ms` : outcome === 'refused' ? 'refused' : `exit ${String(outcome.code)}`)
    throw new VxlabError(`${this.host}: ${mask(why)}`)
  }

  /**
   * Start `command` (the run lock's holder) with its stdin open and, once its stdout shows `marker` on a line
   * of its own, run `parts` as a batch IN THE SAME SESSION: one exec for the lock and the batch, so taking the
   * lock costs no round trip of its own. `command` must be a shell reading its stdin (`sh -s`, or a command that
   * ends with `exec sh -s`): it gets `command.stdin` first (the lock script, {@link import('../core/lock.ts').lockCommand}),
   * then the batch script, run in the background in a subshell with fd 9 closed (the
   * holder's lock descriptor never leaks into a command, which could keep the lock after the run), while the
   * holder itself waits for the end of its stdin (a builtin `read` loop, {@link holderInput}), holding the session
   * and the lock. Its stdin ends when `release()` closes it, when a part times out here (the watchdog closes it) or
   * when the connection is lost; if the batch is still running then (a read that hangs: a FIFO, a daemon that does not answer),
   * the holder kills its whole process group (the session sshd started, or the group of a local holder),
   * itself included: no read of a run outlives it, and the lock is free at once.
   * Rejects with {@link HoldRefusedError} (the holder's output, e.g. "locked by ...") when the holder ends or
   * `holdTimeoutMs` passes before the marker; a batch cut short rejects as {@link runBatch} does
   * ({@link BatchInterruptedError} with the results of the parts that finished).
   */
  async holdThenBatch(command: Command, marker: string, holdTimeoutMs: number, parts: readonly BatchPart[], refusedMarker?: string): Promise<{ held: Held; results: ExecResult[] }> {
    let held: Held | undefined
    try {
      const results = await this.#withSocketReads(parts, async (rest, startReads) => {
        const r = await this.#holdThenShellBatch(command, marker, holdTimeoutMs, rest, startReads, refusedMarker)
        held = r.held
        return r.results
      })
      return { held: held!, results }
    } catch (e) {
      // the lock was taken but a socket read's command failed after it: end the holder, as a batch cut short does
      await held?.release()
      throw e
    }
  }

  /** {@link holdThenBatch} with every part run by the shell; `onHeld` is called once the lock is held. */
  async #holdThenShellBatch(command: Command, marker: string, holdTimeoutMs: number, parts: readonly BatchPart[], onHeld: () => void, refusedMarker?: string): Promise<{ held: Held; results: ExecResult[] }> {
    this.#execs++
    const commands = parts.map((p) => p.command)
    const limits = commands.map((c) => c.timeoutMs ?? this.commandTimeoutMs)
    // no host-side kill prefix (a timeout(1) process per read costs ~1 ms of CPU each, at every host): the reads
    // are bounded by the part watchdog below, which closes the holder's stdin; the holder then kills them
    const { script, token, order, background } = buildBatchScript(parts, { lanes: this.#lanes })
    const end = `${token}:end`
    const batchTimeoutMs = totalLimitMs(limits)
    this.log?.(this.host, mask(`${describeCommand(command)}; then in the same session: ${commands.length === 0 ? 'nothing' : describeBatch(commands)}`))
    const cleanup = this.#registry === undefined ? '' : killRegistered(this.#registry)
    const input = holderInput(commands.length === 0 ? undefined : script, end, cleanup)
    const heldLine = `${marker}\n`
    let out = ''
    let wake: () => void = () => undefined
    const w = this.#wrap(renderCommand(command), command.stdin === undefined ? input : Buffer.concat([Buffer.from(command.stdin), Buffer.from(input)]))
    const utf8 = new StringDecoder('utf8') // a character split between two chunks stays whole
    let feed: (chunk: Buffer) => void = () => undefined
    const stream = await this.streamRaw(w.line, (chunk) => {
      out += utf8.write(chunk)
      feed(chunk)
      wake()
    }, w.stdin)
    let exitCode: number | null | undefined
    void stream.exited.then((c) => {
      exitCode = c
      wake()
    })
    /** Wait until `ready()` (true), the holder exits, or `ms` pass (false for both). */
    const until = async (ready: () => boolean, ms: number): Promise<boolean> => {
      const deadline = Date.now() + ms
      while (!ready()) {
        if (exitCode !== undefined || Date.now() >= deadline) return ready()
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.max(1, deadline - Date.now()))
          wake = () => {
            clearTimeout(t)
            r()
          }
        })
      }
      return true
    }
    await until(() => out.includes(heldLine) || hasLine(out, refusedMarker), holdTimeoutMs)
    if (!out.includes(heldLine)) {
      stream.end()
      const why = refusal(out, refusedMarker, hasLine(out, refusedMarker) ? 'refused' : exitCode === undefined ? `no answer within ${holdTimeoutMs} ms` : `exit ${String(exitCode)}`)
      throw new HoldRefusedError(`${this.host}: ${mask(why)}`)
    }
    const release = async (): Promise<void> => {
      stream.end()
      await stream.exited
    }
    onHeld()
    if (commands.length === 0) return { held: { release }, results: [] }
    const endLine = `\n${end}\n`
    // each part within its own time limit, as in runBatch: the watchdog follows the output after the marker
    const watchdog = new PartWatchdog(token, limits, order, background)
    watchdog.onStdout(Buffer.from(out.slice(out.indexOf(heldLine) + heldLine.length)))
    feed = (chunk) => watchdog.onStdout(chunk)
    watchdog.signal.addEventListener('abort', () => wake(), { once: true })
    const done = await until(() => watchdog.signal.aborted || out.includes(endLine, out.indexOf(heldLine)), batchTimeoutMs).finally(() => watchdog.stop())
    const at = out.indexOf(heldLine) + heldLine.length
    const region = done ? out.slice(at, out.indexOf(endLine, at) + 1) : out.slice(at)
    const parsed = parseBatchOutput(region, token, commands.length)
    const n = parsed.results.length
    const last = parsed.results[n - 1]
    const complete = n === commands.length || (last !== undefined && last.code !== 0 && parts[n - 1]?.stopOnError === true)
    if (watchdog.expired !== undefined || !done || !complete || parsed.partial !== undefined) {
      stream.end()
      if (watchdog.expired !== undefined || (!done && exitCode === undefined)) {
        const i = watchdog.expired ?? parsed.partial ?? n
        const what = commands[i] !== undefined ? summarizeCommand(commands[i]) : 'batch'
        throw new BatchInterruptedError(new CommandTimeoutError(this.host, watchdog.expired !== undefined ? limits[i]! : batchTimeoutMs, mask(what)).message, parsed.results, i, undefined)
      }
      // the holder's stdout and stderr are one stream: what follows the last complete part is its stderr
      throw this.#endedEarly(parsed, commands, exitCode ?? null, '')
    }
    return { held: { release }, results: parsed.results }
  }

  abstract close(): Promise<void>

  /**
   * Wrap a command line for become, and put the become password (if any) in front of stdin. sudo reads a
   * password only when it needs one (NOPASSWD rules, root and cached credentials read nothing), so the
   * password line is taken off stdin by a wrapper first and handed to `sudo -S` only when `sudo -n` cannot
   * run: it never reaches the command's stdin (or a shell reading a batch script from it). It lives in
   * that wrapper's memory only (printf is a shell builtin): never in an argv that `ps` could show.
   */
  #wrap(line: string, stdin: string | Uint8Array | undefined): { line: string; stdin: string | Uint8Array | undefined } {
    if (!this.become?.enabled) return { line, stdin }
    if (this.become.password === undefined) return { line: `sudo -n -- sh -c ${quote(line)}`, stdin }
    const pw = `${this.become.password}\n`
    const rest = stdin === undefined ? Buffer.alloc(0) : Buffer.from(stdin)
    return { line: `sh -c ${quote(BECOME_WITH_PASSWORD)} sh ${quote(line)}`, stdin: Buffer.concat([Buffer.from(pw), rest]) }
  }

  #registry: string | undefined

  registerExecsIn(dir: string): void {
    this.#registry = dir
  }

  /** `shown` is what `-v` prints: a function, so that a run without a log never formats it. */
  async #exec(line: string, stdin: string | Uint8Array | undefined, timeoutMs: number, shown: () => string, watch?: ExecWatch): Promise<RawExecResult> {
    return this.#limit(async () => {
      this.#execs++
      this.log?.(this.host, mask(shown()))
      const w = this.#wrap(this.#registry === undefined ? line : `${registerExec(this.#registry)}\n${line}`, stdin)
      return this.execRaw(w.line, w.stdin, timeoutMs, watch)
    })
  }

  async run(command: Command): Promise<ExecResult> {
    const timeoutMs = command.timeoutMs ?? this.commandTimeoutMs
    const r = await this.#exec(renderCommand(command), command.stdin, timeoutMs, () => describeCommand(command))
    if (r.timedOut) throw new CommandTimeoutError(this.host, timeoutMs, mask(describeCommand(command)))
    return { code: r.code, stdout: r.stdout, stderr: r.stderr }
  }

  async runBatch(parts: readonly BatchPart[]): Promise<ExecResult[]> {
    return this.#withSocketReads(parts, async (rest, startReads) => {
      startReads()
      return this.#shellBatch(rest)
    })
  }

  /** Socket paths on which a read failed on this connection: later reads of them run their command at once. */
  readonly #socketsDown = new Set<string>()
  /** Socket paths whose {@link SocketRead.check} printed `ok` on this connection. */
  readonly #socketsChecked = new Set<string>()

  /**
   * Open the unix socket `path` on the host, write `request`, and pass everything received so far to `complete`
   * until it returns true. Resolves with undefined then, or with why not (the socket refused or missing or not
   * open within `limits.openMs`, closed before a complete answer, no complete answer within `limits.answerMs` of
   * the request: a slow link delays the open, not the daemon's answer); never rejects. A connection that cannot
   * open a host's socket without a process leaves it undefined: every {@link Command.socket} read runs its command.
   */
  protected socketRaw?(path: string, request: string, complete: (received: string) => boolean, limits: SocketLimits): Promise<string | undefined>

  /**
   * Indices of the parts read on a socket ({@link Command.socket}): reads that come after the batch's last change
   * (so they see its result), on a connection that can, without become, on a socket that has not failed here.
   */
  #socketParts(parts: readonly BatchPart[]): number[] {
    if (this.socketRaw === undefined || this.become?.enabled === true) return []
    let lastChange = -1
    parts.forEach((p, i) => {
      if (p.stopOnError === true) lastChange = i
    })
    return parts.flatMap((p, i) => (i > lastChange && p.command.socket !== undefined && !this.#socketsDown.has(p.command.socket.path) ? [i] : []))
  }

  /** One socket read: the command's result, or undefined when it must run instead (and the socket is not tried again). */
  async #readSocket(c: Command & { readonly socket: SocketRead }): Promise<ExecResult | undefined> {
    const s = c.socket
    const openMs = c.timeoutMs ?? this.commandTimeoutMs
    const limits: SocketLimits = { openMs, answerMs: Math.min(s.timeoutMs ?? DEFAULT_SOCKET_TIMEOUT_MS, openMs) }
    return this.#limit(async () => {
      this.log?.(this.host, mask(`${s.path}: ${s.shown}`), 'socket')
      let stdout: string | undefined
      let refused: string | undefined
      const why = await this.socketRaw!(s.path, s.request, (received) => {
        try {
          stdout = s.answer(received)
        } catch (e) {
          refused = e instanceof Error ? e.message : String(e)
          return true
        }
        return stdout !== undefined
      }, limits)
      const failed = why ?? refused
      if (failed === undefined && stdout !== undefined) return { code: 0, stdout, stderr: '' }
      this.#socketsDown.add(s.path)
      this.log?.(this.host, mask(`${s.path}: ${failed ?? 'no answer'}; running the command instead`), 'socket')
      return undefined
    })
  }

  /**
   * Run `parts` with the reads that have a socket ({@link #socketParts}) made on it, the rest by `shell` (given the
   * other parts, in order, and a function that starts the socket reads: `shell` calls it when the reads may begin,
   * i.e. once the run lock is held). Reads after changes start when the shell's batch has finished. A socket read
   * that fails runs its command, in one more exec. Results come back in the order of `parts`, as from one batch:
   * a batch cut short throws {@link BatchInterruptedError} with the results of the parts before the first that
   * did not finish.
   */
  async #withSocketReads(parts: readonly BatchPart[], shell: (rest: readonly BatchPart[], startReads: () => void) => Promise<ExecResult[]>): Promise<ExecResult[]> {
    const viaSocket = this.#socketParts(parts)
    if (viaSocket.length === 0) return shell(parts, () => undefined)
    const isSocket = new Set(viaSocket)
    const socketOf = (i: number): Command & { readonly socket: SocketRead } => parts[i]!.command as Command & { readonly socket: SocketRead }
    /** Whether part `i`'s socket has a check that has not printed `ok` on this connection (yet). */
    const unchecked = (i: number): boolean => socketOf(i).socket.check !== undefined && !this.#socketsChecked.has(socketOf(i).socket.path)
    // each socket's check, once per connection, in the shell's batch after its other parts (indices past `parts`)
    const checks = [...new Map(viaSocket.flatMap((i) => {
      const s = socketOf(i).socket
      return s.check !== undefined && !this.#socketsChecked.has(s.path) ? [[s.path, s.check] as const] : []
    })).entries()]
    const restIdx = [...parts.flatMap((_, i) => (isSocket.has(i) ? [] : [i])), ...checks.map((_, k) => parts.length + k)]
    const restParts = restIdx.map((i) => (i < parts.length ? parts[i]! : { command: checks[i - parts.length]![1] }))
    const afterChanges = restParts.some((p) => p.stopOnError === true)
    /** Every result so far, by index in `parts` (socket reads add theirs as they come), and the checks' past them. */
    const got = new Map<number, ExecResult>()
    let reads: Promise<Array<ExecResult | undefined>> | undefined
    const startReads = (): void => {
      reads ??= Promise.all(viaSocket.map(async (i) => {
        const r = await this.#readSocket(socketOf(i))
        if (r !== undefined) got.set(i, r)
        return r
      }))
    }
    /** The results of parts 0..k-1, where part k is the first without one. */
    const prefix = (): ExecResult[] => {
      const results: ExecResult[] = []
      while (results.length < parts.length && got.has(results.length)) results.push(got.get(results.length)!)
      return results
    }
    // a batch cut short: the results before the first part without one, and the part (of `parts`) that did not
    // finish; socket reads still under way are not waited for
    const cutShort = (e: BatchInterruptedError, idx: readonly number[]): never => {
      e.completed.forEach((r, k) => got.set(idx[k]!, r))
      // an answer whose socket was not (yet) checked is no result
      for (const i of viaSocket) if (unchecked(i)) got.delete(i)
      const results = prefix()
      const at = e.failedPart !== undefined ? idx[e.failedPart] : undefined
      throw new BatchInterruptedError(e.message, results, at !== undefined && at < parts.length ? at : results.length, e.cause2)
    }
    let shellResults: ExecResult[]
    try {
      shellResults = await shell(restParts, afterChanges ? () => undefined : startReads)
    } catch (e) {
      if (e instanceof BatchInterruptedError) return cutShort(e, restIdx)
      throw e
    }
    shellResults.forEach((r, k) => got.set(restIdx[k]!, r))
    // a change failed: the batch stopped there, before every socket read (they all come after the last change)
    if (shellResults.length < restIdx.length) return prefix()
    checks.forEach(([path], k) => {
      const r = got.get(parts.length + k)!
      if (r.code === 0 && r.stdout.trim() === 'ok') this.#socketsChecked.add(path)
      else {
        this.#socketsDown.add(path)
        const why = r.stdout.trim() || r.stderr.trim() || `the check exited ${String(r.code)}`
        this.log?.(this.host, mask(`${path}: not used: ${why}; running the command instead`), 'socket')
      }
    })
    startReads()
    await reads
    // no answer, or an answer from a socket whose check did not print ok: the command runs
    const fallback = viaSocket.filter((i) => !got.has(i) || unchecked(i))
    for (const i of fallback) got.delete(i)
    if (fallback.length > 0) {
      try {
        ;(await this.#shellBatch(fallback.map((i) => parts[i]!))).forEach((r, k) => got.set(fallback[k]!, r))
      } catch (e) {
        if (e instanceof BatchInterruptedError) return cutShort(e, fallback)
        throw e
      }
    }
    return prefix()
  }

  /** {@link runBatch} with every part run by the shell, in one exec. */
  async #shellBatch(parts: readonly BatchPart[]): Promise<ExecResult[]> {
    if (parts.length === 0) return []
    const commands = parts.map((p) => p.command)
    const limits = commands.map((c) => c.timeoutMs ?? this.commandTimeoutMs)
    // Host-side kill (timeout(1)) for every part, except the reads of a connection whose execs are registered with
    // the run's lock holder: a read the controller gives up on is killed with its session (the channel's KILL
    // signal, at the latest the holder's cleanup at release), so it never outlives the lock; and a read under
    // `timeout` is not what it is in the first exec (`pgrep -f` in a guard matches timeout's own command line)
    const hostLimits = limits.map((l, i) => (this.#registry !== undefined && parts[i]!.stopOnError !== true ? undefined : l))
    const { script, token, order, background } = buildBatchScript(parts, { lanes: this.#lanes, limitsMs: hostLimits })
    const timeoutMs = totalLimitMs(limits)
    const watchdog = new PartWatchdog(token, limits, order, background)
    const r = await this.#exec('sh -s', script, timeoutMs, () => describeBatch(commands), watchdog).finally(() => watchdog.stop())
    const parsed = parseBatchOutput(r.stdout, token, commands.length)
    if (r.timedOut) {
      // the part that overran its own limit (or, when the whole exec ran out of time, the one running then)
      const i = watchdog.expired ?? parsed.partial ?? parsed.results.length
      const what = commands[i] !== undefined ? summarizeCommand(commands[i]) : 'batch'
      throw new BatchInterruptedError(
        new CommandTimeoutError(this.host, watchdog.expired !== undefined ? limits[i]! : timeoutMs, mask(what)).message, parsed.results, i, undefined)
    }
    const n = parsed.results.length
    const last = parsed.results[n - 1]
    const complete = n === commands.length || (last !== undefined && last.code !== 0 && parts[n - 1]?.stopOnError === true)
    if (!complete || parsed.partial !== undefined) throw this.#endedEarly(parsed, commands, r.code, r.stderr)
    return parsed.results
  }

  /** The error for a batch whose exec ended before every part ran (connection lost, shell killed). */
  #endedEarly(parsed: { results: ExecResult[]; partial?: number }, commands: readonly Command[], code: number | null, stderrText: string): BatchInterruptedError {
    const n = parsed.results.length
    const at = commands[parsed.partial ?? n]
    const where = parsed.partial !== undefined && at !== undefined
      ? ` while running \`${mask(describeCommand(at))}\` (it may have run partly)`
      : ` after ${n} of ${commands.length} commands`
    const stderr = stderrText.trim() ? `: ${mask(stderrText.trim())}` : ''
    const detail = code === null
      ? `connection lost${where}: the exec ended without an exit status (its session or sshd was killed, or the host went down)${stderr}`
      : `the exec ended early${where}: its shell exited ${code}${stderr}`
    return new BatchInterruptedError(`${this.host}: ${detail}`, parsed.results, parsed.partial ?? n, undefined)
  }
}
