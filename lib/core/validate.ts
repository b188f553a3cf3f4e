import ipaddr from 'ipaddr.js'
import { posix } from 'node:path'
import type { Command } from './command.ts'
import { ValidationError } from './errors.ts'
import { isSecret, MASKED } from './secrets.ts'

/**
 * Validators for the scalar fields of task specs. Each returns the canonical value or throws a
 * {@link ValidationError} naming the field; task factories call them when a playbook is built,
 * before any host is contacted.
 */

/**
 * A value as an error message shows it: strings and plain data as JSON (`"10.0.1.1/33"`, `[1,2]`), numbers as
 * written (`NaN`, `Infinity`, `1.5`; JSON would print `null` for the first two), and what JSON cannot show (a
 * bigint, a symbol, a function, a circular object) by its kind (`5n`, `a function`). Never throws, so a
 * validator's message cannot turn into a TypeError. A secret ({@link import('./secrets.ts').secret}, any length) is `"***"`.
 */
export function shown(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'symbol') return value.toString()
  if (typeof value === 'function') return 'a function'
  if (value === undefined) return 'undefined'
  try {
    // a secret value (any length) is shown as "***": a short one is not found by text masking later
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'string' && isSecret(v) ? MASKED : v)) ?? String(value)
  } catch {
    return Array.isArray(value) ? 'an array' : 'an object'
  }
}

/** An IPv4 address in dotted-quad form (RFC 791); returns the canonical form (`010.0.0.1` is rejected). */
export function ipv4(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(value)) {
    throw new ValidationError(field, `expected an IPv4 address, got ${shown(value)}`)
  }
  return ipaddr.IPv4.parse(value).toString()
}

/**
 * Why an address is not a unicast address of a host, by the range ipaddr.js puts it in (the ranges of IANA's IPv4
 * special-purpose address registry, RFC 6890).
 */
const NOT_UNICAST: Readonly<Record<string, string>> = {
  unspecified: 'is unspecified ("this host on this network", 0.0.0.0/8, RFC 1122 section 3.2.1.3: a source address only)',
  broadcast: 'is the limited broadcast address (RFC 919)',
  multicast: 'is a multicast address (224.0.0.0/4, RFC 5771)',
  loopback: 'is a loopback address (127.0.0.0/8, RFC 1122 section 3.2.1.3: it never leaves the host)',
}

/**
 * The IPv4 address of a tunnel endpoint on the underlay, in dotted-quad form (as {@link ipv4}): OVS's VXLAN
 * `options:remote_ip` (the other end) and `options:local_ip` (this host's address), for which
 * ovs-vswitchd.conf.db(5) says "Only unicast endpoints are supported". Returns the canonical form.
 * Errors: {@link ValidationError} for anything {@link ipv4} refuses; for 0.0.0.0/8 (unspecified), 255.255.255.255
 * (broadcast), 224.0.0.0/4 (multicast) and 127.0.0.0/8 (loopback: a tunnel is between hosts); and for the word `flow`
 * (OVS's per-flow endpoint, set by OpenFlow actions), which vxlab does not manage: its plans compare a fixed address.
 * Other special ranges (private, link-local, shared, documentation, 240.0.0.0/4) are unicast and accepted.
 */
export function tunnelIpv4(field: string, value: unknown): string {
  if (value === 'flow') throw new ValidationError(field, '"flow" (an OVS tunnel whose endpoint each flow sets, ovs-vswitchd.conf.db(5)) is not supported by vxlab: give the IPv4 address')
  const a = ipv4(field, value)
  const why = NOT_UNICAST[ipaddr.IPv4.parse(a).range()]
  if (why !== undefined) throw new ValidationError(field, `${a} ${why}; a tunnel endpoint is a unicast address of a host on the underlay (ovs-vswitchd.conf.db(5): only unicast endpoints are supported)`)
  return a
}

/**
 * The IPv4 address of a next-hop gateway (ip-route(8) `via`), in dotted-quad form (as {@link ipv4}); returns the
 * canonical form. Errors: {@link ValidationError} for anything {@link ipv4} refuses, and for 224.0.0.0/4 (multicast),
 * 255.255.255.255 (broadcast) and 127.0.0.0/8 (loopback), which Linux refuses at apply ("Nexthop has invalid
 * gateway", a gateway must be a unicast address: fib_check_nh, net/ipv4/fib_semantics.c), and for 0.0.0.0/8: Linux
 * reads `via 0.0.0.0` as no gateway (a link route, which then never matches the planned one) and refuses the rest of
 * 0.0.0.0/8 as it refuses the others.
 */
export function gatewayIpv4(field: string, value: unknown): string {
  const a = ipv4(field, value)
  const range = ipaddr.IPv4.parse(a).range()
  const why = NOT_UNICAST[range]
  if (why !== undefined) {
    const linux = a === '0.0.0.0' ? 'Linux reads via 0.0.0.0 as no gateway at all' : 'Linux refuses this one: "Nexthop has invalid gateway"'
    throw new ValidationError(field, `${a} ${why}; a gateway is the unicast address of a router on a connected network (${linux})`)
  }
  return a
}

/**
 * An IPv4 interface address with prefix length, `A.B.C.D/len` (RFC 4632 notation; len 0..32, one `/`); returns the
 * canonical form. Errors: {@link ValidationError} for no `/` or more than one (`10.0.1.1/24/8`), a bad address
 * (as {@link ipv4}) or a bad prefix length.
 */
export function ipv4Interface(field: string, value: unknown): string {
  if (typeof value !== 'string' || !value.includes('/')) throw new ValidationError(field, `expected A.B.C.D/len, got ${shown(value)}`)
  const parts = value.split('/')
  if (parts.length !== 2) throw new ValidationError(field, `expected A.B.C.D/len with one "/", got ${shown(value)}`)
  const [addr, len] = parts as [string, string]
  ipv4(field, addr)
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) throw new ValidationError(field, `prefix length must be 0..32, got ${shown(value)}`)
  return `${ipaddr.IPv4.parse(addr).toString()}/${Number(len)}`
}

/**
 * An IPv4 network in CIDR notation (RFC 4632) with no host bits set: `10.0.1.0/24`.
 * Returns the canonical form. `10.0.1.5/24` is rejected (that is an interface address, not a network).
 */
export function ipv4Cidr(field: string, value: unknown): string {
  const canon = ipv4Interface(field, value)
  const [addr, len] = ipaddr.IPv4.parseCIDR(canon)
  const net = ipaddr.IPv4.networkAddressFromCIDR(canon).toString()
  if (net !== addr.toString()) throw new ValidationError(field, `${shown(value)} has host bits set; did you mean ${net}/${len}?`)
  return `${net}/${len}`
}

/** Whether an IPv4 address lies inside a CIDR network. */
export function ipv4InCidr(address: string, cidr: string): boolean {
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parseCIDR(cidr))
}

/** An integer in [min, max]. */
export function intRange(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ValidationError(field, `expected an integer ${min}..${max}, got ${shown(value)}`)
  if (value < min || value > max) throw new ValidationError(field, `${value} is out of range ${min}..${max}`)
  return value
}

/** A list field, each element checked by `item` as `FIELD[i]`; `what` names the elements in the error (`port names`). */
export function listOf<T>(field: string, value: unknown, what: string, item: (field: string, value: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new ValidationError(field, `expected a list of ${what}, got ${shown(value)}`)
  return value.map((x, i) => item(`${field}[${i}]`, x))
}

/** A boolean field: `true` or `false` (`dflt` when undefined). Errors: {@link ValidationError} for any other value (`"yes"`, `1`). */
export function boolean(field: string, value: unknown, dflt: boolean): boolean {
  if (value === undefined) return dflt
  if (typeof value !== 'boolean') throw new ValidationError(field, `expected true or false, got ${shown(value)}`)
  return value
}

/**
 * Longest time limit of a command, in ms: 2,000,000,000 (~23 days), as the CLI's `--command-timeout` allows. Node's
 * timers hold at most 2^31 - 1 ms (~24.8 days); a longer delay fires at once (Node.js docs, `setTimeout`).
 */
export const MAX_TIMEOUT_MS = 2_000_000_000

/**
 * A command's time limit in milliseconds: an integer 1..{@link MAX_TIMEOUT_MS}. Errors: {@link ValidationError} for
 * anything else (`-5`, `0`, `NaN`, `'abc'`, `1.5`): each would fail or misbehave only when the command runs.
 */
export function timeoutMs(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ValidationError(field, `expected a time limit in ms (an integer 1..${MAX_TIMEOUT_MS}), got ${shown(value)}`)
  if (value < 1 || value > MAX_TIMEOUT_MS) throw new ValidationError(field, `${value} ms is out of range 1..${MAX_TIMEOUT_MS} (~23 days)`)
  return value
}

/**
 * A {@link Command} given as data (a probe's): `argv` a non-empty list of strings whose first (the program) is not
 * empty, none with a NUL byte (execve(2) arguments are C strings); `stdin`, if given, a string or bytes; `timeoutMs`,
 * if given, as {@link timeoutMs}. Returns it. Errors: {@link ValidationError} naming `FIELD.argv`, `FIELD.stdin` or
 * `FIELD.timeoutMs`, or FIELD itself for a value that is no object.
 */
export function commandValue(field: string, value: unknown): Command {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, `expected a command {argv, stdin?, timeoutMs?}, got ${shown(value)}`)
  const c = value as { argv?: unknown; stdin?: unknown; timeoutMs?: unknown }
  if (!Array.isArray(c.argv) || !c.argv.every((a) => typeof a === 'string') || c.argv.length === 0 || c.argv[0] === '') {
    throw new ValidationError(`${field}.argv`, `expected a non-empty list of strings (program and arguments), got ${shown(c.argv)}`)
  }
  const nul = c.argv.findIndex((a: string) => a.includes('\0'))
  if (nul >= 0) throw new ValidationError(`${field}.argv[${nul}]`, 'must not contain a NUL byte (execve(2) arguments are C strings)')
  if (c.stdin !== undefined && typeof c.stdin !== 'string' && !(c.stdin instanceof Uint8Array)) throw new ValidationError(`${field}.stdin`, `expected a string or bytes, got ${shown(c.stdin)}`)
  if (c.timeoutMs !== undefined) timeoutMs(`${field}.timeoutMs`, c.timeoutMs)
  return value as Command
}

/** A VXLAN network identifier (VNI, OVS `options:key`): 24 bits, 0..16777215 (RFC 7348 section 5). */
export function vni(field: string, value: unknown): number {
  return intRange(field, value, 0, 16_777_215)
}

/** An interface MTU in bytes: 68 (RFC 791 minimum) ..65535. */
export function mtu(field: string, value: unknown): number {
  return intRange(field, value, 68, 65_535)
}

/** A TCP/UDP port, 1..65535. */
export function port(field: string, value: unknown): number {
  return intRange(field, value, 1, 65_535)
}

/**
 * A Linux network interface name (also OVS bridge and port names): 1..15 bytes (IFNAMSIZ 16 with the NUL),
 * not `.` or `..`, no `/`, whitespace or `:`, and not starting with `-` (it would read as an option).
 * vxlab also rejects shell metacharacters, so names are plain data everywhere.
 */
export function ifname(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(field, `expected an interface name, got ${shown(value)}`)
  if (Buffer.byteLength(value) > 15) throw new ValidationError(field, `interface name ${shown(value)} is longer than 15 characters`)
  if (value.startsWith('-')) throw new ValidationError(field, `interface name ${shown(value)} must not start with "-"`)
  if (!/^[A-Za-z0-9_.@+-]+$/.test(value) || value === '.' || value === '..') {
    throw new ValidationError(field, `interface name ${shown(value)} may only contain letters, digits and _ . @ + -`)
  }
  return value
}

/** A component of an image's registry host (docker's `reference` grammar: letters, digits, `-` inside). */
const DOMAIN_PART = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
/** A component of an image's path: lower-case letters and digits, joined by one `.` or `_`, `__`, or dashes. */
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
/**
 * An image reference as docker reads it (distribution's `reference` grammar, which docker's CLI and dockerd use):
 * `[REGISTRY/]PATH[:TAG][@sha256:DIGEST]`; the first component is a registry only with a `.` or a `:PORT`, or as
 * `localhost`, else it is part of the path.
 */
const IMAGE_REF = new RegExp(
  `^(?:(?:(?:localhost|${DOMAIN_PART}(?:\\.${DOMAIN_PART})+)(?::[0-9]+)?|${DOMAIN_PART}:[0-9]+)/)?` +
  `${PATH_PART}(?:/${PATH_PART})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
)

/**
 * A Docker container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters) or, with `image`, an image
 * reference ({@link IMAGE_REF}, at most 255 characters). Neither can start with `-`, so neither passes for an
 * option of the docker CLI. Errors: {@link ValidationError} naming the form.
 */
export function dockerName(field: string, value: unknown, image = false): string {
  const re = image ? IMAGE_REF : /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
  if (typeof value !== 'string' || !re.test(value) || value.length > (image ? 255 : 128)) {
    const form = image ? '[REGISTRY[:PORT]/]PATH[:TAG][@sha256:DIGEST], PATH in lower case, at most 255 characters' : '[a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters'
    throw new ValidationError(field, `${shown(value)} is not a valid ${image ? 'image' : 'container'} name (${form})`)
  }
  return value
}

/** A sysctl key with dots or slashes (`net.ipv4.ip_forward`), as sysctl(8) accepts. */
export function sysctlKey(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[a-zA-Z0-9_]+([./][a-zA-Z0-9_-]+)+$/.test(value)) {
    throw new ValidationError(field, `expected a sysctl key like net.ipv4.ip_forward, got ${shown(value)}`)
  }
  return value
}

/** An absolute file path without NUL or newline. */
export function absPath(field: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || /[\0\n]/.test(value)) {
    throw new ValidationError(field, `expected an absolute path, got ${shown(value)}`)
  }
  return value
}

/**
 * The absolute path of a file (not a folder), in normal form (`/etc//x`, `/etc/./x` and `/a/../etc/x` are `/etc/x`,
 * POSIX path rules): one file, one spelling, so two tasks naming it differently are seen to name the same file.
 */
export function filePath(field: string, value: unknown): string {
  const p = posix.normalize(absPath(field, value))
  if (p.endsWith('/')) throw new ValidationError(field, `expected the path of a file, got a folder: ${shown(value)}`)
  return p
}

/** A non-empty string. */
export function nonEmpty(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(field, `expected a non-empty string, got ${shown(value)}`)
  return value
}

/** One of a fixed set of values. */
export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(field, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${shown(value)}`)
  }
  return value as T
}

/**
 * The MAC address of an interface, `aa:bb:cc:dd:ee:ff` (six hex octets separated by `:`); returns it lower-cased.
 * It must be an individual (unicast) address, whose I/G bit (the least significant bit of the first octet) is 0
 * (IEEE 802-2014 section 8.2), and not all zeros: Linux refuses both for an Ethernet link (`is_valid_ether_addr`,
 * include/linux/etherdevice.h; `ip link set address` fails with "Cannot assign requested address"). The broadcast
 * address ff:ff:ff:ff:ff:ff is a group address too. Errors: {@link ValidationError} for any other value.
 */
export function mac(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) throw new ValidationError(field, `expected a MAC address aa:bb:cc:dd:ee:ff, got ${shown(value)}`)
  const m = value.toLowerCase()
  if ((Number.parseInt(m.slice(0, 2), 16) & 1) === 1) {
    throw new ValidationError(field, `${m} is a ${m === 'ff:ff:ff:ff:ff:ff' ? 'broadcast' : 'multicast'} (group) address: the least significant bit of its first octet (the I/G bit, IEEE 802) is 1; an interface needs a unicast address (e.g. 02:${m.slice(3)})`)
  }
  if (m === '00:00:00:00:00:00') throw new ValidationError(field, 'the all-zero MAC address is no address: an interface needs a unicast address such as 02:00:00:00:00:01')
  return m
}

/** Every key of `S`, of each member when `S` is a union. */
type AllKeys<S> = S extends unknown ? keyof S & string : never

/**
 * The fields of a spec type, listed once for {@link knownFields}: `specFields<OvsBridgeSpec>()('name', ...)`. It
 * compiles only when the list names every field of the type (of every member of a union) and nothing else, so the
 * list cannot fall behind the type.
 */
export function specFields<S>() {
  return <const K extends ReadonlyArray<AllKeys<S>>>(
    ...keys: K & ([Exclude<AllKeys<S>, K[number]>] extends [never] ? unknown : { readonly missingFields: Exclude<AllKeys<S>, K[number]> })
  ): readonly string[] => keys
}

/**
 * Every key of the spec is a field of the task: an unknown or misspelled key (from JavaScript, a cast, a spec
 * spread from data) is an error naming it, never a field silently ignored (`ensur: 'absent'` would create what it
 * was meant to remove). A spec that is not an object is an error too. Throws {@link ValidationError}.
 */
export function knownFields(spec: unknown, fields: readonly string[]): void {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new ValidationError('spec', `expected an object of fields, got ${shown(spec)}`)
  for (const k of Object.keys(spec)) {
    if (!fields.includes(k)) throw new ValidationError(k, `not a field of this task (its fields: ${fields.join(', ')})`)
  }
}

/**
 * Run a spec's validators and rethrow the first error prefixed with the task key, e.g.
 * `ovs.vxlanPort[vxlan1].key: 16777216 is out of range 0..16777215`.
 */
export function validateSpec<T>(taskKey: string, build: () => T): T {
  try {
    return build()
  } catch (e) {
    if (e instanceof ValidationError) throw new ValidationError(e.field, e.problem, taskKey)
    throw e
  }
}
