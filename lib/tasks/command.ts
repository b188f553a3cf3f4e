import { script as shScript, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import type { Fact, Task } from '../core/task.ts'
import { absPath, validateSpec } from '../core/validate.ts'

/** Spec of {@link command}. Give exactly one of `argv` or `script`. */
export interface CommandSpec {
  /** Program and arguments, each passed literally (no shell). */
  readonly argv?: readonly string[]
  /** A POSIX sh script body; values go in `args` and are read as "$1", "$2", ... never interpolated. */
  readonly script?: string
  /** Positional parameters for `script`. */
  readonly args?: readonly string[]
  /** Name shown in the task key: `command[name]` (default: argv[0] or "script"). */
  readonly name?: string
  /** Skip when this path exists on the host (absolute path). */
  readonly creates?: string
  /** Skip when this command exits 0 on the host (it must not change anything). */
  readonly unless?: readonly string[]
  /** Standard input for the command. */
  readonly stdin?: string
  /** Time limit in ms (default: the run's command timeout). */
  readonly timeoutMs?: number
}

interface CommandCurrent {
  readonly createsExists: boolean
  readonly unlessPassed: boolean
}

/** An argv list: a non-empty array of strings whose first (the program) is not empty. */
function argvList(field: string, v: unknown): void {
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new ValidationError(field, `expected a list of strings (program and arguments), got ${JSON.stringify(v)}`)
  if (v.length === 0 || v[0] === '') throw new ValidationError(field, 'must not be empty')
}

/**
 * The escape hatch: run a command. Reported as changed only when it runs. With `creates` or `unless`, it
 * runs only when the guard says so, and the guard is re-checked after apply (convergence); without a
 * guard it runs on every run and is exempt from the convergence check.
 * Errors: {@link ValidationError} when neither or both of argv/script are given, or argv is empty.
 */
export function command(spec: CommandSpec): Task<CommandSpec, CommandCurrent> {
  const label = spec.name ?? spec.argv?.[0] ?? 'script'
  const key = `command[${label}]`
  return validateSpec(key, () => {
    if ((spec.argv === undefined) === (spec.script === undefined)) throw new ValidationError('argv', 'give exactly one of argv or script')
    if (spec.argv !== undefined) argvList('argv', spec.argv)
    if (spec.creates !== undefined) absPath('creates', spec.creates)
    if (spec.unless !== undefined) argvList('unless', spec.unless)
    const run: Command = {
      ...(spec.argv !== undefined ? { argv: spec.argv } : shScript(spec.script!, ...(spec.args ?? []))),
      ...(spec.stdin !== undefined ? { stdin: spec.stdin } : {}),
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    }
    const facts: Array<Fact<boolean>> = []
    const createsFact: Fact<boolean> | undefined = spec.creates === undefined ? undefined : {
      id: `file.exists:${spec.creates}`,
      command: { argv: ['test', '-e', spec.creates] },
      okExitCodes: [0, 1],
      parse: (o) => o.code === 0,
    }
    const unlessFact: Fact<boolean> | undefined = spec.unless === undefined ? undefined : {
      id: `command.unless:${JSON.stringify(spec.unless)}`,
      command: { argv: spec.unless },
      okExitCodes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 124, 125, 126, 127],
      parse: (o) => o.code === 0,
    }
    if (createsFact) facts.push(createsFact)
    if (unlessFact) facts.push(unlessFact)
    const guarded = createsFact !== undefined || unlessFact !== undefined
    return {
      kind: 'command',
      key,
      spec,
      facts,
      converges: guarded,
      current: (f) => ({
        createsExists: createsFact ? f.get(createsFact) : false,
        unlessPassed: unlessFact ? f.get(unlessFact) : false,
      }),
      plan: (cur) => {
        if (cur.createsExists || cur.unlessPassed) return []
        return [{ op: 'update', summary: `run ${label}`, commands: [run] }]
      },
    }
  })
}
