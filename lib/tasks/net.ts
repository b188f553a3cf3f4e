import ipaddr from 'ipaddr.js'
import { cmd, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { SkipTask, type Change, type Claim, type Task } from '../core/task.ts'
import { boolean, gatewayIpv4, ifname, ipv4Cidr, ipv4Interface, mtu as mtuValue, oneOf, validateSpec, knownFields, specFields } from '../core/validate.ts'
import { fileFact, type FileState } from '../facts/files.ts'
import { planRecordRestore, recordOnceCommand } from './file.ts'
import { linksFact, routesFact, type Link, type Route } from '../facts/ip.ts'
import { OVS_VSCTL, ovsStateFact, type OvsInterface } from '../facts/ovs.ts'

/**
 * Links, addresses, routes and MTU with iproute2 (ip-address(8), ip-route(8), ip-link(8)), reading the
 * host with `ip -j` (JSON). Object keys used for `touches` / `watches`: `link:<dev>` (link state, MTU),
 * `addr:<dev>` (its addresses), `route:<destination>` (a main-table route), `ovs.port:<dev>` (the OVSDB
 * row of an OVS port / interface of that name).
 */

const ENSURE = ['present', 'absent'] as const

/** Canonical `A.B.C.D/len` of an address read from the host. */
function canonInterface(cidr: string): string {
  const [addr, len] = ipaddr.IPv4.parseCIDR(cidr)
  return `${addr.toString()}/${len}`
}

/** The network (`A.B.C.D/len` with host bits cleared) an interface address belongs to. */
function networkOf(cidr: string): string {
  const [, len] = ipaddr.IPv4.parseCIDR(cidr)
  return `${ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()}/${len}`
}

// ---------------------------------------------------------------------------------------------------------
// net.ipAddress

/** Spec of {@link ipAddress}. */
export interface IpAddressSpec {
  /** Link name (1..15 chars, not starting with `-`). */
  readonly dev: string
  /** IPv4 interface address with prefix length, `A.B.C.D/len` (e.g. the seed's gateway `10.0.1.1/24`). */
  readonly address: string
  /** Set the link administratively up (`ip link set dev DEV up`) when it is not. Default true; false leaves the link state alone. */
  readonly up?: boolean
  /** `present` (default) or `absent` (remove exactly this address/prefix; other addresses are never touched). */
  readonly ensure?: 'present' | 'absent'
}

/** What {@link ipAddress} reads: the link, or undefined when no link of that name exists. */
export interface IpAddressCurrent {
  readonly link?: Link
}

type IpAddressNorm = Required<IpAddressSpec>

/** The fields of IpAddressSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const IP_ADDRESS_FIELDS = specFields<IpAddressSpec>()('dev', 'address', 'up', 'ensure')

/**
 * Ensure an IPv4 address on a link, like the seed's `ifconfig net1 10.0.1.1 netmask 255.255.255.0 up`,
 * without flushing the link's other addresses. Addresses are compared in canonical form.
 *
 * Plan (present): address missing -> create (`ip addr replace A/len dev DEV`, ip-address(8): add or update);
 * the same address with another prefix length -> replace (delete the old one, add the new one: the prefix
 * length is part of an address's identity in the kernel, so `replace` alone would add a second one);
 * link down and `up` -> update (`ip link set dev DEV up`). A link that does not exist at plan time (an earlier
 * task of the run creates it, e.g. an OVS internal port; or check mode) plans create with every command.
 * Plan (absent): remove exactly `A/len` if present (`ip addr del`), nothing otherwise.
 *
 * Key: `net.ipAddress[DEV A/len]`. Touches `addr:DEV`, `route:NETWORK` (the connected route) and, for
 * `up`, `link:DEV`; watches `link:DEV`, `addr:DEV`, `ovs.port:DEV`. Claims ({@link Task.claims})
 * `ip.addr:DEV A/len` (present / absent) and, when present, `ip.addr:DEV A` as `A/len`: one address with two prefix
 * lengths on one link is refused when the playbook is built (each task would replace the other's), while removing
 * `A/16` and adding `A/24` is not a conflict.
 * Errors: {@link ValidationError} for a bad `dev` (empty, > 15 chars, leading `-`, metacharacters),
 * a bad `address` (not `A.B.C.D/len`), a non-boolean `up`, or `ensure` not present/absent.
 */
export function ipAddress(spec: IpAddressSpec): Task<IpAddressNorm, IpAddressCurrent> {
  const specKey = `net.ipAddress[${String(spec?.dev)} ${String(spec?.address)}]`
  validateSpec(specKey, () => knownFields(spec, IP_ADDRESS_FIELDS))
  const norm = validateSpec(specKey, (): IpAddressNorm => ({
    dev: ifname('dev', spec.dev),
    address: ipv4Interface('address', spec.address),
    up: boolean('up', spec.up, true),
    ensure: oneOf('ensure', spec.ensure ?? 'present', ENSURE),
  }))
  const { dev } = norm
  return {
    kind: 'net.ipAddress',
    key: `net.ipAddress[${dev} ${norm.address}]`,
    spec: norm,
    facts: [linksFact],
    watches: [`link:${dev}`, `addr:${dev}`, `ovs.port:${dev}`],
    claims: [
      { object: `ip.addr:${dev} ${norm.address}`, value: norm.ensure },
      ...(norm.ensure === 'present' ? [{ object: `ip.addr:${dev} ${norm.address.split('/')[0]!}`, value: norm.address }] : []),
    ],
    current: (f) => {
      const link = f.get(linksFact)[dev]
      return link !== undefined ? { link } : {}
    },
    plan: (cur, s) => planIpAddress(cur, s),
  }
}

function planIpAddress(cur: IpAddressCurrent, s: IpAddressNorm): Change[] {
  const { dev, address } = s
  const [ip, lenText] = address.split('/') as [string, string]
  const len = Number(lenText)
  const addrTouches = [`addr:${dev}`, `route:${networkOf(address)}`]
  const add: Command = cmd('ip', 'addr', 'replace', address, 'dev', dev)
  const up: Command = cmd('ip', 'link', 'set', 'dev', dev, 'up')
  const link = cur.link
  const present = link?.ipv4.map((a) => canonInterface(a.cidr)) ?? []
  if (s.ensure === 'absent') {
    if (!present.includes(address)) return []
    return [{
      op: 'delete', summary: `remove ${address} from ${dev}`, before: { address }, after: { address: null },
      commands: [cmd('ip', 'addr', 'del', address, 'dev', dev)], touches: addrTouches,
    }]
  }
  if (link === undefined) {
    // the same changes as for the link once it exists (a new link starts down): check mode lists what apply does
    return [
      {
        op: 'create',
        summary: `add ${address} to ${dev} (link ${dev} does not exist yet: an earlier task must create it)`,
        before: { address: null }, after: { address }, commands: [add], touches: addrTouches,
      },
      ...(s.up ? [{ op: 'update' as const, summary: `set ${dev} up`, before: { up: false }, after: { up: true }, commands: [up], touches: [`link:${dev}`] }] : []),
    ]
  }
  const changes: Change[] = []
  if (!present.includes(address)) {
    const sameIp = link.ipv4.filter((a) => a.address === ip && a.prefixlen !== len).map((a) => canonInterface(a.cidr))
    if (sameIp.length > 0) {
      changes.push({
        op: 'replace', summary: `change prefix length of ${ip} on ${dev}: ${sameIp.join(', ')} -> ${address}`,
        before: { address: sameIp.join(', ') }, after: { address },
        commands: [...sameIp.map((a) => cmd('ip', 'addr', 'del', a, 'dev', dev)), add],
        touches: [...addrTouches, ...sameIp.map((a) => `route:${networkOf(a)}`)],
      })
    } else {
      changes.push({ op: 'create', summary: `add ${address} to ${dev}`, before: { address: null }, after: { address }, commands: [add], touches: addrTouches })
    }
  }
  if (s.up && !link.up) {
    changes.push({ op: 'update', summary: `set ${dev} up`, before: { up: false }, after: { up: true }, commands: [up], touches: [`link:${dev}`] })
  }
  return changes
}

// ---------------------------------------------------------------------------------------------------------
// net.route

/** Spec of {@link route}. */
export interface RouteSpec {
  /** `default`, or a network in CIDR form `A.B.C.D/len` with no host bits (a host route is `A.B.C.D/32`). */
  readonly destination: string
  /**
   * Next-hop gateway, a unicast IPv4 address ({@link gatewayIpv4}). Required for `present` unless `dev` is given (a link
   * route). With `absent`, only a route via it is removed.
   */
  readonly via?: string
  /** Output link (optional for gateway routes; compared only when given). */
  readonly dev?: string
  /** `present` (default) or `absent`. */
  readonly ensure?: 'present' | 'absent'
}

/** What {@link route} reads: the main table's routes to the destination. */
export interface RouteCurrent {
  readonly routes: readonly Route[]
}

interface RouteNorm {
  readonly destination: string
  readonly via?: string
  readonly dev?: string
  readonly ensure: 'present' | 'absent'
}

/**
 * Canonical route destination: `default`, or `A.B.C.D/len` as `ip -j route` prints it. A bare address is
 * rejected rather than read as `/32` (ip-route(8) would), since `10.0.1.0` usually means a forgotten `/24`.
 */
function routeDestination(field: string, value: unknown): string {
  if (value === 'default' || value === '0.0.0.0/0') return 'default'
  const c = ipv4Cidr(field, value)
  return c === '0.0.0.0/0' ? 'default' : c
}

/** The fields of RouteSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const ROUTE_FIELDS = specFields<RouteSpec>()('destination', 'via', 'dev', 'ensure')

/**
 * Ensure an IPv4 route in the main table (ip-route(8)).
 * Plan (present): no route to the destination -> create; a route whose gateway (or, when `dev` is given, link)
 * differs -> update; both with `ip route replace DEST [via GW] [dev DEV]` (add or change, never a duplicate).
 * Plan (absent): one `ip route del DEST [via GW]` per matching route (all routes to DEST when `via` is not given).
 * Key: `net.route[DEST]`. Touches and watches `route:DEST` (and watches `link:DEV`, `addr:DEV` when `dev` is given).
 * Claims ({@link Task.claims}): present, `ip.route:DEST` as `via GW` (or `no gateway` for a link route), `ip.route:DEST
 * via GW` as present, and `ip.route:DEST dev` when `dev` is given; absent, `ip.route:DEST` as absent, or with `via`
 * only `ip.route:DEST via GW` as absent (removing a route via another gateway is no conflict).
 * Errors: {@link ValidationError} for a bad destination (host bits set: `10.0.1.5/24`), gateway (not unicast:
 * 0.0.0.0/8, multicast, broadcast, loopback, see {@link gatewayIpv4}) or dev, neither `via` nor `dev` for present,
 * or a bad `ensure`. The kernel rejects an unreachable gateway at apply ("Nexthop has invalid gateway").
 */
export function route(spec: RouteSpec): Task<RouteNorm, RouteCurrent> {
  const specKey = `net.route[${String(spec?.destination)}]`
  validateSpec(specKey, () => knownFields(spec, ROUTE_FIELDS))
  const norm = validateSpec(specKey, (): RouteNorm => {
    const ensure = oneOf('ensure', spec.ensure ?? 'present', ENSURE)
    const destination = routeDestination('destination', spec.destination)
    const via = spec.via !== undefined ? gatewayIpv4('via', spec.via) : undefined
    const dev = spec.dev !== undefined ? ifname('dev', spec.dev) : undefined
    if (ensure === 'present' && via === undefined && dev === undefined) throw new ValidationError('via', 'give the gateway (via) or the link (dev) of the route')
    return { destination, ensure, ...(via !== undefined ? { via } : {}), ...(dev !== undefined ? { dev } : {}) }
  })
  const { destination } = norm
  return {
    kind: 'net.route',
    key: `net.route[${destination}]`,
    spec: norm,
    facts: [routesFact],
    watches: [`route:${destination}`, ...(norm.dev !== undefined ? [`link:${norm.dev}`, `addr:${norm.dev}`] : [])],
    claims: routeClaims(norm),
    current: (f) => ({ routes: f.get(routesFact).filter((r) => r.destination === destination) }),
    plan: (cur, s) => planRoute(cur, s),
  }
}

/** What a route task claims (see {@link route}). */
function routeClaims(s: RouteNorm): Claim[] {
  const o = `ip.route:${s.destination}`
  if (s.ensure === 'absent') return [s.via === undefined ? { object: o, value: 'absent' } : { object: `${o} via ${s.via}`, value: 'absent' }]
  return [
    { object: o, value: s.via !== undefined ? `via ${s.via}` : 'no gateway' },
    ...(s.via !== undefined ? [{ object: `${o} via ${s.via}`, value: 'present' }] : []),
    ...(s.dev !== undefined ? [{ object: `${o} dev`, value: s.dev }] : []),
  ]
}

function describeRoute(r: { destination: string; via?: string | undefined; dev?: string | undefined }): string {
  return `${r.destination}${r.via !== undefined ? ` via ${r.via}` : ''}${r.dev !== undefined ? ` dev ${r.dev}` : ''}`
}

function planRoute(cur: RouteCurrent, s: RouteNorm): Change[] {
  const touches = [`route:${s.destination}`]
  if (s.ensure === 'absent') {
    const doomed = cur.routes.filter((r) => s.via === undefined || r.via === s.via)
    return doomed.map((r) => ({
      op: 'delete' as const, summary: `remove route ${describeRoute(r)}`,
      before: { via: r.via ?? null, dev: r.dev ?? null }, after: { via: null, dev: null },
      commands: [cmd('ip', 'route', 'del', s.destination, ...(r.via !== undefined ? ['via', r.via] : []), ...(r.dev !== undefined ? ['dev', r.dev] : []))],
      touches,
    }))
  }
  const matches = (r: Route): boolean => r.via === s.via && (s.dev === undefined || r.dev === s.dev)
  if (cur.routes.some(matches)) return []
  const replace = cmd('ip', 'route', 'replace', s.destination, ...(s.via !== undefined ? ['via', s.via] : []), ...(s.dev !== undefined ? ['dev', s.dev] : []))
  const after = { via: s.via ?? null, ...(s.dev !== undefined ? { dev: s.dev } : {}) }
  const old = cur.routes[0]
  if (old === undefined) return [{ op: 'create', summary: `add route ${describeRoute(s)}`, before: { via: null, ...(s.dev !== undefined ? { dev: null } : {}) }, after, commands: [replace], touches }]
  return [{
    op: 'update', summary: `change route ${describeRoute(old)} -> ${describeRoute(s)}`,
    before: { via: old.via ?? null, ...(s.dev !== undefined ? { dev: old.dev ?? null } : {}) }, after, commands: [replace], touches,
  }]
}

// ---------------------------------------------------------------------------------------------------------
// net.setMtu

/** Spec of {@link setMtu}. */
export interface SetMtuSpec {
  /** Link name (a kernel link, or an OVS internal port). */
  readonly dev: string
  /** MTU in bytes, 68 (RFC 791 minimum) ..65535. VXLAN over IPv4 adds 50 bytes (RFC 7348): the seed raises the underlay to 1554. */
  readonly mtu: number
  /**
   * Whether the host runs Open vSwitch (default true): the task then reads OVSDB (shared with the OVS tasks)
   * to tell OVS internal ports from kernel links, and fails if ovsdb-server does not answer. Set false on
   * hosts without OVS (the gateway router): the MTU is then always set with `ip link`.
   */
  readonly ovs?: boolean
  /**
   * Record the MTU the link has just before this task changes it, in {@link mtuRecordFile} on the host
   * (`/run/vxlab/mtu/DEV`), so that `ensure: 'absent'` can put it back (default false). Written with the first
   * change of an existing link's MTU and kept by later ones (another `mtu` must not record vxlab's own); under /run, so the record lives exactly as long as the runtime MTU it is about
   * (`ip link` does not persist either: after a reboot both are gone). No record is written for a link that does
   * not exist yet, or whose MTU is already `mtu`.
   */
  readonly recordPrior?: boolean
  /**
   * `present` (default): the link has `mtu`. `absent`: undo a recorded change ({@link recordPrior}): while the
   * link still has `mtu`, set the recorded MTU back and delete the record; if it has another MTU (changed since, or
   * set by another version of the playbook), leave it and keep the record (the only copy of the MTU from before
   * vxlab), skipping with the reason. Without a record the MTU is left as it is; while it is `mtu`, the task is
   * skipped saying so (nothing tells what it was before). Never sets a fixed MTU.
   */
  readonly ensure?: 'present' | 'absent'
}

/** What {@link setMtu} reads: the kernel link and the OVS interface of that name (each may be missing). */
export interface SetMtuCurrent {
  readonly link?: Link
  readonly ovsInterface?: OvsInterface
  /** `ensure: 'absent'` only: the record of the MTU from before the change ({@link mtuRecordFile}). */
  readonly record?: FileState
}

type SetMtuNorm = Required<SetMtuSpec>

/** Where {@link setMtu} with `recordPrior` keeps a link's MTU from before its change: `/run/vxlab/mtu/DEV`. */
export function mtuRecordFile(dev: string): string {
  return `/run/vxlab/mtu/${dev}`
}

/** OVS interface types whose MTU is a kernel link's: vxlab sets them with `ip link` unless OVSDB holds an mtu_request. */
const KERNEL_MTU_TYPES = ['', 'system', 'tap']

/** The fields of SetMtuSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const SET_MTU_FIELDS = specFields<SetMtuSpec>()('dev', 'mtu', 'ovs', 'recordPrior', 'ensure')

/**
 * Ensure a link's MTU (the seed's `ifconfig eth0 mtu 1554`).
 * Kernel links: `ip link set dev DEV mtu N` when the MTU differs (ip-link(8)).
 * OVS internal ports (OVSDB Interface type `internal`, or any interface with an `mtu_request`): OVS sets
 * the device MTU from `mtu_request` and overrides one set with ip link (ovs-vswitchd.conf.db(5),
 * Interface mtu_request), so `ovs-vsctl --timeout=10 set interface DEV mtu_request=N` when the request
 * differs; when the request is right but the kernel MTU was changed by hand, `ip link set` repairs it (OVS
 * does not re-apply an unchanged request).
 * A link missing at plan time (created earlier in the run, or check mode) plans the ip-link command anyway.
 * With `recordPrior`, a change first writes the link's current MTU to {@link mtuRecordFile}; `ensure: 'absent'`
 * puts a recorded MTU back (the same way: ip link, or mtu_request), see {@link SetMtuSpec.ensure}.
 * Key: `net.setMtu[DEV]`. Touches `link:DEV` (and `ovs.port:DEV` for an mtu_request, `file:RECORD` with a
 * record); watches `link:DEV`, `ovs.port:DEV` (and `file:RECORD` for absent).
 * Claims ({@link Task.claims}) `link.mtu:DEV` as the MTU, as ovsPort's `mtuRequest` and containerPort's `mtu` do:
 * two MTUs for one link are refused when the playbook is built (each run would set the other's back).
 * Errors: {@link ValidationError} for a bad dev or an MTU outside 68..65535
 * (`net.setMtu[eth0].mtu: 70000 is out of range 68..65535`); at plan time, an OVS tunnel/patch
 * interface (its MTU is not settable: set the underlay's).
 */
export function setMtu(spec: SetMtuSpec): Task<SetMtuNorm, SetMtuCurrent> {
  const specKey = `net.setMtu[${String(spec?.dev)}]`
  validateSpec(specKey, () => knownFields(spec, SET_MTU_FIELDS))
  const norm = validateSpec(specKey, (): SetMtuNorm => ({
    dev: ifname('dev', spec.dev),
    mtu: mtuValue('mtu', spec.mtu),
    ovs: boolean('ovs', spec.ovs, true),
    recordPrior: boolean('recordPrior', spec.recordPrior, false),
    ensure: oneOf('ensure', spec.ensure ?? 'present', ENSURE),
  }))
  const { dev } = norm
  const recordFact = norm.ensure === 'absent' ? fileFact(mtuRecordFile(dev)) : undefined
  return {
    kind: 'net.setMtu',
    key: `net.setMtu[${dev}]`,
    spec: norm,
    facts: [linksFact, ...(norm.ovs ? [ovsStateFact] : []), ...(recordFact ? [recordFact] : [])],
    watches: [`link:${dev}`, `ovs.port:${dev}`, ...(recordFact ? [`file:${mtuRecordFile(dev)}`] : [])],
    claims: [{ object: `link.mtu:${dev}`, value: norm.ensure === 'absent' ? `back to its recorded MTU (if still ${norm.mtu})` : String(norm.mtu) }],
    current: (f) => {
      const link = f.get(linksFact)[dev]
      const ovsInterface = norm.ovs ? f.get(ovsStateFact).interfaces[dev] : undefined
      return { ...(link !== undefined ? { link } : {}), ...(ovsInterface !== undefined ? { ovsInterface } : {}), ...(recordFact ? { record: f.get(recordFact) } : {}) }
    },
    plan: (cur, s) => (s.ensure === 'absent' ? planMtuRestore(cur, s) : withRecord(cur, s, planMtu(cur, s))),
  }
}

/** With `recordPrior`, a change of an existing link's MTU first records the MTU it has now, unless one is recorded. */
function withRecord(cur: SetMtuCurrent, s: SetMtuNorm, changes: Change[]): Change[] {
  if (!s.recordPrior || cur.link === undefined || changes.length === 0) return changes
  const file = mtuRecordFile(s.dev)
  const prior = cur.link.mtu
  return changes.map((c, i) => (i > 0 ? c : {
    ...c, summary: `${c.summary} (MTU ${prior} recorded in ${file}, unless it holds one from before already)`,
    commands: [recordOnceCommand(file, String(prior)), ...c.commands], touches: [...(c.touches ?? []), `file:${file}`],
  }))
}

/** `ensure: 'absent'`: put the recorded MTU back while the link still has the one this task sets. */
function planMtuRestore(cur: SetMtuCurrent, s: SetMtuNorm): Change[] {
  const { dev, mtu } = s
  const file = mtuRecordFile(dev)
  const rec = cur.record
  const now = cur.link?.mtu
  if (rec === undefined || !rec.exists) {
    if (now === mtu) throw new SkipTask(`left the MTU of ${dev} at ${mtu}: no MTU from before it was set is recorded in ${file} (it was ${mtu} already, or it was set by an older vxlab or without recordPrior)`)
    return []
  }
  const prior = /^\s*(\d{2,5})\s*$/.exec(rec.content)?.[1]
  if (prior === undefined || Number(prior) < 68 || Number(prior) > 65535) throw new Error(`${file} does not hold an MTU (68..65535): ${JSON.stringify(rec.content.slice(0, 40))}`)
  return planRecordRestore({
    file, name: dev, noun: 'MTU', subject: `the MTU of ${dev}`, holder: 'the link', gone: `link ${dev} no longer exists`, now, set: mtu, prior: Number(prior),
    restore: (rm) => {
      const restore = planMtu(cur, { ...s, mtu: Number(prior) })
      return {
        op: 'update', summary: `set MTU of ${dev} back to ${prior} (recorded in ${file} before it was set to ${mtu})`,
        before: { mtu }, after: { mtu: Number(prior) },
        commands: [...restore.flatMap((c) => c.commands), rm], touches: [...new Set([...restore.flatMap((c) => c.touches ?? []), `link:${dev}`, `file:${file}`])],
      }
    },
  })
}

function planMtu(cur: SetMtuCurrent, s: SetMtuNorm): Change[] {
  const { dev, mtu } = s
  const ipLink = cmd('ip', 'link', 'set', 'dev', dev, 'mtu', String(mtu))
  const iface = cur.ovsInterface
  const viaOvs = iface !== undefined && (iface.type === 'internal' || iface.mtuRequest !== undefined)
  if (iface !== undefined && !viaOvs && !KERNEL_MTU_TYPES.includes(iface.type)) {
    throw new Error(`${dev} is an OVS ${iface.type} interface, whose MTU cannot be set: set the MTU of the underlay link instead`)
  }
  const kernel = cur.link?.mtu ?? null
  if (viaOvs) {
    // an interface OVS could not set up keeps its error whatever mtu_request says: an update would not converge
    if (iface.error !== undefined) throw new Error(`OVS cannot use interface ${dev}: ${iface.error} (its MTU cannot be set)`)
    if (iface.mtuRequest !== mtu) {
      return [{
        op: 'update', summary: `set mtu_request of OVS ${iface.type || 'system'} interface ${dev} to ${mtu}`,
        before: { mtu_request: iface.mtuRequest ?? null, mtu: kernel }, after: { mtu_request: mtu, mtu },
        commands: [cmd(...OVS_VSCTL, 'set', 'interface', dev, `mtu_request=${mtu}`)], touches: [`link:${dev}`, `ovs.port:${dev}`],
      }]
    }
    if (cur.link !== undefined && cur.link.mtu !== mtu) {
      return [{
        op: 'update', summary: `set MTU of ${dev} to ${mtu} (OVS mtu_request is ${mtu}; the kernel MTU was changed outside OVS)`,
        before: { mtu: kernel }, after: { mtu }, commands: [ipLink], touches: [`link:${dev}`],
      }]
    }
    return []
  }
  if (cur.link === undefined) {
    return [{
      op: 'update', summary: `set MTU of ${dev} to ${mtu} (link ${dev} does not exist yet: an earlier task must create it)`,
      before: { mtu: null }, after: { mtu }, commands: [ipLink], touches: [`link:${dev}`],
    }]
  }
  if (cur.link.mtu === mtu) return []
  return [{ op: 'update', summary: `set MTU of ${dev} to ${mtu}`, before: { mtu: cur.link.mtu }, after: { mtu }, commands: [ipLink], touches: [`link:${dev}`] }]
}
