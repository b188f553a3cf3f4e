import type { Command } from './command.ts'
import type { BatchPart, Connection, ExecResult } from '../connection/types.ts'
import { HoldRefusedError } from '../connection/base.ts'
import { LockError } from './errors.ts'

/**
 * The run lock: one `flock` per host (exclusive for apply runs, shared for check mode), held for the whole
 * run by a session that stays open, so two runs never interleave on a host. Waiting is bounded ("locked by
 * ..."). The holder's session also reads the host's first facts batch once it holds the lock, so the lock
 * costs no round trip and no SSH session of its own (see {@link RunLockedConnection}).
 */

/** Where the run lock lives on a host: /run is a tmpfs, so a reboot never leaves a stale lock. */
export const LOCK_FILE = '/run/vxlab.lock'
/** What the holder prints, on a line of its own, once it holds the lock. */
export const LOCK_MARKER = 'VXLAB_LOCK_HELD'
/**
 * What the holder prints, on a line of its own, after why it did not take the lock, just before it exits: the run
 * need not wait for the session to end, which it may not (become with a password keeps a `cat` on its stdin).
 */
export const LOCK_REFUSED_MARKER = 'VXLAB_LOCK_REFUSED'

/**
 * The holder: the first lines its shell (`sh -s`) reads from stdin; $1 lock file, $2 `-x` or `-s`, $3 wait in
 * seconds, $4 owner text (for "locked by ..."). Once it holds the lock the same shell goes on reading its stdin (the
 * first batch, then a builtin `read` loop), with the lock on fd 9 until it ends, and with none of its variables or
 * arguments left for what follows. On stdin rather than in `sh -c`, which would need an `exec sh -s` after it: one
 * shell process less per host and run (~0.6 ms of CPU here). The lock file is opened with `command exec`, so a
 * failure is reported here rather than ending the shell (a redirection error of plain `exec` does, in dash).
 */
export const LOCK_SCRIPT = [
  'l=$1; mode=$2; wait=$3; owner=$4',
  `{ command exec 9>>"$l"; } 2>/dev/null || { echo "cannot open the run lock $l"; echo ${LOCK_REFUSED_MARKER}; exit 3; }`,
  // flock(1) exits 1 when the wait ran out (its conflict exit code), other codes for its own errors
  'flock "$mode" -w "$wait" 9; rc=$?',
  // the owner on one line (a file of another version or tool could hold more): no line of it can pass for a marker
  `if [ "$rc" -eq 1 ]; then o=$(tr -s '\\000-\\037' ' ' <"$l.owner" 2>/dev/null); o=\${o% }; echo "locked by \${o:-another run} (waited $wait s for $l)"; echo ${LOCK_REFUSED_MARKER}; exit 75; fi`,
  `if [ "$rc" -ne 0 ]; then echo "cannot take the run lock $l (flock exit $rc)"; echo ${LOCK_REFUSED_MARKER}; exit 3; fi`,
  'printf "%s\\n" "$owner" > "$l.owner" 2>/dev/null',
  'unset l mode wait owner rc o; set --',
  `echo ${LOCK_MARKER}`,
  '',
].join('\n')

/** The holder command for a run: shared lock for check mode, exclusive otherwise; `file` default {@link LOCK_FILE}. */
export function lockCommand(opts: { check: boolean; waitMs: number; owner: string; file?: string }): Command {
  return { argv: ['sh', '-s', '--', opts.file ?? LOCK_FILE, opts.check ? '-s' : '-x', String(Math.ceil(opts.waitMs / 1000)), opts.owner], stdin: LOCK_SCRIPT }
}

type HoldingConnection = Connection & Required<Pick<Connection, 'holdThenBatch'>>

/**
 * A connection that takes the run lock with its first exec: the first batch (the facts read) runs in the lock
 * holder's session once the lock is held, so the lock adds no round trip; later execs are ordinary ones.
 * A refused lock (another run held it for the whole wait) is a {@link LockError} from that first exec, before
 * any fact was read. A host with nothing to run never takes the lock. `close()` releases the lock.
 */
export class RunLockedConnection implements Connection {
  #first: Promise<void> | undefined
  #held: { release(): Promise<void> } | undefined
  #refused: LockError | undefined
  #prefetched: { parts: readonly BatchPart[]; results: Promise<ExecResult[]>; valid: () => boolean } | undefined

  constructor(readonly inner: HoldingConnection, readonly holder: Command, readonly holdTimeoutMs: number) {}

  get host(): string {
    return this.inner.host
  }

  get execCount(): number {
    return this.inner.execCount
  }

  async #take(parts: readonly BatchPart[]): Promise<ExecResult[]> {
    try {
      const { held, results } = await this.inner.holdThenBatch(this.holder, LOCK_MARKER, this.holdTimeoutMs, parts, LOCK_REFUSED_MARKER)
      this.#held = held
      return results
    } catch (e) {
      if (e instanceof HoldRefusedError) {
        this.#refused = new LockError(this.host, `run lock not taken: ${e.message.replace(`${this.host}: `, '')}`)
        throw this.#refused
      }
      throw e
    }
  }

  async #afterFirst(): Promise<void> {
    if (this.#first === undefined) {
      const p = this.#take([])
      this.#first = p.then(() => undefined, () => undefined)
    }
    await this.#first
    if (this.#refused) throw this.#refused
    // the first exec failed after (or while) taking the lock: its session is gone, and the lock with it
    if (this.#held === undefined) throw new LockError(this.host, 'run lock lost: the session holding it ended')
  }

  /**
   * Take the lock and read `parts` now, ahead of the play that needs them (the host's first play, while
   * earlier plays run on other hosts). That play's first batch gets these results when it asks for exactly
   * these parts and `valid()` still holds (the caller's promise: nothing was changed anywhere since this
   * read began); otherwise it is read again. A failed read (unreachable, lock refused) is that batch's error.
   */
  prefetch(parts: readonly BatchPart[], valid: () => boolean): Promise<void> {
    if (this.#first !== undefined || parts.length === 0) return Promise.resolve()
    const results = this.#take(parts)
    this.#first = results.then(() => undefined, () => undefined)
    this.#prefetched = { parts, results, valid }
    return this.#first
  }

  async runBatch(parts: readonly BatchPart[]): Promise<ExecResult[]> {
    const pre = this.#prefetched
    if (pre !== undefined) {
      this.#prefetched = undefined
      const same = pre.parts.length === parts.length && pre.parts.every((p, i) => p.command === parts[i]!.command && p.stopOnError === parts[i]!.stopOnError)
      // a failed first read (unreachable, lock refused) is this batch's failure, whatever it asks for
      const results = await pre.results
      if (same && pre.valid()) return results
    }
    if (this.#first === undefined) {
      if (parts.length === 0) return []
      const p = this.#take(parts)
      this.#first = p.then(() => undefined, () => undefined)
      return p
    }
    await this.#afterFirst()
    return this.inner.runBatch(parts)
  }

  async run(command: Command): Promise<ExecResult> {
    await this.#afterFirst()
    return this.inner.run(command)
  }

  async close(): Promise<void> {
    const h = this.#held
    this.#held = undefined
    await h?.release().catch(() => undefined)
    await this.inner.close()
  }
}
