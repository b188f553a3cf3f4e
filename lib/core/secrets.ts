/**
 * Secrets: the SSH and become passwords (`-k`/`-K`, `VXLAB_SSH_PASSWORD`/`VXLAB_BECOME_PASSWORD`, the inventory's
 * `ansible_password`/`ansible_ssh_pass` and `ansible_become_password`/`ansible_become_pass`) and every value a
 * playbook marks with {@link secret}. They are kept out of what vxlab prints or writes (plans, diffs, `-v` logs,
 * error messages, the JSON report) in two ways:
 *
 * - **by value**, at any length: a value given to a task that is a secret (an env value, a template variable,
 *   an argv element, a build arg) is hidden wherever vxlab shows it, and so is what it replaces: the field that
 *   holds it is `***` on both sides of `before -> after`, an argv element is `***` (`NAME=***` for
 *   `NAME=VALUE`), a file rendered from it shows no diff;
 * - **by text**, from {@link SECRET_TEXT_MIN_LENGTH} characters on: inside any other text (a longer value, a
 *   summary, a command, stderr, an error, the JSON report) each secret is replaced by `***`.
 *
 * Why a minimum for text: replacing a short secret everywhere garbles unrelated text (a token `net` made
 * `update /tmp/mine-***4.conf`) and, worse, shows where it occurs, which tells it (`mine-***4.conf` is
 * `mine-net4.conf`, so the token is `net`); a 2-character one would mask half the output.
 */
const registry = new Set<string>()
/** The registered secrets that text masking looks for, longest first (a secret that holds another is replaced whole). */
let inText: string[] = []

/** Secrets shorter than this are hidden by value only, never searched for in text (see the module comment). */
export const SECRET_TEXT_MIN_LENGTH = 6

/**
 * Mark a value as secret and return it unchanged: `env: { API_TOKEN: secret(String(flags.token)) }`.
 *
 * Any non-empty string is registered, for the rest of the process (an empty one has nothing to hide). Where a
 * task gets the value itself (an env value, a template variable, an element of a `command`'s argv, script,
 * args or unless, a build arg), vxlab hides it whatever its length: a field that holds it is `***` on both
 * sides of a change (`env.API_TOKEN: *** -> *** (secret)`: the old value, likely an old secret, is hidden too),
 * a file rendered from it shows `content changes; diff hidden: it holds secret values` instead of a diff, an
 * argv element is `***` (`NAME=***`). Inside any other text (a longer value, a summary, stderr, an error) it is
 * replaced by `***` only when it has at least {@link SECRET_TEXT_MIN_LENGTH} (6) characters: a shorter one
 * would garble unrelated text and show where it occurs, which tells it. So a short secret that the playbook
 * builds into a longer string (`--token=${t}`, a URL) is not hidden: give it to the task as a value of its own.
 * Call it before the value reaches a task, as in the example: a task looks its values up when it is built.
 * Inventory variables are not secrets by name (only the connection passwords are); mark one in the playbook:
 * `secret(host.vars.string('db_password'))`.
 */
export function secret(value: string): string {
  if (typeof value === 'string' && value !== '' && !registry.has(value)) {
    registry.add(value)
    if (value.length >= SECRET_TEXT_MIN_LENGTH) {
      // also as JSON writes it inside a string (`\"`, `\\`, `\n`, `\u0001`): error messages show values JSON-quoted
      const escaped = JSON.stringify(value).slice(1, -1)
      inText = [...inText, value, ...(escaped !== value ? [escaped] : [])].sort((a, b) => b.length - a.length)
    }
  }
  return value
}

/** What a hidden value is shown as. */
export const MASKED = '***'

/** Whether a string is a secret itself ({@link secret}, any length): shown whole as `***` where a value is shown. */
export function isSecret(value: string): boolean {
  return registry.has(value)
}

/**
 * Whether a value holds a secret: it is one (any length), or a string containing one that text masking finds
 * ({@link SECRET_TEXT_MIN_LENGTH} characters or more); arrays and objects are searched through (their values,
 * not their keys).
 */
export function holdsSecret(value: unknown): boolean {
  return searched(value, (v) => registry.has(v) || inText.some((s) => v.includes(s)))
}

/** Whether a value contains a secret that text masking finds (as {@link holdsSecret}, without whole short values). */
function holdsTextSecret(value: unknown): boolean {
  return searched(value, (v) => inText.some((s) => v.includes(s)))
}

/** Whether any string in a value (itself, or in its arrays' and objects' values at any depth) passes `test`. */
function searched(value: unknown, test: (s: string) => boolean): boolean {
  if (typeof value === 'string') return test(value)
  if (Array.isArray(value)) return value.some((v) => searched(v, test))
  if (value !== null && typeof value === 'object') return Object.values(value).some((v) => searched(v, test))
  return false
}

/**
 * Replace every registered secret of {@link SECRET_TEXT_MIN_LENGTH} characters or more in a text by `***`, the
 * longest first, also where it appears JSON-escaped (a secret with a `"`, `\\`, newline or control character,
 * inside a JSON-quoted value of an error message).
 */
export function mask(text: string): string {
  let out = text
  for (const s of inText) if (out.includes(s)) out = out.split(s).join(MASKED)
  return out
}

/**
 * Mask secrets inside any JSON-serialisable value (for reports): every string in it, keys included, through
 * {@link mask}. The value is walked, not its JSON text: a secret with a `"` or `\` is escaped in JSON (so it
 * was not found there), and a replacement in the JSON text could break its syntax.
 */
export function maskDeep<T>(value: T): T {
  if (inText.length === 0) return value
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
 * `secretFields` (a task knows its secret values at any length), and any whose `after` value contains a secret
 * that text masking finds: its `before` value is then likely an old secret, which no text masking can know.
 * (A field merely equal to a short secret is not hidden unless the task names it: `runtime: 0 -> 1` is no
 * secret because some playbook's token is `1`.)
 */
export function secretFieldsOf(c: { readonly before?: unknown; readonly after?: unknown; readonly secretFields?: readonly string[] }): Set<string> {
  const out = new Set(c.secretFields ?? [])
  if (c.after !== null && typeof c.after === 'object' && !Array.isArray(c.after)) for (const [k, v] of Object.entries(c.after)) if (holdsTextSecret(v)) out.add(k)
  return out
}

/** `values` (a change's `before` or `after`) with each of `fields` that is set (not null) as `***`, and secrets masked in the rest. */
export function maskFields<T>(values: T, fields: ReadonlySet<string>): T {
  if (values === null || typeof values !== 'object' || Array.isArray(values) || fields.size === 0) return maskDeep(values)
  return maskDeep(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, fields.has(k) && v !== null && v !== undefined ? MASKED : v]))) as T
}
