import type { Fact } from '../core/task.ts'
import { nameRecord } from './records.ts'

/**
 * Reading Debian package state with `dpkg-query -W -f '${Package}\t${db:Status-Status}\n' NAMES...`
 * (dpkg-query(1)). The status word is dpkg's: `installed`, `config-files` (removed, configuration kept),
 * `not-installed`, `half-installed`, `unpacked`, `half-configured`, `triggers-awaited`, `triggers-pending`.
 */

/** Status word by package name; a name dpkg has never heard of is missing from the record. */
export type PackageStates = Readonly<Record<string, string>>

/** Statuses in which dpkg considers a package installed (its files are in place and configured). */
export const INSTALLED_STATUSES: readonly string[] = ['installed', 'triggers-awaited', 'triggers-pending']

/** Statuses in which nothing of the package but possibly its configuration files is on the host. */
export const ABSENT_STATUSES: readonly string[] = ['not-installed', 'config-files']

const rank = (s: string): number => (INSTALLED_STATUSES.includes(s) ? 2 : ABSENT_STATUSES.includes(s) ? 0 : 1)

/** Parse dpkg-query's `name<TAB>status` lines. A multi-arch package (one line per architecture) counts as installed when any line is. */
export function parsePackageStates(stdout: string): PackageStates {
  const out = nameRecord<string>()
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue
    const [name = '', raw = ''] = line.split('\t')
    const status = raw.trim() === '' ? 'not-installed' : raw.trim()
    const prev = out[name]
    if (prev === undefined || rank(status) > rank(prev)) out[name] = status
  }
  return out
}

/**
 * Fact: the dpkg status of each named package. dpkg-query exits 1 when some name is unknown to dpkg
 * (stderr "dpkg-query: no packages found matching NAME"), after printing the others: that is "absent" for
 * those names. Exit 1 with any other message, and every other code, fail the read.
 */
export function packageStatesFact(names: readonly string[]): Fact<PackageStates> {
  return {
    id: `dpkg.status:${names.join(',')}`,
    command: { argv: ['dpkg-query', '-W', '-f', '${Package}\t${db:Status-Status}\n', ...names] },
    okExitCodes: [0, 1],
    parse: (o) => {
      if (o.code === 1) {
        const other = o.stderr.split('\n').filter((l) => l.trim() !== '' && !/^dpkg-query: no packages found matching /.test(l))
        if (other.length > 0) throw new Error(`dpkg-query exited 1: ${other.join('; ')}`)
      }
      return parsePackageStates(o.stdout)
    },
  }
}
