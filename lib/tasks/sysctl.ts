import { cmd, script, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import type { Change, Task } from '../core/task.ts'
import { boolean, filePath, oneOf, sysctlKey, validateSpec, knownFields, specFields } from '../core/validate.ts'
import { normalizeSysctlValue, sysctlFact, sysctlName, sysctlPath, type SysctlValue } from '../facts/sysctl.ts'
import { fileFact, type FileState } from '../facts/files.ts'
import { fileDiff, planRecordRestore, recordOnceCommand, writeFileCommand } from './file.ts'

/**
 * Kernel parameters (sysctl(8)) at runtime and persisted in a sysctl.d(5) file, like the seed's
 * `echo 'net.ipv4.ip_forward = 1' | sudo tee -a /etc/sysctl.conf; sudo sysctl -p` (without the append,
 * which duplicates the line on every run).
 */

const ENSURE = ['present', 'absent'] as const
const FILE_MODE = '644'

/** Spec of {@link sysctl}. */
export interface SysctlSpec {
  /** Key with dots or slashes, as sysctl(8) takes it: `net.ipv4.ip_forward`, `net/ipv4/conf/eth0.100/rp_filter`. */
  readonly key: string
  /**
   * Wanted value (required for present). A number must be an integer within +-(2^53 - 1) (where a JavaScript number
   * is exact), written in decimal: the kernel's numeric sysctls parse integers (proc_dointvec and its kin,
   * kernel/sysctl.c) and refuse `1.5` with EINVAL, but only at apply. A string is written as it
   * is (blanks collapsed to one space): multi-value keys take space-separated fields (`'4096 87380 6291456'`), text
   * keys a word (`'bbr'`), and a larger integer goes as a string (`'18446744073709551615'`).
   */
  readonly value?: string | number
  /** Also write the value to `file` so it survives a reboot (default true). */
  readonly persist?: boolean
  /** The sysctl.d file holding this key alone (default {@link defaultSysctlFile}: `/etc/sysctl.d/90-vxlab-<key>.conf`). */
  readonly file?: string
  /**
   * `present` (default): runtime value and file as wanted. `absent`: delete the persisted file (a kernel
   * parameter cannot be unset: the runtime value is left alone, as Ansible's sysctl `state: absent` does; needs
   * `persist`), unless `recordPrior` says to put a recorded value back.
   */
  readonly ensure?: 'present' | 'absent'
  /**
   * Default false. With `present`: before the first change of an existing key's runtime value, record the value it
   * has in {@link sysctlRecordFile} on the host (`/run/vxlab/sysctl/KEY`); a later change keeps that first record.
   * Under /run, so the record lives as long as the runtime value it is about (both are gone after a reboot).
   * With `absent` (and `value`: the value the present task set): while the runtime value is still `value`, set the
   * recorded one back, then delete the record; if it has another value (changed since), leave it and keep the
   * record, skipping with the reason; without a record
   * (the key had `value` already, or was set without `recordPrior`), leave it.
   */
  readonly recordPrior?: boolean
}

/** What {@link sysctl} reads: the runtime value, and the persisted file when `persist`. */
export interface SysctlCurrent {
  readonly runtime?: SysctlValue
  readonly file?: FileState
  /** `absent` with `recordPrior` only: the record of the value from before the change ({@link sysctlRecordFile}). */
  readonly record?: FileState
}

interface SysctlNorm {
  readonly key: string
  /** Normalized (trimmed, blanks collapsed to one space); '' for absent. */
  readonly value: string
  readonly persist: boolean
  readonly file: string
  readonly ensure: 'present' | 'absent'
  readonly recordPrior: boolean
}

/** Where {@link sysctl} with `recordPrior` keeps a key's runtime value from before its change: `/run/vxlab/sysctl/` + the key's /proc/sys path with dots (`net.ipv4.ip_forward`). */
export function sysctlRecordFile(key: string): string {
  return `/run/vxlab/sysctl/${sysctlPath(key).slice('/proc/sys/'.length).replace(/\//g, '.')}`
}

/** Default persisted file for a key: `/etc/sysctl.d/90-vxlab-<key with / as .>.conf` (applied after the distribution's 10-..50- files). */
export function defaultSysctlFile(key: string): string {
  return `/etc/sysctl.d/90-vxlab-${key.replace(/\//g, '.')}.conf`
}

/** Content of the persisted file: a header line and `key = value` (sysctl.d(5) syntax). */
export function sysctlFileContent(key: string, value: string): string {
  return `# Managed by vxlab (sysctl task): local edits are overwritten.\n${key} = ${value}\n`
}

/**
 * The interface a per-interface key belongs to (`net.ipv4.conf.IF.forwarding`, `net.ipv6.neigh.IF.*`;
 * with slashes, IF may contain dots): such a key exists only while the link does.
 */
export function sysctlKeyInterface(key: string): string | undefined {
  // on the /proc/sys path, as sysctl(8) maps the key: `net.ipv4.conf.vx/7.rp_filter` is link vx.7's, and
  // `net.ipv4.conf.eth0.100.rp_filter` (conf/eth0/100/rp_filter) is no per-interface key at all
  const m = /^\/proc\/sys\/net\/ipv[46]\/(?:conf|neigh)\/([^/]+)\/[^/]+$/.exec(sysctlPath(key))
  const dev = m?.[1]
  return dev === undefined || dev === 'all' || dev === 'default' ? undefined : dev
}

/**
 * Verify a runtime value after writing it: `sysctl -w` can exit 0 and still not hold the value (a
 * value the kernel clamps or ignores), so this reads it back and exits 1 with a message when it differs.
 */
export function sysctlVerifyCommand(key: string, value: string): Command {
  return script(
    [
      'k=$1 want=$2',
      'got=$(sysctl -n "$k") || exit $?',
      // normalize blanks as vxlab does (multi-value keys print tab-separated fields)
      'set -f; set -- $got; got="$*"',
      '[ "$got" = "$want" ] && exit 0',
      'printf \'sysctl %s: wrote "%s" but it reads back "%s"\\n\' "$k" "$want" "$got" >&2',
      'exit 1',
    ].join('\n'),
    key, value,
  )
}

/** The fields of SysctlSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const SYSCTL_FIELDS = specFields<SysctlSpec>()('key', 'value', 'persist', 'file', 'ensure', 'recordPrior')

/**
 * Ensure a kernel parameter. The runtime value (its /proc/sys file, as `sysctl -n` prints it) and the persisted file are compared
 * separately and only what drifted is changed:
 * - runtime differs -> update: `sysctl -w KEY=VALUE`, then a read-back check ({@link sysctlVerifyCommand});
 * - file missing -> create; file content or mode (644) differ -> update with a diff; both write the whole
 *   file atomically (temp file + rename).
 * A key that does not exist fails the task, except a per-interface key whose link does not exist yet (an
 * earlier task creates it, or check mode): then the write is planned anyway and fails at apply if the link
 * never appears. `ensure: 'absent'` deletes the persisted file (if any) and leaves the runtime value, or with
 * `recordPrior` puts back the value recorded before the first change ({@link SysctlSpec.recordPrior}).
 * Key: `sysctl[NAME]`, NAME being the key as sysctl(8) names it ({@link sysctlName}), so a key spelled two ways
 * (`net/ipv4/ip_forward`, `net.ipv4.ip_forward`) is one task key, and a duplicate. Touches `sysctl:NAME`, `file:FILE`;
 * watches them and `link:IF` for per-interface keys.
 * Claims ({@link Task.claims}) `sysctl:NAME` as the value when present: one key set to two values by two plays is
 * refused when the playbook is built.
 * Errors: {@link ValidationError} for a bad key, a missing value for present, a value with a newline or
 * NUL or nothing but blanks, a number that is not an integer (`1.5`) or not exact (beyond 2^53 - 1), a relative
 * file path, `absent` without `persist`, a `recordPrior` that is not a boolean, `absent` with `recordPrior` but no `value`.
 */
export function sysctl(spec: SysctlSpec): Task<SysctlNorm, SysctlCurrent> {
  const specKey = `sysctl[${String(spec?.key)}]`
  validateSpec(specKey, () => knownFields(spec, SYSCTL_FIELDS))
  const norm = validateSpec(specKey, (): SysctlNorm => {
    const key = sysctlKey('key', spec.key)
    const ensure = oneOf('ensure', spec.ensure ?? 'present', ENSURE)
    let value = ''
    if (spec.value !== undefined || ensure === 'present') {
      if (spec.value === undefined) throw new ValidationError('value', "required with ensure: 'present' (the value to set)")
      if (typeof spec.value === 'number' && Number.isFinite(spec.value)) value = sysctlNumber(spec.value)
      else if (typeof spec.value === 'string' && !/[\0\n\r]/.test(spec.value)) value = normalizeSysctlValue(spec.value)
      else throw new ValidationError('value', `expected a string or number without newlines, got ${typeof spec.value === 'number' ? String(spec.value) : JSON.stringify(spec.value)}`)
      if (value === '') throw new ValidationError('value', 'must not be empty')
    }
    const persist = boolean('persist', spec.persist, true)
    const file = filePath('file', spec.file ?? defaultSysctlFile(key))
    if (ensure === 'absent' && !persist) throw new ValidationError('ensure', "'absent' deletes the persisted file and needs persist: true (a runtime value cannot be unset)")
    const recordPrior = boolean('recordPrior', spec.recordPrior, false)
    if (ensure === 'absent' && recordPrior && value === '') throw new ValidationError('value', "required with ensure: 'absent' and recordPrior (the value the present task set: the recorded one is put back only while the key still has it)")
    return { key, value, persist, file, ensure, recordPrior }
  })
  const { key, file } = norm
  const name = sysctlName(key)
  const runtimeFact = sysctlFact(key)
  const persisted = fileFact(file)
  const dev = sysctlKeyInterface(key)
  const restore = norm.ensure === 'absent' && norm.recordPrior
  const recordFact = restore ? fileFact(sysctlRecordFile(key)) : undefined
  return {
    kind: 'sysctl',
    key: `sysctl[${name}]`,
    spec: norm,
    facts: [...(norm.ensure === 'present' || restore ? [runtimeFact] : []), ...(norm.persist ? [persisted] : []), ...(recordFact ? [recordFact] : [])],
    watches: [`sysctl:${name}`, `file:${file}`, ...(dev !== undefined ? [`link:${dev}`] : []), ...(recordFact ? [`file:${sysctlRecordFile(key)}`] : [])],
    ...(norm.persist ? { owns: [`file:${file}`] } : {}),
    ...(norm.ensure === 'present' ? { claims: [{ object: `sysctl:${name}`, value: norm.value }] } : {}),
    ...(restore ? { claims: [{ object: `sysctl:${name}`, value: `back to its recorded value (if still ${norm.value})` }] } : {}),
    current: (f) => ({
      ...(norm.ensure === 'present' || restore ? { runtime: f.get(runtimeFact) } : {}),
      ...(norm.persist ? { file: f.get(persisted) } : {}),
      ...(recordFact ? { record: f.get(recordFact) } : {}),
    }),
    plan: (cur, s) => planSysctl(cur, s),
  }
}

/**
 * A finite number as a sysctl value: an integer in decimal (`-1`, `4096`). A fraction is refused (the kernel's numeric
 * sysctls take integers, and `sysctl -w` would fail at apply), and so is an integer beyond 2^53 - 1, which a JavaScript
 * number does not hold exactly (and `String` writes as `1e+21`): give such a value as a string.
 */
function sysctlNumber(n: number): string {
  if (!Number.isInteger(n)) throw new ValidationError('value', `expected an integer, got ${n}: numeric sysctls take integers (give text or several fields as a string, e.g. '4096 87380 6291456')`)
  if (!Number.isSafeInteger(n)) throw new ValidationError('value', `${n} is beyond 2^53 - 1, where a JavaScript number is no longer exact: give it as a string of digits`)
  return String(Object.is(n, -0) ? 0 : n)
}

/**
 * For a per-link key in dot form with one component too many (`net.ipv4.conf.eth0.100.rp_filter`): how to write a
 * link name that holds a dot, since sysctl(8) reads every dot of the dot form as a separator.
 */
function linkDotHint(name: string): string {
  const m = /^(net\.ipv[46]\.(?:conf|neigh)\.)([^./]+)\.([^./]+)\.([^./]+)$/.exec(name)
  if (!m) return ''
  return `; for link ${m[2]}.${m[3]} write ${m[1]}${m[2]}/${m[3]}.${m[4]} (a dot in a link name is a slash in the dot form) or ${sysctlPath(`${m[1]}${m[2]}/${m[3]}.${m[4]}`).slice('/proc/sys/'.length)}`
}

/** `absent` with `recordPrior`: put the recorded runtime value back while the key still has the one the present task set. */
function planSysctlRestore(cur: SysctlCurrent, s: SysctlNorm): Change[] {
  const key = sysctlName(s.key)
  const file = sysctlRecordFile(s.key)
  const rec = cur.record
  if (rec === undefined || !rec.exists) return []
  const prior = normalizeSysctlValue(rec.content)
  const now = cur.runtime?.exists === true ? cur.runtime.value : undefined
  if (prior === '' || /[\0\n]/.test(prior)) throw new Error(`${file} does not hold a sysctl value: ${JSON.stringify(rec.content.slice(0, 40))}`)
  return planRecordRestore({
    file, name: key, noun: 'value', subject: key, holder: 'the key', gone: `key ${key} no longer exists`,
    now, set: s.value, prior,
    restore: (rm) => ({
      op: 'update', summary: `set ${key} back to ${prior} (recorded in ${file} before it was set to ${s.value})`,
      before: { runtime: now }, after: { runtime: prior },
      commands: [cmd('sysctl', '-w', `${key}=${prior}`), sysctlVerifyCommand(key, prior), rm], touches: [`sysctl:${key}`, `file:${file}`],
    }),
  })
}

function planSysctl(cur: SysctlCurrent, s: SysctlNorm): Change[] {
  // the key as sysctl(8) names it, in commands, messages and the persisted line: one key, one spelling
  const key = sysctlName(s.key)
  const { value, file } = s
  const fileTouches = [`file:${file}`]
  if (s.ensure === 'absent') {
    const restore = s.recordPrior ? planSysctlRestore(cur, s) : []
    const restored = restore.some((c) => c.op === 'update')
    if (cur.file === undefined || !cur.file.exists) return restore
    return [...restore, {
      op: 'delete', summary: `delete ${file}${restored ? '' : ` (the runtime value of ${key} is left as is)`}`,
      before: { file: 'present' }, after: { file: 'absent' }, diff: fileDiff(file, cur.file.content, ''),
      commands: [cmd('rm', '-f', '--', file)], touches: fileTouches,
    }]
  }
  const changes: Change[] = []
  const touches = [`sysctl:${key}`]
  const rt = cur.runtime
  if (rt === undefined || !rt.exists) {
    const dev = sysctlKeyInterface(key)
    if (dev === undefined) throw new Error(`sysctl key ${key} does not exist on this host (no /proc/sys entry)${linkDotHint(key)}`)
    changes.push({
      op: 'update', summary: `set ${key} = ${value} (key does not exist yet: link ${dev} must be created by an earlier task)`,
      before: { runtime: null }, after: { runtime: value },
      commands: [cmd('sysctl', '-w', `${key}=${value}`), sysctlVerifyCommand(key, value)], touches,
    })
  } else if (rt.value !== value) {
    const record = sysctlRecordFile(key)
    changes.push({
      op: 'update', summary: `set ${key} = ${value} at runtime${s.recordPrior ? ` (${rt.value} recorded in ${record}, unless it holds one from before already)` : ''}`,
      before: { runtime: rt.value }, after: { runtime: value },
      commands: [...(s.recordPrior ? [recordOnceCommand(record, rt.value)] : []), cmd('sysctl', '-w', `${key}=${value}`), sysctlVerifyCommand(key, value)],
      touches: s.recordPrior ? [...touches, `file:${record}`] : touches,
    })
  }
  if (s.persist) {
    const want = sysctlFileContent(key, value)
    const f = cur.file
    if (f === undefined || !f.exists) {
      changes.push({
        op: 'create', summary: `persist ${key} = ${value} in ${file}`, before: { file: null }, after: { file: `${key} = ${value}` },
        diff: fileDiff(file, '', want), commands: [writeFileCommand(file, want, FILE_MODE)], touches: fileTouches,
      })
    } else if (f.content !== want || f.mode !== FILE_MODE) {
      changes.push({
        op: 'update', summary: `rewrite ${file} (persisted ${key} drifted)`,
        before: { mode: f.mode }, after: { mode: FILE_MODE },
        ...(f.content !== want ? { diff: fileDiff(file, f.content, want) } : {}),
        commands: [writeFileCommand(file, want, FILE_MODE)], touches: fileTouches,
      })
    }
  }
  return changes
}
