import { randomBytes } from 'node:crypto'
import { isReadScript, type Command } from '../core/command.ts'
import { quote, renderCommand } from './quote.ts'

/** The result of one command: exit code (null when killed by a signal), stdout untrimmed, stderr. */
export interface ExecResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** One part of a batch. With `stopOnError` (apply), a non-zero exit code ends the batch after this part; without (facts), the batch goes on. */
export interface BatchPart {
  readonly command: Command
  readonly stopOnError?: boolean
  /**
   * A slow read (a daemon's CLI, hashing files): run in the background, in parallel with the batch's other reads
   * (see {@link BatchScriptOptions.lanes}). Ignored with `stopOnError`.
   */
  readonly background?: boolean
}

/** Options of {@link buildBatchScript}. */
export interface BatchScriptOptions {
  /**
   * In each stretch of consecutive read parts (parts without `stopOnError`), run the `background` ones in up to
   * this many background subshells (each running its share in order, writing to a temp folder) while the
   * other reads run one after another, then print the background ones' output. Default 1: every part in
   * order, one at a time. Cheap reads stay in the foreground: a background job costs more CPU than a
   * `sysctl -n` does, which matters when many hosts share a few cores.
   */
  readonly lanes?: number
  /**
   * Each part's time limit in ms. On the host, a part still running a few seconds after its limit is killed
   * with its process group (`timeout -s KILL`, when the host has timeout(1)): a command the controller gave up
   * on does not live on behind its back (it would race the next run, whose lock it no longer holds).
   */
  readonly limitsMs?: ReadonlyArray<number | undefined>
}

/** Seconds a part may overrun its limit on the host before it is killed: the controller reports the timeout first. */
export const HOST_KILL_GRACE_S = 2

/** The shell prefix that runs a part under timeout(1) on the host (nothing when the host has no timeout(1)). */
function killPrefix(limitMs: number | undefined): string {
  return limitMs === undefined ? '' : `\${__t:+timeout -s KILL ${Math.ceil(limitMs / 1000) + HOST_KILL_GRACE_S}} `
}

/**
 * A read part that is one of vxlab's own read scripts ({@link import('../core/command.ts').readScript}: `sh -c BODY sh ARGS...`, no stdin)
 * without a host-side time limit runs in the batch's own shell, in a subshell: `unset` of the batch's `__`
 * variables, `set -- ARGS`, then `eval BODY`. The script gets its arguments, `$0` = sh, no variables of the
 * batch and a process of its own for `exit`, `exec`, `cd` and traps; a syntax error fails that part alone
 * (`eval` fails in the subshell). Not the same as `sh -c` in `$$`, `$PPID` and `$-` (the batch's, and `$$` is
 * the process that holds the run lock) and in the process list: so never a user's script, which keeps its own
 * `sh`. The host starts no shell for it: a `sh -c` costs ~0.55 ms of CPU more than a subshell (fork and exec of
 * dash, its dynamic linking), on every host of every run. Returns the shell text, or undefined.
 */
function inlineScript(c: BatchPart['command'], limitMs: number | undefined): string | undefined {
  if (!isReadScript(c) || c.stdin !== undefined || limitMs !== undefined) return undefined
  // readScript's shape: sh -c BODY sh ARGS...
  const [, , body = '', , ...args] = c.argv
  return `unset __t __e __c __d __i; set -- ${args.map(quote).join(' ')}; eval ${quotedBody(body)}`
}

/** Read scripts' bodies quoted: a few constant scripts (KBs each), the same on every host of a run. */
const quotedBodies = new Map<string, string>()

/** {@link quote} of a read script's body, remembered (at most 64 bodies; past that, quoted each time). */
function quotedBody(body: string): string {
  let q = quotedBodies.get(body)
  if (q === undefined) {
    q = quote(body)
    if (quotedBodies.size < 64) quotedBodies.set(body, q)
  }
  return q
}

/** How a part runs: its command reading /dev/null, or its own stdin from a base64 here-document. */
function runLine(c: BatchPart['command'], token: string, limitMs?: number): string {
  const inline = inlineScript(c, limitMs)
  if (inline !== undefined) return `( ${inline} ) </dev/null`
  const rendered = killPrefix(limitMs) + renderCommand(c)
  if (c.stdin === undefined) return `${rendered} </dev/null`
  const b64 = Buffer.from(c.stdin).toString('base64').replace(/.{1,76}/g, '$&\n')
  return `base64 -d <<'${token}_IN' | ${rendered}\n${b64}${token}_IN`
}

/**
 * One part run in order: stdout straight to fd 3 (the real stdout), stderr captured, then the markers. A part
 * without stdin is one simple command with its redirections, the last thing its command substitution's subshell
 * runs, so the shell execs it in that subshell (one process; a `{ ...; }` group around it costs dash a fork more);
 * one of vxlab's own read scripts runs in that subshell itself ({@link inlineScript}).
 * The command does not get fd 3 itself (`3>&-`): a process it leaves running in the background with stdin,
 * stdout and stderr of its own (a daemon) would otherwise hold the session's output open, and the batch with it.
 */
function sequentialPart(c: BatchPart['command'], i: number, token: string, limitMs?: number): string[] {
  const inline = inlineScript(c, limitMs)
  const run = inline !== undefined
    ? `__e=$(exec </dev/null 2>&1 1>&3 3>&-; ${inline}); __c=$?`
    : c.stdin === undefined
    ? `__e=$(${killPrefix(limitMs)}${renderCommand(c)} </dev/null 2>&1 1>&3 3>&-); __c=$?`
    : `__e=$( { ${runLine(c, token, limitMs)}\n} 2>&1 1>&3 3>&- ); __c=$?`
  return [
    `printf '%s\\n' '${token}:${i}:out'`,
    run,
    `printf '\\n%s:%d\\n%s\\n%s\\n' '${token}:${i}:err' "$__c" "$__e" '${token}:${i}:done'`,
  ]
}

/**
 * Read parts `bg` in `lanes` background subshells writing each part's stdout, stderr and exit code to files
 * in a temp folder, the parts `fg` meanwhile one after another as {@link sequentialPart}; after `wait`, print
 * the background parts' output exactly as {@link sequentialPart} does (after the foreground ones: parts are
 * found by their markers, in any order). Without a temp folder (mktemp fails) every part runs in order.
 */
function parallelParts(parts: readonly BatchPart[], bg: readonly number[], fg: readonly number[], lanes: number, token: string, limitsMs?: ReadonlyArray<number | undefined>): string[] {
  const lines: string[] = ['if __d=$(mktemp -d 2>/dev/null); then']
  for (let l = 0; l < lanes; l++) {
    const mine = bg.filter((_, k) => k % lanes === l)
    if (mine.length === 0) continue
    const body = mine.map((i) => `{ ${runLine(parts[i]!.command, token, limitsMs?.[i])}\n} >"$__d/${i}.o" 2>"$__d/${i}.e" 3>&-; echo $? >"$__d/${i}.c"`)
    lines.push(`(\n${body.join('\n')}\n) &`)
  }
  lines.push(
    ...fg.flatMap((i) => sequentialPart(parts[i]!.command, i, token, limitsMs?.[i])),
    'wait',
    `for __i in ${bg.join(' ')}; do`,
    // builtins where possible: a cat per part and stream costs a process each (~1 ms of CPU)
    `  printf '%s:%s:out\\n' '${token}' "$__i"; [ ! -s "$__d/$__i.o" ] || cat "$__d/$__i.o"`,
    '  __c=; read -r __c 2>/dev/null <"$__d/$__i.c"; __e=; [ ! -s "$__d/$__i.e" ] || __e=$(cat "$__d/$__i.e")',
    '  [ -n "$__c" ] || { __c=255; __e="vxlab: part $__i did not finish${__e:+: $__e}"; }',
    `  printf '\\n%s:%s:err:%d\\n%s\\n%s:%s:done\\n' '${token}' "$__i" "$__c" "$__e" '${token}' "$__i"`,
    'done',
    'rm -rf "$__d"',
    'else',
    ...[...bg, ...fg].sort((a, b) => a - b).flatMap((i) => sequentialPart(parts[i]!.command, i, token, limitsMs?.[i])),
    'fi',
  )
  return lines
}

/**
 * Several commands in one SSH exec: a POSIX sh script, fed on stdin to `sh -s`, that prints every part's
 * stdout, exit code and stderr between markers made with a random token, so no output can forge one.
 * Every part reads /dev/null (or its own stdin, decoded from a base64 here-document), so no part can
 * swallow the rest of the script. Parts with `stopOnError` (apply) run one at a time, in order; with
 * `lanes` > 1, the `background` reads of each stretch of reads between them run in parallel with the others
 * (reads are independent), and each part's output is the same as in order.
 */
export function buildBatchScript(parts: readonly BatchPart[], opts: BatchScriptOptions = {}): { script: string; token: string; order: number[]; background: Set<number> } {
  const token = `VXB${randomBytes(8).toString('hex')}`
  const lanes = Math.max(1, Math.floor(opts.lanes ?? 1))
  const limits = opts.limitsMs
  const lines: string[] = ['exec 3>&1', ...(limits?.some((l) => l !== undefined) === true ? ['__t=; command -v timeout >/dev/null 2>&1 && __t=1'] : [])]
  let reads: number[] = []
  /** The order in which parts print their output, and those that run in the background. */
  const order: number[] = []
  const background = new Set<number>()
  const flushReads = (): void => {
    const bg = reads.filter((i) => parts[i]!.background === true)
    const fg = reads.filter((i) => parts[i]!.background !== true)
    if (lanes > 1 && bg.length > 0 && reads.length > 1) {
      lines.push(...parallelParts(parts, bg, fg, Math.min(lanes, bg.length), token, limits))
      order.push(...fg, ...bg)
      for (const i of bg) background.add(i)
    } else {
      for (const i of reads) lines.push(...sequentialPart(parts[i]!.command, i, token, limits?.[i]))
      order.push(...reads)
    }
    reads = []
  }
  parts.forEach(({ command: c, stopOnError }, i) => {
    if (stopOnError !== true) {
      reads.push(i)
      return
    }
    flushReads()
    lines.push(...sequentialPart(c, i, token, limits?.[i]))
    lines.push(`[ "$__c" -eq 0 ] || exit 0`)
    order.push(i)
  })
  flushReads()
  return { script: lines.join('\n') + '\n', token, order, background }
}

/**
 * Parse a batch's output into one result per part that ran (fewer than the commands when the batch
 * stopped at a failure or was cut short). `partial` is the index of a part that started and never
 * finished (connection lost, timeout), if any.
 */
export function parseBatchOutput(stdout: string, token: string, count: number): { results: ExecResult[]; partial?: number } {
  const results: ExecResult[] = []
  for (let i = 0; i < count; i++) {
    // in any order (background reads print after the others); the random token makes every marker unique
    const start = `${token}:${i}:out\n`
    const s = stdout.indexOf(start)
    if (s < 0) return { results }
    const errMark = `\n${token}:${i}:err:`
    const e = stdout.indexOf(errMark, s + start.length)
    if (e < 0) return { results, partial: i }
    const out = stdout.slice(s + start.length, e)
    const codeEnd = stdout.indexOf('\n', e + errMark.length)
    const code = Number(stdout.slice(e + errMark.length, codeEnd))
    const doneMark = `\n${token}:${i}:done\n`
    const d = stdout.indexOf(doneMark, codeEnd)
    if (d < 0) return { results, partial: i }
    const stderr = stdout.slice(codeEnd + 1, d)
    results.push({ code, stdout: out, stderr })
  }
  return { results }
}
