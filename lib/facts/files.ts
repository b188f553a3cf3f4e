import { randomBytes } from 'node:crypto'
import { readScript } from '../core/command.ts'
import type { Fact, FactGroup, FactOutput } from '../core/task.ts'
import { readGroupFrame } from './group.ts'

/**
 * Reading files on a host: mode and exact content, every file of a batch in one `stat` and one `cat`
 * (used by the file-backed tasks, lib/tasks/file.ts, and by the sysctl facts through /proc/sys).
 */

/** The state of one file on a host: absent, or its content and octal mode. */
export type FileState = { readonly exists: false } | { readonly exists: true; readonly content: string; readonly mode: string }

/**
 * The command of {@link fileFact} for one file: exit 3 when absent; exit 1 when it is no regular file (after
 * symlinks): a FIFO or a device would make `cat` wait or read forever, a folder cannot be read. A symbolic link
 * is read through: the mode and content of the file it points to; a dangling link is absent (writing creates its
 * target), a link that does not resolve (a loop) is an error.
 */
export const FILE_SCRIPT = '[ -e "$1" ] || { [ -L "$1" ] && [ -L "$(readlink -m -- "$1")" ] && { echo "vxlab: $1 is a symbolic link that does not resolve (a loop?)" >&2; exit 1; }; exit 3; }; [ -f "$1" ] || { echo "vxlab: $1 is not a regular file" >&2; exit 1; }; stat -L -c %a -- "$1" && cat -- "$1"'

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
stats=$(stat -L -c '%a %n' -- "$@" 2>/dev/null)
m=\${TMPDIR:-/tmp}/.vxlab-$t.sep
{ set -C; printf '\\n%s\\n' "$t" >"$m"; } 2>/dev/null || m=
set +C
nl='
'
st= refs= i=0 rest=$stats
for f in "$@"; do
  i=$((i+1))
  mode=
  # stat prints the files it could stat in the order given: each path takes the next line if that line is its own
  l=\${rest%%"$nl"*}
  if [ -n "$rest" ] && [ "\${l#* }" = "$f" ]; then
    mode=\${l%% *}
    case $rest in *"$nl"*) rest=\${rest#*"$nl"} ;; *) rest= ;; esac
  fi
  if [ ! -e "$f" ] && [ ! -L "$f" ]; then st="$st a"
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
  e=$( { set -- "$f"; ${FILE_SCRIPT}
} 2>&1 1>&3 ); code=$?
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
    command: readScript(FILE_SCRIPT, path),
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
        command: readScript(FILES_GROUP_SCRIPT, token, ...members.map((m) => m[0]!)),
        split: (out) => splitFilesOutput(out.stdout, token, members.length),
      }
    },
  }
}
