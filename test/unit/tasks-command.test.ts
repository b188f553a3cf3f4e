/**
 * command(): every field is checked when the playbook is built. A fresh-user trial found timeoutMs, stdin, args and
 * script unchecked: they failed at apply (`command timed out after -5 ms`, a raw TypeError from Node) or crashed the
 * build as "internal error: TypeError" (exit 1) instead of a validation error (exit 2).
 */
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../lib/core/errors.ts'
import type { Change } from '../../lib/core/task.ts'
import { command } from '../../lib/tasks/command.ts'

/** The message command() throws for a spec (a ValidationError, or the test fails). */
function refused(spec: unknown): string {
  try {
    command(spec as never)
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError)
    return (e as Error).message
  }
  throw new Error(`accepted: ${String(spec)}`)
}

const planOf = (t: ReturnType<typeof command>): Change[] => t.plan(t.current({ get: () => false } as never), t.spec)

describe('command: bad input is a ValidationError naming the task and field', () => {
  it.each([
    [{ argv: ['true'], timeoutMs: -5 }, 'command[true].timeoutMs: -5 ms is out of range 1..2000000000 (~23 days)'],
    [{ argv: ['true'], timeoutMs: 0 }, 'command[true].timeoutMs: 0 ms is out of range 1..2000000000 (~23 days)'],
    [{ argv: ['true'], timeoutMs: 3e9 }, 'command[true].timeoutMs: 3000000000 ms is out of range 1..2000000000 (~23 days)'],
    [{ argv: ['true'], timeoutMs: NaN }, 'command[true].timeoutMs: expected a time limit in ms (an integer 1..2000000000), got NaN'],
    [{ argv: ['true'], timeoutMs: 'abc' }, 'command[true].timeoutMs: expected a time limit in ms (an integer 1..2000000000), got "abc"'],
    [{ argv: ['true'], timeoutMs: 1.5 }, 'command[true].timeoutMs: expected a time limit in ms (an integer 1..2000000000), got 1.5'],
    [{ argv: ['cat'], stdin: 5 }, 'command[cat].stdin: expected a string, got 5'],
    [{ argv: ['cat'], stdin: null }, 'command[cat].stdin: expected a string, got null'],
    [{ argv: ['cat'], stdin: Buffer.from('x') }, 'command[cat].stdin: expected a string, got an object'],
    [{ script: 'echo "$1"', args: [1, 2] }, 'command[script].args: expected a list of strings (the positional parameters "$1", "$2", ...), got [1,2]'],
    [{ script: 'echo "$1"', args: 'x' }, 'command[script].args: expected a list of strings (the positional parameters "$1", "$2", ...), got "x"'],
    [{ script: 'echo "$1"', args: ['a', 'b\0c'] }, 'command[script].args[1]: must not contain a NUL byte (execve(2) arguments are C strings), got "b\\u0000c"'],
    [{ argv: ['echo'], args: ['x'] }, 'command[echo].args: args are the positional parameters of script; with argv, put the arguments in argv'],
    [{ script: 5 }, 'command[script].script: expected a non-empty POSIX sh script (a string), got 5'],
    [{ script: '' }, 'command[script].script: expected a non-empty POSIX sh script (a string), got ""'],
    [{ script: 'true\0' }, 'command[script].script: must not contain a NUL byte (sh reads its script as a C string)'],
    [{ script: null }, 'command[script].script: expected a non-empty POSIX sh script (a string), got null'],
    [{}, 'command[script].argv: give exactly one of argv or script'],
    [{ argv: ['true'], script: 'true' }, 'command[true].argv: give exactly one of argv or script'],
    [{ argv: 'ls -l' }, 'command[argv].argv: expected a list of strings (program and arguments), got "ls -l"'],
    [{ argv: ['printf', 'a\0b'] }, 'command[printf].argv[1]: must not contain a NUL byte (execve(2) arguments are C strings), got "a\\u0000b"'],
    [{ argv: ['true'], unless: ['test', '-e', '\0'] }, 'command[true].unless[2]: must not contain a NUL byte (execve(2) arguments are C strings), got "\\u0000"'],
    [{ name: 'a\nb', argv: ['true'] }, 'command[a\nb].name: expected a non-empty string without control characters (newline, tab, NUL), got "a\\nb"'],
    [{ name: '', argv: ['true'] }, 'command[].name: expected a non-empty string without control characters (newline, tab, NUL), got ""'],
    [{ name: 5, argv: ['true'] }, 'command[5].name: expected a non-empty string without control characters (newline, tab, NUL), got 5'],
    [{ name: Symbol('s'), argv: ['true'] }, 'command[Symbol(s)].name: expected a non-empty string without control characters (newline, tab, NUL), got Symbol(s)'],
  ])('%j', (spec, message) => {
    expect(refused(spec)).toBe(message)
  })
})

describe('command: valid input is planned as before', () => {
  it('argv with stdin and a time limit: one command, fields as given', () => {
    const [c] = planOf(command({ name: 'feed', argv: ['cat'], stdin: 'x\n', timeoutMs: 5000 }))
    expect(c!.commands).toEqual([{ argv: ['cat'], stdin: 'x\n', timeoutMs: 5000 }])
    expect(planOf(command({ argv: ['true'], timeoutMs: 2_000_000_000 }))[0]!.commands[0]!.timeoutMs).toBe(2_000_000_000)
  })
  it('a script with its args as positional parameters, an empty stdin kept', () => {
    const [c] = planOf(command({ script: 'echo "$1" "$2"', args: ['a b', ''], stdin: '' }))
    expect(c!.commands).toEqual([{ argv: ['sh', '-c', 'echo "$1" "$2"', 'sh', 'a b', ''], stdin: '' }])
    expect(command({ script: 'true' }).key).toBe('command[script]')
  })
})
