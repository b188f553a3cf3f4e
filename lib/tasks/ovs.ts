import type { Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { SkipTask, type Change, type Claim, type Task } from '../core/task.ts'
import { ifname, listOf, mtu, oneOf, port, tunnelIpv4, validateSpec, vni, knownFields, specFields } from '../core/validate.ts'
import { OVS_VSCTL, ovsStateFact, type OvsBridge, type OvsInterface, type OvsPort, type OvsState } from '../facts/ovs.ts'

/**
 * Open vSwitch tasks: bridges, ports (internal / system) and VXLAN tunnel ports, read from OVSDB as JSON
 * and changed with ovs-vsctl(8) using its idempotent forms (`--may-exist add-br/add-port`,
 * `--if-exists del-br/del-port`). Every change is one ovs-vsctl transaction.
 */

/** Whether a resource should exist. */
export type Ensure = 'present' | 'absent'

const vsctl = (...args: string[]): Command => ({ argv: [...OVS_VSCTL, ...args] })

function ensureOf(field: string, v: unknown): Ensure {
  return v === undefined ? 'present' : oneOf(field, v, ['present', 'absent'] as const)
}

function externalIdsOf(field: string, v: unknown): Record<string, string> | undefined {
  if (v === undefined) return undefined
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError(field, 'expected a map of strings')
  for (const [k, x] of Object.entries(v)) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(k)) throw new ValidationError(`${field}.${k}`, 'keys may only contain letters, digits and _ . : -')
    if (typeof x !== 'string' || /[\0\n]/.test(x)) throw new ValidationError(`${field}.${k}`, `expected a string without newlines, got ${JSON.stringify(x)}`)
  }
  return v as Record<string, string>
}

/** ovs-vsctl column value for a map key: `external_ids:k="v"` (values quoted as OVSDB strings). */
function mapArg(column: string, key: string, value: string): string {
  return `${column}:${key}=${JSON.stringify(value)}`
}

/**
 * The claim of a port task on its bridge: it must exist ({@link Task.claims}), so a playbook that also deletes the
 * bridge on the host is refused when it is built.
 */
export function bridgeNeeded(bridge: string): Claim {
  return { object: `ovs.bridge:${bridge}`, value: 'present', because: "the port's bridge" }
}

// ---------------------------------------------------------------------------------------------------------------------

/** Spec of {@link ovsBridge}. */
export interface OvsBridgeSpec {
  /** Bridge name (an interface name: 1..15 chars). */
  readonly name: string
  /** `system` (kernel datapath) or `netdev` (userspace, e.g. the testbed); unset = leave as is, `system` on create. */
  readonly datapathType?: 'system' | 'netdev'
  /** external_ids keys to set (other keys are left alone). */
  readonly externalIds?: Readonly<Record<string, string>>
  /** `standalone` or `secure` (ovs-vswitchd.conf.db(5) Bridge fail_mode); unset = leave as is. */
  readonly failMode?: 'standalone' | 'secure'
  /** Default `present`. */
  readonly ensure?: Ensure
  /**
   * With `ensure: 'absent'`: the ports the playbook made on this bridge (and removes before it). Given, the bridge
   * is deleted only while every port on it is one of these (or its own internal port, of the bridge's name); a
   * bridge that holds any other port (a user's) is kept, and the task is skipped naming those ports (not failed:
   * the host's later tasks run on). Unset: the bridge is deleted with whatever ports it has.
   */
  readonly ownPorts?: readonly string[]
}

/** The fields of OvsBridgeSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const OVS_BRIDGE_FIELDS = specFields<OvsBridgeSpec>()('name', 'datapathType', 'externalIds', 'failMode', 'ensure', 'ownPorts')

/**
 * An OVS bridge. Created with `--may-exist add-br`; datapath_type, fail_mode and the given external_ids are
 * compared on an existing bridge and updated in place (a bridge without fail_mode stays a no-op).
 * `ensure: 'absent'` deletes it (`--if-exists del-br`, which deletes its ports too), or, with `ownPorts`, keeps
 * a bridge that has ports the playbook did not make (see {@link OvsBridgeSpec.ownPorts}).
 * Claims ({@link Task.claims}) `ovs.bridge:NAME` (present / absent) and, when given, `ovs.bridge:NAME datapath_type`,
 * `ovs.bridge:NAME fail_mode`, `ovs.bridge:NAME external_ids:KEY`; a present bridge also claims `ovs.port:NAME` as
 * `internal port on NAME`: OVS gives every bridge a port and interface of its own name (ovs-vsctl(8) add-br:
 * "Initially the bridge will have no ports (other than bridge itself)"), so a port of another kind or bridge
 * under that name is refused when the playbook is built (OVS would refuse it at apply: "cannot create a port named
 * NAME because a bridge named NAME already exists").
 * Key: `ovs.bridge[NAME]`. Errors: ValidationError for a bad name or value.
 */
export function ovsBridge(spec: OvsBridgeSpec): Task<OvsBridgeSpec, OvsBridge | undefined> {
  const key = `ovs.bridge[${String(spec?.name)}]`
  validateSpec(key, () => knownFields(spec, OVS_BRIDGE_FIELDS))
  return validateSpec(key, () => {
    const name = ifname('name', spec.name)
    if (spec.datapathType !== undefined) oneOf('datapathType', spec.datapathType, ['system', 'netdev'] as const)
    if (spec.failMode !== undefined) oneOf('failMode', spec.failMode, ['standalone', 'secure'] as const)
    const ext = externalIdsOf('externalIds', spec.externalIds)
    const ensure = ensureOf('ensure', spec.ensure)
    let own: ReadonlySet<string> | undefined
    if (spec.ownPorts !== undefined) {
      if (ensure !== 'absent') throw new ValidationError('ownPorts', "only with ensure: 'absent' (the ports whose bridge may be deleted)")
      own = new Set(listOf('ownPorts', spec.ownPorts, 'port names', ifname))
    }
    const touches = [`ovs.bridge:${name}`, `link:${name}`]
    const claims: Claim[] = ensure === 'absent' ? [{ object: `ovs.bridge:${name}`, value: 'absent' }] : [
      { object: `ovs.bridge:${name}`, value: 'present' },
      { object: `ovs.port:${name}`, value: `internal port on ${name}`, because: 'every bridge has a port and interface of its own name, ovs-vsctl(8) add-br' },
      ...(spec.datapathType !== undefined ? [{ object: `ovs.bridge:${name} datapath_type`, value: spec.datapathType }] : []),
      ...(spec.failMode !== undefined ? [{ object: `ovs.bridge:${name} fail_mode`, value: spec.failMode }] : []),
      ...Object.entries(ext ?? {}).map(([k, x]) => ({ object: `ovs.bridge:${name} external_ids:${k}`, value: JSON.stringify(x) })),
    ]
    return {
      kind: 'ovs.bridge',
      key,
      spec,
      facts: [ovsStateFact],
      watches: [`ovs.bridge:${name}`],
      claims,
      current: (f) => f.get(ovsStateFact).bridges[name],
      plan: (cur): Change[] => {
        if (ensure === 'absent') {
          if (!cur) return []
          const ports = cur.ports.filter((p) => p !== name)
          const others = own === undefined ? [] : ports.filter((p) => !own.has(p))
          if (others.length > 0) {
            throw new SkipTask(`kept bridge ${name}: it has ${others.length === 1 ? 'a port' : 'ports'} this playbook did not make (${others.join(', ')}); ` +
              `remove ${others.length === 1 ? 'it' : 'them'} (ovs-vsctl del-port) and run again to delete the bridge`)
          }
          // with ownPorts, the ports left are the playbook's, which its earlier tasks delete (gone or not yet: the same summary)
          const held = own === undefined ? `ports: ${ports.join(', ') || 'none'}` : 'no port but the playbook\'s'
          return [{ op: 'delete', summary: `delete bridge ${name} (${held})`, commands: [vsctl('--if-exists', 'del-br', name)], touches: ['*'] }]
        }
        const sets: string[] = []
        const before: Record<string, unknown> = {}
        const after: Record<string, unknown> = {}
        const dp = spec.datapathType
        if (!cur) {
          const setArgs = [`datapath_type=${dp === 'netdev' ? 'netdev' : 'system'}`]
          if (spec.failMode !== undefined) setArgs.push(`fail_mode=${spec.failMode}`)
          for (const [k, x] of Object.entries(ext ?? {})) setArgs.push(mapArg('external_ids', k, x))
          return [{
            op: 'create',
            summary: `create bridge ${name} (datapath ${dp ?? 'system'})`,
            after: { datapathType: dp ?? 'system', ...(spec.failMode ? { failMode: spec.failMode } : {}), ...(ext ? { externalIds: ext } : {}) },
            commands: [vsctl('--may-exist', 'add-br', name, '--', 'set', 'bridge', name, ...setArgs)],
            touches,
          }]
        }
        if (dp !== undefined && cur.datapathType !== dp) {
          sets.push(`datapath_type=${dp}`)
          before.datapathType = cur.datapathType
          after.datapathType = dp
        }
        if (spec.failMode !== undefined && cur.failMode !== spec.failMode) {
          sets.push(`fail_mode=${spec.failMode}`)
          before.failMode = cur.failMode ?? null
          after.failMode = spec.failMode
        }
        for (const [k, x] of Object.entries(ext ?? {})) {
          if (cur.externalIds[k] !== x) {
            sets.push(mapArg('external_ids', k, x))
            before[`external_ids:${k}`] = cur.externalIds[k] ?? null
            after[`external_ids:${k}`] = x
          }
        }
        if (sets.length === 0) return []
        return [{ op: 'update', summary: `update bridge ${name}: ${Object.keys(after).join(', ')}`, before, after, commands: [vsctl('set', 'bridge', name, ...sets)], touches }]
      },
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------------

/** The current state of a port as {@link ovsPort} and {@link vxlanPort} see it. */
export interface PortCurrent {
  readonly port?: OvsPort
  readonly iface?: OvsInterface
  /** Another port that holds an interface of this name (a bond's member), when there is no port of the name. */
  readonly ifaceOwner?: OvsPort
  /** The bridge the port should be on does not exist (yet): check mode says an earlier task must create it. */
  readonly bridgeMissing?: true
}

function portCurrent(state: OvsState, name: string, bridge: string): PortCurrent {
  const p = state.ports[name]
  const i = state.interfaces[name]
  const owner = !p && i ? Object.values(state.ports).find((x) => x.interfaces.includes(name)) : undefined
  return { ...(p ? { port: p } : {}), ...(i ? { iface: i } : {}), ...(owner ? { ifaceOwner: owner } : {}), ...(state.bridges[bridge] === undefined ? { bridgeMissing: true as const } : {}) }
}

/**
 * Why a port named like an existing bridge cannot be put on another bridge: it is that bridge's own (local) port and
 * interface, which ovs-vsctl(8) creates with the bridge and will not move or delete apart from it.
 */
function ownPortOfBridge(name: string): string {
  return `port ${name} is bridge ${name}'s own port (every bridge has a port and interface of its name, ovs-vsctl(8) add-br): it cannot be moved to another bridge; name the port differently`
}

/** What a port's change adds to its summary when its bridge does not exist at planning time. */
function bridgeNote(cur: PortCurrent, bridge: string): string {
  return cur.bridgeMissing === true ? ` (bridge ${bridge} does not exist yet: an earlier task must create it)` : ''
}

/** A port's change needs its bridge when it does not exist now ({@link Change.needs}): an earlier task must create it. */
function bridgeNeeds(cur: PortCurrent, bridge: string): Pick<Change, 'needs'> {
  return cur.bridgeMissing === true ? { needs: [{ key: `ovs.bridge:${bridge}`, what: `bridge ${bridge}` }] } : {}
}

/**
 * What deleting a port changes besides the port itself: each of its interfaces (a bond's members) as a port name
 * and a link, so a later task that uses a member's name is planned after the delete (ovs-vswitchd.conf.db(5):
 * deleting a Port deletes its Interfaces).
 */
function memberTouches(cur: PortCurrent, name: string): string[] {
  return (cur.port?.interfaces ?? []).filter((i) => i !== name).flatMap((i) => [`ovs.port:${i}`, `link:${i}`])
}

/**
 * Why a port of this name cannot be made the one-interface port that ovsPort and vxlanPort manage, if it cannot:
 * its name is an interface of another port (a bond's member), or the port of that name has other interfaces (a
 * bond). OVS refuses the first (`cannot create a port named X because an interface named X already exists`),
 * and changing the second would delete the bond's interfaces.
 */
function notOneInterfacePort(cur: PortCurrent, name: string): string | undefined {
  if (!cur.port && cur.ifaceOwner) return `${name} is an interface of port ${cur.ifaceOwner.name} on ${cur.ifaceOwner.bridge ?? '(no bridge)'} (a bond?): choose another name`
  if (cur.port && (cur.port.interfaces.length !== 1 || cur.port.interfaces[0] !== name)) {
    return `port ${name} on ${cur.port.bridge ?? '(no bridge)'} has interfaces ${cur.port.interfaces.join(', ') || '(none)'}, not one interface ${name} (a bond?): delete it or choose another name`
  }
  return undefined
}

/**
 * An interface's type as OVSDB has it, with the empty string read as `system` (its synonym, ovs-vswitchd.conf.db(5)
 * Interface type); undefined when there is no interface.
 */
function interfaceType(iface: OvsInterface | undefined): string | undefined {
  if (iface === undefined) return undefined
  return iface.type === '' ? 'system' : iface.type
}

/** Spec of {@link ovsPort}. */
export interface OvsPortSpec {
  readonly bridge: string
  /** Port (and interface) name. */
  readonly name: string
  /** `internal` (an OVS-made kernel link, the seed's net1) or `system` (an existing link added to the bridge). */
  readonly type: 'internal' | 'system'
  /** Interface MTU in bytes (68..65535) via `mtu_request` (OVS owns internal ports' MTU). */
  readonly mtuRequest?: number
  readonly ensure?: Ensure
}

/** The fields of OvsPortSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const OVS_PORT_FIELDS = specFields<OvsPortSpec>()('bridge', 'name', 'type', 'mtuRequest', 'ensure')

/**
 * A port with one interface on a bridge: `--may-exist add-port BR NAME -- set interface NAME type=internal`.
 * A port found on another bridge is moved (replace, in one transaction); a changed mtu_request is updated in
 * place. The interface's type is read as OVSDB has it (`''` and `system` are one type, ovs-vswitchd.conf.db(5)
 * Interface type): between `internal` and `system`, neither of which takes options, it is set in place; a port of
 * any other type (a tunnel such as `vxlan` or `geneve`, `patch`, `tap`, `dpdk`, ...) is replaced: deleted and added
 * again in one ovs-vsctl transaction, shown as `-/+` with the old type and options. Setting only `type=internal` on
 * a tunnel would keep its type-specific `options` column (remote_ip, key, peer, ...) on the new interface, and
 * reporting it ok as a `system` port would hide that the name holds a tunnel. Replace rather than fail because the
 * task states what the port must be, as {@link vxlanPort} does for a port of another type, and check mode shows the
 * tunnel that would go; the likely accident, one name given to an ovsPort and a vxlanPort of one playbook, is
 * refused when the playbook is built (see the claims below). A `system` port needs a kernel link of its name: after
 * replacing a tunnel that has none, the port fails as below. A port in sync whose interface OVS could not set up (its `error` column, or ofport -1, as
 * for a `system` port whose link does not exist; ovs-vswitchd.conf.db(5)) fails the task with OVS's reason,
 * in check mode too; so does a port of that name with other interfaces (a bond), or a name that is an interface
 * of another port (a bond's member). Claims ({@link Task.claims}) `ovs.port:NAME` (`TYPE port on BRIDGE`, or
 * `absent`), and when present `ovs.bridge:BRIDGE` (present) and, with mtuRequest, `link.mtu:NAME`.
 * Key: `ovs.port[NAME]`.
 */
export function ovsPort(spec: OvsPortSpec): Task<OvsPortSpec, PortCurrent> {
  const key = `ovs.port[${String(spec?.name)}]`
  validateSpec(key, () => knownFields(spec, OVS_PORT_FIELDS))
  return validateSpec(key, () => {
    const bridge = ifname('bridge', spec.bridge)
    const name = ifname('name', spec.name)
    const type = oneOf('type', spec.type, ['internal', 'system'] as const)
    if (spec.mtuRequest !== undefined) mtu('mtuRequest', spec.mtuRequest)
    const ensure = ensureOf('ensure', spec.ensure)
    const ovsType = type === 'internal' ? 'internal' : '""'
    const ifaceSets = [`type=${ovsType}`, ...(spec.mtuRequest !== undefined ? [`mtu_request=${spec.mtuRequest}`] : [])]
    const touches = [`ovs.port:${name}`, `link:${name}`]
    const claims: Claim[] = ensure === 'absent' ? [{ object: `ovs.port:${name}`, value: 'absent' }] : [
      { object: `ovs.port:${name}`, value: `${type} port on ${bridge}` },
      bridgeNeeded(bridge),
      ...(spec.mtuRequest !== undefined ? [{ object: `link.mtu:${name}`, value: String(spec.mtuRequest) }] : []),
    ]
    return {
      kind: 'ovs.port',
      key,
      spec,
      facts: [ovsStateFact],
      watches: [`ovs.port:${name}`],
      claims,
      current: (f) => portCurrent(f.get(ovsStateFact), name, bridge),
      plan: (cur): Change[] => {
        if (ensure === 'absent') {
          return cur.port ? [{ op: 'delete', summary: `delete port ${name} from ${cur.port.bridge ?? '?'}`, commands: [vsctl('--if-exists', 'del-port', name)], touches: [...touches, ...memberTouches(cur, name)] }] : []
        }
        const add = ['--may-exist', 'add-port', bridge, name, '--', 'set', 'interface', name, ...ifaceSets]
        const notOne = notOneInterfacePort(cur, name)
        if (notOne !== undefined) throw new Error(notOne)
        if (cur.port?.bridge === name && bridge !== name) throw new Error(ownPortOfBridge(name))
        if (!cur.port) {
          return [{ op: 'create', summary: `create ${type} port ${name} on ${bridge}${spec.mtuRequest ? ` (mtu_request ${spec.mtuRequest})` : ''}${bridgeNote(cur, bridge)}`, after: { bridge, type, ...(spec.mtuRequest ? { mtuRequest: spec.mtuRequest } : {}) }, commands: [vsctl(...add)], touches, ...bridgeNeeds(cur, bridge) }]
        }
        const curType = interfaceType(cur.iface)
        const inPlaceType = curType === undefined || curType === 'internal' || curType === 'system'
        if (cur.port.bridge !== bridge || !inPlaceType) {
          const from = cur.port.bridge ?? '(no bridge)'
          const options = cur.iface !== undefined && Object.keys(cur.iface.options).length > 0 ? cur.iface.options : undefined
          const dropped = options !== undefined ? `; its options ${Object.entries(options).map(([k, v]) => `${k}=${v}`).join(' ')} go with it` : ''
          return [{
            op: 'replace',
            summary: (inPlaceType
              ? `move port ${name} from ${from} to ${bridge}`
              : `replace ${curType} port ${name} on ${from} with ${type} port ${name} on ${bridge}${dropped}`) + bridgeNote(cur, bridge),
            before: { bridge: cur.port.bridge ?? null, ...(curType !== undefined && curType !== type ? { type: curType } : {}), ...(!inPlaceType && options !== undefined ? { options } : {}) },
            after: { bridge, ...(curType !== undefined && curType !== type ? { type } : {}), ...(!inPlaceType && options !== undefined ? { options: null } : {}) },
            commands: [vsctl('--if-exists', 'del-port', name, '--', ...add)], touches, ...bridgeNeeds(cur, bridge),
          }]
        }
        const before: Record<string, unknown> = {}
        const after: Record<string, unknown> = {}
        const sets: string[] = []
        if (curType !== undefined && curType !== type) {
          sets.push(`type=${ovsType}`)
          before.type = curType
          after.type = type
        }
        if (spec.mtuRequest !== undefined && cur.iface?.mtuRequest !== spec.mtuRequest) {
          sets.push(`mtu_request=${spec.mtuRequest}`)
          before.mtuRequest = cur.iface?.mtuRequest ?? null
          after.mtuRequest = spec.mtuRequest
        }
        // an interface OVS could not set up (a system port whose device does not exist): only a type change can
        // fix it; reporting it ok would hide a port that carries nothing (error, ofport -1), and writing only its
        // mtu_request would be an update that cannot converge (the column is written, the error stays)
        const pending = sets.length === 0 ? '' : ` (setting ${Object.keys(after).join(', ')} would not fix it)`
        if (after.type === undefined && cur.iface?.error !== undefined) throw new Error(`OVS cannot use interface ${name}: ${cur.iface.error}${pending}`)
        if (after.type === undefined && cur.iface?.ofport === -1) throw new Error(`OVS could not add interface ${name} (ofport -1)${pending}`)
        if (sets.length === 0) return []
        return [{ op: 'update', summary: `update port ${name}: ${Object.keys(after).join(', ')}`, before, after, commands: [vsctl('set', 'interface', name, ...sets)], touches }]
      },
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------------

/** Spec of {@link vxlanPort}. */
export interface VxlanPortSpec {
  readonly bridge: string
  /** Port (and interface) name, e.g. `vxlan1`. */
  readonly name: string
  /** Underlay IPv4 address of the tunnel's other end (OVS `options:remote_ip`). */
  readonly remoteIp: string
  /** VXLAN network identifier (VNI, OVS `options:key`): 0..16777215 (RFC 7348). */
  readonly key: number
  /** UDP destination port (OVS `options:dst_port`), default 4789 (IANA, RFC 7348 section 5). */
  readonly dstPort?: number
  /** Local underlay address (OVS `options:local_ip`); unset = chosen by routing, and removed if set by hand. */
  readonly localIp?: string
  readonly ensure?: Ensure
}

/** The options vxlab manages on a VXLAN interface, decoded from OVSDB's map. */
export interface VxlanOptions {
  readonly remote_ip?: string
  readonly key?: string
  readonly dst_port?: string
  readonly local_ip?: string
}

/** The fields of VxlanPortSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const VXLAN_PORT_FIELDS = specFields<VxlanPortSpec>()('bridge', 'name', 'remoteIp', 'key', 'dstPort', 'localIp', 'ensure')

/**
 * A VXLAN tunnel port (ovs-vswitchd.conf.db(5), Interface type `vxlan`), created in one transaction:
 * `--may-exist add-port BR NAME -- set interface NAME type=vxlan options:remote_ip=IP options:key=VNI`.
 * A changed remote_ip, key, dst_port or local_ip on an existing port is updated in place (unlike Ansible's
 * openvswitch_port, which applies options only on create). A port of another type or on another bridge is
 * replaced; a bond of that name, or a name that is a bond's member, is an error (replacing it would delete the
 * bond's interfaces). Claims ({@link Task.claims}) `ovs.port:NAME` (`vxlan port on BRIDGE: remote_ip=.. key=..
 * dst_port=..[ local_ip=..]`, or `absent`), and when present `ovs.bridge:BRIDGE` (present) and `link.mtu:NAME` as not
 * settable (a tunnel interface's MTU follows the underlay's: `setMtu` refuses it).
 * Key: `ovs.vxlanPort[NAME]`. Errors: ValidationError, e.g. `ovs.vxlanPort[vxlan1].key: 16777216 is out of range 0..16777215`.
 */
export function vxlanPort(spec: VxlanPortSpec): Task<VxlanPortSpec, PortCurrent> {
  const key = `ovs.vxlanPort[${String(spec?.name)}]`
  validateSpec(key, () => knownFields(spec, VXLAN_PORT_FIELDS))
  return validateSpec(key, () => {
    const bridge = ifname('bridge', spec.bridge)
    const name = ifname('name', spec.name)
    const remoteIp = tunnelIpv4('remoteIp', spec.remoteIp)
    const vniValue = vni('key', spec.key)
    const dstPort = spec.dstPort === undefined ? 4789 : port('dstPort', spec.dstPort)
    const localIp = spec.localIp === undefined ? undefined : tunnelIpv4('localIp', spec.localIp)
    if (localIp !== undefined && localIp === remoteIp) throw new ValidationError('remoteIp', `${remoteIp} is also localIp: a tunnel goes to another host's underlay address`)
    const ensure = ensureOf('ensure', spec.ensure)
    const want: Required<Pick<VxlanOptions, 'remote_ip' | 'key' | 'dst_port'>> & { local_ip?: string } = {
      remote_ip: remoteIp, key: String(vniValue), dst_port: String(dstPort), ...(localIp !== undefined ? { local_ip: localIp } : {}),
    }
    const optionArgs = [`options:remote_ip=${remoteIp}`, `options:key=${vniValue}`, ...(dstPort !== 4789 ? [`options:dst_port=${dstPort}`] : []), ...(localIp !== undefined ? [`options:local_ip=${localIp}`] : [])]
    const touches = [`ovs.port:${name}`]
    const add = ['--may-exist', 'add-port', bridge, name, '--', 'set', 'interface', name, 'type=vxlan', ...optionArgs]
    const claims: Claim[] = ensure === 'absent' ? [{ object: `ovs.port:${name}`, value: 'absent' }] : [
      { object: `ovs.port:${name}`, value: `vxlan port on ${bridge}: remote_ip=${remoteIp} key=${vniValue} dst_port=${dstPort}${localIp !== undefined ? ` local_ip=${localIp}` : ''}` },
      bridgeNeeded(bridge),
      { object: `link.mtu:${name}`, value: 'not settable', because: 'an OVS vxlan interface' },
    ]
    return {
      kind: 'ovs.vxlanPort',
      key,
      spec,
      facts: [ovsStateFact],
      watches: [`ovs.port:${name}`],
      claims,
      current: (f) => portCurrent(f.get(ovsStateFact), name, bridge),
      plan: (cur): Change[] => {
        if (ensure === 'absent') {
          return cur.port ? [{ op: 'delete', summary: `delete VXLAN port ${name}`, commands: [vsctl('--if-exists', 'del-port', name)], touches: [...touches, ...memberTouches(cur, name)] }] : []
        }
        const desc = `${name} on ${bridge} -> ${remoteIp} key ${vniValue}${dstPort !== 4789 ? ` port ${dstPort}` : ''}`
        const notOne = notOneInterfacePort(cur, name)
        if (notOne !== undefined) throw new Error(notOne)
        if (cur.port?.bridge === name && bridge !== name) throw new Error(ownPortOfBridge(name))
        if (!cur.port) return [{ op: 'create', summary: `create VXLAN port ${desc}${bridgeNote(cur, bridge)}`, after: want, commands: [vsctl(...add)], touches, ...bridgeNeeds(cur, bridge) }]
        if (cur.port.bridge !== bridge || cur.iface?.type !== 'vxlan') {
          return [{
            op: 'replace',
            summary: `replace port ${name} (${cur.iface?.type || 'system'} on ${cur.port.bridge ?? '?'}) with VXLAN port ${desc}${bridgeNote(cur, bridge)}`,
            before: { bridge: cur.port.bridge ?? null, type: cur.iface?.type ?? null }, after: { bridge, type: 'vxlan' },
            commands: [vsctl('--if-exists', 'del-port', name, '--', ...add)], touches, ...bridgeNeeds(cur, bridge),
          }]
        }
        const have: VxlanOptions = cur.iface.options
        const haveNorm = {
          remote_ip: have.remote_ip, key: have.key ?? '0', dst_port: have.dst_port ?? '4789', local_ip: have.local_ip,
        }
        const before: Record<string, unknown> = {}
        const after: Record<string, unknown> = {}
        const sets: string[] = []
        for (const k of ['remote_ip', 'key', 'dst_port'] as const) {
          if (haveNorm[k] !== want[k]) {
            before[k] = haveNorm[k] ?? null
            after[k] = want[k]
            sets.push(`options:${k}=${want[k]}`)
          }
        }
        const cmds: Command[] = []
        if (want.local_ip !== undefined && haveNorm.local_ip !== want.local_ip) {
          before.local_ip = haveNorm.local_ip ?? null
          after.local_ip = want.local_ip
          sets.push(`options:local_ip=${want.local_ip}`)
        }
        if (sets.length > 0) cmds.push(vsctl('set', 'interface', name, ...sets))
        if (want.local_ip === undefined && haveNorm.local_ip !== undefined) {
          before.local_ip = haveNorm.local_ip
          after.local_ip = null
          cmds.push(vsctl('remove', 'interface', name, 'options', 'local_ip'))
        }
        if (cmds.length === 0) return []
        return [{ op: 'update', summary: `update VXLAN port ${name}: ${Object.keys(after).join(', ')}`, before, after, commands: cmds, touches }]
      },
    }
  })
}
