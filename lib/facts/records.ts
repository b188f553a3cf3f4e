/**
 * A record keyed by names read from a host (bridges, ports, interfaces, links, packages, OVSDB map keys), with
 * no prototype: a lookup of `constructor`, `toString` or `__proto__` (valid interface and bridge names) finds
 * what the host has under that name, or nothing, never a property of `Object.prototype`. Built once; spreading
 * it (`{...r}`) would give the prototype back.
 */
export function nameRecord<T>(entries: Iterable<readonly [string, T]> = []): Record<string, T> {
  const r = Object.create(null) as Record<string, T>
  for (const [k, v] of entries) r[k] = v
  return r
}
