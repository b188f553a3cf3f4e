import { readScript, type Command, type SocketRead } from '../core/command.ts'
import type { Fact } from '../core/task.ts'
import { nameRecord } from './records.ts'

/**
 * Reading Open vSwitch state from OVSDB as JSON: one `transact` of three read-only `select` operations, on
 * ovsdb-server's socket or with `ovsdb-client transact` (ovsdb-client(1); RFC 7047 sections 4.1.3 and 5.2.2). OVSDB's JSON wraps values: `["set",[...]]`, `["map",[[k,v],...]]`, `["uuid","..."]`; a set column with one
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
    if (tag === 'map') return nameRecord((body as Array<[unknown, unknown]>).map(([k, x]) => [String(decodeOvsdb(k)), decodeOvsdb(x)] as const))
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
  if (v === undefined || Array.isArray(v) || typeof v !== 'object') return nameRecord()
  return nameRecord(Object.entries(v).map(([k, x]) => [k, String(x)] as const))
}

/**
 * The rows of each operation of a `transact` reply (RFC 7047 section 4.1.3: one result per operation, in order;
 * an operation that failed has `error` instead of `rows`), with every datum decoded.
 * Throws on an error result or a reply of another shape.
 */
export function decodeSelects(json: string, count: number): Array<Array<Record<string, OvsValue>>> {
  const reply = JSON.parse(json) as unknown
  if (!Array.isArray(reply) || reply.length !== count) throw new Error(`expected ${count} OVSDB results, got ${JSON.stringify(reply).slice(0, 200)}`)
  return reply.map((r: unknown) => {
    const res = r as { rows?: unknown; error?: unknown; details?: unknown }
    if (res === null || typeof res !== 'object' || !Array.isArray(res.rows)) {
      throw new Error(`OVSDB select failed: ${String(res?.error ?? JSON.stringify(r))}${res?.details !== undefined ? ` (${String(res.details)})` : ''}`)
    }
    return (res.rows as Array<Record<string, unknown>>).map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, decodeOvsdb(v)])))
  })
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

/** The columns read of each table (ovs-vswitchd.conf.db(5)). */
const SELECTS = [
  ['Bridge', ['name', '_uuid', 'ports', 'datapath_type', 'fail_mode', 'external_ids']],
  ['Port', ['name', '_uuid', 'interfaces', 'external_ids']],
  ['Interface', ['name', '_uuid', 'type', 'options', 'external_ids', 'mtu_request', 'mtu', 'ofport', 'error']],
] as const

/** The `transact` request of {@link ovsStateFact}: a select of every row of each table, nothing written. */
const STATE_TRANSACTION = JSON.stringify(['Open_vSwitch', ...SELECTS.map(([table, columns]) => ({ op: 'select', table, where: [], columns }))])

/** Parse the `transact` reply printed by {@link ovsStateFact}'s command: bridges, ports and interfaces by name. */
export function parseOvsState(stdout: string): OvsState {
  const [b, p, i] = decodeSelects(stdout, SELECTS.length) as [Array<Record<string, OvsValue>>, Array<Record<string, OvsValue>>, Array<Record<string, OvsValue>>]
  const portByUuid = new Map(p.map((r) => [String(r._uuid), String(r.name)]))
  const ifaceByUuid = new Map(i.map((r) => [String(r._uuid), String(r.name)]))
  const bridges = nameRecord<OvsBridge>()
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
  const ports = nameRecord<OvsPort>()
  for (const r of p) {
    const name = String(r.name)
    const bridge = portBridge.get(name)
    ports[name] = {
      name, uuid: String(r._uuid), ...(bridge !== undefined ? { bridge } : {}),
      interfaces: asSet(r.interfaces).map((u) => ifaceByUuid.get(String(u)) ?? String(u)).sort(), externalIds: asMap(r.external_ids),
    }
  }
  const interfaces = nameRecord<OvsInterface>()
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

/**
 * The socket `ovsdb-client` and `ovs-vsctl` use when given none: `unix:$OVS_RUNDIR/db.sock`, with the rundir of
 * Debian's and upstream's packages (ovsdb-client(1), ovs-vsctl(8) `--db`). A host whose ovsdb-server listens
 * elsewhere gets the command: the socket read fails (no such file) and `ovsdb-client` runs, as before.
 */
export const OVSDB_SOCKET = '/var/run/openvswitch/db.sock'

/**
 * Whether `ovsdb-client` and `ovs-vsctl` on the host use {@link OVSDB_SOCKET} (their run directory is
 * `$OVS_RUNDIR`, else the one they were built with; ovsdb-client(1), ovs-vsctl(8)): prints `ok` when `OVS_RUNDIR`
 * is unset or that folder and the `ovsdb-client` found on PATH is in a system folder (a distribution's package,
 * built for /var/run/openvswitch; a build installed under /usr/local uses /usr/local/var/run/openvswitch), else
 * why not. Builtins only, in the login environment the commands run in ({@link SocketRead.check}).
 */
export const OVSDB_SOCKET_CHECK: Command = readScript(`case \${OVS_RUNDIR-} in
  ''|/var/run/openvswitch|/var/run/openvswitch/|/run/openvswitch|/run/openvswitch/) ;;
  *) echo "OVS_RUNDIR is $OVS_RUNDIR: ovsdb-client would use $OVS_RUNDIR/db.sock"; exit 0 ;;
esac
set -f; IFS=:
for d in $PATH; do
  [ -x "\${d:-.}/ovsdb-client" ] || continue
  case $d in
    /usr/bin|/bin|/usr/sbin|/sbin) echo ok ;;
    *) echo "ovsdb-client is $d/ovsdb-client, not a distribution's: its run directory may not be /var/run/openvswitch" ;;
  esac
  exit 0
done
echo "no ovsdb-client on PATH"`)

/**
 * `ovsdb-client transact TRANSACTION` as one JSON-RPC request on ovsdb-server's socket (RFC 7047 section 4.1.3:
 * `{"method":"transact","params":[DB, OP...],"id":N}`; the reply is `{"id":N,"result":[...],"error":null}`), for
 * {@link Command.socket}: sshd opens the socket, so the read starts no process on the host (an `ovsdb-client`
 * costs ~4.5 ms of CPU there, most of it an OVS program's start-up; bench/RESULTS.md). The answer is the reply's
 * `result`, which is what `ovsdb-client transact` prints. A reply with an error, or with an operation that failed,
 * is refused: the command runs, and its exit status and message are the read's.
 */
export function transactOnSocket(transaction: string): SocketRead {
  const id = 'vxlab'
  return {
    path: OVSDB_SOCKET,
    check: OVSDB_SOCKET_CHECK,
    request: `{"method":"transact","params":${transaction},"id":"${id}"}`,
    shown: `transact ${transaction}`,
    answer: (received) => {
      const text = received.trimEnd()
      // JSON-RPC messages on the socket are JSON objects back to back: the reply is whole once it parses
      if (!text.endsWith('}')) return undefined
      let reply: unknown
      try {
        reply = JSON.parse(text)
      } catch {
        return undefined
      }
      const r = reply as { id?: unknown; result?: unknown; error?: unknown }
      if (typeof reply !== 'object' || reply === null || r.id !== id) throw new Error(`ovsdb-server sent something other than the reply: ${text.slice(0, 200)}`)
      if (r.error !== null && r.error !== undefined) throw new Error(`ovsdb-server: ${JSON.stringify(r.error)}`)
      if (!Array.isArray(r.result) || r.result.some((op: unknown) => typeof op !== 'object' || op === null || 'error' in op)) throw new Error(`ovsdb-server: ${r.result === undefined ? 'a reply with no result' : JSON.stringify(r.result).slice(0, 200)}`)
      return `${JSON.stringify(r.result)}\n`
    },
  }
}

/** ovs-vsctl with a bounded wait (never hangs on a dead ovs-vswitchd): `--timeout=10`. */
export const OVS_VSCTL = ['ovs-vsctl', '--timeout=10'] as const

/**
 * Fact: every bridge, port and interface, in one read-only OVSDB transaction, sent on ovsdb-server's socket
 * when the connection can ({@link transactOnSocket}, no process on the host), else `ovsdb-client --timeout=10
 * transact` on the default socket ovs-vsctl uses. Shared by all OVS tasks and containerPort, so a host's OVS
 * state costs one read per batch. ovsdb-server down is an error naming it, never an empty configuration. ovsdb-client, not `ovs-vsctl list`: ovs-vsctl fetches and parses the whole schema and sets up
 * a monitor first, ~2.4 ms more CPU per host and read on the host and its ovsdb-server (bench/RESULTS.md).
 */
export const ovsStateFact: Fact<OvsState> = {
  id: 'ovs.state',
  service: 'ovsdb-server',
  command: {
    argv: ['ovsdb-client', '--timeout=10', 'transact', STATE_TRANSACTION],
    socket: transactOnSocket(STATE_TRANSACTION),
  },
  parse: (o) => parseOvsState(o.stdout),
}
