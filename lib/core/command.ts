/**
 * Commands are data: an argv array plus optional stdin. They are rendered to a shell string in exactly
 * one place, the connection layer (`lib/connection/quote.ts`), with POSIX single quotes.
 */

import { quote, quoteProgram } from '../connection/quote.ts'

/** One command to run on a host. */
export interface Command {
  /** argv[0] is the program; every element travels as one literal argument (quoted once, at the connection layer). */
  readonly argv: readonly string[]
  /** Bytes fed to the command's standard input (file content, a build context). */
  readonly stdin?: string | Uint8Array
  /** Per-command time limit in milliseconds; default: the connection's command timeout. */
  readonly timeoutMs?: number
}

/** Build a {@link Command} from argv: `cmd('ovs-vsctl', '--may-exist', 'add-br', 'br1')`. */
export function cmd(...argv: string[]): Command {
  if (argv.length === 0) throw new Error('cmd(): argv must not be empty')
  return { argv }
}

/** A command with standard input. */
export function cmdStdin(stdin: string | Uint8Array, ...argv: string[]): Command {
  return { argv, stdin }
}

/**
 * A small POSIX sh script whose values arrive as positional parameters ("$1", "$2", ...), never interpolated:
 * `script('test -e "$1"', path)` runs `sh -c 'test -e "$1"' sh <path>`.
 */
export function script(body: string, ...args: string[]): Command {
  return { argv: ['sh', '-c', body, 'sh', ...args] }
}

/** The commands made by {@link readScript}: vxlab's own read-only scripts. */
const ownReadScripts = new WeakSet<Command>()

/**
 * A read-only script of vxlab's own facts, as {@link script}, that a batch may run in its own shell instead of a
 * new `sh` (lib/connection/batch.ts). Only for scripts written for it: they never use `$$`, `$PPID`, `$-` or the
 * process list (in the batch shell those are the batch's, and `$$` there is the process that holds the run lock),
 * and they set every variable they read. A user's script (a `command` guard) always runs as `sh -c`.
 */
export function readScript(body: string, ...args: string[]): Command {
  const c = script(body, ...args)
  ownReadScripts.add(c)
  return c
}

/** Whether `c` was made by {@link readScript} (the same object). */
export function isReadScript(c: Command): boolean {
  return ownReadScripts.has(c)
}

/**
 * Short human-readable form for messages: like {@link describeCommand}, but a multi-line `sh -c` script is
 * shown as its first line and its line count (`sh -c "c=$1 i=$2…" (14-line script) sh doc1 eth0`).
 */
export function summarizeCommand(c: Command): string {
  const [a0, a1, body, ...rest] = c.argv
  if (a0 === 'sh' && a1 === '-c' && body !== undefined && body.includes('\n')) {
    const lines = body.split('\n')
    const args = rest.length > 0 ? ` ${describeCommand({ argv: rest })}` : ''
    return `sh -c ${JSON.stringify(`${lines[0]} …`)} (${lines.length}-line script)${args}`
  }
  return describeCommand(c)
}

/**
 * One-line form of a command for logs and plans: arguments quoted as the connection layer quotes them (POSIX
 * single quotes, argv[0] as a program name, lib/connection/quote.ts), so a line without a newline pastes into a
 * shell as it ran; an argument holding a newline (a script) is shown JSON-quoted, on one line, for reading (such a
 * line does not paste: a shell would expand `$` and backquotes in it). Stdin is shown by its size.
 */
export function describeCommand(c: Command): string {
  const show = (a: string, i: number): string => (a.includes('\n') ? JSON.stringify(a) : i === 0 ? quoteProgram(a) : quote(a))
  return c.argv.map(show).join(' ') + (c.stdin !== undefined ? ` <<stdin(${c.stdin.length} bytes)` : '')
}
