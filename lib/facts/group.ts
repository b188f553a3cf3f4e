import type { FactOutput } from '../core/task.ts'

/**
 * The output framing of grouped reads (see {@link import('../core/task.ts').FactGroup}): for member K, in order,
 * a line `TOKEN K`, the member's stdout, `\nTOKEN K err CODE\n`, its stderr, `\nTOKEN K end\n`. TOKEN is
 * random per read, so no output can forge a marker. A script prints {@link GROUP_FRAME_START_SH}, runs the member
 * with its stdout going straight out and its stderr to the file `$d/e`, sets `code`, then prints
 * {@link GROUP_FRAME_END_SH} (an empty stderr costs no `cat`, a process each).
 */
export const GROUP_FRAME_START_SH = `printf '%s %d\\n' "$t" "$k"`

/** The end of member K's frame: see {@link GROUP_FRAME_START_SH}. */
export const GROUP_FRAME_END_SH = `printf '\\n%s %d err %d\\n' "$t" "$k" "$code"; [ ! -s "$d/e" ] || cat "$d/e"; printf '\\n%s %d end\\n' "$t" "$k"`

/** Split a grouped read's stdout into each member's own output (fewer when the script was cut short). */
export function splitGroupOutput(stdout: string, token: string, count: number): FactOutput[] {
  const outs: FactOutput[] = []
  let pos = 0
  for (let k = 0; k < count; k++) {
    const f = readGroupFrame(stdout, token, k, pos)
    if (f === undefined) break
    outs.push(f.out)
    pos = f.next
  }
  return outs
}

/**
 * Member K's frame ({@link GROUP_FRAME_SH}) in `stdout`, searched from `from`: its output and the position after
 * it, or undefined when the frame is missing or cut short.
 */
export function readGroupFrame(stdout: string, token: string, k: number, from = 0): { out: FactOutput; next: number } | undefined {
  const head = `${token} ${k}\n`
  const at = stdout.indexOf(head, from)
  if (at < 0) return undefined
  const outStart = at + head.length
  const errMark = `\n${token} ${k} err `
  const e = stdout.indexOf(errMark, outStart)
  const codeEnd = e < 0 ? -1 : stdout.indexOf('\n', e + errMark.length)
  const code = codeEnd < 0 ? NaN : Number(stdout.slice(e + errMark.length, codeEnd))
  if (!Number.isInteger(code)) return undefined
  const endMark = `\n${token} ${k} end\n`
  const end = stdout.indexOf(endMark, codeEnd)
  if (end < 0) return undefined
  return { out: { code, stdout: stdout.slice(outStart, e), stderr: stdout.slice(codeEnd + 1, end) }, next: end + endMark.length }
}
