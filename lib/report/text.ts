import type { Command } from '../core/command.ts'
import { describeCommand, summarizeCommand } from '../core/command.ts'
import type { HostRecap, PlaybookEvents, RunReport, TaskReport } from '../core/playbook.ts'
import type { TaskOutcome } from '../core/runner.ts'
import { mask } from '../core/secrets.ts'
import type { Change, ChangeOp } from '../core/task.ts'

/**
 * Plain-text reports: the plan / result of each host as one block (printed when the host finishes a play,
 * so parallel hosts never interleave), the PLAY RECAP, the plan summary and the verification table.
 */

/** The sign of each change kind in plans: `+` create, `~` update, `-` delete, `-/+` replace. */
export const OP_SIGN: Record<ChangeOp, string> = { create: '+', update: '~', delete: '-', replace: '-/+' }

/** How much a text report shows. */
export interface TextOptions {
  /** Check mode: say "would change", and show every planned command. */
  readonly check: boolean
  /** Show unified diffs of file contents. */
  readonly diff: boolean
  /** Show ok tasks, every command in full (no script abbreviation) and commands of applied changes. */
  readonly verbose: boolean
  /** ANSI colours. */
  readonly color: boolean
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\x1b[${code}m${s}\x1b[0m` : s)
const OP_COLOR: Record<ChangeOp, string> = { create: '32', update: '33', delete: '31', replace: '35' }

function fmt(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined'
}

/**
 * One line for a command in a text report: a multi-line `sh -c` script is shown as its first line and
 * `(N-line script)`, followed by its arguments ({@link summarizeCommand}, the form errors use too), unless
 * `full` (`-v`). The JSON report always keeps commands whole. Secrets are masked.
 */
/** Why a play runs on no host (Ansible: "skipping: no hosts matched"): its pattern, and --limit when given. */
function noHostsNote(targets: { readonly pattern: string; readonly limit?: string } | undefined): string {
  if (targets === undefined) return ''
  return `: skipped, no host matches ${JSON.stringify(targets.pattern)}${targets.limit !== undefined ? ` within --limit ${JSON.stringify(targets.limit)}` : ''}`
}

export function commandText(c: Command, full: boolean): string {
  return mask(full ? describeCommand(c) : summarizeCommand(c))
}

/**
 * Lines describing a list of changes: sign and summary, `field: before -> after` for updates and replaces
 * (each field whose value differs), the unified diff with `--diff`, and the commands (always in check mode,
 * with `-v` otherwise).
 */
export function changeLines(changes: readonly Change[], o: TextOptions, indent = '    '): string[] {
  const out: string[] = []
  for (const c of changes) {
    out.push(`${indent}${paint(o.color, OP_COLOR[c.op], OP_SIGN[c.op])} ${mask(c.summary)}`)
    out.push(...detailLines(c, o, `${indent}    `))
  }
  return out
}

/** Field changes, diff and commands of one change (without its summary line). */
function detailLines(c: Change, o: TextOptions, indent: string): string[] {
  const out: string[] = []
  if (c.before !== null && typeof c.before === 'object' && c.after !== null && typeof c.after === 'object') {
    const b = c.before as Record<string, unknown>
    const a = c.after as Record<string, unknown>
    for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
      // a field missing on one side reads as null: `eth0: null -> null` is no change to show
      if (JSON.stringify(b[k] ?? null) !== JSON.stringify(a[k] ?? null)) out.push(`${indent}${k}: ${mask(fmt(b[k] ?? null))} -> ${mask(fmt(a[k] ?? null))}`)
    }
  }
  if (o.diff && c.diff !== undefined) {
    for (const l of mask(c.diff).split('\n')) {
      if (l === '' || l.startsWith('===') || l.startsWith('Index:')) continue
      const colored = l.startsWith('+++') || l.startsWith('---') ? paint(o.color, '1', l) : l.startsWith('+') ? paint(o.color, '32', l) : l.startsWith('-') ? paint(o.color, '31', l) : l.startsWith('@@') ? paint(o.color, '36', l) : l
      out.push(`${indent}${colored}`)
    }
  }
  if (o.check || o.verbose) for (const cmd of c.commands) out.push(`${indent}${paint(o.color, '2', '$')} ${commandText(cmd, o.verbose)}`)
  return out
}

/** The sign of a task with these changes: the op's sign when they agree, else the strongest (replace > delete > update > create -> `~`). */
function taskSign(changes: readonly Change[]): ChangeOp {
  const ops = new Set(changes.map((c) => c.op))
  if (ops.size === 1) return changes[0]!.op
  if (ops.has('replace')) return 'replace'
  return 'update'
}

/** Lines for one task outcome in a host block (none for an ok task unless verbose). */
export function taskLines(t: TaskOutcome, o: TextOptions): string[] {
  const out: string[] = []
  if (t.result !== undefined) {
    out.push(`  ${paint(o.color, t.result.ok ? '32' : '31', t.result.ok ? 'PASS' : 'FAIL')} ${mask(t.result.check)}${t.result.detail ? `: ${mask(t.result.detail)}` : ''}`)
    return out
  }
  if (t.status === 'failed') {
    out.push(`  ${paint(o.color, '31', '!')} ${t.key} ${paint(o.color, '31', `failed: ${mask(t.error ?? 'unknown error')}`)}`)
    out.push(...changeLines(t.changes, o, '      '))
    return out
  }
  if (t.status === 'skipped') {
    // a plan leaves nothing out: in check mode every skipped task says why (it waits for an earlier change, say);
    // a task that skipped itself (it keeps something on purpose) says why in every mode
    if (o.verbose || o.check || t.selfSkipped === true) out.push(`  ${paint(o.color, '36', '.')} ${t.key} skipped${t.error !== undefined ? `: ${mask(t.error)}` : ''}`)
    return out
  }
  if (t.changes.length === 0) {
    if (o.verbose) out.push(`  ${paint(o.color, '32', '=')} ${t.key}`)
    return out
  }
  const op = taskSign(t.changes)
  if (t.changes.length === 1) {
    const c = t.changes[0]!
    out.push(`  ${paint(o.color, OP_COLOR[op], OP_SIGN[op])} ${t.key}: ${mask(c.summary)}`)
    out.push(...detailLines(c, o, '      '))
  } else {
    out.push(`  ${paint(o.color, OP_COLOR[op], OP_SIGN[op])} ${t.key}`)
    out.push(...changeLines(t.changes, o, '      '))
  }
  return out
}

/** Counts of a host's outcomes in one play. */
function countsOf(outcomes: readonly TaskOutcome[]): Record<'ok' | 'changed' | 'failed' | 'skipped', number> {
  const n = { ok: 0, changed: 0, failed: 0, skipped: 0 }
  for (const t of outcomes) n[t.status]++
  return n
}

/**
 * One host's block for one play: a header with its counts (`host1: 9 would change, 3 ok`), then each task
 * that is not plainly ok, in task order, and the host's error (unreachable, lock, interrupted).
 */
export function hostBlock(host: string, outcomes: readonly TaskOutcome[], o: TextOptions, end: { unreachable?: string; error?: string } = {}): string[] {
  const n = countsOf(outcomes)
  const parts = [
    ...(n.changed > 0 ? [`${n.changed} ${o.check ? 'would change' : 'changed'}`] : []),
    `${n.ok} ok`,
    ...(n.failed > 0 ? [`${n.failed} failed`] : []),
    ...(n.skipped > 0 ? [`${n.skipped} skipped`] : []),
  ]
  const bad = n.failed > 0 || end.unreachable !== undefined || end.error !== undefined
  if (end.unreachable !== undefined) parts.push('UNREACHABLE')
  else if (end.error !== undefined) parts.push('FAILED')
  const lines = [`${paint(o.color, bad ? '31;1' : n.changed > 0 ? '33;1' : '32;1', host)}: ${parts.join(', ')}`]
  for (const t of outcomes) lines.push(...taskLines(t, o))
  // the messages name the host and what happened (`host2: unreachable: ...`, `host1: run lock not taken: ...`)
  if (end.unreachable !== undefined) lines.push(`  ${paint(o.color, '31', mask(end.unreachable))}`)
  // ... once: not again when a failed task already carries it (as it is, or `not verified after apply: ...`)
  else if (end.error !== undefined && !outcomes.some((t) => t.status === 'failed' && t.error?.includes(end.error!) === true)) lines.push(`  ${paint(o.color, '31', mask(end.error))}`)
  return lines
}

/**
 * Collects each host's outcomes in a play and hands out its block when the host is done, so that hosts
 * running in parallel print whole blocks, never interleaved lines.
 */
export class HostBlocks {
  readonly #open = new Map<string, TaskOutcome[]>()
  constructor(readonly o: TextOptions) {}

  /** Record a finished task. */
  add(play: string, host: string, t: TaskOutcome): void {
    const k = `${play}\0${host}`
    // a task reported again (changed, then failed by the end-of-play convergence check) replaces its first report,
    // in its place: the block keeps task order
    const list = this.#open.get(k) ?? []
    const at = list.findIndex((x) => x.key === t.key)
    if (at >= 0) list[at] = t
    else list.push(t)
    this.#open.set(k, list)
  }

  /** The host's block for the play (and forget its outcomes). */
  take(play: string, host: string, end: { unreachable?: string; error?: string }): string[] {
    const k = `${play}\0${host}`
    const list = this.#open.get(k) ?? []
    this.#open.delete(k)
    return hostBlock(host, list, this.o, end)
  }
}

/** Plain output, for CI and pipes: per play a header, then one block per host as each host finishes. */
export function plainReporter(o: TextOptions, write: (s: string) => void): PlaybookEvents {
  const blocks = new HostBlocks(o)
  return {
    playStart: (play, hosts, targets) => write(`\n${paint(o.color, '1', `PLAY [${play}]`)} ${hosts.length} host${hosts.length === 1 ? '' : 's'}${hosts.length > 0 ? `: ${hosts.join(', ')}` : noHostsNote(targets)}\n`),
    taskDone: (play, host, t: TaskOutcome) => blocks.add(play, host, t),
    hostDone: (play, host, r) => write(`${blocks.take(play, host, r).join('\n')}\n`),
  }
}

/** Count planned changes by kind: `N to create, N to update, N to replace, N to delete on M hosts` (`created`... after an apply run). */
export function planSummary(report: RunReport): string {
  const n: Record<ChangeOp, number> = { create: 0, update: 0, replace: 0, delete: 0 }
  const hosts = new Set<string>()
  // after an apply run, only what was done: a failed task's changes are not counted as made
  for (const t of report.tasks) for (const c of report.check || t.status === 'changed' ? t.changes : []) {
    n[c.op]++
    hosts.add(t.host)
  }
  const part = (k: ChangeOp): string => `${n[k]} ${report.check ? `to ${k}` : `${k}d`}`
  return `${part('create')}, ${part('update')}, ${part('replace')}, ${part('delete')} on ${hosts.size} host${hosts.size === 1 ? '' : 's'}`
}

/** The PLAY RECAP block, as Ansible prints it, plus exec round trips per host, and the plan summary. */
export function recapText(report: RunReport, color: boolean): string {
  const names = Object.keys(report.hosts)
  const w = Math.max(8, ...names.map((x) => x.length))
  const lines = [`\nPLAY RECAP ${'*'.repeat(60)}`]
  for (const name of names) {
    const h: HostRecap = report.hosts[name]!
    const bad = h.failed > 0 || h.unreachable > 0
    lines.push(`${paint(color, bad ? '31' : h.changed > 0 ? '33' : '32', name.padEnd(w))} : ok=${h.ok}  changed=${h.changed}  unreachable=${h.unreachable}  failed=${h.failed}  skipped=${h.skipped}  execs=${h.execs}`)
  }
  lines.push(`${report.check ? 'check mode: ' : ''}${planSummary(report)}; ${(report.durationMs / 1000).toFixed(2)} s`)
  return lines.join('\n') + '\n'
}

/** Table of read-only check results (verify plays): host, check, result, detail. */
export function resultsTable(tasks: readonly TaskReport[]): string {
  const rows = tasks.filter((t) => t.result !== undefined).map((t) => [t.host, t.result!.check, t.result!.ok ? 'PASS' : 'FAIL', t.result!.detail])
  if (rows.length === 0) return ''
  const head = ['host', 'check', 'result', 'detail']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return ['\nVERIFY', line(head), widths.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n') + '\n'
}
