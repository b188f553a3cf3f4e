import type { Command } from './command.ts'

/** The closed vocabulary of changes (as Pulumi's step kinds): what applying a change does to one object. */
export type ChangeOp = 'create' | 'update' | 'delete' | 'replace'

/**
 * One planned change. `commands` are exactly what apply runs, in order; check mode shows them and runs none.
 * `before` / `after` are the readable field values that differ (for `field: before -> after` output);
 * `diff` is a unified diff for file content.
 */
export interface Change {
  readonly op: ChangeOp
  readonly summary: string
  readonly before?: unknown
  readonly after?: unknown
  /**
   * Fields of `before` / `after` that hold a secret (an env value given with `secret()`): reports show them as
   * `***` on both sides (`env.API_TOKEN: *** -> ***`), since the old value is likely an old secret that no text
   * masking can know. Tasks put `***` there themselves, so no consumer of a change sees the values. A field
   * whose `after` value contains a secret that text masking finds (6 characters or more) is hidden so even when
   * not named here; a task names those that are secrets of any length.
   */
  readonly secretFields?: readonly string[]
  readonly diff?: string
  /**
   * Set instead of `diff` when a file's content changes but its diff is not shown, and why: `it holds secret
   * values` for content rendered from or holding a secret (its current content may hold an old secret, which no
   * text masking can know). Reports say that the content changes and why the diff is hidden.
   */
  readonly diffHidden?: string
  readonly commands: readonly Command[]
  /**
   * Object keys this change affects (e.g. `ovs.port:vxlan1`, `link:net1`). Later tasks that watch one of them
   * are re-read and re-planned after this change is applied. Default: every key (`*`).
   */
  readonly touches?: readonly string[]
  /**
   * What must exist when this change is applied and does not exist now (a port's bridge): each `key`, a touches key
   * such as `ovs.bridge:br1`, must be touched by an earlier change of the run on the host (the task that creates
   * it, or one that may touch anything), else the task fails when it is planned, in check mode too: `WHAT does not
   * exist and no earlier task of this run creates it`. Apply would fail on the host anyway; check mode says so.
   */
  readonly needs?: ReadonlyArray<{ readonly key: string; readonly what: string }>
}

/** What reading one fact produced: stdout untrimmed, stderr, exit code. */
export interface FactOutput {
  readonly stdout: string
  readonly stderr: string
  readonly code: number
}

/**
 * A piece of host state read by one read-only command. Facts with the same `id` are read once per batch,
 * so two tasks that need the OVS state (`ovs.state`: one `ovsdb-client transact`) share one read.
 * `okExitCodes` (default [0]) are the exit codes `parse` accepts; any other code fails the read with stderr:
 * a daemon that is down is an error, never "absent". A fact whose command signals absence by an exit code
 * lists it and returns its own absent value from `parse`.
 */
export interface Fact<T> {
  readonly id: string
  readonly command: Command
  readonly okExitCodes?: readonly number[]
  /** The daemon that must answer for this read (`ovsdb-server`, `dockerd`): named in the error when the read fails. */
  readonly service?: string
  /** Facts that one command reads together (see {@link FactGroup}). */
  readonly group?: FactGroup
  /**
   * A slow read (tens of ms: a daemon's CLI such as docker, hashing files): read in the background, in parallel
   * with the host's other reads. Cheap reads (`sysctl -n`, `ip -j`) are not: a background job costs more
   * CPU than they do.
   */
  readonly slow?: boolean
  parse(out: FactOutput): T
}

/**
 * Facts that one command can read together (one `docker inspect A B` instead of one per container): in one
 * batch, the facts with the same `key` are read by ONE command made by `read` from the members' `args`, and
 * `split` gives every member the output its own `command` would have given (same exit codes, same stdout
 * shape), which its `okExitCodes` and `parse` then judge as usual. A group of one runs the fact's own command.
 */
export interface FactGroup {
  readonly key: string
  /** This fact's arguments for the group's command. */
  readonly args: readonly string[]
  /** The command reading every member (`members[i]` = member i's `args`) and how to split its output per member. */
  read(members: readonly (readonly string[])[]): { readonly command: Command; split(out: FactOutput): FactOutput[] }
}

/** Any fact, for lists (the parse result type is erased). */
export type AnyFact = Fact<unknown>

/**
 * What a task sets one host object (or one attribute of it) to, for {@link Task.claims}. Objects are named like
 * the keys of `touches` / `watches`, with the attribute after a space (names of links, bridges and containers
 * hold no space): `ovs.bridge:NAME` (present / absent), `ovs.bridge:NAME datapath_type`, `ovs.port:NAME` (the
 * port and its one interface of that name: its kind and bridge, and for a tunnel its options), `link.mtu:DEV`,
 * `ip.addr:DEV A.B.C.D` (the address's prefix length), `ip.addr:DEV A.B.C.D/LEN` (present / absent),
 * `ip.route:DEST`, `container.addr:CONTAINER IFACE`, `container.route:CONTAINER default`, `sysctl:NAME`,
 * `iptables.rule:TABLE/CHAIN RULE...`, `package:NAME`, `docker.container:NAME`, `docker.image:NAME`, ... (each
 * task's docstring lists its own). A task of your own (defineTask) that sets one of these should claim it too.
 */
export interface Claim {
  /** The object, and the attribute after a space when the claim is on one attribute: `ovs.bridge:br1 datapath_type`. */
  readonly object: string
  /**
   * The value the task makes it hold, as text normalized so that one intent is one text (`internal port on br1`,
   * `1554`, `10.0.1.1/24`, `absent`): two claims on one object conflict when their values differ.
   */
  readonly value: string
  /**
   * Why the task claims an object it needs rather than sets (a port needs its bridge present: `the port's
   * bridge`), shown after the value in the message.
   */
  readonly because?: string
}

/** The facts a task declared, read in one batch. */
export interface FactSnapshot {
  /** The parsed value of a declared fact. Throws if the task did not declare it. */
  get<T>(fact: Fact<T>): T
}

/**
 * A typed task: `kind` (e.g. `ovs.vxlanPort`), a `key` unique per host (e.g. `ovs.vxlanPort[vxlan1]`), its
 * validated `spec`, the facts it reads, a pure `current(facts)` view of the host, and a pure `plan`.
 * The runner applies exactly the planned commands (or calls `apply` when a task needs more than that).
 */
export interface Task<Spec = unknown, Current = unknown> {
  readonly kind: string
  readonly key: string
  readonly spec: Spec
  readonly facts: readonly AnyFact[]
  /**
   * Object keys whose change by an earlier task would change this task's plan (it is then re-read first).
   * Default: every key (`*`), the safe choice for tasks that do not say.
   */
  readonly watches?: readonly string[]
  /**
   * Object keys this task manages whole (`file:PATH` for a file it writes in full). Two tasks on one host, in any
   * plays of a playbook, that manage the same object are a validation error (write it in one task: two with
   * different contents would each rewrite it on every run); one task (the same key) repeated in two plays with the
   * same spec (equal as JSON) is not.
   */
  readonly owns?: readonly string[]
  /**
   * What this task sets host objects to ({@link Claim}): two tasks on one host, in one play or in any two plays of
   * a playbook, that claim one object with different values are a validation error (exit 2, before any host is
   * contacted): each run would undo the other's change, or the second would fail on what the first made.
   * Equal claims (one task repeated in two plays with the same spec, an ovsPort of the bridge's own local port)
   * are fine. Attributes a spec leaves unset ("left as is") are not claimed. Default: none.
   */
  readonly claims?: readonly Claim[]
  current(facts: FactSnapshot): Current
  plan(current: Current, spec: Spec): Change[]
  /**
   * false for tasks that change something on every run by design (a `command` without `creates` / `unless`):
   * the end-of-play re-plan does not fail them as "did not converge".
   */
  readonly converges?: boolean
  /** For read-only check tasks (verify plays): a result line for the results table. */
  result?(current: Current): CheckResult
}

/** The outcome of a read-only check task (ping, probe), shown in the verification table. */
export interface CheckResult {
  readonly ok: boolean
  readonly check: string
  readonly detail: string
}

/** A task with its types erased, for lists of mixed tasks. */
export type AnyTask = Task<unknown, unknown>

/**
 * Thrown by a task's `plan` to leave its object alone on purpose, with the reason: a teardown that would delete
 * what the playbook did not create (a bridge that holds a user's port, an image a user's container runs). The
 * task is reported `skipped` with the reason, which every report shows (not only `-v` or check mode); it is not a
 * failure, so the host's later tasks run on and the exit code stays 0. A rerun plans the same skip: a no-op.
 */
export class SkipTask extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'SkipTask'
  }
}

/** Define a fact (identity helper for type inference). */
export function defineFact<T>(f: Fact<T>): Fact<T> {
  return f
}

/** Define a task (identity helper for type inference). */
export function defineTask<S, C>(t: Task<S, C>): Task<S, C> {
  return t
}
