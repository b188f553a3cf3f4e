import { randomBytes } from 'node:crypto'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import pLimit from 'p-limit'
import type { BatchPart, ExecLogger } from '../connection/types.ts'
import type { Connection } from '../connection/types.ts'
import { LocalConnection } from '../connection/local.ts'
import { privateKeyProblem, SshConnection } from '../connection/ssh.ts'
import type { Inventory, InventoryHost } from '../inventory/inventory.ts'
import { describeCommand } from './command.ts'
import { FactError, LockError, PlaybookValidationError, UnreachableError, UsageError, VxlabError } from './errors.ts'
import { LOCK_FILE, LOCK_MARKER, LOCK_REFUSED_MARKER, lockCommand, RunLockedConnection } from './lock.ts'
import { firstReadPlan, HostPlayRunner, type ReadPlan, type RunEvents, type TaskOutcome, type TaskStatus } from './runner.ts'
import { mask, maskFields, secretFieldsOf } from './secrets.ts'
import { shown } from './validate.ts'
import type { AnyTask, ChangeOp, CheckResult, Claim } from './task.ts'

/** Values of a playbook's own CLI flags (declared in {@link PlaybookDef.flags}). */
export type FlagValues = Readonly<Record<string, string | boolean | undefined>>

/** What a play's task builder gets besides the host: the run's flags and the whole inventory. */
export interface BuildContext {
  readonly check: boolean
  readonly flags: FlagValues
  readonly inventory: Inventory
  /** The hosts `--limit` lets the run contact; undefined without `--limit` (every host). */
  readonly limit?: ReadonlySet<string>
}

/** A play: a host pattern and the tasks to run on each matching host, in order. */
export interface PlayDef {
  readonly name: string
  /** Host pattern: host or group names, comma-separated, globs (`docker_hosts`, `host*`). */
  readonly hosts: string
  /** Build the host's task list (pure; validation errors thrown here are collected before any host is contacted). */
  tasks(host: InventoryHost, ctx: BuildContext): readonly AnyTask[]
  /** Run this play only when true (e.g. a verify play behind `--verify`). Default: always. */
  when?(ctx: BuildContext): boolean
}

/** A playbook-specific CLI flag (node:util parseArgs shape). */
export interface FlagDef {
  readonly type: 'boolean' | 'string'
  readonly description: string
  readonly default?: string | boolean
  /** For a string flag: the values it takes. Any other is a usage error (exit 2) before anything is read or contacted. */
  readonly choices?: readonly string[]
}

/** A playbook: a name, plays run in order, and optional extra CLI flags. */
export interface PlaybookDef {
  readonly name: string
  readonly plays: readonly PlayDef[]
  readonly flags?: Readonly<Record<string, FlagDef>>
  /**
   * Checks of the playbook as a whole (not of one host), run once when it is built, before any host is
   * contacted: throw a {@link ValidationError} to report a problem once instead of once per host.
   */
  validate?(ctx: BuildContext): void
  /** Inventory used when `-i` is not given (default `.testbed/inventory.yml` when it exists). */
  readonly defaultInventory?: string
}

/**
 * Hosts worked on in parallel when `forks` is not given. From the forks curves of bench/RESULTS.md (50 and 100
 * light hosts, a 20-task no-op, all on 2 cores): the curve is flat from about 15 up, and 20 beat 10 in every
 * curve (by 4-27%); 30 and 50 were not reliably better. On real hosts, whose work does not share the
 * controller's cores, more hosts in flight helps more.
 */
export const DEFAULT_FORKS = 20

/** Identity helper that types a playbook definition. */
export function playbook(def: PlaybookDef): PlaybookDef {
  return def
}

/** Identity helper that types a play definition. */
export function play(def: PlayDef): PlayDef {
  return def
}

/** Options of one run (the CLI fills these from its flags). */
export interface RunOptions {
  readonly inventory: Inventory
  /** Check mode: read and plan, never apply. */
  readonly check?: boolean
  /** `--limit` pattern. */
  readonly limit?: string
  /** Hosts in parallel (default {@link DEFAULT_FORKS}). */
  readonly forks?: number
  readonly flags?: FlagValues
  readonly events?: PlaybookEvents
  /** `-v`: called with every exec's commands (secrets masked). */
  readonly logExec?: ExecLogger
  readonly hostKeyPolicy?: 'strict' | 'accept-new'
  /** Connect timeout per host in ms (default 10000). */
  readonly connectTimeoutMs?: number
  /** Per-command timeout in ms (default 120000). */
  readonly commandTimeoutMs?: number
  /** SSH password for hosts without `ansible_password` (from env or prompt). */
  readonly password?: string
  /** Become password for hosts without `ansible_become_password`. */
  readonly becomePassword?: string
  /**
   * Take the run lock on every host (default true): an exclusive lock for apply runs, a shared one for check
   * mode, held for the whole run, so two runs never interleave on a host. Waits at most `lockTimeoutMs`
   * (default 20000), then fails that host with "locked by ...". The lock is taken by the host's first exec,
   * whose facts are read in the same session once it is held: it costs no round trip of its own.
   */
  readonly lock?: boolean
  readonly lockTimeoutMs?: number
  /** The lock file on every host, an absolute path (default {@link LOCK_FILE}, /run/vxlab.lock). */
  readonly lockFile?: string
  /** Open the connection to a host yourself (custom transports, recording fakes in tests). Default: SSH or local per inventory. */
  readonly connect?: (host: InventoryHost) => Promise<Connection>
}

/** Progress callbacks for reporters. */
export interface PlaybookEvents {
  /** A play begins; `targets` says what chose its hosts (its pattern, and `--limit` if given), for a play with none. */
  playStart?(play: string, hosts: readonly string[], targets?: { readonly pattern: string; readonly limit?: string }): void
  hostStart?(play: string, host: string): void
  taskDone?(play: string, host: string, outcome: TaskOutcome): void
  hostDone?(play: string, host: string, result: { unreachable?: string; error?: string }): void
  playDone?(play: string): void
}

/** Per-host counts, as Ansible's PLAY RECAP. `execs` = exec round trips made to the host. */
export interface HostRecap {
  ok: number
  changed: number
  failed: number
  skipped: number
  unreachable: number
  execs: number
}

/** One task's entry in the report. */
export interface TaskReport {
  readonly play: string
  readonly host: string
  readonly key: string
  readonly status: TaskStatus
  /**
   * `secretFields`: the fields of `before` / `after` that hold a secret, `***` on both sides (`Change.secretFields`);
   * `diffHidden`: why a file's changed content has no `diff` (`it holds secret values`, `Change.diffHidden`).
   */
  readonly changes: ReadonlyArray<{ op: ChangeOp; summary: string; before?: unknown; after?: unknown; secretFields?: string[]; diff?: string; diffHidden?: string; commands: string[] }>
  readonly error?: string
  readonly result?: CheckResult
}

/** The run report (`--json FILE` writes exactly this). */
export interface RunReport {
  readonly playbook: string
  readonly check: boolean
  durationMs: number
  readonly hosts: Record<string, HostRecap>
  readonly tasks: TaskReport[]
}

/** A play after building: the hosts it targets and each host's validated tasks. */
export interface BuiltPlay {
  readonly def: PlayDef
  readonly hosts: ReadonlyArray<{ readonly host: InventoryHost; readonly tasks: readonly AnyTask[] }>
}

/**
 * What a playbook's own code threw, for a validation problem, on one line: `TypeError: MESSAGE (at FILE:LINE:COL)`,
 * the place being the first stack frame outside node's own modules (the playbook's line, or the task it called); a
 * thrown value that is no Error by its `message` or as {@link shown} shows it. Masked; never throws.
 */
function thrown(e: unknown): string {
  let text: string
  try {
    if (e instanceof Error) {
      const at = (e.stack ?? '').split('\n').slice(1).map((l) => l.trim()).find((l) => l.startsWith('at ') && !l.includes('node:'))
      const where = at?.match(/\(([^()]+)\)$/)?.[1] ?? at?.replace(/^at /, '')
      text = `${e.name}: ${e.message}${where !== undefined ? ` (at ${where})` : ''}`
    } else {
      const message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : undefined
      text = typeof e === 'string' ? e : typeof message === 'string' ? message : shown(e)
    }
  } catch {
    text = 'a value that cannot be shown'
  }
  return mask(text).replace(/\s*\n\s*/g, ' ')
}

/**
 * Whether `v` is a promise (or any thenable): a playbook function made `async` by mistake. Its rejection is caught
 * here, never awaited: left unhandled, it would end the process with the error printed, secrets and all, unmasked.
 */
function isPromiseCaught(v: unknown): boolean {
  if ((typeof v !== 'object' && typeof v !== 'function') || v === null || typeof (v as { then?: unknown }).then !== 'function') return false
  Promise.resolve(v as PromiseLike<unknown>).catch(() => undefined)
  return true
}

/** Why what a play's `tasks()` returned is not a list of tasks, or undefined when it is. */
function notTasks(got: unknown): string | undefined {
  if (isPromiseCaught(got)) return 'returned a Promise: tasks() must return the tasks themselves, an array (it cannot be async)'
  if (!Array.isArray(got)) return `returned ${shown(got)}, not an array of tasks`
  const bad = got.findIndex((t: unknown) => typeof t !== 'object' || t === null || typeof (t as { key?: unknown }).key !== 'string' || typeof (t as { plan?: unknown }).plan !== 'function' || !Array.isArray((t as { facts?: unknown }).facts))
  return bad < 0 ? undefined : `returned an array whose element ${bad} is ${shown(got[bad])}, not a task (made by ovsBridge(), command(), ...)`
}

/**
 * Build every play for every targeted host and validate it, before any host is contacted: task spec
 * errors, duplicate task keys, two tasks (in any plays) writing one object whole on a host ({@link Task.owns}),
 * two tasks (in one play or any two) setting one host object to different values ({@link Task.claims}), a
 * `--limit` that matches nothing, missing private key files.
 * Throws {@link PlaybookValidationError} (exit 2) listing every problem as `playbook: host key.field: problem`;
 * a conflict of claims reads `playbook: host KEY: wants OBJECT = VALUE in play "B", but KEY2 in play "A" wants
 * OBJECT = VALUE2 (...)`. Linear in the number of tasks: one map of owned and one of claimed objects per host.
 */
export function buildPlaybook(pb: PlaybookDef, opts: Pick<RunOptions, 'inventory' | 'limit' | 'check' | 'flags'>): BuiltPlay[] {
  const inv = opts.inventory
  // from JavaScript or a cast: a path or a parsed object instead of the Inventory class
  const given: unknown = inv
  if (typeof (given as Partial<Inventory> | null)?.match !== 'function' || typeof (given as Partial<Inventory>).groupHosts !== 'function') {
    throw new UsageError(`playbook ${pb.name}: inventory: expected an Inventory (Inventory.load(file) or Inventory.parse(text, file)), got ${typeof given === 'object' && given !== null ? 'an object of another kind' : shown(given)}`)
  }
  const problems: string[] = []
  let limited: Set<string> | undefined
  if (opts.limit !== undefined) {
    const m = inv.match(opts.limit)
    if (m.unknown.length > 0) throw new UsageError(`--limit ${JSON.stringify(opts.limit)}: no host or group named ${m.unknown.map((u) => JSON.stringify(u)).join(', ')} in ${inv.file}`)
    if (m.hosts.length === 0) throw new UsageError(`--limit ${JSON.stringify(opts.limit)} matches no host in ${inv.file}`)
    limited = new Set(m.hosts)
  }
  const ctx: BuildContext = { check: opts.check ?? false, flags: opts.flags ?? {}, inventory: inv, ...(limited !== undefined ? { limit: limited } : {}) }
  if (pb.validate) {
    let r: unknown
    try {
      r = pb.validate(ctx)
    } catch (e) {
      if (e instanceof VxlabError && e.exitCode === 2) throw new PlaybookValidationError([`${pb.name}: ${e.message}`])
      if (e instanceof VxlabError) throw e
      throw new PlaybookValidationError([`${pb.name}: its validate() threw ${thrown(e)}`])
    }
    if (isPromiseCaught(r)) {
      throw new PlaybookValidationError([`${pb.name}: validate() returned a Promise: it must check and throw before it returns (it cannot be async)`])
    }
  }
  const built: BuiltPlay[] = []
  const contacted = new Set<string>()
  /** Per host, what a task manages whole (Task.owns), in any play: the task, its spec and the play that claimed it first. */
  const owners = new Map<string, Map<string, { task: string; spec: unknown; play: string }>>()
  /** Per host, what a task sets an object to (Task.claims), in any play: the first claim, its task and play. */
  const claimed = new Map<string, Map<string, { claim: Claim; task: string; play: string }>>()
  for (const def of pb.plays) {
    if (def.when && !def.when(ctx)) continue
    const m = inv.match(def.hosts)
    const names = m.hosts.filter((h) => !limited || limited.has(h))
    const hosts: Array<{ host: InventoryHost; tasks: readonly AnyTask[] }> = []
    for (const name of names) {
      const host = inv.host(name)
      let tasks: readonly AnyTask[] = []
      try {
        const got: unknown = def.tasks(host, ctx)
        const wrong = notTasks(got)
        if (wrong !== undefined) {
          problems.push(`${pb.name}: ${name} play "${def.name}": ${wrong}`)
          continue
        }
        tasks = got as readonly AnyTask[]
      } catch (e) {
        if (e instanceof VxlabError && e.exitCode === 2) problems.push(`${pb.name}: ${name} ${e.message}`)
        else if (e instanceof VxlabError) throw e
        // the playbook's own code (or a task given a value of the wrong type, from JavaScript or a cast) threw:
        // a problem of the playbook, found before any host is contacted, not a failure of a host or of vxlab
        else problems.push(`${pb.name}: ${name} play "${def.name}": building its tasks threw ${thrown(e)}`)
        continue
      }
      const seen = new Set<string>()
      const owner = owners.get(name) ?? new Map<string, { task: string; spec: unknown; play: string }>()
      owners.set(name, owner)
      const claims = claimed.get(name) ?? new Map<string, { claim: Claim; task: string; play: string }>()
      claimed.set(name, claims)
      for (const t of tasks) {
        if (seen.has(t.key)) problems.push(`${pb.name}: ${name} ${t.key}: duplicate task key in play "${def.name}" (keys must be unique per host)`)
        seen.add(t.key)
        for (const o of t.owns ?? []) {
          const first = owner.get(o)
          // the same task with the same spec in another play writes the same thing: no conflict
          if (first !== undefined && !(first.task === t.key && (first.play === def.name || sameSpec(first.spec, t.spec)))) {
            problems.push(`${pb.name}: ${name} ${t.key}: ${o} is also written whole by ${first.task} in play "${first.play}" (write it in one task; two with different contents would each rewrite it on every run)`)
          } else if (first === undefined) owner.set(o, { task: t.key, spec: t.spec, play: def.name })
        }
        for (const c of t.claims ?? []) {
          const first = claims.get(c.object)
          if (first === undefined) claims.set(c.object, { claim: c, task: t.key, play: def.name })
          // a second task of one key in one play is a duplicate key, reported above
          else if (first.claim.value !== c.value && !(first.task === t.key && first.play === def.name)) problems.push(claimConflict(pb.name, name, c, t.key, def.name, first))
        }
      }
      hosts.push({ host, tasks })
      contacted.add(name)
    }
    built.push({ def, hosts })
  }
  for (const name of contacted) {
    const c = inv.host(name).connection
    const keyProblem = c.connection === 'ssh' && c.privateKeyFile !== undefined ? privateKeyProblem(c.privateKeyFile) : undefined
    if (keyProblem !== undefined) problems.push(`${pb.name}: ${name}: private key file ${c.privateKeyFile} (ansible_ssh_private_key_file) ${keyProblem}`)
  }
  if (problems.length > 0) throw new PlaybookValidationError([...new Set(problems)])
  return built
}

/** Whether two tasks' validated specs are equal as data (their JSON); a spec JSON cannot show is never equal. */
function sameSpec(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b)
  } catch {
    return false
  }
}

/** The problem two claims of different values on one object make (see {@link buildPlaybook}). */
function claimConflict(playbookName: string, host: string, c: Claim, task: string, play: string, first: { claim: Claim; task: string; play: string }): string {
  const shown = (x: Claim): string => `${x.object} = ${x.value}${x.because !== undefined ? ` (${x.because})` : ''}`
  return `${playbookName}: ${host} ${task}: wants ${shown(c)} in play "${play}", but ${first.task} in play "${first.play}" wants ${shown(first.claim)} (both cannot hold: each run would undo one of them, or fail on it)`
}

export { LOCK_FILE }

/**
 * Open one connection per host, reused by every play of the run, each holding the run lock: taken by the
 * host's first exec (the facts read runs in the lock holder's session, see lib/core/lock.ts), or, for a
 * connection that cannot do that, by a holder exec of its own before anything else.
 */
class ConnectionPool {
  readonly #conns = new Map<string, Promise<Connection>>()
  readonly #held: Array<{ release(): Promise<void> }> = []
  readonly #owner: string
  readonly #runId = randomBytes(8).toString('hex')
  constructor(readonly opts: RunOptions, playbookName: string) {
    // one line: the owner is shown in another run's "locked by ...", where a line of its own could pass for a marker
    const name = playbookName.replace(/[\u0000-\u001f\u007f]+/g, ' ')
    this.#owner = `vxlab ${opts.check === true ? 'check' : 'apply'} run of playbook ${name}, pid ${process.pid} on ${hostname()}, since ${new Date().toISOString()}`
  }

  get(host: InventoryHost): Promise<Connection> {
    let p = this.#conns.get(host.name)
    if (!p) {
      p = this.#open(host).then((c) => this.#lock(c))
      this.#conns.set(host.name, p)
    }
    return p
  }

  async #lock(conn: Connection): Promise<Connection> {
    if (this.opts.lock === false) return conn
    const waitMs = this.opts.lockTimeoutMs ?? 20_000
    const holder = lockCommand({ check: this.opts.check === true, waitMs, owner: this.#owner, ...(this.opts.lockFile !== undefined ? { file: this.opts.lockFile } : {}) })
    // every later exec of the run is recorded beside the lock file, for the holder to kill if the run is lost
    conn.registerExecsIn?.(`${this.opts.lockFile ?? LOCK_FILE}.runs/${this.#runId}`)
    if (conn.holdThenBatch) return new RunLockedConnection(conn as Connection & Required<Pick<Connection, 'holdThenBatch'>>, holder, waitMs + 10_000)
    if (!conn.hold) return conn
    try {
      this.#held.push(await conn.hold(holder, LOCK_MARKER, waitMs + 10_000, LOCK_REFUSED_MARKER))
    } catch (e) {
      await conn.close()
      throw new LockError(conn.host, `run lock not taken: ${e instanceof Error ? e.message.replace(`${conn.host}: `, '') : String(e)}`)
    }
    return conn
  }

  async #open(host: InventoryHost): Promise<Connection> {
    if (this.opts.connect) return this.opts.connect(host)
    const c = host.connection
    const becomePassword = c.becomePassword ?? this.opts.becomePassword
    const connOpts = {
      commandTimeoutMs: this.opts.commandTimeoutMs ?? 120_000,
      become: { enabled: c.become, ...(becomePassword !== undefined ? { password: becomePassword } : {}) },
      ...(this.opts.logExec ? { log: this.opts.logExec } : {}),
    }
    if (c.connection === 'local') return new LocalConnection(host.name, connOpts)
    const password = c.password ?? this.opts.password
    return SshConnection.connect(
      {
        name: host.name,
        address: c.address,
        port: c.port,
        user: c.user,
        ...(c.privateKeyFile !== undefined ? { privateKeyFile: c.privateKeyFile } : {}),
        ...(password !== undefined ? { password } : {}),
        knownHostsFile: c.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts'),
        hostKeyPolicy: this.opts.hostKeyPolicy ?? 'strict',
        connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
      },
      connOpts,
    )
  }

  /** Connect to the host, take its run lock and read `parts` ahead of its play (see {@link RunLockedConnection.prefetch}). */
  async prefetch(host: InventoryHost, parts: readonly BatchPart[], valid: () => boolean): Promise<void> {
    try {
      const conn = await this.get(host)
      if (conn instanceof RunLockedConnection) await conn.prefetch(parts, valid)
    } catch {
      /* unreachable or refused: the host's play reports it when it gets there */
    }
  }

  async execCount(host: string): Promise<number> {
    const p = this.#conns.get(host)
    if (!p) return 0
    try {
      return (await p).execCount
    } catch {
      return 0
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#held.map((h) => h.release().catch(() => undefined)))
    await Promise.all([...this.#conns.values()].map(async (p) => {
      try {
        await (await p).close()
      } catch {
        /* never opened */
      }
    }))
  }
}

function emptyRecap(): HostRecap {
  return { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, execs: 0 }
}

/**
 * Run a playbook: plays in order; within a play, hosts in parallel (at most `forks`), each host's tasks in
 * order. A failed task stops that host (its later tasks are skipped, it leaves later plays); other hosts go on.
 * Returns the report; never throws for host failures. Throws for validation errors (before contacting hosts).
 */
export async function runPlaybook(pb: PlaybookDef, opts: RunOptions): Promise<RunReport> {
  const started = performance.now()
  if (opts.lockFile !== undefined && (typeof opts.lockFile !== 'string' || !opts.lockFile.startsWith('/') || /[\n\0]/.test(opts.lockFile))) {
    throw new UsageError(`playbook ${pb.name}: lockFile: expected an absolute path on the hosts, got ${shown(opts.lockFile)}`)
  }
  const built = buildPlaybook(pb, opts)
  const check = opts.check ?? false
  const report: RunReport = { playbook: pb.name, check, durationMs: 0, hosts: {}, tasks: [] }
  const pool = new ConnectionPool(opts, pb.name)
  const dead = new Set<string>()
  const limit = pLimit(Math.max(1, opts.forks ?? DEFAULT_FORKS))
  const ev = opts.events
  /** Tasks that changed a host, or failed (perhaps part-applied), in an apply run so far. */
  let applied = 0
  /** The first read planned (and started) ahead, by host: its runner must use exactly these parts. */
  const readAhead = new Map<string, ReadPlan>()
  /** Check mode: each host's planned changes across its plays (see HostPlayOptions.plannedTouches). */
  const plannedTouches = new Map<string, Array<{ key: string; by: string }>>()
  const plannedTouchesOf = (host: string): Array<{ key: string; by: string }> => {
    let t = plannedTouches.get(host)
    if (t === undefined) plannedTouches.set(host, (t = []))
    return t
  }
  /**
   * Hosts that first appear in a later play: connect, take the run lock and read that play's facts at the start,
   * in parallel with the earlier plays (queued behind their hosts in the forks limit). The read is used when
   * nothing was applied anywhere before that play starts (always in check mode, where nothing is), so a
   * no-op run overlaps the plays' reads; otherwise the play reads again. Not for plays with check tasks
   * (probes), whose reads may depend on an earlier play having run (a server started by a probe).
   */
  const prefetchLaterHosts = (): void => {
    const seen = new Set(built[0]?.hosts.map((h) => h.host.name))
    for (const bp of built.slice(1)) {
      for (const { host, tasks } of bp.hosts) {
        if (seen.has(host.name)) continue
        seen.add(host.name)
        if (tasks.length === 0 || tasks.some((t) => t.result !== undefined)) continue
        const plan = firstReadPlan(tasks)
        readAhead.set(host.name, plan)
        void limit(() => pool.prefetch(host, plan.parts, () => check || applied === 0))
      }
    }
  }
  try {
    for (const [playIndex, bp] of built.entries()) {
      ev?.playStart?.(bp.def.name, bp.hosts.map((h) => h.host.name), { pattern: bp.def.hosts, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) })
      const playDone = Promise.all(bp.hosts.map(({ host, tasks }) => limit(async () => {
        const recap = (report.hosts[host.name] ??= emptyRecap())
        const record = (o: TaskOutcome): void => {
          report.tasks.push({
            play: bp.def.name,
            host: host.name,
            key: o.key,
            status: o.status,
            changes: o.changes.map((c) => {
              const hidden = secretFieldsOf(c)
              return {
                op: c.op,
                summary: mask(c.summary),
                ...(c.before !== undefined ? { before: maskFields(c.before, hidden) } : {}),
                ...(c.after !== undefined ? { after: maskFields(c.after, hidden) } : {}),
                ...(hidden.size > 0 ? { secretFields: [...hidden] } : {}),
                ...(c.diffHidden !== undefined ? { diffHidden: mask(c.diffHidden) } : c.diff !== undefined ? { diff: mask(c.diff) } : {}),
                commands: c.commands.map((x) => mask(describeCommand(x))),
              }
            }),
            ...(o.error !== undefined ? { error: mask(o.error) } : {}),
            ...(o.result !== undefined ? { result: o.result } : {}),
          })
          recap[o.status]++
          // a failed task may have applied part of its changes; one that failed before any (a read, a plan) did not
          if (!check && (o.status === 'changed' || (o.status === 'failed' && o.changes.length > 0))) applied++
        }
        if (dead.has(host.name)) {
          for (const t of tasks) record({ key: t.key, kind: t.kind, status: 'skipped', changes: [], error: 'host failed in an earlier play' })
          return
        }
        ev?.hostStart?.(bp.def.name, host.name)
        /** The run lock was refused: nothing was read or changed on the host; its tasks are skipped, the host failed. */
        const lockRefused = (e: LockError): void => {
          const msg = mask(e.message)
          dead.add(host.name)
          recap.failed = 1
          for (const t of tasks) record({ key: t.key, kind: t.kind, status: 'skipped', changes: [], error: msg })
          ev?.hostDone?.(bp.def.name, host.name, { error: msg })
        }
        let conn: Connection
        try {
          conn = await pool.get(host)
        } catch (e) {
          if (e instanceof LockError) {
            lockRefused(e)
            return
          }
          const msg = mask(e instanceof Error ? e.message : String(e))
          dead.add(host.name)
          recap.unreachable = 1
          for (const t of tasks) record({ key: t.key, kind: t.kind, status: 'skipped', changes: [], error: msg })
          ev?.hostDone?.(bp.def.name, host.name, { unreachable: msg })
          return
        }
        // every outcome reaches the reporter: also the tasks skipped after a failure, which the runner only
        // lists at the end (so the host's block counts what the recap counts)
        const emitted = new Set<string>()
        const events: RunEvents = {
          taskDone: (h, o) => {
            emitted.add(o.key)
            ev?.taskDone?.(bp.def.name, h, o)
          },
        }
        const firstRead = readAhead.get(host.name)
        readAhead.delete(host.name)
        const runner = new HostPlayRunner(conn, tasks, { check, events, ...(firstRead !== undefined ? { firstRead } : {}), plannedTouches: plannedTouchesOf(host.name) })
        let hostError: string | undefined
        let hostFailure: unknown
        try {
          await runner.run()
        } catch (e) {
          hostFailure = e
          if (e instanceof LockError) {
            // the lock is taken by the host's first exec (lib/core/lock.ts): refused before any fact was read
            lockRefused(e)
            return
          }
          hostError = mask(e instanceof Error ? e.message : String(e))
          if (e instanceof UnreachableError) recap.unreachable = 1
        }
        const outcomes = runner.outcomes()
        /** A task reported already, failed afterwards by a host error: reported again (the reporter replaces it). */
        let refailed: TaskOutcome | undefined
        if (hostError !== undefined) {
          // the error interrupted the host: the first task not finished carries it, or, for a read cut short, the
          // first task not finished that declares one of the facts that read was reading
          const open = (o: TaskOutcome): boolean => o.status === 'skipped' && o.error === undefined
          const cut = hostFailure instanceof FactError ? hostFailure.factIds : []
          const reading = new Set(tasks.filter((t) => t.facts.some((f) => cut.includes(f.id))).map((t) => t.key))
          const firstOpen = outcomes.find((o) => open(o) && reading.has(o.key)) ?? outcomes.find(open)
          if (!outcomes.some((o) => o.status === 'failed')) {
            if (firstOpen) {
              firstOpen.status = 'failed'
              firstOpen.error = hostError
            } else {
              // every task had finished: the error came from the re-read after apply (the convergence check), which
              // never happened; the task that read what was cut (or the last one) fails, so the host and the exit
              // code say so
              const last = outcomes.find((o) => reading.has(o.key)) ?? outcomes[outcomes.length - 1]
              if (last) {
                last.status = 'failed'
                last.error = `not verified after apply: ${hostError}`
                refailed = last
              }
            }
          }
        }
        for (const o of outcomes) {
          record(o)
          if (!emitted.has(o.key) || o === refailed) ev?.taskDone?.(bp.def.name, host.name, o)
        }
        if (hostError !== undefined || outcomes.some((o) => o.status === 'failed')) dead.add(host.name)
        ev?.hostDone?.(bp.def.name, host.name, hostError !== undefined ? { error: hostError } : {})
      })))
      if (playIndex === 0) prefetchLaterHosts()
      await playDone
      ev?.playDone?.(bp.def.name)
    }
  } finally {
    for (const name of Object.keys(report.hosts)) report.hosts[name]!.execs = await pool.execCount(name)
    await pool.closeAll()
  }
  report.durationMs = Math.round(performance.now() - started)
  return report
}

/** Exit code for a finished run: 0 when every host succeeded, 1 when a host failed or was unreachable. */
export function exitCodeOf(report: RunReport): number {
  return Object.values(report.hosts).some((h) => h.failed > 0 || h.unreachable > 0) ? 1 : 0
}
