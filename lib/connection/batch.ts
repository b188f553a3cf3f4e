import { randomBytes } from 'node:crypto'
import type { Command } from '../core/command.ts'
import { renderCommand } from './quote.ts'

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
}

/**
 * Several commands in one SSH exec: a POSIX sh script, fed on stdin to `sh -s`, that prints every part's
 * stdout, exit code and stderr between markers made with a random token, so no output can forge one.
 * Every part reads /dev/null (or its own stdin, decoded from a base64 here-document), so no part can
 * swallow the rest of the script.
 */
export function buildBatchScript(parts: readonly BatchPart[]): { script: string; token: string } {
  const token = `VXB${randomBytes(8).toString('hex')}`
  const lines: string[] = ['exec 3>&1']
  parts.forEach(({ command: c, stopOnError }, i) => {
    const rendered = renderCommand(c)
    let run: string
    if (c.stdin !== undefined) {
      const b64 = Buffer.from(c.stdin).toString('base64').replace(/.{1,76}/g, '$&\n')
      run = `base64 -d <<'${token}_IN' | ${rendered}\n${b64}${token}_IN`
    } else {
      run = `${rendered} </dev/null`
    }
    lines.push(`printf '%s\\n' '${token}:${i}:out'`)
    // stderr is captured in a variable; stdout goes straight to fd 3 (the real stdout)
    lines.push(`__e=$( { ${run}\n} 2>&1 1>&3 ); __c=$?`)
    lines.push(`printf '\\n%s:%d\\n%s\\n%s\\n' '${token}:${i}:err' "$__c" "$__e" '${token}:${i}:done'`)
    if (stopOnError === true) lines.push(`[ "$__c" -eq 0 ] || exit 0`)
  })
  return { script: lines.join('\n') + '\n', token }
}

/**
 * Parse a batch's output into one result per part that ran (fewer than the commands when the batch
 * stopped at a failure or was cut short). `partial` is the index of a part that started and never
 * finished (connection lost, timeout), if any.
 */
export function parseBatchOutput(stdout: string, token: string, count: number): { results: ExecResult[]; partial?: number } {
  const results: ExecResult[] = []
  let pos = 0
  for (let i = 0; i < count; i++) {
    const start = `${token}:${i}:out\n`
    const s = stdout.indexOf(start, pos)
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
    pos = d + doneMark.length
  }
  return { results }
}
