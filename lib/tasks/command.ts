import { script as shScript, withSecretArgs, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { holdsSecret, MASKED } from '../core/secrets.ts'
import type { Fact, Task } from '../core/task.ts'
import { absPath, shown, timeoutMs, validateSpec, knownFields, specFields } from '../core/validate.ts'

/** The fields of {@link CommandSpec} that both of its forms take. */
export interface CommandOptions {
  /**
   * Name shown in the task key: `command[name]` (default: argv[0], or "script"). A non-empty string without control
   * characters (a newline would split the key over lines in every report).
   */
  readonly name?: string
  /** Skip when this path exists on the host (absolute path). */
  readonly creates?: string
  /** Skip when this command exits 0 on the host (it must not change anything): a non-empty argv list, as `argv`. */
  readonly unless?: readonly string[]
  /** Standard input for the command (a string). */
  readonly stdin?: string
  /**
   * Time limit in ms, an integer 1..2000000000 (~23 days, the most `--command-timeout` allows: Node's timers hold
   * at most 2^31 - 1 ms); default: the run's command timeout (`--command-timeout`, 120 s).
   */
  readonly timeoutMs?: number
}

/** {@link command} running a program: `argv`, no shell. */
export interface CommandArgvSpec extends CommandOptions {
  /** Program and arguments, each passed literally (no shell): a non-empty list of strings, argv[0] not empty, no NUL byte. */
  readonly argv: readonly string[]
  readonly script?: never
  readonly args?: never
}

/** {@link command} running a POSIX sh script with positional parameters. */
export interface CommandScriptSpec extends CommandOptions {
  /** A POSIX sh script body (non-empty, no NUL byte); values go in `args` and are read as "$1", "$2", ... never interpolated. */
  readonly script: string
  /** Positional parameters for `script`: strings without NUL bytes. */
  readonly args?: readonly string[]
  readonly argv?: never
}

/** Spec of {@link command}: exactly one of `argv` ({@link CommandArgvSpec}) or `script` ({@link CommandScriptSpec}). */
export type CommandSpec = CommandArgvSpec | CommandScriptSpec

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

/** A list of strings without NUL bytes (no argument of a program can hold one: execve(2) takes C strings). */
function stringList(field: string, v: unknown, what: string): readonly string[] {
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new ValidationError(field, `expected a list of strings (${what}), got ${shown(v)}`)
  const nul = v.findIndex((a: string) => a.includes('\0'))
  if (nul >= 0) throw new ValidationError(`${field}[${nul}]`, `must not contain a NUL byte (execve(2) arguments are C strings), got ${shown(v[nul])}`)
  return v as readonly string[]
}

/** An argv list: a non-empty array of strings whose first (the program) is not empty. */
function argvList(field: string, v: unknown): readonly string[] {
  const list = stringList(field, v, 'program and arguments')
  if (list.length === 0 || list[0] === '') throw new ValidationError(field, 'must not be empty')
  return list
}

/** The fields of CommandSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const COMMAND_FIELDS = specFields<CommandSpec>()('name', 'creates', 'unless', 'stdin', 'timeoutMs', 'argv', 'script', 'args')

/**
 * The escape hatch: run a command. Reported as changed only when it runs. With `creates` or `unless`, it
 * runs only when the guard says so, and the guard is re-checked after apply (convergence); without a
 * guard it runs on every run and is exempt from the convergence check. An element of `argv`, `script`, `args`
 * or `unless` that is a secret (`secret()`, any length) or holds one that text masking finds (see `secret()`) is
 * shown as `***` (`NAME=***` for `NAME=VALUE`) in plans, `-v` logs, errors and the JSON report; a short secret
 * interpolated into a longer element is not found: give it as an element of its own.
 * Key: `command[NAME]`. Errors: {@link ValidationError} when neither or both of argv/script are given, `args`
 * without `script`, an empty or non-string argv / unless / script / args element, a NUL byte in one, a bad `name`,
 * a relative `creates`, a non-string `stdin`, a `timeoutMs` that is not an integer 1..2000000000.
 */
export function command(spec: CommandSpec): Task<CommandSpec, CommandCurrent> {
  // String(): a key is made even for a name of the wrong type (a symbol, an object), so the error can name the task
  const argv0: unknown = Array.isArray(spec?.argv) ? spec?.argv[0] : spec?.argv !== undefined ? 'argv' : undefined
  const label = String(spec?.name ?? argv0 ?? 'script')
  const key = `command[${label}]`
  validateSpec(key, () => knownFields(spec, COMMAND_FIELDS))
  return validateSpec(key, () => {
    if (spec.name !== undefined && (typeof spec.name !== 'string' || spec.name === '' || /[\x00-\x1f\x7f]/.test(spec.name))) {
      throw new ValidationError('name', `expected a non-empty string without control characters (newline, tab, NUL), got ${shown(spec.name)}`)
    }
    if ((spec.argv === undefined) === (spec.script === undefined)) throw new ValidationError('argv', 'give exactly one of argv or script')
    let run: Command
    if (spec.argv !== undefined) {
      if (spec.args !== undefined) throw new ValidationError('args', 'args are the positional parameters of script; with argv, put the arguments in argv')
      run = { argv: argvList('argv', spec.argv) }
    } else {
      const body: unknown = spec.script
      if (typeof body !== 'string' || body === '') throw new ValidationError('script', `expected a non-empty POSIX sh script (a string), got ${shown(body)}`)
      if (body.includes('\0')) throw new ValidationError('script', 'must not contain a NUL byte (sh reads its script as a C string)')
      run = shScript(body, ...(spec.args === undefined ? [] : stringList('args', spec.args, 'the positional parameters "$1", "$2", ...')))
    }
    if (spec.creates !== undefined) absPath('creates', spec.creates)
    if (spec.unless !== undefined) argvList('unless', spec.unless)
    const stdin: unknown = spec.stdin
    if (stdin !== undefined && typeof stdin !== 'string') {
      throw new ValidationError('stdin', `expected a string, got ${stdin === null || typeof stdin !== 'object' ? shown(stdin) : Array.isArray(stdin) ? 'an array' : 'an object'}`)
    }
    // an element that holds a secret (the script body included) is *** wherever the command is shown
    run = withSecretArgs({
      ...run,
      ...(stdin !== undefined ? { stdin } : {}),
      ...(spec.timeoutMs !== undefined ? { timeoutMs: timeoutMs('timeoutMs', spec.timeoutMs) } : {}),
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
