/**
 * Commands are data: an argv array plus optional stdin. They are rendered to a shell string in exactly
 * one place, the connection layer (`lib/connection/quote.ts`), with POSIX single quotes.
 */

import { quote, quoteProgram } from '../connection/quote.ts'
import { holdsSecret, mask, MASKED } from './secrets.ts'

/** One command to run on a host. */
export interface Command {
  /** argv[0] is the program; every element travels as one literal argument (quoted once, at the connection layer). */
  readonly argv: readonly string[]
  /** Bytes fed to the command's standard input (file content, a build context). */
  readonly stdin?: string | Uint8Array
  /** Per-command time limit in milliseconds; default: the connection's command timeout. */
  readonly timeoutMs?: number
  /**
   * Indices of argv elements that hold a secret (an env value given with `secret()`, say): wherever the command
   * is shown ({@link describeCommand}, {@link summarizeCommand}: plans, `-v` logs, errors, the JSON report) such an
   * element is `***`, or `NAME=***` for `NAME=VALUE`. They run as given. Tasks set it for the values they know to
   * be secrets (see {@link withSecretArgs}), whatever their length: text masking finds only long secrets.
   */
  readonly secretArgs?: readonly number[]
  /**
   * The same read as one request on a unix socket of the host, answered by the daemon that the command would ask
   * (ovsdb-server for `ovsdb-client transact`): a connection that can open the socket without starting a process
   * (an SSH `direct-streamlocal@openssh.com` channel, OpenSSH's PROTOCOL section 2.4; a local connection's own
   * socket) sends `request` instead of running the command, beside the batch's shell, and the daemon's answer is
   * the command's result. Only for reads (parts without `stopOnError`) that come after every change of their batch.
   * Any failure (the socket refused, missing or silent, an answer `answer` does not accept) runs the command
   * instead, in one more exec, so its own result and messages stay the authority. Not with become: the socket
   * would be opened as the login user, not as root.
   */
  readonly socket?: SocketRead
}

/** A read made on a unix socket of the host instead of running a command (see {@link Command.socket}). */
export interface SocketRead {
  /** Absolute path of the socket on the host. */
  readonly path: string
  /** Bytes written once the socket is open (the daemon's protocol: a JSON-RPC request, say). */
  readonly request: string
  /** What `-v` prints for the request, after the socket's path. */
  readonly shown: string
  /**
   * The command's stdout from everything received so far: undefined while the answer is incomplete. Throws when
   * the answer is complete but not a plain success (an error reply): the command runs instead.
   */
  answer(received: string): string | undefined
  /**
   * Milliseconds to wait for a complete answer, from the request (the socket is open then), before the command
   * runs instead (default 1000; never more than the command's own time limit, which also bounds the open). A
   * daemon answers a read in milliseconds: a silent one is hung, and the command then says so in its own words.
   */
  readonly timeoutMs?: number
  /**
   * Whether the command would ask this very socket: a read-only script of builtins ({@link readScript}), run once
   * per connection in the batch's shell, so in the login environment the command would run in, that prints `ok`,
   * or why not (`OVS_RUNDIR` points elsewhere, say). Until it printed `ok` the socket's answer is not used; when
   * it prints anything else, the command runs instead, then and for the rest of the connection.
   */
  readonly check?: Command
}

/**
 * `c` with {@link Command.secretArgs} set to the argv elements from index `from` on that hold a secret
 * (`holdsSecret`: a registered secret, or text containing one that text masking finds), added to those it has.
 */
export function withSecretArgs<C extends Command>(c: C, from = 0): C {
  const found = c.argv.flatMap((a, i) => (i >= from && holdsSecret(a) ? [i] : []))
  if (found.length === 0) return c
  return { ...c, secretArgs: [...new Set([...(c.secretArgs ?? []), ...found])].sort((a, b) => a - b) }
}

/**
 * Indices (before `end`) of the values that follow `flag` as `KEY=VALUE` (`-e K=V`, `--build-arg K=V`) and whose
 * VALUE holds a secret (`holdsSecret`), for {@link Command.secretArgs}: shown as `KEY=***`.
 */
export function secretFlagValues(argv: readonly string[], flag: string, end = argv.length): number[] {
  return argv.flatMap((a, i) => (i < end && argv[i - 1] === flag && holdsSecret(a.slice(a.indexOf('=') + 1)) ? [i] : []))
}

/** An argv element that holds a secret, as shown: `NAME=***` for `NAME=VALUE` (an env value, `--opt=value`), else `***`. */
function hiddenArg(a: string): string {
  const m = /^-{0,2}[A-Za-z_][A-Za-z0-9_.-]*=/.exec(a)
  return m !== null && !holdsSecret(m[0]) ? `${m[0]}${MASKED}` : MASKED
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
  if (a0 === 'sh' && a1 === '-c' && body !== undefined && body.includes('\n') && c.secretArgs?.includes(2) !== true) {
    const lines = mask(body).split('\n')
    const secretArgs = (c.secretArgs ?? []).filter((i) => i >= 3).map((i) => i - 3)
    const args = rest.length > 0 ? ` ${describeCommand({ argv: rest, ...(secretArgs.length > 0 ? { secretArgs } : {}) })}` : ''
    return `sh -c ${JSON.stringify(`${lines[0]} …`)} (${lines.length}-line script)${args}`
  }
  return describeCommand(c)
}

/**
 * One-line form of a command for logs and plans: arguments quoted as the connection layer quotes them (POSIX
 * single quotes, argv[0] as a program name, lib/connection/quote.ts), so a line without a newline pastes into a
 * shell as it ran; an argument holding a newline (a script) is shown JSON-quoted, on one line, for reading (such a
 * line does not paste: a shell would expand `$` and backquotes in it). Stdin is shown by its size. Secrets are
 * hidden: elements named in {@link Command.secretArgs} as `***` (`NAME=***`), secrets found by text (`mask`) as
 * `***` inside their element, before quoting (which would change a secret with a quote in it); an element with a
 * secret hidden is shown unquoted (it does not paste anyway).
 */
export function describeCommand(c: Command): string {
  const show = (a: string, i: number): string => {
    if (c.secretArgs?.includes(i) === true) return hiddenArg(a)
    // masked before quoting: quoting changes a secret with a quote in it (`'it'\''s'`), where masking would not find it
    const m = mask(a)
    if (m !== a) return m.includes('\n') ? JSON.stringify(m) : m
    return a.includes('\n') ? JSON.stringify(a) : i === 0 ? quoteProgram(a) : quote(a)
  }
  return c.argv.map(show).join(' ') + (c.stdin !== undefined ? ` <<stdin(${c.stdin.length} bytes)` : '')
}
