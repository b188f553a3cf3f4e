import type { Fact } from '../core/task.ts'

/**
 * Reading kernel parameters with `sysctl -n KEY` (sysctl(8), procps-ng). Values are compared in a
 * normalized form: multi-value keys print tab-separated fields (`net.ipv4.ip_local_port_range` gives
 * `32768\t60999`), so runs of blanks become one space and the ends are trimmed.
 */

/** The runtime value of one key: absent (no such key on this kernel / in this namespace) or its normalized value. */
export type SysctlValue = { readonly exists: false } | { readonly exists: true; readonly value: string }

/** Normalize a sysctl value for comparison: trim, and collapse runs of whitespace to one space. */
export function normalizeSysctlValue(v: string): string {
  return v.trim().split(/\s+/).filter((x) => x !== '').join(' ')
}

/**
 * Fact: `sysctl -n KEY`. Exit 1 with sysctl's "cannot stat /proc/sys/...: No such file or directory" is
 * the only "absent" (the key does not exist, e.g. `net.ipv4.conf.IF.*` before link IF exists); exit 1 for
 * any other reason (permission denied) and every other exit code fail the read.
 */
export function sysctlFact(key: string): Fact<SysctlValue> {
  return {
    id: `sysctl:${key}`,
    command: { argv: ['sysctl', '-n', key] },
    okExitCodes: [0, 1],
    parse: (o) => {
      if (o.code === 1) {
        if (/cannot stat .*No such file or directory/.test(o.stderr)) return { exists: false }
        throw new Error(`sysctl -n ${key} exited 1: ${o.stderr.trim() || '(no message)'}`)
      }
      return { exists: true, value: normalizeSysctlValue(o.stdout) }
    },
  }
}
