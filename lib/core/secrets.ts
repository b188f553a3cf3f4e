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
