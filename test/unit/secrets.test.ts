/**
 * Secrets in plans, diffs, `-v` logs, errors and the JSON report (a fresh-user trial: a changed secret showed its
 * OLD value, short secrets were shown or garbled text). The registry is process-wide: this file registers its own
 * secrets, and each test uses values no other test here shows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { RunReport } from '../../lib/core/playbook.ts'
import { mask, maskDeep, secret } from '../../lib/core/secrets.ts'
import { writeJsonReport } from '../../lib/report/json.ts'

function jsonReportText(report: RunReport): string {
  const d = mkdtempSync(join(tmpdir(), 'vxlab-secrets-'))
  try {
    writeJsonReport(join(d, 'r.json'), report)
    return readFileSync(join(d, 'r.json'), 'utf8')
  } finally {
    rmSync(d, { recursive: true, force: true })
  }
}

describe('the JSON report', () => {
  it('masks a secret that JSON escapes (a quote, a backslash, a newline) and keeps the document valid', () => {
    const pw = secret('pa"ss\\w\nord')
    const report: RunReport = {
      playbook: 'p', check: true, durationMs: 1, hosts: {},
      tasks: [{ play: 'p', host: 'h', key: 'k', status: 'changed', changes: [{ op: 'update', summary: `set ${pw}`, before: { v: pw }, after: { [`k${pw}`]: [pw] }, commands: [`echo ${pw}`] }], error: `failed: ${pw}` }],
    }
    const text = jsonReportText(report)
    expect(text).not.toContain(JSON.stringify(pw).slice(1, -1))
    expect(text).not.toContain('pa\\"ss')
    const back = JSON.parse(text) as RunReport
    expect(back.tasks[0]!.changes[0]).toEqual({ op: 'update', summary: 'set ***', before: { v: '***' }, after: { 'k***': ['***'] }, commands: ['echo ***'] })
    expect(back.tasks[0]!.error).toBe('failed: ***')
  })
  it('a secret that looks like JSON syntax does not break the document', () => {
    secret('", "x": ')
    const v = { a: 'plain', b: ['", "x": 1'] }
    expect(maskDeep(v)).toEqual({ a: 'plain', b: ['***1'] })
    expect(mask('a", "x": b')).toBe('a***b')
  })
})
