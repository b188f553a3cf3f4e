import type { HostRecap, PlaybookEvents, RunReport, TaskReport } from '../core/playbook.ts'
import type { TaskOutcome } from '../core/runner.ts'
import { describeCommand } from '../core/command.ts'
import { mask } from '../core/secrets.ts'
import type { Change, ChangeOp } from '../core/task.ts'

/** The sign of each change kind in plans: `+` create, `~` update, `-` delete, `-/+` replace. */
export const OP_SIGN: Record<ChangeOp, string> = { create: '+', update: '~', delete: '-', replace: '-/+' }

/** How much a text report shows. */
export interface TextOptions {
  readonly check: boolean
  readonly diff: boolean
  readonly verbose: boolean
  readonly color: boolean
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\x1b[${code}m${s}\x1b[0m` : s)

function fmt(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** Lines describing one task's changes: sign, summary, `field: before -> after`, diff, commands. */
export function changeLines(changes: readonly Change[], o: TextOptions, indent = '    '): string[] {
  const out: string[] = []
  for (const c of changes) {
    const sign = OP_SIGN[c.op]
    const color = c.op === 'create' ? '32' : c.op === 'delete' ? '31' : c.op === 'replace' ? '35' : '33'
    out.push(`${indent}${paint(o.color, color, sign)} ${mask(c.summary)}`)
    if (c.before !== null && typeof c.before === 'object' && c.after !== null && typeof c.after === 'object') {
      const b = c.before as Record<string, unknown>
      const a = c.after as Record<string, unknown>
      for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
        if (JSON.stringify(b[k]) !== JSON.stringify(a[k])) out.push(`${indent}    ${k}: ${mask(fmt(b[k]))} -> ${mask(fmt(a[k]))}`)
      }
    }
    if (o.diff && c.diff !== undefined) {
      for (const l of mask(c.diff).split('\n').slice(2)) {
        if (l === '') continue
        out.push(`${indent}    ${l.startsWith('+') ? paint(o.color, '32', l) : l.startsWith('-') ? paint(o.color, '31', l) : l}`)
      }
    }
    if (o.check || o.verbose) for (const cmd of c.commands) out.push(`${indent}    $ ${mask(describeCommand(cmd))}`)
  }
  return out
}

/** Plain line output, for CI and pipes: one line per finished task that is not plainly ok, then the recap. */
export function plainReporter(o: TextOptions, write: (s: string) => void): PlaybookEvents {
  const statusColor: Record<string, string> = { ok: '32', changed: '33', failed: '31', skipped: '36' }
  return {
    playStart: (play, hosts) => write(`\nPLAY [${play}] ${hosts.length} host${hosts.length === 1 ? '' : 's'}: ${hosts.join(', ')}\n`),
    taskDone: (_play, host, t: TaskOutcome) => {
      if (t.status === 'ok' && !o.verbose && t.result === undefined) return
      const st = o.check && t.status === 'changed' ? 'would change' : t.status
      let line = `${host.padEnd(10)} ${paint(o.color, statusColor[t.status] ?? '0', st.padEnd(12))} ${t.key}`
      if (t.result) line += `  ${t.result.ok ? 'PASS' : 'FAIL'} ${t.result.detail}`
      write(`${line}\n`)
      for (const l of changeLines(t.changes, o)) write(`${l}\n`)
      if (t.error !== undefined && t.status !== 'ok') write(`    ${paint(o.color, '31', `error: ${mask(t.error)}`)}\n`)
    },
    hostDone: (_play, host, r) => {
      if (r.unreachable !== undefined) write(`${host.padEnd(10)} ${paint(o.color, '31', 'UNREACHABLE'.padEnd(12))} ${r.unreachable}\n`)
      else if (r.error !== undefined) write(`${host.padEnd(10)} ${paint(o.color, '31', 'FAILED'.padEnd(12))} ${r.error}\n`)
    },
  }
}

/** Count planned changes by kind: `N to create, N to update, N to replace, N to delete on M hosts`. */
export function planSummary(report: RunReport): string {
  const n: Record<ChangeOp, number> = { create: 0, update: 0, replace: 0, delete: 0 }
  const hosts = new Set<string>()
  for (const t of report.tasks) for (const c of t.changes) {
    n[c.op]++
    hosts.add(t.host)
  }
  const part = (k: ChangeOp): string => `${n[k]} ${report.check ? `to ${k}` : `${k}d`}`
  return `${part('create')}, ${part('update')}, ${part('replace')}, ${part('delete')} on ${hosts.size} host${hosts.size === 1 ? '' : 's'}`
}

/** The PLAY RECAP block, as Ansible prints it, plus exec round trips per host. */
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

/** Table of read-only check results (verify plays): check, host, result, detail. */
export function resultsTable(tasks: readonly TaskReport[]): string {
  const rows = tasks.filter((t) => t.result !== undefined).map((t) => [t.host, t.result!.check, t.result!.ok ? 'PASS' : 'FAIL', t.result!.detail])
  if (rows.length === 0) return ''
  const head = ['host', 'check', 'result', 'detail']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return ['\nVERIFY', line(head), widths.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n') + '\n'
}
