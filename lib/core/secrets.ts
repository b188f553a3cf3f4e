/**
 * Secrets (SSH and become passwords, values a playbook marks with {@link secret}) are registered here and
 * replaced by `***` in every log line, diff, report and error message that vxlab prints or writes.
 */
const registry = new Set<string>()

/** Mark a value as secret and return it unchanged: `env: { DB_PASSWORD: secret(process.env.PW ?? '') }`. */
export function secret(value: string): string {
  if (value.length >= 3) registry.add(value)
  return value
}

/** What a hidden value is shown as. */
export const MASKED = '***'

/** Whether `value` is a registered secret (the whole value). */
export function isSecret(value: unknown): boolean {
  return typeof value === 'string' && registry.has(value)
}

/**
 * Whether a value holds a secret: it is one, or a string containing one; arrays and objects are searched
 * through (their values, not their keys).
 */
export function holdsSecret(value: unknown): boolean {
  if (typeof value === 'string') {
    if (registry.has(value)) return true
    for (const s of registry) if (value.includes(s)) return true
    return false
  }
  if (Array.isArray(value)) return value.some(holdsSecret)
  if (value !== null && typeof value === 'object') return Object.values(value).some(holdsSecret)
  return false
}

/** Replace every registered secret in a text by `***`. */
export function mask(text: string): string {
  let out = text
  for (const s of registry) if (out.includes(s)) out = out.split(s).join('***')
  return out
}

/**
 * Mask secrets inside any JSON-serialisable value (for reports): every string in it, keys included, through
 * {@link mask}. The value is walked, not its JSON text: a secret with a `"` or `\` is escaped in JSON (so it
 * was not found there), and a replacement in the JSON text could break its syntax.
 */
export function maskDeep<T>(value: T): T {
  if (registry.size === 0) return value
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return mask(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [mask(k), walk(x)]))
    }
    return v
  }
  return walk(value) as T
}

/**
 * The fields of a change's `before`/`after` whose values are hidden on both sides: those the task names in
 * `secretFields`, and any whose `after` value holds a secret ({@link holdsSecret}): its `before` value is then
 * likely an old secret, which no text masking can know.
 */
export function secretFieldsOf(c: { readonly before?: unknown; readonly after?: unknown; readonly secretFields?: readonly string[] }): Set<string> {
  const out = new Set(c.secretFields ?? [])
  if (c.after !== null && typeof c.after === 'object' && !Array.isArray(c.after)) for (const [k, v] of Object.entries(c.after)) if (holdsSecret(v)) out.add(k)
  return out
}

/** `values` (a change's `before` or `after`) with each of `fields` that is set (not null) as `***`, and secrets masked in the rest. */
export function maskFields<T>(values: T, fields: ReadonlySet<string>): T {
  if (values === null || typeof values !== 'object' || Array.isArray(values) || fields.size === 0) return maskDeep(values)
  return maskDeep(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, fields.has(k) && v !== null && v !== undefined ? MASKED : v]))) as T
}
