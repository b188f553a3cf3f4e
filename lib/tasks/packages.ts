import type { Change, Task } from '../core/task.ts'
import { ValidationError } from '../core/errors.ts'
import { oneOf, validateSpec, knownFields, specFields } from '../core/validate.ts'
import { ABSENT_STATUSES, INSTALLED_STATUSES, packageStatesFact, type PackageStates } from '../facts/packages.ts'

/** Debian packages with apt-get(8), state read with dpkg-query(1) ({@link packageStatesFact}). */

const ENSURE = ['present', 'absent'] as const

/** Time limit of one apt-get install/remove, in ms (downloads and maintainer scripts can be slow). */
export const APT_TIMEOUT_MS = 15 * 60_000

/** apt-get with no questions asked (debconf's noninteractive frontend, debconf(7)); `env` keeps the variable in argv. */
const APT_GET = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'] as const

/**
 * A Debian package name (Debian Policy 5.6.1): at least two characters, lower-case letters, digits,
 * `+ - .`, starting with a letter or digit (so never an option).
 */
export function debianPackageName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9+.-]+$/.test(value)) {
    throw new ValidationError(field, `expected a Debian package name (Debian Policy 5.6.1: [a-z0-9][a-z0-9+.-]+), got ${JSON.stringify(value)}`)
  }
  return value
}

/** Spec of {@link packages}. */
export interface PackagesSpec {
  /** Package names (Debian Policy 5.6.1), no versions or architectures. Duplicates are dropped. */
  readonly names: readonly string[]
  /** `present` (default): install what is missing. `absent`: `apt-get remove` what is installed (configuration files stay). */
  readonly ensure?: 'present' | 'absent'
}

interface PackagesNorm {
  readonly names: readonly string[]
  readonly ensure: 'present' | 'absent'
}

/** What {@link packages} reads: the dpkg status of each name (missing = unknown to dpkg). */
export interface PackagesCurrent {
  readonly states: PackageStates
}

/** The fields of PackagesSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const PACKAGES_FIELDS = specFields<PackagesSpec>()('names', 'ensure')

/**
 * Ensure Debian packages are installed (or removed) with apt-get; `packages.apt[a,b]`.
 * Present: names whose dpkg status is not installed -> create:
 * `env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends NAMES...` (only the
 * missing ones; check mode lists them). It does not run `apt-get update`.
 * Absent: names installed (or half-installed) -> delete: `env DEBIAN_FRONTEND=noninteractive apt-get remove -y NAMES...`.
 * Installing or removing a package can change anything on the host (binaries, services, files), so
 * these changes touch every key (`*`): later tasks are re-read before they are planned. Watches `package:NAME`.
 * Claims ({@link Task.claims}) `package:NAME` as present or absent for each name.
 * Errors: {@link ValidationError} for an empty list or a name that is not a Debian package name.
 */
export function packages(spec: PackagesSpec): Task<PackagesNorm, PackagesCurrent> {
  const label = Array.isArray(spec?.names) ? spec?.names.join(',') : String(spec?.names)
  const specKey = `packages.apt[${label}]`
  validateSpec(specKey, () => knownFields(spec, PACKAGES_FIELDS))
  const norm = validateSpec(specKey, (): PackagesNorm => {
    if (!Array.isArray(spec.names) || spec.names.length === 0) throw new ValidationError('names', `expected a non-empty list of package names, got ${JSON.stringify(spec.names)}`)
    const names = [...new Set(spec.names.map((n: unknown, i) => debianPackageName(`names[${i}]`, n)))]
    return { names, ensure: oneOf('ensure', spec.ensure ?? 'present', ENSURE) }
  })
  const fact = packageStatesFact(norm.names)
  return {
    kind: 'packages.apt',
    key: `packages.apt[${norm.names.join(',')}]`,
    spec: norm,
    facts: [fact],
    watches: norm.names.map((n) => `package:${n}`),
    claims: norm.names.map((n) => ({ object: `package:${n}`, value: norm.ensure })),
    current: (f) => ({ states: f.get(fact) }),
    plan: (cur, s) => planPackages(cur, s),
  }
}

function planPackages(cur: PackagesCurrent, s: PackagesNorm): Change[] {
  const status = (n: string): string => cur.states[n] ?? 'unknown'
  const touches = ['*']
  if (s.ensure === 'present') {
    const missing = s.names.filter((n) => !INSTALLED_STATUSES.includes(status(n)))
    if (missing.length === 0) return []
    return [{
      op: 'create', summary: `install ${missing.join(' ')}`,
      before: Object.fromEntries(missing.map((n) => [n, status(n)])), after: Object.fromEntries(missing.map((n) => [n, 'installed'])),
      commands: [{ argv: [...APT_GET, 'install', '-y', '--no-install-recommends', ...missing], timeoutMs: APT_TIMEOUT_MS }],
      touches,
    }]
  }
  const installed = s.names.filter((n) => status(n) !== 'unknown' && !ABSENT_STATUSES.includes(status(n)))
  if (installed.length === 0) return []
  return [{
    op: 'delete', summary: `remove ${installed.join(' ')}`,
    before: Object.fromEntries(installed.map((n) => [n, status(n)])), after: Object.fromEntries(installed.map((n) => [n, 'not-installed'])),
    commands: [{ argv: [...APT_GET, 'remove', '-y', ...installed], timeoutMs: APT_TIMEOUT_MS }],
    touches,
  }]
}
