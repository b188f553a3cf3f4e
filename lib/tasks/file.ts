import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { script } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { requireDependency } from '../core/require.ts'
import type { Fact, FactGroup, FactOutput, Task } from '../core/task.ts'
import { readGroupFrame } from '../facts/group.ts'
import { absPath, validateSpec } from '../core/validate.ts'

/** The state of one file on a host: absent, or its content and octal mode. */
export type FileState = { readonly exists: false } | { readonly exists: true; readonly content: string; readonly mode: string }

/** The command of {@link fileFact} for one file. */
export const FILE_SCRIPT = '[ -e "$1" ] || exit 3; stat -c %a -- "$1" && cat -- "$1"'

/**
 * {@link FILE_SCRIPT} for every file of a batch (see {@link fileFact}), in three processes whatever the number of
 * files: one `stat` for every mode, then ONE `cat` of every readable regular file, each followed by a separator
 * file holding a line with the read's random token (written by the shell's printf, removed at the end), so the
 * controller splits the contents without counting bytes. Output (parsed by {@link splitFilesOutput}):
 * `TOKEN modes S1 S2 ...` (per file: `a` absent, `cM` in the cat with mode M, `o` read on its own), then for
 * the `c` files `TOKEN cat`, the cat output, `TOKEN catrc CODE`; then a frame (lib/facts/group.ts) per `o` file,
 * and per `c` file too when the cat failed (a file removed or made unreadable meanwhile): those run
 * {@link FILE_SCRIPT} on their own. Without a writable temp folder every file is read on its own.
 * Args: token, the paths (none with a newline).
 */
export const FILES_GROUP_SCRIPT = `t=$1; shift
exec 3>&1
stats=$(stat -c '%a %n' -- "$@" 2>/dev/null)
m=\${TMPDIR:-/tmp}/.vxlab-$t.sep
{ set -C; printf '\\n%s\\n' "$t" >"$m"; } 2>/dev/null || m=
set +C
st= refs= i=0
for f in "$@"; do
  i=$((i+1))
  mode=
  while IFS= read -r l; do [ "\${l#* }" = "$f" ] && { mode=\${l%% *}; break; }; done <<VXEOF
$stats
VXEOF
  if [ ! -e "$f" ]; then st="$st a"
  elif [ -n "$m" ] && [ -n "$mode" ] && [ -f "$f" ] && [ -r "$f" ]; then st="$st c$mode"; refs="$refs \\"\\\${$i}\\" \\"\\$m\\""
  else st="$st o"
  fi
done
printf '%s modes%s\\n' "$t" "$st"
rc=0
if [ -n "$refs" ]; then
  printf '%s cat\\n' "$t"
  eval "cat -- $refs"; rc=$?
  printf '%s catrc %d\\n' "$t" "$rc"
fi
[ -z "$m" ] || rm -f -- "$m"
k=0
for s in $st; do
  k=$((k+1))
  case $s in a) continue ;; c*) [ "$rc" -eq 0 ] && continue ;; esac
  eval "f=\\\${$k}"
  printf '%s %d\\n' "$t" "$((k-1))"
  e=$( { [ -e "$f" ] || exit 3; stat -c %a -- "$f" && cat -- "$f"; } 2>&1 1>&3 ); code=$?
  printf '\\n%s %d err %d\\n%s\\n%s %d end\\n' "$t" "$((k-1))" "$code" "$e" "$t" "$((k-1))"
done`

/**
 * Each file's output from {@link FILES_GROUP_SCRIPT}'s stdout, exactly as {@link FILE_SCRIPT} gives it
 * (`MODE\n` + the content, exit 0; exit 3 for absent): fewer than `count` when the script was cut short.
 */
export function splitFilesOutput(stdout: string, token: string, count: number): FactOutput[] {
  const head = `${token} modes`
  const at = stdout.indexOf(head)
  const eol = at < 0 ? -1 : stdout.indexOf('\n', at)
  if (eol < 0) return []
  const states = stdout.slice(at + head.length, eol).split(' ').filter((x) => x !== '')
  if (states.length !== count) return []
  let pos = eol + 1
  const contents = new Map<number, string>()
  const inCat = states.flatMap((x, k) => (x.startsWith('c') ? [k] : []))
  if (inCat.length > 0) {
    const catHead = `${token} cat\n`
    if (!stdout.startsWith(catHead, pos)) return []
    pos += catHead.length
    const rcHead = `${token} catrc `
    const rcAt = stdout.indexOf(rcHead, pos)
    const rcEnd = rcAt < 0 ? -1 : stdout.indexOf('\n', rcAt)
    if (rcEnd < 0) return []
    if (stdout.slice(rcAt + rcHead.length, rcEnd) === '0') {
      // the cat succeeded: each file's content, then the separator (after a failed cat, the frames below have the files)
      const sep = `\n${token}\n`
      for (const k of inCat) {
        const end = stdout.indexOf(sep, pos)
        if (end < 0 || end + sep.length > rcAt) return []
        contents.set(k, stdout.slice(pos, end))
        pos = end + sep.length
      }
      if (pos !== rcAt) return []
    }
    pos = rcEnd + 1
  }
  const outs: FactOutput[] = []
  for (const [k, x] of states.entries()) {
    if (x === 'a') {
      outs.push({ code: 3, stdout: '', stderr: '' })
      continue
    }
    const c = contents.get(k)
    if (c !== undefined) {
      outs.push({ code: 0, stdout: `${x.slice(1)}\n${c}`, stderr: '' })
      continue
    }
    const f = readGroupFrame(stdout, token, k, pos)
    if (f === undefined) break
    outs.push(f.out)
    pos = f.next
  }
  return outs
}

/**
 * Fact: a file's mode and content. Exit 3 = absent; any other failure (permission denied) is an error,
 * never "absent". Output: mode on the first line, then the exact bytes of the file. The file facts of a
 * batch are read together (one stat and one cat for all: {@link FILES_GROUP_SCRIPT}).
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
        split: (out) => splitFilesOutput(out.stdout, token, members.length),
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

/**
 * Render a Handlebars template on the controller and write it to `dest` on the host when content or mode
 * differ: create / update with a unified diff. Rendering happens when the playbook is built, so a missing
 * variable or template file is a validation error before any host is contacted.
 */
export function template(spec: TemplateSpec): Task<TemplateSpec, FileState> {
  // the key names the file as the host sees it, so /etc//x and /etc/x are the same task (a duplicate)
  const key = `file.template[${typeof spec.dest === 'string' && spec.dest.startsWith('/') ? posix.normalize(spec.dest) : String(spec.dest)}]`
  return validateSpec(key, () => {
    const dest = posix.normalize(absPath('dest', spec.dest))
    if (dest.endsWith('/')) throw new ValidationError('dest', `expected the path of a file, got a folder: ${JSON.stringify(spec.dest)}`)
    const mode: unknown = spec.mode ?? '644'
    if (typeof mode !== 'string' || !/^[0-7]{3,4}$/.test(mode)) {
      throw new ValidationError('mode', `expected an octal mode as a string like '644'${typeof mode === 'number' ? ' (a number is read as decimal)' : ''}, got ${JSON.stringify(mode)}`)
    }
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
      throw new ValidationError('vars', `template ${typeof spec.src === 'string' ? spec.src : '(inline)'}: ${templateError(e)}`)
    }
    const fact = fileFact(dest)
    // as stat(1) %a prints it: no leading zeros (`0640` -> `640`, `000` -> `0`), so the comparison converges
    const wantMode = Number.parseInt(mode, 8).toString(8)
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
