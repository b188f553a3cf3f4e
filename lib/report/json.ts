import { readFileSync, writeFileSync } from 'node:fs'
import { UsageError } from '../core/errors.ts'
import type { RunReport, TaskReport } from '../core/playbook.ts'
import { maskDeep } from '../core/secrets.ts'

/**
 * The JSON run report (`--json FILE`): exactly the {@link RunReport}, secrets masked, commands in full
 * (the text report abbreviates long scripts; this one never does).
 */

/** Write a run report as pretty-printed JSON (secrets as `***`). */
export function writeJsonReport(file: string, report: RunReport): void {
  writeFileSync(file, `${JSON.stringify(maskDeep(report), null, 2)}\n`)
}

const STATUSES = new Set(['ok', 'changed', 'failed', 'skipped'])

/**
 * Read a report written by {@link writeJsonReport} (e.g. for `--graph-report`). Checks the shape of what
 * the picture uses: `playbook`, and `tasks[]` with `host`, `key`, `status` and, for verify checks,
 * `result: {ok, check, detail}`. Throws {@link UsageError} naming the file and the first bad field.
 */
export function readJsonReport(file: string): RunReport {
  let data: unknown
  try {
    data = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    throw new UsageError(`${file}: cannot read the JSON report: ${e instanceof Error ? e.message : String(e)}`)
  }
  const bad = (where: string, what: string): never => {
    throw new UsageError(`${file}: ${where}: ${what} (expected a report written by --json)`)
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return bad('(top level)', 'not an object')
  const r = data as Record<string, unknown>
  if (typeof r.playbook !== 'string') bad('playbook', 'missing or not a string')
  if (!Array.isArray(r.tasks)) return bad('tasks', 'missing or not a list')
  r.tasks.forEach((t: unknown, i) => {
    if (t === null || typeof t !== 'object') return bad(`tasks[${i}]`, 'not an object')
    const x = t as Record<string, unknown>
    if (typeof x.host !== 'string') bad(`tasks[${i}].host`, 'not a string')
    if (typeof x.key !== 'string') bad(`tasks[${i}].key`, 'not a string')
    if (typeof x.status !== 'string' || !STATUSES.has(x.status)) bad(`tasks[${i}].status`, `not one of ${[...STATUSES].join(', ')}`)
    if (!Array.isArray(x.changes)) bad(`tasks[${i}].changes`, 'not a list')
    if (x.result !== undefined) {
      const res = x.result as Record<string, unknown> | null
      if (res === null || typeof res !== 'object' || typeof res.ok !== 'boolean' || typeof res.check !== 'string' || typeof res.detail !== 'string') {
        bad(`tasks[${i}].result`, 'not {ok, check, detail}')
      }
    }
  })
  return { playbook: r.playbook as string, check: r.check === true, durationMs: typeof r.durationMs === 'number' ? r.durationMs : 0, hosts: (r.hosts ?? {}) as RunReport['hosts'], tasks: r.tasks as TaskReport[] }
}
