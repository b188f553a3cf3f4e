import type { Fact } from '../core/task.ts'

/**
 * Reading Open vSwitch state from OVSDB as JSON (`ovs-vsctl --format=json list ...`, ovs-vsctl(8)).
 * OVSDB's JSON wraps values: `["set",[...]]`, `["map",[[k,v],...]]`, `["uuid","..."]`; a set column with one
 * element is written bare and an empty optional value is `["set",[]]` (RFC 7047 section 5.1).
 */

/** A decoded OVSDB datum: scalars, arrays (sets), records (maps); uuids become strings. */
export type OvsValue = string | number | boolean | OvsValue[] | { [k: string]: OvsValue }

/** Decode one OVSDB JSON datum. */
export function decodeOvsdb(v: unknown): OvsValue {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') {
    const [tag, body] = v as [string, unknown]
    if (tag === 'uuid' || tag === 'named-uuid') return String(body)
    if (tag === 'set') return (body as unknown[]).map(decodeOvsdb)
    if (tag === 'map') return Object.fromEntries((body as Array<[unknown, unknown]>).map(([k, x]) => [String(decodeOvsdb(k)), decodeOvsdb(x)]))
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  throw new Error(`unexpected OVSDB value ${JSON.stringify(v)}`)
}

/** A set column as an array (a one-element set is written bare). */
export function asSet(v: OvsValue | undefined): OvsValue[] {
  if (v === undefined) return []
  return Array.isArray(v) ? v : [v]
}

/** An optional column (a set of 0 or 1) as a value or undefined. */
export function optional(v: OvsValue | undefined): OvsValue | undefined {
  const s = asSet(v)
  return s[0]
}

/** A map column as a string record. */
export function asMap(v: OvsValue | undefined): Record<string, string> {
  if (v === undefined || Array.isArray(v) || typeof v !== 'object') return {}
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]))
}

/** One `list TABLE` JSON document as rows keyed by heading. */
export function decodeTable(json: string): Array<Record<string, OvsValue>> {
  const doc = JSON.parse(json) as { data: unknown[][]; headings: string[] }
  return doc.data.map((row) => Object.fromEntries(doc.headings.map((h, i) => [h, decodeOvsdb(row[i])])))
}

/** A bridge row (Bridge table, ovs-vswitchd.conf.db(5)). */
export interface OvsBridge {
  readonly name: string
  readonly uuid: string
  /** `system` (kernel datapath; OVSDB's empty string) or `netdev` (userspace). */
  readonly datapathType: string
  readonly failMode?: string
  readonly externalIds: Record<string, string>
  /** Names of the bridge's ports. */
  readonly ports: string[]
}

/** A port row. */
export interface OvsPort {
  readonly name: string
  readonly uuid: string
  /** The bridge holding the port, if any. */
  readonly bridge?: string
  readonly interfaces: string[]
  readonly externalIds: Record<string, string>
}

/** An interface row. `type` is '' (system), `internal`, `vxlan`, ... */
export interface OvsInterface {
  readonly name: string
  readonly uuid: string
  readonly type: string
  readonly options: Record<string, string>
  readonly externalIds: Record<string, string>
  readonly mtuRequest?: number
  readonly mtu?: number
  /** OpenFlow port number; -1 when the interface could not be created. */
  readonly ofport?: number
  /** Why the interface failed (e.g. "could not open network device vethX (No such device)"). */
  readonly error?: string
}

/** The whole OVS configuration a host has: bridges, ports and interfaces by name. */
export interface OvsState {
  readonly bridges: Record<string, OvsBridge>
  readonly ports: Record<string, OvsPort>
  readonly interfaces: Record<string, OvsInterface>
}

const BRIDGE_COLS = 'name,_uuid,ports,datapath_type,fail_mode,external_ids'
const PORT_COLS = 'name,_uuid,interfaces,external_ids'
const IFACE_COLS = 'name,_uuid,type,options,external_ids,mtu_request,mtu,ofport,error'

/** Parse the three JSON documents printed by {@link ovsStateFact}'s command. */
export function parseOvsState(stdout: string): OvsState {
  const docs = stdout.split('\n').filter((l) => l.trim() !== '')
  if (docs.length !== 3) throw new Error(`expected 3 OVSDB tables, got ${docs.length}`)
  const [b, p, i] = docs.map(decodeTable) as [Array<Record<string, OvsValue>>, Array<Record<string, OvsValue>>, Array<Record<string, OvsValue>>]
  const portByUuid = new Map(p.map((r) => [String(r._uuid), String(r.name)]))
  const ifaceByUuid = new Map(i.map((r) => [String(r._uuid), String(r.name)]))
  const bridges: Record<string, OvsBridge> = {}
  const portBridge = new Map<string, string>()
  for (const r of b) {
    const name = String(r.name)
    const ports = asSet(r.ports).map((u) => portByUuid.get(String(u)) ?? String(u)).sort()
    for (const pn of ports) portBridge.set(pn, name)
    const failMode = optional(r.fail_mode)
    bridges[name] = {
      name, uuid: String(r._uuid), datapathType: String(r.datapath_type) === '' ? 'system' : String(r.datapath_type),
      ...(failMode !== undefined ? { failMode: String(failMode) } : {}), externalIds: asMap(r.external_ids), ports,
    }
  }
  const ports: Record<string, OvsPort> = {}
  for (const r of p) {
    const name = String(r.name)
    const bridge = portBridge.get(name)
    ports[name] = {
      name, uuid: String(r._uuid), ...(bridge !== undefined ? { bridge } : {}),
      interfaces: asSet(r.interfaces).map((u) => ifaceByUuid.get(String(u)) ?? String(u)).sort(), externalIds: asMap(r.external_ids),
    }
  }
  const interfaces: Record<string, OvsInterface> = {}
  for (const r of i) {
    const name = String(r.name)
    const mtuRequest = optional(r.mtu_request)
    const mtu = optional(r.mtu)
    const ofport = optional(r.ofport)
    const error = optional(r.error)
    interfaces[name] = {
      name, uuid: String(r._uuid), type: String(r.type), options: asMap(r.options), externalIds: asMap(r.external_ids),
      ...(mtuRequest !== undefined ? { mtuRequest: Number(mtuRequest) } : {}),
      ...(mtu !== undefined ? { mtu: Number(mtu) } : {}),
      ...(ofport !== undefined ? { ofport: Number(ofport) } : {}),
      ...(error !== undefined ? { error: String(error) } : {}),
    }
  }
  return { bridges, ports, interfaces }
}

/** ovs-vsctl with a bounded wait (never hangs on a dead ovs-vswitchd): `--timeout=10`. */
export const OVS_VSCTL = ['ovs-vsctl', '--timeout=10'] as const

/**
 * Fact: every bridge, port and interface, in one ovs-vsctl call (three JSON tables). Shared by all OVS
 * tasks and containerPort, so a host's OVS state costs one command per batch. ovsdb-server down is an
 * error naming it, never an empty configuration.
 */
export const ovsStateFact: Fact<OvsState> = {
  id: 'ovs.state',
  service: 'ovsdb-server',
  command: {
    argv: [...OVS_VSCTL, '--format=json', `--columns=${BRIDGE_COLS}`, 'list', 'Bridge', '--', `--columns=${PORT_COLS}`, 'list', 'Port', '--', `--columns=${IFACE_COLS}`, 'list', 'Interface'],
  },
  parse: (o) => parseOvsState(o.stdout),
}
