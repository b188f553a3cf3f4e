import type { Command } from '../core/command.ts'

/**
 * Quote one argument for any POSIX shell (dash, bash, busybox sh): wrap it in single quotes and
 * write each embedded `'` as `'\''`. The empty string becomes `''` so it never vanishes.
 * This and {@link renderArgv} are the only places in vxlab that turn data into shell text.
 */
export function quote(arg: string): string {
  if (arg.includes('\0')) throw new Error('argument contains a NUL byte, which no shell can pass')
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

/**
 * Words a shell gives a meaning of their own in command position when they are unquoted: reserved words
 * (POSIX and bash) and assignments (`A=b cmd` sets a variable). argv[0] is always a program name.
 */
const COMMAND_WORD_SPECIAL = /^(!|\{|\}|\[\[|\]\]|if|then|else|elif|fi|do|done|case|esac|while|until|for|in|function|select|time|coproc)$|=/

/** Quote argv[0] as {@link quote} does, and always quote a word a shell reads as syntax in command position. */
export function quoteProgram(arg: string): string {
  const q = quote(arg)
  return COMMAND_WORD_SPECIAL.test(arg) && !q.startsWith("'") ? `'${arg}'` : q
}

/** Render an argv array to one shell command line, each element quoted once (argv[0] always as a program name). */
export function renderArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty argv')
  return argv.map((a, i) => (i === 0 ? quoteProgram(a) : quote(a))).join(' ')
}

/** Render a {@link Command} (without its stdin) to a shell command line. */
export function renderCommand(c: Command): string {
  return renderArgv(c.argv)
}
