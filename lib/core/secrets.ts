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

/** Mask secrets inside any JSON-serialisable value (for reports). */
export function maskDeep<T>(value: T): T {
  if (registry.size === 0) return value
  return JSON.parse(mask(JSON.stringify(value))) as T
}
