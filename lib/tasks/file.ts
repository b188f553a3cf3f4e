import { readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { script, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { requireDependency } from '../core/require.ts'
import { SkipTask, type Change, type Task } from '../core/task.ts'
import { fileFact, type FileState } from '../facts/files.ts'
import { filePath, shown, validateSpec, knownFields, specFields } from '../core/validate.ts'
import { holdsSecret } from '../core/secrets.ts'

/**
 * Commands that write a file atomically: content on stdin to a temp file in the same folder, chmod,
 * then rename over the destination (rename(2) is atomic within a filesystem). A destination that is a symbolic
 * link is written through: the file it points to is replaced and the link stays (file facts read through links,
 * so what is planned is what is written; a dangling link gets its target created, folders included).
 */
export function writeFileCommand(dest: string, content: string, mode: string) {
  return {
    ...script('set -e; f=$1; if [ -L "$f" ]; then f=$(readlink -m -- "$f"); if [ -L "$f" ]; then echo "vxlab: $1 is a symbolic link that does not resolve (a loop?)" >&2; exit 1; fi; fi; d=$(dirname -- "$f"); mkdir -p -- "$d"; t=$(mktemp -- "$f.vxlab.XXXXXX"); cat > "$t"; chmod "$2" "$t"; mv -f -- "$t" "$f"', dest, mode),
    stdin: content,
  }
}

/**
 * The command that writes `value` (one line) to `file` unless the file is there, creating its folder: a record of
 * the value a setting had before vxlab first changed it (setMtu's and sysctl's `recordPrior`, under /run/vxlab).
 * A later change (the playbook's value edited, 1554 -> 1600) keeps the first record: recording again would store
 * vxlab's own value over the user's, which `ensure: 'absent'` could then never put back.
 */
export function recordOnceCommand(file: string, value: string): Command {
  return script('[ -e "$1" ] && exit 0; mkdir -p -- "${1%/*}" && printf \'%s\\n\' "$2" > "$1.vxlab.$$" && mv -f -- "$1.vxlab.$$" "$1"', file, value)
}

/**
 * What an `ensure: 'absent'` does with a record of {@link recordOnceCommand} (setMtu's and sysctl's `recordPrior`):
 * - the setting is gone (its link or key no longer exists), the record holds the value the task sets, or the
 *   setting is back at the recorded value: delete the record;
 * - the setting holds another value than the task sets (changed by hand, or set by another version of the
 *   playbook): leave both, and skip the task with the reason ({@link SkipTask}): the record is the only copy of
 *   the value from before vxlab, for an absent run whose value the setting has;
 * - else `restore(rm)`: the change that sets the recorded value back, `rm` (which deletes the record and its
 *   folders once empty) among its commands.
 * Values are compared as given (`now`, `set` and `prior` normalized alike by the caller).
 */
export function planRecordRestore<V extends string | number>(r: {
  /** The record file. */
  readonly file: string
  /** The setting's name in messages (`eth0`, `net.ipv4.ip_forward`) and what its value is called (`MTU`, `value`). */
  readonly name: string
  readonly noun: string
  /** How messages name the setting (`the MTU of eth0`) and what holds it (`the link`, `the key`). */
  readonly subject: string
  readonly holder: string
  /** Why there is nothing to restore when `now` is undefined (`link eth0 no longer exists`). */
  readonly gone: string
  readonly now: V | undefined
  readonly set: V
  readonly prior: V
  readonly restore: (rm: Command) => Change
}): Change[] {
  const { file, prior } = r
  const rm = script('rm -f -- "$1" && { rmdir -- "${1%/*}" "${1%/*/*}" 2>/dev/null || true; }', file)
  const drop = (why: string): Change[] => [{ op: 'delete', summary: `delete ${file} (${why})`, commands: [rm], touches: [`file:${file}`] }]
  if (r.now === undefined) return drop(r.gone)
  if (prior === r.set) return drop(`it records ${prior}, the ${r.noun} ${r.name} has`)
  if (r.now === prior) return drop(`${r.name} is back at the ${prior} it records`)
  if (r.now !== r.set) {
    throw new SkipTask(`left ${r.subject} at ${r.now}: not the ${r.set} this playbook sets (changed since, or set by another version of the playbook); the ${r.noun} from before vxlab, ${prior}, stays recorded in ${file} for an absent run whose ${r.noun} ${r.holder} has`)
  }
  return [r.restore(rm)]
}

type CreateTwoFilesPatch = (oldName: string, newName: string, oldStr: string, newStr: string, oldHeader: string, newHeader: string) => string
let createTwoFilesPatch: CreateTwoFilesPatch | undefined

/**
 * Unified diff of a file's old and new content (jsdiff), labelled with the path. jsdiff is loaded on first use
 * (its CommonJS build, synchronously: plans are pure functions): a run that plans no file change never loads it.
 */
export function fileDiff(path: string, before: string, after: string): string {
  createTwoFilesPatch ??= (requireDependency('diff') as { createTwoFilesPatch: CreateTwoFilesPatch }).createTwoFilesPatch
  return createTwoFilesPatch(path, path, before, after, 'current', 'planned')
}

/** Spec of {@link template}. */
export interface TemplateSpec {
  /** Absolute destination path on the host. */
  readonly dest: string
  /** Path of a Handlebars template on the controller, or `{inline: '...'}` for template text. */
  readonly src: string | { readonly inline: string }
  /** Template variables; a variable the template uses but `vars` lacks is an error (Handlebars `strict`). */
  readonly vars?: Readonly<Record<string, unknown>>
  /** Octal file mode (default '644'). */
  readonly mode?: string
}

interface HandlebarsLike {
  compile(src: string, opts: { noEscape: boolean; strict: boolean }): (ctx: unknown) => string
}

let handlebars: HandlebarsLike | undefined
/**
 * Handlebars, loaded on first use only (a run without templates never pays for it), from its one-file build
 * (compiler and runtime, the same code as the package's main): the main entry also loads the precompiler and
 * source-map, ~40 more modules, which made the first render cost ~80 ms. vxlab's own instance: helpers
 * registered on the `handlebars` package do not apply to vxlab templates.
 */
function hbs(): HandlebarsLike {
  handlebars ??= requireDependency('handlebars/dist/handlebars.min.js') as HandlebarsLike
  return handlebars
}

/**
 * A Handlebars error as one readable line: `"x" not defined in [object Object] - 1:2` (strict mode) becomes
 * `variable "x" is not defined (line 1, column 2)`; a parse error keeps its snippet and what was expected.
 */
export function templateError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e)
  const undef = /^"(.*)" not defined in .* - (\d+):(\d+)$/s.exec(msg.trim())
  if (undef) return `variable "${undef[1]}" is not defined (line ${undef[2]}, column ${Number(undef[3]) + 1})`
  return msg.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '' && !/^-*\^$/.test(l)).join(' | ')
}

/** Compiled templates by source: a playbook renders the same template for many hosts (compiling is the costly part). */
const compiled = new Map<string, (ctx: unknown) => string>()

/** Render a Handlebars template with `noEscape` and `strict` (missing variables are errors). */
export function renderTemplate(source: string, vars: Readonly<Record<string, unknown>>): string {
  let render = compiled.get(source)
  if (render === undefined) {
    render = hbs().compile(source, { noEscape: true, strict: true })
    compiled.set(source, render)
  }
  return render(vars)
}

/** {@link import('../core/task.ts').Change.diffHidden} of a file whose content holds a secret. */
export const SECRET_CONTENT = 'it holds secret values'

/** The fields of TemplateSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const TEMPLATE_FIELDS = specFields<TemplateSpec>()('dest', 'src', 'vars', 'mode')

/**
 * Render a Handlebars template on the controller and write it to `dest` on the host when content or mode
 * differ: create / update with a unified diff. Rendering happens when the playbook is built, so a missing
 * variable or template file is a validation error before any host is contacted.
 * A template whose `vars` hold a secret (`secret()`, at any depth), or whose content holds one, gets no diff:
 * the change says `diffHidden: 'it holds secret values'` instead (the file's current content may hold an old
 * secret); the change itself, its summary and its commands (the content goes on stdin) stay.
 * Errors: {@link ValidationError} for a `dest` that is not an absolute file path, a `mode` that is not an octal
 * string, a `src` that is neither a path nor `{inline: string}` or cannot be read, `vars` that are not a mapping,
 * a template that does not parse or uses a variable `vars` lacks.
 */
export function template(spec: TemplateSpec): Task<TemplateSpec, FileState> {
  // the key names the file as the host sees it, so /etc//x and /etc/x are the same task (a duplicate)
  const key = `file.template[${typeof spec?.dest === 'string' && spec?.dest.startsWith('/') ? posix.normalize(spec?.dest) : String(spec?.dest)}]`
  validateSpec(key, () => knownFields(spec, TEMPLATE_FIELDS))
  return validateSpec(key, () => {
    const dest = filePath('dest', spec.dest)
    const mode: unknown = spec.mode ?? '644'
    if (typeof mode !== 'string' || !/^[0-7]{3,4}$/.test(mode)) {
      throw new ValidationError('mode', `expected an octal mode as a string like '644'${typeof mode === 'number' ? ' (a number is read as decimal)' : ''}, got ${JSON.stringify(mode)}`)
    }
    let source: string
    const src: unknown = spec.src
    if (typeof src === 'string') {
      if (src === '') throw new ValidationError('src', "expected the path of a template file on the controller or {inline: 'template text'}, got an empty path")
      try {
        source = readFileSync(src, 'utf8')
      } catch (e) {
        throw new ValidationError('src', `cannot read template ${src}: ${e instanceof Error ? e.message : String(e)}`)
      }
    } else if (src !== null && typeof src === 'object' && !Array.isArray(src) && 'inline' in src) {
      const inline: unknown = src.inline
      const other = Object.keys(src).filter((k) => k !== 'inline')
      if (other.length > 0) throw new ValidationError('src', `{inline} takes the template text only; unknown ${other.length === 1 ? 'key' : 'keys'} ${other.map((k) => JSON.stringify(k)).join(', ')} (a template file is given as src: 'PATH')`)
      if (typeof inline !== 'string') throw new ValidationError('src.inline', `expected the template text (a string), got ${shown(inline)}`)
      source = inline
    } else throw new ValidationError('src', `expected the path of a template file on the controller or {inline: 'template text'}, got ${shown(src)}`)
    const vars: unknown = spec.vars ?? {}
    if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) throw new ValidationError('vars', `expected a mapping of template variables ({name: value}), got ${shown(vars)}`)
    let content: string
    try {
      content = renderTemplate(source, vars as Readonly<Record<string, unknown>>)
    } catch (e) {
      throw new ValidationError('vars', `template ${typeof spec.src === 'string' ? spec.src : '(inline)'}: ${templateError(e)}`)
    }
    // a file rendered from a secret (or holding one) has no diff: its current content may hold an old secret,
    // which no text masking can know (Ansible hides such diffs with no_log / diff: false)
    const secretContent = holdsSecret(spec.vars ?? {}) || holdsSecret(content)
    const diffOf = (before: string): { diff: string } | { diffHidden: string } => (secretContent ? { diffHidden: SECRET_CONTENT } : { diff: fileDiff(dest, before, content) })
    const fact = fileFact(dest)
    // as stat(1) %a prints it: no leading zeros (`0640` -> `640`, `000` -> `0`), so the comparison converges
    const wantMode = Number.parseInt(mode, 8).toString(8)
    return {
      kind: 'file.template',
      key,
      spec,
      facts: [fact],
      watches: [`file:${dest}`],
      owns: [`file:${dest}`],
      current: (f) => f.get(fact),
      plan: (cur) => {
        const touches = [`file:${dest}`]
        if (!cur.exists) {
          return [{ op: 'create', summary: `write ${dest} (${Buffer.byteLength(content)} bytes, mode ${wantMode})`, ...diffOf(''), commands: [writeFileCommand(dest, content, wantMode)], touches }]
        }
        if (cur.content === content && cur.mode === wantMode) return []
        return [{
          op: 'update',
          summary: `update ${dest}${cur.mode !== wantMode ? ` mode ${cur.mode} -> ${wantMode}` : ''}`,
          before: { mode: cur.mode },
          after: { mode: wantMode },
          ...(cur.content !== content ? diffOf(cur.content) : {}),
          commands: [writeFileCommand(dest, content, wantMode)],
          touches,
        }]
      },
    }
  })
}
