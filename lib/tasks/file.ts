import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { script } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { requireDependency } from '../core/require.ts'
import type { Fact, FactGroup, Task } from '../core/task.ts'
import { splitGroupOutput } from '../facts/group.ts'
import { absPath, validateSpec } from '../core/validate.ts'

/** The state of one file on a host: absent, or its content and octal mode. */
export type FileState = { readonly exists: false } | { readonly exists: true; readonly content: string; readonly mode: string }

/** The command of {@link fileFact} for one file. */
export const FILE_SCRIPT = '[ -e "$1" ] || exit 3; stat -c %a -- "$1" && cat -- "$1"'

/**
 * {@link FILE_SCRIPT} for every file of a batch (see {@link fileFact}): one `stat` for all the files, then each
 * file framed as lib/facts/group.ts says, with the output and exit code its own command gives (a file that
 * stat could not read goes through its own command). Args: token, the paths (none with a newline).
 */
export const FILES_GROUP_SCRIPT = `t=$1; shift
exec 3>&1
stats=$(stat -c '%a %n' -- "$@" 2>/dev/null)
k=0
for f in "$@"; do
  printf '%s %d\\n' "$t" "$k"
  mode=
  while IFS= read -r l; do [ "\${l#* }" = "$f" ] && { mode=\${l%% *}; break; }; done <<VXEOF
$stats
VXEOF
  if [ ! -e "$f" ]; then code=3 e=
  elif [ -n "$mode" ]; then printf '%s\\n' "$mode"; e=$( { cat -- "$f"; } 2>&1 1>&3 ); code=$?
  else e=$( { stat -c %a -- "$f" && cat -- "$f"; } 2>&1 1>&3 ); code=$?
  fi
  printf '\\n%s %d err %d\\n%s\\n%s %d end\\n' "$t" "$k" "$code" "$e" "$t" "$k"
  k=$((k+1))
done`

/**
 * Fact: a file's mode and content. Exit 3 = absent; any other failure (permission denied) is an error,
 * never "absent". Output: mode on the first line, then the exact bytes of the file. The file facts of a
 * batch are read together (one stat for all: {@link FILES_GROUP_SCRIPT}).
 */
export function fileFact(path: string): Fact<FileState> {
  return {
    id: `file:${path}`,
    command: script(FILE_SCRIPT, path),
    ...(path.includes('\n') ? {} : { group: filesGroup(path) }),
    okExitCodes: [0, 3],
    parse: (o) => {
      if (o.code === 3) return { exists: false }
      const nl = o.stdout.indexOf('\n')
      return { exists: true, mode: o.stdout.slice(0, nl).trim(), content: o.stdout.slice(nl + 1) }
    },
  }
}

function filesGroup(path: string): FactGroup {
  return {
    key: 'files',
    args: [path],
    read(members) {
      const token = `VXF${randomBytes(6).toString('hex')}`
      return {
        command: script(FILES_GROUP_SCRIPT, token, ...members.map((m) => m[0]!)),
        split: (out) => splitGroupOutput(out.stdout, token, members.length),
      }
    },
  }
}

/**
 * Commands that write a file atomically: content on stdin to a temp file in the same folder, chmod,
 * then rename over the destination (rename(2) is atomic within a filesystem).
 */
export function writeFileCommand(dest: string, content: string, mode: string) {
  return {
    ...script('set -e; d=$(dirname -- "$1"); mkdir -p -- "$d"; t=$(mktemp -- "$1.vxlab.XXXXXX"); cat > "$t"; chmod "$2" "$t"; mv -f -- "$t" "$1"', dest, mode),
    stdin: content,
  }
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

/**
 * Render a Handlebars template on the controller and write it to `dest` on the host when content or mode
 * differ: create / update with a unified diff. Rendering happens when the playbook is built, so a missing
 * variable or template file is a validation error before any host is contacted.
 */
export function template(spec: TemplateSpec): Task<TemplateSpec, FileState> {
  const key = `file.template[${spec.dest}]`
  return validateSpec(key, () => {
    const dest = absPath('dest', spec.dest)
    const mode = spec.mode ?? '644'
    if (!/^[0-7]{3,4}$/.test(mode)) throw new ValidationError('mode', `expected an octal mode like 644, got ${JSON.stringify(mode)}`)
    let source: string
    if (typeof spec.src === 'string') {
      try {
        source = readFileSync(spec.src, 'utf8')
      } catch (e) {
        throw new ValidationError('src', `cannot read template ${spec.src}: ${e instanceof Error ? e.message : String(e)}`)
      }
    } else source = spec.src.inline
    let content: string
    try {
      content = renderTemplate(source, spec.vars ?? {})
    } catch (e) {
      throw new ValidationError('vars', `template ${typeof spec.src === 'string' ? spec.src : '(inline)'}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`)
    }
    const fact = fileFact(dest)
    const wantMode = mode.replace(/^0(?=\d{3}$)/, '')
    return {
      kind: 'file.template',
      key,
      spec,
      facts: [fact],
      watches: [`file:${dest}`],
      current: (f) => f.get(fact),
      plan: (cur) => {
        const touches = [`file:${dest}`]
        if (!cur.exists) {
          return [{ op: 'create', summary: `write ${dest} (${Buffer.byteLength(content)} bytes, mode ${wantMode})`, diff: fileDiff(dest, '', content), commands: [writeFileCommand(dest, content, wantMode)], touches }]
        }
        if (cur.content === content && cur.mode === wantMode) return []
        return [{
          op: 'update',
          summary: `update ${dest}${cur.mode !== wantMode ? ` mode ${cur.mode} -> ${wantMode}` : ''}`,
          before: { mode: cur.mode },
          after: { mode: wantMode },
          ...(cur.content !== content ? { diff: fileDiff(dest, cur.content, content) } : {}),
          commands: [writeFileCommand(dest, content, wantMode)],
          touches,
        }]
      },
    }
  })
}
