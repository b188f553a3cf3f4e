import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import ipaddr from 'ipaddr.js'
import type { Node } from 'yaml'
import { InventoryError, ValidationError } from '../core/errors.ts'
import { requireDependency } from '../core/require.ts'
import { secret } from '../core/secrets.ts'
import * as v from '../core/validate.ts'
import { YamlNodes } from './yaml-nodes.ts'

const { isMap, isScalar, LineCounter, parseDocument } = requireDependency('yaml') as typeof import('yaml')

/** Hosts one range pattern (`web[01:50]`), and all of an inventory's ranges together, may stand for. */
const MAX_RANGE_HOSTS = 100_000

/** Letters of an alphabetic host range, in Ansible's order (Python's `string.ascii_letters`: `[x:B]` is x, y, z, A, B). */
const ASCII_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'

/** One `[beg:end]` or `[beg:end:step]` of a host pattern: how many names it gives, and the i-th of them. */
interface HostRange {
  readonly count: bigint
  at(i: bigint): string
}

/**
 * One range of a host pattern (the text between the brackets), read by Ansible's rule (`expand_hostname_range`,
 * ansible/ansible lib/ansible/plugins/inventory/__init__.py): `beg:end` or `beg:end:step`; an empty `beg` is 0; an
 * empty `end` is an error; single letters are an alphabetic range (a-z then A-Z); a `beg` with a leading zero gives
 * the width every name is zero-padded to, and then `end` must be as long. Refused although Ansible reads them (they
 * almost never mean what they give there): a range of no hosts (Ansible: none for `[5:1]`, an error for `[f:a]`), a
 * step below 1 (Ansible's negative steps stop short: `[5:1:-1]` gives 5, 4, 3), bounds of several letters (Ansible
 * finds them as substrings of a-zA-Z) and numbers Python's int() reads but that are not plain digits (`1_0`, ` 1`).
 * Returns the problem as a string.
 */
function hostRange(spec: string): HostRange | string {
  const bounds = spec.split(':')
  if (bounds.length !== 2 && bounds.length !== 3) return `host range [${spec}] must be begin:end or begin:end:step`
  const beg = bounds[0] === '' ? '0' : bounds[0]!
  const end = bounds[1]!
  if (end === '') return `host range [${spec}] must specify an end value`
  const step = bounds[2] ?? '1'
  const width = beg[0] === '0' && beg.length > 1 ? beg.length : 0
  if (width > 0 && end.length !== width) return `host range [${spec}]: a zero-padded range must have begin and end of equal length (${beg} and ${end})`
  const int = /^[+-]?[0-9]+$/
  if (!int.test(step)) return `host range [${spec}]: the step must be an integer, not ${JSON.stringify(step)}`
  const by = BigInt(step)
  if (by < 1n) return `host range [${spec}]: the step must be 1 or more (Ansible's negative steps stop short of the end: [5:1:-1] gives 5, 4, 3)`
  const ib = ASCII_LETTERS.indexOf(beg)
  const ie = ASCII_LETTERS.indexOf(end)
  if (ib >= 0 && ie >= 0) {
    if (beg.length > 1 || end.length > 1) return `host range [${spec}]: an alphabetic range goes from one letter to another`
    if (ib > ie) return `host range [${spec}] must have begin <= end`
    return { count: BigInt(ie - ib) / by + 1n, at: (i: bigint) => ASCII_LETTERS[ib + Number(i * by)]! }
  }
  if (!int.test(beg) || !int.test(end)) return `host range [${spec}]: begin and end must be both integers or both letters (a-z, A-Z)`
  const b = BigInt(beg)
  const e = BigInt(end)
  if (e < b) return `host range [${spec}] stands for no hosts (its end is below its begin; Ansible would read no hosts)`
  return { count: (e - b) / by + 1n, at: (i: bigint) => (b + i * by).toString().padStart(width, '0') }
}

/**
 * A range as parse_address's host name pattern allows one (`alphanumeric_range`, ansible/ansible
 * lib/ansible/parsing/utils/addresses.py): one letter to one letter, or digits to digits, then `:step` in digits.
 */
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`

/**
 * A label (`label` in addresses.py): a letter, digit or `_` (Python's `\w`, of any script) or a range first, then
 * those, `-` or ranges, not ending in `-` or `_`.
 */
const LABEL = String.raw`(?:[\p{L}\p{N}_]|${ALNUM_RANGE})(?:[\p{L}\p{N}_-]|${ALNUM_RANGE})*(?<![_-])`

/**
 * parse_address's `hostname` pattern: labels joined by dots. Its `ipv4` pattern (four numbers 0-255 or numeric
 * ranges) only matches what this one does, so an IPv4 address is read as a host name here, then checked by
 * ipaddr.js ({@link hostKey}).
 */
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, 'iu')

/** parse_address's `bracketed_hostport`: `[host]:port`, whatever is in the brackets. */
const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/

/** parse_address's `hostport`: text without `:` outside complete `[...]`, then `:port`. */
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/

/** A range in place of a group of an IPv6 address (`hexadecimal_range` in addresses.py). */
const HEX_RANGE = /\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]/gi

/** A name of four numbers: an IPv4 address or nothing (a resolver reads `010.0.0.1` as 8.0.0.1, `10.0.0.256` not at all). */
const FOUR_NUMBERS = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/

/**
 * Whether a host pattern is an IPv6 address, ranges standing where groups would (`2001:db8::[a:f]`): tried by
 * ipaddr.js with each range as a 0. parse_address's `ipv6` pattern is anchored at its ends only (its `^` binds to its
 * first form, its `$` to its last), so Ansible takes anything that begins like an IPv6 address (`2001:db8::1 x`, and
 * so `fe80::1%eth0`); here the whole must be one (a zone, `%eth0`, is part of one).
 */
function isIPv6Pattern(pattern: string): boolean {
  const one = pattern.replace(HEX_RANGE, '0')
  return one.includes(':') && ipaddr.IPv6.isValid(one)
}

/** A host pattern without its `[...]` ranges, read as {@link Inventory}'s range expansion reads them; undefined if one is not closed. */
function textOutsideRanges(pattern: string): string | undefined {
  let text = ''
  let rest = pattern
  for (let i = rest.indexOf('['); i >= 0; i = rest.indexOf('[')) {
    const j = rest.indexOf(']')
    if (j < i) return undefined
    text += rest.slice(0, i)
    rest = rest.slice(j + 1)
  }
  return text + rest
}

/** A host key read by parse_address: the host pattern (ranges not expanded), its port if it has one, and whether it is IPv6. */
interface HostKey {
  readonly pattern: string
  readonly port?: number
  readonly ipv6: boolean
}

/**
 * What a host key stands for, by Ansible's rule: `_expand_hostpattern` (ansible/ansible
 * lib/ansible/plugins/inventory/__init__.py) reads it with `parse_address(key, allow_ranges=True)`
 * (lib/ansible/parsing/utils/addresses.py): `[host]:port`, else `host:port` (no `:` outside ranges before the port),
 * else the key; what is left must be an IPv6 address ({@link isIPv6Pattern}) or a host name (an IPv4 address is one),
 * either with ranges. The only port an IPv6 address takes is `[address]:port`: `2001:db8::1:22` is an address. Where
 * parse_address finds no host ("Not a valid network hostname"), _expand_hostpattern takes the whole key as the name,
 * with no port: `undefined` here when that name has no `:` (a label such as `gw (old)` with `ansible_host`, or `host]`).
 * Refused (returned as a string), where Ansible's reading is a name with `:` in it or a port it drops: that fallback
 * (`web1:22:33`, `web_:22`: a label does not end in `_`), a host part that only begins like an IPv6 address, brackets
 * without a port (`[2001:db8::1]`, a range error in Ansible), a port split off twice (`[a:22]:33`: parse_address
 * tries `host:port` again on what the brackets held, giving port 22) and a port out of 1-65535 (Ansible drops 0 and
 * passes 65536 on).
 */
function hostKey(key: string): HostKey | string | undefined {
  let host = key
  let port: string | undefined
  const bracketed = BRACKETED_HOSTPORT.exec(key)
  const plain = bracketed ? undefined : HOSTPORT.exec(key)
  if (bracketed) {
    host = bracketed[1]!
    port = bracketed[2]!
    const twice = HOSTPORT.exec(host)
    if (twice) return `two ports: Ansible reads this key as host ${twice[1]} with port ${Number(twice[2])} (parse_address splits a port off twice)`
  } else if (plain) {
    host = plain[1]!
    port = plain[2]!
  }
  const ipv6 = isIPv6Pattern(host)
  if (!ipv6 && !HOSTNAME.test(host)) {
    const inner = port === undefined ? /^\[(.+)\]$/.exec(key)?.[1] : undefined
    if (inner !== undefined && (isIPv6Pattern(inner) || HOSTNAME.test(inner))) {
      return `brackets around a host must be followed by its port (${key}:22); without a port, write the host bare (${inner})`
    }
    // the fallback's names have the key's text outside its ranges (none when they are not closed: the ranges' error then)
    if (!(textOutsideRanges(key)?.includes(':') ?? false)) return undefined
    return `not a valid network hostname: ${host === '' ? '""' : host} (by the rule of Ansible's parse_address: a host name, an IPv4 address or an IPv6 address, `
      + "with [begin:end] ranges, then :port if any, [IPv6 address]:port for IPv6; Ansible would name the host with the ':' in it)"
  }
  if (port === undefined) return { pattern: host, ipv6 }
  const n = Number(port)
  if (n < 1 || n > 65535) return `the port of a host key must be 1 to 65535, not ${port.replace(/^0+(?=.)/, '')}`
  return { pattern: host, port: n, ipv6 }
}

/** Where a value came from: the dotted path in the file and its line:column. */
export interface VarSource {
  readonly path: string
  readonly line?: number
  readonly col?: number
}

/** A group: its direct hosts, child groups and vars (not `ansible_group_priority`: Ansible takes that as the group's priority). */
export interface InventoryGroup {
  readonly name: string
  readonly hosts: Set<string>
  readonly children: Set<string>
  readonly vars: Map<string, { value: unknown; source: VarSource }>
  readonly parents: Set<string>
}

/** Connection settings of one host, from Ansible's connection vars. */
export interface HostConnectionVars {
  /** `ansible_host` (default: the inventory name). */
  readonly address: string
  /** `ansible_port`, which a port in the host's key (`web1:2222`) sets as a host var (default 22). */
  readonly port: number
  /** `ansible_user` (default $USER, or root). */
  readonly user: string
  /** `ansible_ssh_private_key_file`, resolved against the inventory file's folder. */
  readonly privateKeyFile?: string
  /** `ansible_password` / `ansible_ssh_pass`: registered with `secret()` (sent to SSH only, never in a command line). */
  readonly password?: string
  /** `ansible_become` (default false); booleans, or Ansible's yes/no/true/false strings. */
  readonly become: boolean
  /** `ansible_become_password` / `ansible_become_pass`: registered with `secret()` (sent to `sudo -S` on stdin only). */
  readonly becomePassword?: string
  /** `ansible_connection`: `ssh` (also `smart`, `paramiko`) or `local`. */
  readonly connection: 'ssh' | 'local'
  /** `vxlab_known_hosts_file` (default ~/.ssh/known_hosts). */
  readonly knownHostsFile?: string
}

/** Typed, path-precise access to a host's variables (group vars inherited, host vars override). */
export class HostVars {
  constructor(
    readonly host: string,
    readonly file: string,
    private readonly values: ReadonlyMap<string, { value: unknown; source: VarSource }>,
  ) {}

  /** Whether the variable is defined for this host. */
  has(name: string): boolean {
    return this.values.has(name)
  }

  /** The raw value (undefined when not set). */
  raw(name: string): unknown {
    return this.values.get(name)?.value
  }

  /** All variables as a plain object. */
  all(): Record<string, unknown> {
    return Object.fromEntries([...this.values].map(([k, x]) => [k, x.value]))
  }

  #where(name: string): string {
    const s = this.values.get(name)?.source
    if (!s) return `${this.file}: host ${this.host}: variable ${name}`
    return `${this.file}${s.line !== undefined ? `:${s.line}:${s.col ?? 1}` : ''}: ${s.path}`
  }

  #get<T>(name: string, check: (field: string, value: unknown) => T, fallback?: T): T {
    const entry = this.values.get(name)
    if (entry === undefined) {
      if (fallback !== undefined) return fallback
      throw new InventoryError(`${this.file}: host ${this.host}: variable ${name} is not set (needed by the playbook)`)
    }
    try {
      return check(name, entry.value)
    } catch (e) {
      if (e instanceof ValidationError) throw new InventoryError(`${this.#where(name)}: ${e.problem}`)
      throw e
    }
  }

  /** A string variable; `fallback` when unset (an error when unset without fallback). */
  string(name: string, fallback?: string): string {
    return this.#get(name, v.nonEmpty, fallback)
  }
  /** An IPv4 address variable, canonical form. */
  ipv4(name: string, fallback?: string): string {
    return this.#get(name, v.ipv4, fallback)
  }
  /** An interface name variable (1..15 chars). */
  ifname(name: string, fallback?: string): string {
    return this.#get(name, v.ifname, fallback)
  }
  /** An integer variable within [min, max]. */
  int(name: string, min: number, max: number, fallback?: number): number {
    return this.#get(name, (f, x) => v.intRange(f, x, min, max), fallback)
  }
  /** A boolean variable (YAML true/false only). */
  bool(name: string, fallback?: boolean): boolean {
    return this.#get(name, (f, x) => v.boolean(f, x, false), fallback)
  }
  /** A list of strings (e.g. interface names). */
  stringList(name: string, fallback?: string[]): string[] {
    return this.#get(name, (f, x) => {
      if (!Array.isArray(x) || !x.every((i) => typeof i === 'string')) throw new ValidationError(f, `expected a list of strings, got ${JSON.stringify(x)}`)
      return x as string[]
    }, fallback)
  }
  /** One of fixed values. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    return this.#get(name, (f, x) => v.oneOf(f, x, allowed), fallback)
  }
}

/** One host of the inventory. */
export interface InventoryHost {
  readonly name: string
  /**
   * Every group the host belongs to, directly or through children, plus `all`, in the order their vars are merged
   * (later ones win): Ansible's, by depth from `all`, then `ansible_group_priority`, then name.
   */
  readonly groups: readonly string[]
  readonly vars: HostVars
  readonly connection: HostConnectionVars
}

/**
 * The parts of a host pattern, split as Ansible's `split_host_pattern` does (ansible/ansible
 * lib/ansible/inventory/manager.py): at commas when the pattern has one; else a pattern that is one IPv6 address
 * (after a leading `!` or `&`) stays whole, since its colons are not separators; else at colons, never inside
 * brackets. Parts are trimmed; empty ones dropped. (Ansible's colon split also drops a stray `]` and splits at
 * blanks; vxlab keeps such characters, which then match nothing unless a host is named so.)
 */
function splitHostPattern(pattern: string): string[] {
  const p = pattern.trim()
  const parts = p.includes(',') ? p.split(',') : ipaddr.IPv6.isValid(p.replace(/^[!&]/, '')) ? [p] : splitOutsideBrackets(p)
  return parts.map((x) => x.trim()).filter((x) => x !== '')
}

/** `a:b[1:2]:c` at its colons outside `[...]`: `a`, `b[1:2]`, `c`. */
function splitOutsideBrackets(p: string): string[] {
  const out: string[] = []
  let cur = ''
  let inside = false
  for (const ch of p) {
    if (ch === ':' && !inside) {
      out.push(cur)
      cur = ''
      continue
    }
    if (ch === '[') inside = true
    else if (ch === ']') inside = false
    cur += ch
  }
  out.push(cur)
  return out
}

/** Python's order of strings (by code point), as Ansible sorts group names; JavaScript's `<` compares UTF-16 units. */
function byCodePoint(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  if (i === n) return a.length - b.length
  return a.codePointAt(i)! - b.codePointAt(i)!
}

const ANSIBLE_BOOL: ReadonlyMap<string, boolean> = new Map([['yes', true], ['no', false], ['true', true], ['false', false], ['on', true], ['off', false], ['1', true], ['0', false]])

/**
 * An Ansible YAML inventory (https://docs.ansible.com/ansible/latest/inventory_guide/intro_inventory.html):
 * groups with `hosts`, `vars` and `children`, nested; `all` implicit. Group vars are merged in Ansible's order
 * (`sort_groups` in ansible/ansible lib/ansible/inventory/helpers.py, as lib/ansible/vars/manager.py uses it): by
 * depth from `all` (a child one deeper than its deepest parent), then `ansible_group_priority` (an integer, default
 * 1; the group's, not a variable), then name, later groups winning; host vars override all group vars. Host ranges
 * expand as Ansible's `expand_hostname_range` (lib/ansible/plugins/inventory/__init__.py) does: every `[beg:end]` or
 * `[beg:end:step]` of a name, numeric (`[01:10]` zero-pads) or alphabetic (`[a:f]`), the first varying slowest.
 * A host key is read as `_expand_hostpattern` (same file) reads it with `parse_address`
 * (lib/ansible/parsing/utils/addresses.py): a host name, an IPv4 address or an IPv6 address (bare, or bracketed and
 * then only with a port), ranges and all, and an optional port: `web1:2222`, `web[1:3]:2222`, `10.0.0.5:2222`,
 * `[2001:db8::1]:2222`, `2001:db8::1`. The port is a host var `ansible_port` set where the host is first listed
 * (`InventoryData.add_host`, `Host.__init__`: lib/ansible/inventory/data.py, host.py): the vars of that entry and of
 * later ones override it, and it overrides group vars. A key parse_address cannot read is, as in Ansible, the host's
 * name, unless that name would have a `:`; addresses are checked with ipaddr.js (see {@link hostKey}).
 * YAML 1.2 core schema: no `yes`->true coercion. Errors: {@link InventoryError} with `file:line:column` and the
 * path in the file.
 */
export class Inventory {
  readonly groups = new Map<string, InventoryGroup>()
  readonly hostNames: string[] = []
  readonly #hostVars = new Map<string, Map<string, { value: unknown; source: VarSource }>>()
  readonly #hosts = new Map<string, InventoryHost>()

  private constructor(readonly file: string) {}

  /** Load and validate an inventory file. Throws {@link InventoryError}. */
  static load(file: string): Inventory {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      throw new InventoryError(`${file}: cannot read inventory: ${e instanceof Error ? e.message : String(e)}`)
    }
    return Inventory.parse(text, file)
  }

  /** Parse inventory text (`file` is used in messages and to resolve relative key paths). */
  static parse(text: string, file: string): Inventory {
    const lc = new LineCounter()
    // duplicate keys are found by YamlNodes (yaml's own check compares every key with every earlier one: quadratic)
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false, schema: 'core', merge: true })
    /** A diagnostic of yaml's as one line: `file:line:col: PREFIXmessage SUFFIX`. */
    const yamlProblem = (e: { linePos?: Array<{ line: number; col: number }>; pos: [number, number]; message: string }, prefix: string, suffix = ''): InventoryError => {
      const pos = e.linePos?.[0] ?? lc.linePos(Math.min(e.pos[0], text.length))
      return new InventoryError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${prefix}${e.message.split('\n')[0]}${suffix}`)
    }
    if (doc.errors.length > 0) throw yamlProblem(doc.errors[0]!, 'YAML syntax error: ')
    // a tag yaml cannot resolve (Ansible's `!vault`, a custom `!tag`) would otherwise read as a plain string
    const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED')
    if (tag !== undefined) throw yamlProblem(tag, '', ' (vxlab reads YAML 1.2 core types only; Ansible Vault values are not decrypted: give passwords with -k/-K or VXLAB_SSH_PASSWORD/VXLAB_BECOME_PASSWORD, other secrets to the playbook (a flag, an environment variable) and through secret())')
    const inv = new Inventory(file)
    const where = (node: Node | null | undefined, path: string): VarSource => {
      const r = node?.range
      if (!r) return { path }
      const p = lc.linePos(r[0])
      return { path, line: p.line, col: p.col }
    }
    const fail = (node: Node | null | undefined, path: string, msg: string): never => {
      const s = where(node, path)
      throw new InventoryError(`${file}${s.line !== undefined ? `:${s.line}:${s.col}` : ''}: ${path}: ${msg}`)
    }
    const y = new YamlNodes(doc, fail)
    const root = doc.contents
    if (root === null || (isScalar(root) && root.value === null)) throw new InventoryError(`${file}: inventory is empty`)
    if (!isMap(root)) fail(root, '(top)', 'expected a mapping of group names')
    const group = (name: string): InventoryGroup => {
      let g = inv.groups.get(name)
      if (!g) {
        g = { name, hosts: new Set(), children: new Set(), vars: new Map(), parents: new Set() }
        inv.groups.set(name, g)
      }
      return g
    }
    group('all')
    const readVars = (raw: unknown, path: string, into: Map<string, { value: unknown; source: VarSource }>): void => {
      const node = y.deref(raw, path)
      if (node === null || node === undefined || (isScalar(node) && node.value === null)) return
      if (!isMap(node)) fail(node as Node, path, 'expected a mapping of variables')
      for (const { name: k, key, value } of y.entriesOf(node, path)) {
        const valNode = value as Node | null
        into.set(k, { value: y.toValue(valNode, `${path}.${k}`), source: where(valNode ?? (key as Node), `${path}.${k}`) })
      }
    }
    /** Hosts that host ranges stood for so far, every time one is read (an alias read twice counts twice). */
    let rangeHosts = 0
    /**
     * The host names a pattern stands for, by Ansible's rule (`expand_hostname_range`, ansible/ansible
     * lib/ansible/plugins/inventory/__init__.py): the first `[...]` is expanded and the rest of each name again, so
     * every range is, the first varying slowest (`h[1:2]x[a:b]`: h1xa, h1xb, h2xa, h2xb). The hosts of all the
     * ranges together are counted before any name is made. `at` is the key's path, for errors.
     */
    const expandRange = (name: string, node: unknown, at: string): string[] => {
      if (!name.includes('[')) return [name]
      // Ansible splits the name at '|' after marking the brackets with it: another '|' makes the name unreadable
      if (name.includes('|')) fail(node as Node, at, "a host name with a range cannot contain '|' (Ansible cannot read it)")
      const texts: string[] = []
      const ranges: HostRange[] = []
      let rest = name
      for (let i = rest.indexOf('['); i >= 0; i = rest.indexOf('[')) {
        const j = rest.indexOf(']')
        if (j < 0) fail(node as Node, at, `a host range must end with ']'`)
        if (j < i) fail(node as Node, at, `a ']' before the '[' of a host range`)
        const r = hostRange(rest.slice(i + 1, j))
        if (typeof r === 'string') return fail(node as Node, at, r)
        texts.push(rest.slice(0, i))
        ranges.push(r)
        rest = rest.slice(j + 1)
      }
      texts.push(rest)
      const max = BigInt(MAX_RANGE_HOSTS)
      let total = 1n
      for (const r of ranges) total *= r.count
      if (total > max) fail(node as Node, at, `a host range of ${total < 10n ** 15n ? total : 'more than 10^15'} hosts (at most ${MAX_RANGE_HOSTS})`)
      rangeHosts += Number(total)
      if (rangeHosts > MAX_RANGE_HOSTS) fail(node as Node, at, `host ranges stand for more than ${MAX_RANGE_HOSTS} hosts in all`)
      const out: string[] = []
      const index = ranges.map(() => 0n)
      for (let n = 0; n < Number(total); n++) {
        let h = texts[0]!
        for (let k = 0; k < ranges.length; k++) h += ranges[k]!.at(index[k]!) + texts[k + 1]!
        out.push(h)
        // the last range varies fastest
        for (let k = ranges.length - 1; k >= 0; k--) {
          const next = index[k]! + 1n
          if (next < ranges[k]!.count) {
            index[k] = next
            break
          }
          index[k] = 0n
        }
      }
      return out
    }
    /**
     * The hosts a host key stands for, and the port it gives them: {@link hostKey} (Ansible's parse_address), then
     * {@link expandRange}; every name of four numbers must be an IPv4 address in dotted decimal and every name of an
     * IPv6 pattern with ranges an IPv6 address (ipaddr.js).
     */
    const hostsOfKey = (key: string, node: Node, at: string): { names: string[]; port?: number } => {
      const k = hostKey(key)
      if (typeof k === 'string') return fail(node, at, k)
      // Ansible's fallback: the key itself is the name (its ranges expanded)
      if (k === undefined) return { names: expandRange(key, node, at) }
      const names = expandRange(k.pattern, node, at)
      for (const h of names) {
        if (k.ipv6 ? h !== k.pattern && !ipaddr.IPv6.isValid(h) : FOUR_NUMBERS.test(h) && !ipaddr.IPv4.isValidFourPartDecimal(h)) {
          fail(node, at, k.ipv6 ? `${h} is not an IPv6 address` : `${h} is not an IPv4 address (four numbers 0-255 without leading zeros: a resolver reads 010 as octal 8)`)
        }
      }
      return k.port === undefined ? { names } : { names, port: k.port }
    }
    const walk = (name: string, raw: unknown, path: string, depth: number): void => {
      if (depth > 20) fail(raw as Node, path, 'groups nested too deep (a cycle?)')
      const g = group(name)
      const node = y.deref(raw, path)
      if (node === null || node === undefined || (isScalar(node) && node.value === null)) return
      if (!isMap(node)) fail(node as Node, path, 'expected a group mapping with hosts, vars or children')
      for (const pair of y.entriesOf(node, path)) {
        const k = pair.name
        const val = k === 'hosts' || k === 'children' ? y.deref(pair.value, `${path}.${k}`) : pair.value
        if (k === 'hosts') {
          if (val === null || val === undefined || (isScalar(val) && val.value === null)) continue
          if (!isMap(val)) fail(val as Node, `${path}.hosts`, 'expected a mapping of host names')
          for (const hp of y.entriesOf(val, `${path}.hosts`)) {
            const at = `${path}.hosts.${hp.name}`
            const { names, port } = hostsOfKey(hp.name, hp.key as Node, at)
            for (const h of names) {
              g.hosts.add(h)
              let vars = inv.#hostVars.get(h)
              if (vars === undefined) {
                vars = new Map()
                inv.#hostVars.set(h, vars)
                inv.hostNames.push(h)
                // the key's port is a host var set where the host is first listed, before the entry's own vars
                // (Ansible's InventoryData.add_host and Host.__init__, lib/ansible/inventory/data.py and host.py)
                if (port !== undefined) vars.set('ansible_port', { value: port, source: where(hp.key as Node, at) })
                readVars(hp.value, `${path}.hosts.${h}`, vars)
                continue
              }
              const before = vars.get('ansible_port')
              readVars(hp.value, `${path}.hosts.${h}`, vars)
              // Ansible drops the port of a key for a host listed before; refused unless the entry sets ansible_port
              if (port !== undefined && vars.get('ansible_port') === before && before?.value !== port) {
                fail(hp.key as Node, at, `host ${h} is listed before this key, and Ansible takes a host key's port only where the host is first listed (InventoryData.add_host): `
                  + `port ${port} would be ignored (give it there, or as ansible_port)`)
              }
            }
          }
        } else if (k === 'vars') {
          readVars(val, `${path}.vars`, g.vars)
          // Ansible's Group.set_variable takes it as the group's priority, not as a variable (lib/ansible/inventory/group.py)
          const p = g.vars.get('ansible_group_priority')
          if (p !== undefined) {
            if (typeof p.value !== 'number' || !Number.isSafeInteger(p.value)) {
              const at = p.source.line !== undefined ? `:${p.source.line}:${p.source.col}` : ''
              throw new InventoryError(`${file}${at}: ${p.source.path}: expected an integer (the priority of group ${name} among groups of equal depth), got ${JSON.stringify(p.value)}`)
            }
            inv.#priority.set(name, p.value)
            g.vars.delete('ansible_group_priority')
          }
        } else if (k === 'children') {
          if (val === null || val === undefined || (isScalar(val) && val.value === null)) continue
          if (!isMap(val)) fail(val as Node, `${path}.children`, 'expected a mapping of group names')
          for (const cp of y.entriesOf(val, `${path}.children`)) {
            const cn = cp.name
            g.children.add(cn)
            group(cn).parents.add(name)
            walk(cn, cp.value, cn, depth + 1)
          }
        } else {
          fail(pair.key as Node, `${path}.${k}`, `unknown key "${k}" (a group has hosts, vars and children)`)
        }
      }
    }
    for (const pair of y.entriesOf(root, '(top)')) {
      const name = pair.name
      walk(name, pair.value, name, 0)
      if (name !== 'all') {
        group('all').children.add(name)
        group(name).parents.add('all')
      }
    }
    // a group that is its own ancestor has no meaning (Ansible refuses it too): name the cycle
    const cycleFrom = (start: string): string[] | undefined => {
      const path: string[] = []
      const onPath = new Set<string>()
      const done = new Set<string>()
      const dfs = (g: string): string[] | undefined => {
        if (onPath.has(g)) return [...path.slice(path.indexOf(g)), g]
        if (done.has(g)) return undefined
        path.push(g)
        onPath.add(g)
        for (const c of inv.groups.get(g)?.children ?? []) {
          const found = dfs(c)
          if (found) return found
        }
        path.pop()
        onPath.delete(g)
        done.add(g)
        return undefined
      }
      return dfs(start)
    }
    const cycle = cycleFrom('all')
    if (cycle) throw new InventoryError(`${file}: group ${cycle[0]} is its own ancestor (children: ${cycle.join(' -> ')})`)
    for (const h of inv.hostNames) inv.#hosts.set(h, inv.#buildHost(h))
    return inv
  }

  /** Each group's `ansible_group_priority` (absent: 1, Ansible's default). */
  readonly #priority = new Map<string, number>()

  /** Each host's own groups (those listing it under `hosts`), built once: a scan of every group per host was quadratic. */
  #direct: Map<string, string[]> | undefined

  /** Every group's place in the order group vars are merged (see {@link #groupsOf}), built once for all hosts. */
  #rank: Map<string, number> | undefined

  /**
   * The place of every group in Ansible's order (`sort_groups`, ansible/ansible lib/ansible/inventory/helpers.py):
   * by depth, then `ansible_group_priority`, then name (Python's order: by code point). A group's depth is Ansible's
   * `Group.depth` (lib/ansible/inventory/group.py, add_child_group): `all` is 0, a child one more than its deepest
   * parent. Linear in the groups and their links (run after the cycle check: the links form no loop).
   */
  #ranks(): Map<string, number> {
    const depth = new Map<string, number>()
    const waiting = new Map<string, number>()
    for (const g of this.groups.values()) waiting.set(g.name, g.parents.size)
    const ready = [...this.groups.values()].filter((g) => g.parents.size === 0).map((g) => g.name)
    for (const g of ready) depth.set(g, 0)
    for (let i = 0; i < ready.length; i++) {
      const g = ready[i]!
      const d = depth.get(g)!
      for (const c of this.groups.get(g)!.children) {
        if ((depth.get(c) ?? -1) < d + 1) depth.set(c, d + 1)
        const left = waiting.get(c)! - 1
        waiting.set(c, left)
        if (left === 0) ready.push(c)
      }
    }
    const prio = (g: string): number => this.#priority.get(g) ?? 1
    const order = [...this.groups.keys()].sort((a, b) => depth.get(a)! - depth.get(b)! || prio(a) - prio(b) || byCodePoint(a, b))
    return new Map(order.map((g, i) => [g, i]))
  }

  /**
   * Groups of a host (its own, their ancestors, and `all`), in the order their vars are merged, later ones winning:
   * Ansible's `sort_groups` order (see {@link #ranks}; lib/ansible/vars/manager.py merges `all`, then the host's
   * other groups so sorted, then the host's own vars).
   */
  #groupsOf(host: string): string[] {
    if (this.#direct === undefined) {
      this.#direct = new Map()
      for (const g of this.groups.values()) {
        for (const h of g.hosts) {
          const mine = this.#direct.get(h)
          if (mine === undefined) this.#direct.set(h, [g.name])
          else mine.push(g.name)
        }
      }
    }
    this.#rank ??= this.#ranks()
    const seen = new Set<string>(['all'])
    const todo = [...(this.#direct.get(host) ?? [])]
    while (todo.length > 0) {
      const g = todo.pop()!
      if (seen.has(g)) continue
      seen.add(g)
      for (const p of this.groups.get(g)?.parents ?? []) todo.push(p)
    }
    const rank = this.#rank
    return [...seen].sort((a, b) => rank.get(a)! - rank.get(b)!)
  }

  #buildHost(name: string): InventoryHost {
    const groups = this.#groupsOf(name)
    const merged = new Map<string, { value: unknown; source: VarSource }>()
    for (const g of groups) for (const [k, x] of this.groups.get(g)?.vars ?? []) merged.set(k, x)
    for (const [k, x] of this.#hostVars.get(name) ?? []) merged.set(k, x)
    const vars = new HostVars(name, this.file, merged)
    const where = (k: string): string => {
      const s = merged.get(k)?.source
      return `${this.file}${s?.line !== undefined ? `:${s.line}:${s.col ?? 1}` : ''}: ${s?.path ?? k}`
    }
    const str = (k: string): string | undefined => {
      const x = merged.get(k)?.value
      if (x === undefined || x === null) return undefined
      if (typeof x !== 'string' || x === '') throw new InventoryError(`${where(k)}: expected a non-empty string, got ${JSON.stringify(x)}`)
      return x
    }
    const bool = (k: string): boolean | undefined => {
      const x = merged.get(k)?.value
      if (x === undefined || x === null) return undefined
      if (typeof x === 'boolean') return x
      // a Map, not an object: `constructor` or `__proto__` must not read as an inherited (truthy) entry
      const b = typeof x === 'string' ? ANSIBLE_BOOL.get(x.toLowerCase()) : typeof x === 'number' ? ANSIBLE_BOOL.get(String(x)) : undefined
      if (b !== undefined) return b
      throw new InventoryError(`${where(k)}: expected a boolean (true/false, or Ansible's yes/no), got ${JSON.stringify(x)}`)
    }
    const portVal = merged.get('ansible_port')?.value
    let port = 22
    if (portVal !== undefined && portVal !== null) {
      if (typeof portVal !== 'number' || !Number.isInteger(portVal) || portVal < 1 || portVal > 65535) {
        throw new InventoryError(`${where('ansible_port')}: expected a port number 1..65535, got ${JSON.stringify(portVal)}`)
      }
      port = portVal
    }
    const conn = str('ansible_connection') ?? 'ssh'
    if (!['ssh', 'smart', 'paramiko', 'local'].includes(conn)) {
      throw new InventoryError(`${where('ansible_connection')}: expected ssh or local, got ${JSON.stringify(conn)}`)
    }
    const base = dirname(resolve(this.file))
    const keyFile = str('ansible_ssh_private_key_file') ?? str('ansible_private_key_file')
    const khFile = str('vxlab_known_hosts_file')
    const password = str('ansible_password') ?? str('ansible_ssh_pass')
    const becomePassword = str('ansible_become_password') ?? str('ansible_become_pass')
    if (password !== undefined) secret(password)
    if (becomePassword !== undefined) secret(becomePassword)
    const expandHome = (p: string): string => (p.startsWith('~/') ? `${process.env.HOME ?? '/root'}${p.slice(1)}` : resolve(base, p))
    const connection: HostConnectionVars = {
      address: str('ansible_host') ?? name,
      port,
      user: str('ansible_user') ?? process.env.USER ?? 'root',
      become: bool('ansible_become') ?? false,
      connection: conn === 'local' ? 'local' : 'ssh',
      ...(keyFile !== undefined ? { privateKeyFile: expandHome(keyFile) } : {}),
      ...(khFile !== undefined ? { knownHostsFile: expandHome(khFile) } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(becomePassword !== undefined ? { becomePassword } : {}),
    }
    return { name, groups, vars, connection }
  }

  /** A host by name. Throws {@link InventoryError} for an unknown host. */
  host(name: string): InventoryHost {
    const h = this.#hosts.get(name)
    if (!h) throw new InventoryError(`${this.file}: no host named ${JSON.stringify(name)}`)
    return h
  }

  /** Every host, in file order. */
  hosts(): InventoryHost[] {
    return this.hostNames.map((h) => this.#hosts.get(h)!)
  }

  /** Hosts of a group (directly or through children), in file order; empty for an unknown group. */
  groupHosts(group: string): InventoryHost[] {
    return this.hosts().filter((h) => h.groups.includes(group))
  }

  /**
   * Hosts matching a pattern, as Ansible reads `hosts:` and `--limit` (ansible/ansible lib/ansible/inventory/manager.py,
   * `split_host_pattern` and `_evaluate_patterns`): parts separated by commas, or, in a pattern without a comma, by
   * colons (never inside brackets; a pattern that is one IPv6 address stays whole); each a host or group name, `all`,
   * or a shell glob (`host*`); `&name` keeps only hosts also in name, `!name` removes its hosts. Plain parts are
   * joined first, then the `&` parts intersect, then the `!` parts remove; without a plain part the pattern starts
   * from `all` (`!gw`, `&workers`). Returns names in inventory order; parts that match nothing and name no group are
   * reported in `unknown`.
   */
  match(pattern: string): { hosts: string[]; unknown: string[] } {
    const parts = splitHostPattern(pattern)
    const plain = parts.filter((x) => !x.startsWith('!') && !x.startsWith('&'))
    const unknown: string[] = []
    const hitsOf = (raw: string): Set<string> => {
      const p = raw.startsWith('!') || raw.startsWith('&') ? raw.slice(1) : raw
      // shell-style * and ?; everything else, brackets too, is literal (Ansible patterns have no character classes)
      const re = /[*?]/.test(p) ? new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`) : undefined
      const hits = new Set<string>()
      for (const h of this.hosts()) {
        if (re ? re.test(h.name) || h.groups.some((g) => re.test(g)) : h.name === p || h.groups.includes(p)) hits.add(h.name)
      }
      if (hits.size === 0 && !this.groups.has(p)) unknown.push(raw)
      return hits
    }
    const include = new Set<string>()
    for (const raw of plain.length > 0 || parts.length === 0 ? plain : ['all']) for (const h of hitsOf(raw)) include.add(h)
    for (const raw of parts.filter((x) => x.startsWith('&'))) {
      const keep = hitsOf(raw)
      for (const h of include) if (!keep.has(h)) include.delete(h)
    }
    for (const raw of parts.filter((x) => x.startsWith('!'))) for (const h of hitsOf(raw)) include.delete(h)
    return { hosts: this.hostNames.filter((h) => include.has(h)), unknown }
  }
}
