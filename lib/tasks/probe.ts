import type { Command } from '../core/command.ts'
import type { CheckResult, FactOutput, Task } from '../core/task.ts'
import { ValidationError } from '../core/errors.ts'
import { commandValue, nonEmpty, shown, validateSpec, knownFields, specFields } from '../core/validate.ts'

/** Spec of {@link probe}. */
export interface ProbeSpec {
  /** What is checked, for the results table: `ping doc1 -> doc3 (10.0.1.20)`. Also the task key: `verify[NAME]`. */
  readonly name: string
  /** A read-only command; it must be bounded in count and time (e.g. `ping -c 1 -W 1`, `timeout 15 ...`). */
  readonly command: Command
  /** Judge the output: pass/fail and a short detail (e.g. the measured throughput). */
  judge(out: FactOutput): { ok: boolean; detail: string }
}

/** The fields of ProbeSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const PROBE_FIELDS = specFields<ProbeSpec>()('name', 'command', 'judge')

/**
 * A read-only check (verify plays): runs its command with the host's fact reads (so a host's probes cost
 * one exec), never changes anything, and reports PASS/FAIL with a detail in the results table. A failed
 * probe fails its task without stopping the host's other probes. Key: `verify[NAME]`.
 * Errors: {@link ValidationError} for an empty name, a command that is not `{argv: non-empty string list, stdin?,
 * timeoutMs?}` (see {@link commandValue}), or a judge that is not a function.
 */
export function probe(spec: ProbeSpec): Task<ProbeSpec, CheckResult> {
  const key = `verify[${String(spec?.name)}]`
  validateSpec(key, () => knownFields(spec, PROBE_FIELDS))
  return validateSpec(key, () => {
    nonEmpty('name', spec.name)
    commandValue('command', spec.command)
    if (typeof spec.judge !== 'function') throw new ValidationError('judge', `expected a function (output) => ({ok, detail}), got ${shown(spec.judge)}`)
    const fact = {
      id: `probe:${spec.name}`,
      command: spec.command,
      okExitCodes: Array.from({ length: 256 }, (_, i) => i),
      parse: (o: FactOutput): CheckResult => ({ check: spec.name, ...spec.judge(o) }),
    }
    return {
      kind: 'verify',
      key,
      spec,
      facts: [fact],
      watches: [],
      current: (f) => f.get(fact),
      plan: () => [],
      result: (cur) => cur,
    }
  })
}
