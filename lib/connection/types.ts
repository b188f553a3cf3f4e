import type { Command } from '../core/command.ts'
import type { BatchPart, ExecResult } from './batch.ts'

export type { BatchPart, ExecResult }

/**
 * Called for every exec round trip with the rendered commands (secrets masked by the caller), for `-v`; and with
 * `kind` `socket` for every read made on a host's socket instead of a command ({@link Command.socket}), which is no exec.
 */
export type ExecLogger = (host: string, line: string, kind?: 'exec' | 'socket') => void

/**
 * A live connection to one host. vxlab opens one per host per run and reuses it for every command.
 * Implementations: {@link import('./ssh.ts').SshConnection} and {@link import('./local.ts').LocalConnection}.
 */
export interface Connection {
  readonly host: string
  /** Number of exec round trips made so far (the cost that matters: ~100 ms each over SSH). */
  readonly execCount: number
  /** Run one command; never throws on a non-zero exit code (check `code`); throws on transport failure or timeout. */
  run(command: Command): Promise<ExecResult>
  /**
   * Run several commands in ONE round trip. A part with `stopOnError` ends the batch when its code is not 0.
   * Returns one result per part that ran. Throws {@link import('../core/errors.ts').CommandTimeoutError}
   * or a connection error (with `completed` results attached) when the exec itself fails.
   */
  runBatch(parts: readonly BatchPart[]): Promise<ExecResult[]>
  /**
   * Start a command that keeps running with its stdin open until released (the run lock). A line `refusedMarker`
   * (when given) means it gave up: it is refused at once, with what it printed before. Optional for fakes.
   */
  hold?(command: Command, marker: string, timeoutMs: number, refusedMarker?: string): Promise<{ release(): Promise<void> }>
  /**
   * Start a holder (the run lock) and, once it prints `marker`, run `parts` in the same session (one exec for
   * both); the holder keeps running until released. A line `refusedMarker` refuses it at once, as in `hold`.
   * Optional: without it the lock costs an exec of its own.
   */
  holdThenBatch?(command: Command, marker: string, holdTimeoutMs: number, parts: readonly BatchPart[], refusedMarker?: string): Promise<{ held: { release(): Promise<void> }; results: ExecResult[] }>
  /**
   * Record every later exec (its shell's pid, session and start time) in the folder `dir` on the host, where the
   * run lock's holder kills whatever still runs when its session ends (the run released the lock, or vxlab was
   * killed): no command of a run outlives the lock. Set before the lock is taken.
   */
  registerExecsIn?(dir: string): void
  close(): Promise<void>
}
