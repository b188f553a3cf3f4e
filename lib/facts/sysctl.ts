import type { Fact } from '../core/task.ts'
import { fileFact } from './files.ts'

/**
 * Reading kernel parameters from their /proc/sys files, as `sysctl -n KEY` (sysctl(8), procps-ng) prints
 * them. The files are read with the batch's other file facts (one `stat` and one `cat` for all, lib/facts/files.ts):
 * no process per key. Values are compared in a normalized form: multi-value keys print tab-separated fields
 * (`net.ipv4.ip_local_port_range` gives `32768\t60999`), so runs of blanks become one space and the ends are trimmed.
 */

/** The runtime value of one key: absent (no such key on this kernel / in this namespace) or its normalized value. */
export type SysctlValue = { readonly exists: false } | { readonly exists: true; readonly value: string }

/** Normalize a sysctl value for comparison: trim, and collapse runs of whitespace to one space. */
export function normalizeSysctlValue(v: string): string {
  return v.trim().split(/\s+/).filter((x) => x !== '').join(' ')
}

/**
 * The /proc/sys file of a key, mapped as sysctl(8) maps it (procps-ng `slashdot`): when the key's first separator is
 * a dot, dots become slashes and slashes dots (`net.ipv4.conf.eth0/100.rp_filter` is
 * `/proc/sys/net/ipv4/conf/eth0.100/rp_filter`); a key whose first separator is a slash is the path already.
 */
export function sysctlPath(key: string): string {
  const first = /[./]/.exec(key)?.[0]
  const path = first === '.' ? key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.')) : key
  return `/proc/sys/${path}`
}

/**
 * The name sysctl(8) shows for a key (`sysctl -a`): its /proc/sys path's components joined by dots, a dot inside a
 * component written as a slash. Every spelling of one key has one name: `net/ipv4/ip_forward` and
 * `net.ipv4.ip_forward` are `net.ipv4.ip_forward`; `net/ipv4/conf/eth0.100/rp_filter` and
 * `net.ipv4.conf.eth0/100.rp_filter` are `net.ipv4.conf.eth0/100.rp_filter`.
 */
export function sysctlName(key: string): string {
  return sysctlPath(key).slice('/proc/sys/'.length).split('/').map((c) => c.replace(/\./g, '/')).join('.')
}

/**
 * Fact: the runtime value of KEY, read from its /proc/sys file ({@link sysctlPath}). No such file is "absent"
 * (the key does not exist, e.g. `net.ipv4.conf.IF.*` before link IF exists); a file that cannot be read
 * (permission denied, a write-only key) fails the read, never "absent".
 */
export function sysctlFact(key: string): Fact<SysctlValue> {
  const file = fileFact(sysctlPath(key))
  return {
    id: `sysctl:${sysctlName(key)}`,
    command: file.command,
    ...(file.group !== undefined ? { group: file.group } : {}),
    okExitCodes: [0, 3],
    parse: (o) => {
      const st = file.parse(o)
      return st.exists ? { exists: true, value: normalizeSysctlValue(st.content) } : { exists: false }
    },
  }
}
