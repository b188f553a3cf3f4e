import { script as shScript, withSecretArgs, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { holdsSecret, MASKED } from '../core/secrets.ts'
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

/** The numbers that tell apart `unless` guards shown alike (their secrets as `***`), by their argv. */
const hiddenGuards = new Map<string, number>()

/**
 * The fact id of an `unless` guard: its argv as JSON (one read for tasks with the same guard). Fact ids are shown
 * in errors, so an element that holds a secret is `***` there, and a number tells such guards apart.
 */
function unlessFactId(argv: readonly string[]): string {
  const real = JSON.stringify(argv)
  if (!argv.some(holdsSecret)) return `command.unless:${real}`
  let n = hiddenGuards.get(real)
  if (n === undefined) hiddenGuards.set(real, (n = hiddenGuards.size + 1))
  return `command.unless:${JSON.stringify(argv.map((a) => (holdsSecret(a) ? MASKED : a)))}#${n}`
}

/** An argv list: a non-empty array of strings whose first (the program) is not empty. */
function argvList(field: string, v: unknown): void {
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new ValidationError(field, `expected a list of strings (program and arguments), got ${JSON.stringify(v)}`)
  if (v.length === 0 || v[0] === '') throw new ValidationError(field, 'must not be empty')
}

/**
 * The escape hatch: run a command. Reported as changed only when it runs. With `creates` or `unless`, it
 * runs only when the guard says so, and the guard is re-checked after apply (convergence); without a
 * guard it runs on every run and is exempt from the convergence check. An element of `argv`, `script`, `args`
 * or `unless` that is a secret (`secret()`, any length) or holds one that text masking finds (see `secret()`) is
 * shown as `***` (`NAME=***` for `NAME=VALUE`) in plans, `-v` logs, errors and the JSON report; a short secret
 * interpolated into a longer element is not found: give it as an element of its own.
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
    // an element that holds a secret (the script body included) is *** wherever the command is shown
    const run: Command = withSecretArgs({
      ...(spec.argv !== undefined ? { argv: spec.argv } : shScript(spec.script!, ...(spec.args ?? []))),
      ...(spec.stdin !== undefined ? { stdin: spec.stdin } : {}),
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    })
    const facts: Array<Fact<boolean>> = []
    const createsFact: Fact<boolean> | undefined = spec.creates === undefined ? undefined : {
      id: `file.exists:${spec.creates}`,
      command: { argv: ['test', '-e', spec.creates] },
      okExitCodes: [0, 1],
      parse: (o) => o.code === 0,
    }
    const unlessFact: Fact<boolean> | undefined = spec.unless === undefined ? undefined : {
      id: unlessFactId(spec.unless),
      command: withSecretArgs({ argv: spec.unless }),
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
