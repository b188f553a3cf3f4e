import { accessSync, constants, existsSync, lstatSync, readlinkSync, statSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import type { ExecLogger } from './connection/types.ts'
import { UsageError, VxlabError } from './core/errors.ts'
import { DEFAULT_FORKS, exitCodeOf, runPlaybook, type FlagDef, type FlagValues, type PlaybookDef, type PlaybookEvents, type RunReport } from './core/playbook.ts'
import { mask, secret } from './core/secrets.ts'
import { Inventory } from './inventory/inventory.ts'
import { readJsonReport, writeJsonReport } from './report/json.ts'
import { plainReporter, recapText, resultsTable } from './report/text.ts'

/** Narrowest terminal (columns) that gets listr2's live view; a narrower one gets the plain lines. */
const MIN_LIVE_COLUMNS = 40

/**
 * Whether a run draws listr2's live view: on a terminal, outside CI (`CI` set), without -v, and at least
 * {@link MIN_LIVE_COLUMNS} wide (a terminal that reports 0 columns, a bare `script(1)` or some CI consoles, got
 * one character per line). Otherwise the plain lines, which also go to pipes and files.
 */
export function liveView(out: { readonly isTTY?: boolean; readonly columns?: number }, env: NodeJS.ProcessEnv, verbose: boolean): boolean {
  return out.isTTY === true && env.CI === undefined && !verbose && (out.columns ?? 0) >= MIN_LIVE_COLUMNS
}

/** Exit codes: 0 success; 1 a host failed or was unreachable; 2 usage, inventory or validation error (no host contacted). */
export const EXIT = { ok: 0, hostFailed: 1, usage: 2 } as const

const COMMON: NonNullable<ParseArgsConfig['options']> = {
  inventory: { type: 'string', short: 'i' },
  check: { type: 'boolean', short: 'C' },
  diff: { type: 'boolean', short: 'D' },
  limit: { type: 'string', short: 'l' },
  forks: { type: 'string', short: 'f' },
  json: { type: 'string' },
  graph: { type: 'string' },
  'graph-report': { type: 'string' },
  'graph-after': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  'host-key-policy': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'command-timeout': { type: 'string' },
  'lock-timeout': { type: 'string' },
  'ask-pass': { type: 'boolean', short: 'k' },
  'ask-become-pass': { type: 'boolean', short: 'K' },
}

/**
 * The options a playbook's CLI takes, as a `node:util` parseArgs config: the common ones (--check, -i, ...) and
 * the playbook's own flags (`PlaybookDef.flags`, with their defaults).
 */
export function cliOptions(pb: PlaybookDef): NonNullable<ParseArgsConfig['options']> {
  const own: NonNullable<ParseArgsConfig['options']> = {}
  for (const [k, f] of Object.entries(pb.flags ?? {})) own[k] = { type: f.type, ...(f.default !== undefined ? { default: f.default } : {}) } as (typeof own)[string]
  return { ...COMMON, ...own }
}

/** One help line: the flag column, then the description from column 30 (at least two spaces apart). */
const helpLine = (flag: string, description: string): string => `${flag.padEnd(28)}  ${description}`

/**
 * The help line of a playbook's own flag, with its default when it has one (`(default: present)`; a switch's
 * `false` goes without saying). A string default is shown as typed, quoted when empty or with spaces in it.
 */
export function playbookFlagHelp(name: string, f: FlagDef): string {
  const shown = typeof f.default === 'string' && (f.default === '' || /\s/.test(f.default)) ? JSON.stringify(f.default) : String(f.default)
  return helpLine(`      --${name}${f.type === 'string' ? (f.choices !== undefined ? ` ${f.choices.join('|')}` : ' VALUE') : ''}`, `${f.description}${f.default !== undefined && f.default !== false ? ` (default: ${shown})` : ''}`)
}

/** The one line after a usage error's message: how the playbook is run, and where its options are listed. */
function usageHint(argv0: string): string {
  return `usage: ${argv0} [options]; --help lists the options`
}

/** A usage error as printed: the error first and short, as common CLIs print it, then {@link usageHint}. */
export function usageErrorText(e: unknown, argv0: string): string {
  return `error: ${e instanceof Error ? e.message.replace(/^Error: /, '') : String(e)}\n${usageHint(argv0)}\n`
}

function usage(pb: PlaybookDef, argv0: string): string {
  const extra = Object.entries(pb.flags ?? {}).map(([k, f]) => playbookFlagHelp(k, f))
  return [
    `usage: ${argv0} [options]   (playbook "${pb.name}")`,
    '',
    '  -i, --inventory FILE        Ansible YAML inventory (default: $VXLAB_INVENTORY, else ' + (pb.defaultInventory ?? '.testbed/inventory.yml') + ')',
    '  -C, --check                 check mode: read and plan, change nothing',
    '  -D, --diff                  also show unified diffs of files (field changes always show)',
    '  -l, --limit PATTERN         only these hosts or groups (comma- or colon-separated, globs, &intersect, !exclude)',
    `  -f, --forks N               hosts in parallel (default ${DEFAULT_FORKS})`,
    '      --json FILE             write the run report as JSON',
    '      --graph FILE            draw the planned topology (.svg or .mmd Mermaid) and stop: no host is contacted',
    '      --graph-report JSON     with --graph: colour the picture from a saved --json report (verified green, failed red)',
    '      --graph-after FILE      run, then draw the topology coloured with the run\'s verify results and failures',
    '  -v, --verbose               show ok tasks and every command in full, and log each exec to a host as it is',
    '                              sent, numbered per host (the recap\'s execs=), and each read made on a host\'s',
    '                              socket instead (socket:, no exec); one level: -vv is the same as -v',
    '      --host-key-policy P     strict (default) or accept-new (record unknown keys on first contact)',
    '      --connect-timeout S     SSH connect timeout in seconds (default 10)',
    '      --command-timeout S     per-command timeout in seconds (default 120)',
    '      --lock-timeout S        wait at most S seconds for another run\'s lock on a host (default 20)',
    '  -k, --ask-pass              prompt for the SSH password (or set VXLAB_SSH_PASSWORD)',
    '  -K, --ask-become-pass       prompt for the sudo password (or set VXLAB_BECOME_PASSWORD)',
    '  -h, --help                  this help',
    ...(extra.length ? ['', 'playbook options:', ...extra] : []),
    '',
    'exit codes: 0 success, 1 a host failed or was unreachable, 2 usage/inventory/validation error (no host contacted)',
  ].join('\n')
}

async function prompt(question: string): Promise<string> {
  const { createInterface } = await import('node:readline')
  if (!process.stdin.isTTY) throw new UsageError(`${question.trim()} needs a terminal; set the environment variable instead`)
  return new Promise((res) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    const out = rl as unknown as { _writeToOutput: (s: string) => void }
    process.stderr.write(question)
    out._writeToOutput = () => undefined
    rl.question('', (answer) => {
      rl.close()
      process.stderr.write('\n')
      res(answer)
    })
  })
}

function positiveNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag}: expected a positive number, got ${JSON.stringify(value)}`)
  return n
}

/** Longest time limit in seconds: Node's timers hold at most 2^31-1 ms (~24.8 days); a longer one fires at once. */
const MAX_SECONDS = 2_000_000

/** A time limit flag in seconds (0 < S <= {@link MAX_SECONDS}), as milliseconds. */
function seconds(flag: string, value: string | undefined, fallback: number): number {
  const s = positiveNumber(flag, value, fallback)
  if (s > MAX_SECONDS) throw new UsageError(`--${flag}: at most ${MAX_SECONDS} seconds (~23 days), got ${JSON.stringify(value)}`)
  return s * 1000
}

/** `stat` (`follow`) or `lstat` of a path, or undefined when there is nothing there. */
function statOf(path: string, follow: boolean): ReturnType<typeof statSync> | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path)
  } catch {
    return undefined
  }
}

/**
 * An output file flag (--json, --graph, --graph-after): its folder must exist and be writable, and it must not be
 * a folder itself. Checked before any host is contacted, so a run is not lost for want of a place to write it.
 */
function outputFile(flag: string, file: string | undefined): void {
  if (file === undefined) return
  if (file === '') throw new UsageError(`--${flag}: expected a file name`)
  if (file.endsWith('/')) throw new UsageError(`--${flag}: ${file} names a folder, not a file`)
  let path = resolve(file)
  // a symbolic link is written through: check where it points (a dangling link's folder may not exist)
  for (let hops = 0; statOf(path, false)?.isSymbolicLink() === true; hops++) {
    if (hops === 40) throw new UsageError(`--${flag}: ${file} is a loop of symbolic links`)
    path = resolve(dirname(path), readlinkSync(path))
  }
  const there = statOf(path, true)
  if (there?.isDirectory() === true) throw new UsageError(`--${flag}: ${file} is a folder, not a file`)
  const dir = dirname(path)
  if (statOf(dir, true)?.isDirectory() !== true) throw new UsageError(`--${flag}: folder ${dir === dirname(resolve(file)) ? dirname(file) : `${dir} (where ${file} points)`} does not exist`)
  try {
    accessSync(there !== undefined ? path : dir, constants.W_OK)
  } catch {
    throw new UsageError(`--${flag}: cannot write ${there !== undefined ? file : `in ${dirname(file)}`} (permission denied)`)
  }
}

/**
 * The `-v` exec log: each exec to a host as it is sent, numbered per host (`host1      exec: #3 ovs-vsctl ...`).
 * Every exec is logged once, so a host's last number is its `execs=` in the recap and the JSON report. A read
 * made on a host's socket instead of a command is no exec: `host1      socket: PATH: REQUEST`, not numbered.
 */
export function execLog(write: (s: string) => void): ExecLogger {
  const counts = new Map<string, number>()
  return (host, line, kind) => {
    if (kind === 'socket') {
      write(`${host.padEnd(10)} socket: ${line}\n`)
      return
    }
    const n = (counts.get(host) ?? 0) + 1
    counts.set(host, n)
    write(`${host.padEnd(10)} exec: #${n} ${line}\n`)
  }
}

/** The parsed common options of a run. */
export interface CliOptions {
  readonly inventoryFile: string
  readonly check: boolean
  readonly diff: boolean
  readonly verbose: boolean
  readonly limit?: string
  readonly forks: number
  readonly json?: string
  readonly flags: FlagValues
}

/**
 * The options that need no inventory and no host, checked first: `--forks` (1..1000), `--host-key-policy`, the
 * time limits, where `--json` / `--graph` / `--graph-after` go, and each playbook flag with `choices`. Throws
 * {@link UsageError} (exit 2) naming the flag; wrappers such as `npm run lab` call it before they touch anything.
 */
export function checkOptions(pb: PlaybookDef, values: Readonly<Record<string, string | boolean | undefined>>): {
  forks: number; hostKeyPolicy: 'strict' | 'accept-new'; connectTimeoutMs: number; commandTimeoutMs: number; lockTimeoutMs: number
} {
  const forks = positiveNumber('forks', values.forks as string | undefined, DEFAULT_FORKS)
  if (!Number.isInteger(forks) || forks > 1000) throw new UsageError(`--forks: expected a whole number 1..1000, got ${JSON.stringify(values.forks)}`)
  const hostKeyPolicy = (values['host-key-policy'] as string | undefined) ?? 'strict'
  if (hostKeyPolicy !== 'strict' && hostKeyPolicy !== 'accept-new') throw new UsageError(`--host-key-policy: expected strict or accept-new, got ${JSON.stringify(hostKeyPolicy)}`)
  const connectTimeoutMs = seconds('connect-timeout', values['connect-timeout'] as string | undefined, 10)
  const commandTimeoutMs = seconds('command-timeout', values['command-timeout'] as string | undefined, 120)
  const lockTimeoutMs = seconds('lock-timeout', values['lock-timeout'] as string | undefined, 20)
  outputFile('json', values.json as string | undefined)
  outputFile('graph', values.graph as string | undefined)
  outputFile('graph-after', values['graph-after'] as string | undefined)
  for (const [name, f] of Object.entries(pb.flags ?? {})) {
    const v = values[name]
    if (f.choices !== undefined && typeof v === 'string' && !f.choices.includes(v)) throw new UsageError(`--${name}: expected ${f.choices.join(' or ')}, got ${JSON.stringify(v)}`)
  }
  return { forks, hostKeyPolicy, connectTimeoutMs, commandTimeoutMs, lockTimeoutMs }
}

/**
 * Run a playbook as a command-line program and return its exit code (see {@link EXIT}). Prints the live
 * progress (listr2 on a TTY, plain lines otherwise), the recap and, for verify plays, the results table.
 */
export async function runCli(pb: PlaybookDef, argv: readonly string[] = process.argv.slice(2), io: { out: (s: string) => void; err: (s: string) => void; argv0?: string } = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
}): Promise<number> {
  // how the user ran it, for usage lines: `npx tsx playbooks/lab.ts` (a wrapper such as `npm run lab` says so in io.argv0)
  const argv0 = io.argv0 ?? `npx tsx ${process.argv[1] ? process.argv[1].replace(`${process.cwd()}/`, '') : 'playbook.ts'}`
  let values: Record<string, string | boolean | undefined>
  try {
    const parsed = parseArgs({ args: [...argv], options: cliOptions(pb), strict: true, allowPositionals: false })
    values = parsed.values as Record<string, string | boolean | undefined>
  } catch (e) {
    // not the whole help: it would push the error off the screen
    io.err(usageErrorText(e, argv0))
    return EXIT.usage
  }
  if (values.help === true) {
    io.out(`${usage(pb, argv0)}\n`)
    return EXIT.ok
  }
  let report: RunReport
  /** Draws the --graph-after picture once the run is over (after the JSON report is written). */
  let drawAfter: (() => void) | undefined
  const check = values.check === true
  const diff = values.diff === true
  const verbose = values.verbose === true
  // a flag's value is a usage error like an unknown flag: the message, then the usage line
  let options: ReturnType<typeof checkOptions>
  try {
    options = checkOptions(pb, values)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    io.err(usageErrorText(mask(e.message), argv0))
    return EXIT.usage
  }
  try {
    const inventoryFile = (values.inventory as string | undefined) ?? process.env.VXLAB_INVENTORY ?? pb.defaultInventory ?? '.testbed/inventory.yml'
    if (!existsSync(inventoryFile)) {
      // a relative path is read from the current folder, which may not be the project's
      const where = isAbsolute(inventoryFile) ? '' : ` in ${process.cwd()}`
      const hint = inventoryFile.includes('.testbed') ? ' (bring the testbed up with `npm run testbed -- up` in the project folder, run from that folder, or pass -i FILE)' : ''
      throw new UsageError(`inventory ${inventoryFile} not found${where}${hint}`)
    }
    const { forks, hostKeyPolicy, connectTimeoutMs, commandTimeoutMs, lockTimeoutMs } = options
    const inventory = Inventory.load(resolve(inventoryFile))
    let password = process.env.VXLAB_SSH_PASSWORD
    let becomePassword = process.env.VXLAB_BECOME_PASSWORD
    const flags: Record<string, string | boolean | undefined> = {}
    for (const k of Object.keys(pb.flags ?? {})) flags[k] = values[k]
    const limit = values.limit !== undefined ? { limit: values.limit as string } : {}
    const graphFile = values.graph as string | undefined
    const graphAfter = values['graph-after'] as string | undefined
    const graphReport = values['graph-report'] as string | undefined
    if (graphReport !== undefined && graphFile === undefined) throw new UsageError('--graph-report needs --graph FILE (the picture to colour)')
    if (graphFile !== undefined && graphAfter !== undefined) throw new UsageError('--graph draws without running and --graph-after draws after a run: give one of them')
    // the topology module is loaded only when a picture is asked for: a plain run does not pay for it
    const graph = graphFile !== undefined || graphAfter !== undefined ? await import('./graph/index.ts') : undefined
    if (graph !== undefined) {
      if (graphFile !== undefined) graph.graphFormatOf(graphFile, 'graph')
      if (graphAfter !== undefined) graph.graphFormatOf(graphAfter, 'graph-after')
    }
    if (graphFile !== undefined && graph !== undefined) {
      // the picture only: built and validated like a run, no host contacted, no password asked
      const topo = graph.graphPlaybook(pb, { inventory, flags, check, ...limit })
      const drawn = graph.writeTopology(graphFile, topo, graphReport !== undefined ? readJsonReport(graphReport).tasks : undefined)
      io.out(`${graph.graphSummary(graphFile, drawn)}; no host was contacted${graphReport === undefined ? ' (colours from a run: --graph-report REPORT.json, or --graph-after FILE)' : ''}\n`)
      return EXIT.ok
    }
    const planned = graphAfter !== undefined && graph !== undefined ? graph.graphPlaybook(pb, { inventory, flags, check, ...limit }) : undefined
    if (values['ask-pass'] === true) password = await prompt('SSH password: ')
    if (values['ask-become-pass'] === true) becomePassword = await prompt('BECOME password: ')
    if (password !== undefined) secret(password)
    if (becomePassword !== undefined) secret(becomePassword)
    const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
    const textOpts = { check, diff, verbose, color }
    let events: PlaybookEvents
    let finish: () => Promise<void> = async () => undefined
    if (liveView(process.stdout, process.env, verbose)) {
      const { listrReporter } = await import('./report/listr.ts')
      const r = listrReporter(textOpts, io.out)
      events = r.events
      finish = r.finish
    } else {
      events = plainReporter(textOpts, io.out)
    }
    const logExec = verbose ? execLog(io.out) : undefined
    report = await runPlaybook(pb, {
      inventory,
      check,
      forks,
      flags,
      events,
      hostKeyPolicy,
      connectTimeoutMs,
      commandTimeoutMs,
      lockTimeoutMs,
      ...limit,
      ...(logExec ? { logExec } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(becomePassword !== undefined ? { becomePassword } : {}),
    })
    await finish()
    io.out(resultsTable(report.tasks))
    io.out(recapText(report, color))
    if (graphAfter !== undefined && planned !== undefined && graph !== undefined) {
      drawAfter = () => io.out(`${graph.graphSummary(graphAfter, graph.writeTopology(graphAfter, planned, report.tasks))}, coloured from this run\n`)
    }
  } catch (e) {
    if (e instanceof VxlabError) {
      io.err(`error: ${mask(e.message)}\n`)
      return e.exitCode
    }
    io.err(`internal error: ${mask(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`)
    return EXIT.hostFailed
  }
  // the files after the run: checked before it, so a failure here is a folder removed or a disk filled since; the
  // recap above stands, each file is tried, and each failure is one line
  let unwritten = false
  const write = (what: string, fn: () => void): void => {
    try {
      fn()
    } catch (e) {
      unwritten = true
      io.err(`error: cannot write ${what}: ${mask(e instanceof Error ? e.message : String(e))}\n`)
    }
  }
  if (values.json !== undefined) write(`the JSON report ${values.json as string}`, () => writeJsonReport(values.json as string, report))
  if (drawAfter !== undefined) write(`the topology ${values['graph-after'] as string}`, drawAfter)
  if (unwritten) return EXIT.hostFailed
  return exitCodeOf(report)
}

/**
 * The `--interrupt-budget` of a vxlab command-line run: 8x V8's default of 67584 (the bytecode weight a function
 * runs before V8 considers optimizing it with TurboFan, in compiler threads beside the main one).
 */
export const CLI_INTERRUPT_BUDGET = 8 * 67_584

/**
 * Tune V8 for a command-line run, which is short (0.2-2 s) and shares the machine's cores with the hosts' sshd
 * and its own SSH crypto: raise `--interrupt-budget` 8x ({@link CLI_INTERRUPT_BUDGET}), so TurboFan compiles only
 * what runs hot for longer. With V8's default, the compiler threads spent ~190 ms of CPU in a 50-host no-op
 * (~0.85 s of the run's CPU) on code the run then barely used; functions that stay hot (a run on many more hosts)
 * are still optimized, later. Measured in bench/RESULTS.md (eighth pass). V8 flags are process-wide
 * (`v8.setFlagsFromString`), so only the command-line entry points call this ({@link runIfMain}, `npm run lab`),
 * never importing vxlab; `node --interrupt-budget=N` on the command line wins.
 */
export function tuneV8ForShortRun(): void {
  if (givesInterruptBudget(process.execArgv)) return
  setFlagsFromString(`--interrupt-budget=${CLI_INTERRUPT_BUDGET}`)
}

/** Whether node's own arguments set V8's interrupt budget (V8 takes `--interrupt-budget` and `--interrupt_budget`). */
export function givesInterruptBudget(execArgv: readonly string[]): boolean {
  return execArgv.some((a) => /^--interrupt[-_]budget(=|$)/.test(a))
}

/**
 * When the calling module is the program being run (`npx tsx playbooks/lab.ts`), run the playbook's CLI
 * and exit with its code. Importing the module (to reuse its tasks) does nothing.
 */
export async function runIfMain(moduleUrl: string, pb: PlaybookDef): Promise<void> {
  const argv1 = process.argv[1]
  if (argv1 === undefined || resolve(argv1) !== fileURLToPath(moduleUrl)) return
  tuneV8ForShortRun()
  const code = await runCli(pb)
  process.exitCode = code
}
