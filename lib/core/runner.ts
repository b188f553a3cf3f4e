import type { BatchPart, Connection, ExecResult } from '../connection/types.ts'
import { BatchInterruptedError } from '../connection/base.ts'
import { summarizeCommand } from './command.ts'
import { ApplyError, ConvergenceError, FactError, LockError, ReadFailedError, UnreachableError, VxlabError } from './errors.ts'
import { mask } from './secrets.ts'
import { SkipTask, type AnyFact, type AnyTask, type Change, type CheckResult, type Fact, type FactOutput, type FactSnapshot } from './task.ts'

/** Final status of one task on one host (as Ansible's recap counts them). */
export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped'

/** What happened to one task on one host. */
export interface TaskOutcome {
  readonly key: string
  readonly kind: string
  status: TaskStatus
  /** The changes planned (check mode) or applied. */
  changes: readonly Change[]
  /** Why the task failed, or why it was skipped. */
  error?: string
  /** The task skipped itself ({@link SkipTask}: it keeps something on purpose): reports show `error`, its reason, in every mode. */
  selfSkipped?: boolean
  result?: CheckResult
}

/** Live progress callbacks (the reporters implement them). */
export interface RunEvents {
  taskDone?(host: string, outcome: TaskOutcome): void
}

/** Options for one host's run of one play. */
export interface HostPlayOptions {
  readonly check: boolean
  readonly events?: RunEvents
  /** The first read, when it was planned (and perhaps run ahead) already: {@link firstReadPlan} of these tasks. */
  readonly firstRead?: ReadPlan
  /**
   * Check mode: what the changes planned on this host so far would touch, and by which task, shared by the host's
   * plays (the runner adds its own), so a failing plan in a later play also names the earlier change it depends on.
   */
  readonly plannedTouches?: Array<{ key: string; by: string }>
}

/** One fact value (or the error reading it produced), with the exec number it was read in. */
interface FactValue {
  readonly value?: unknown
  readonly error?: Error
  readonly epoch: number
}

const WILDCARD = '*'

/** Number of exec calls in a no-op run of one play on one host: always 1 (the facts batch). */
export const NOOP_EXECS_PER_PLAY = 1

function factIdsOf(tasks: readonly AnyTask[]): Map<string, AnyFact> {
  const m = new Map<string, AnyFact>()
  for (const t of tasks) for (const f of t.facts) if (!m.has(f.id)) m.set(f.id, f)
  return m
}

/** How one batch reads a list of facts: its parts, and each fact's output from their results. */
export interface ReadPlan {
  readonly facts: readonly AnyFact[]
  readonly parts: readonly BatchPart[]
  /** Each fact's output from the results of `parts` (undefined when its part did not run). */
  outputs(results: readonly (ExecResult | undefined)[]): Array<ExecResult | undefined>
  /** The facts read by part `part` (several for a group's part). */
  factsOf(part: number): AnyFact[]
}

/**
 * The parts that read `facts`: one per fact, except that the facts of a {@link FactGroup} with two or more
 * members in the list share one part (the group's command, placed where its first member is), split per member.
 */
export function readPlan(facts: readonly AnyFact[]): ReadPlan {
  const membersOf = new Map<string, number[]>()
  facts.forEach((f, i) => {
    if (f.group) membersOf.set(f.group.key, [...(membersOf.get(f.group.key) ?? []), i])
  })
  const parts: BatchPart[] = []
  const splits: Array<((out: FactOutput) => FactOutput[]) | undefined> = []
  const source: Array<{ part: number; member?: number }> = []
  const placed = new Map<string, number>()
  facts.forEach((f, i) => {
    const members = f.group ? membersOf.get(f.group.key)! : []
    if (!f.group || members.length < 2) {
      source.push({ part: parts.length })
      parts.push({ command: f.command, ...(f.slow === true ? { background: true } : {}) })
      splits.push(undefined)
      return
    }
    let part = placed.get(f.group.key)
    if (part === undefined) {
      const read = f.group.read(members.map((j) => facts[j]!.group!.args))
      part = parts.length
      parts.push({ command: read.command, ...(members.some((j) => facts[j]!.slow === true) ? { background: true } : {}) })
      splits.push((out) => read.split(out))
      placed.set(f.group.key, part)
    }
    source.push({ part, member: members.indexOf(i) })
  })
  return {
    facts,
    parts,
    factsOf: (part) => facts.filter((_, i) => source[i]!.part === part),
    outputs(results) {
      const split = new Map<number, FactOutput[] | Error>()
      return facts.map((_, i) => {
        const { part, member } = source[i]!
        const r = results[part]
        if (r === undefined || member === undefined || r.code === null) return r
        let outs = split.get(part)
        if (outs === undefined) {
          try {
            outs = splits[part]!({ stdout: r.stdout, stderr: r.stderr, code: r.code })
          } catch (e) {
            outs = e instanceof Error ? e : new Error(String(e))
          }
          split.set(part, outs)
        }
        const mine = outs instanceof Error ? undefined : outs[member]
        if (mine !== undefined) return mine
        const why = outs instanceof Error ? outs.message : 'no output for this fact'
        return { code: null, stdout: '', stderr: `the grouped read (${summarizeCommand(parts[part]!.command)}, exit ${r.code}) failed: ${why}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}` }
      })
    },
  }
}

/** The read a {@link HostPlayRunner} starts with: every fact its tasks declare, once each, in task order. */
export function firstReadPlan(tasks: readonly AnyTask[]): ReadPlan {
  return readPlan([...factIdsOf(tasks).values()])
}

function errMessage(e: unknown): string {
  return mask(e instanceof Error ? e.message : String(e))
}

/**
 * Runs one play's tasks on one host: read every declared fact in ONE exec, plan every task from that
 * snapshot, apply changes in as few execs as dependencies allow, then re-read once and re-plan every task
 * to prove convergence. Check mode stops after planning: no command other than fact reads is ever sent.
 *
 * Dependencies: a change `touches` object keys; a later task that `watches` one of them is planned only
 * after the pending commands are applied and its facts re-read (both in one exec).
 */
export class HostPlayRunner {
  readonly #snapshot = new Map<string, FactValue>()
  /** Object keys touched by changes: exec number at which they were applied (Infinity while pending). */
  readonly #touched: Array<{ key: string; at: number }> = []
  /** Check mode: what the changes planned so far would touch, and by which task (named in a later failure). */
  readonly #plannedTouches: Array<{ key: string; by: string }>
  #exec = 0
  #pending: Array<{ outcome: TaskOutcome; task: AnyTask; changes: readonly Change[] }> = []
  readonly #outcomes = new Map<string, TaskOutcome>()
  #stopped = false
  /** The task whose failure stopped this host: later tasks say so instead of being skipped silently. */
  #failedKey: string | undefined

  constructor(
    readonly conn: Connection,
    readonly tasks: readonly AnyTask[],
    readonly opts: HostPlayOptions,
  ) {
    this.#plannedTouches = opts.plannedTouches ?? []
  }

  /** Run the play on this host. Never throws for task failures (they are in `outcomes`); throws UnreachableError. */
  async run(): Promise<TaskOutcome[]> {
    const first = this.opts.firstRead ?? firstReadPlan(this.tasks)
    await this.#execute([], first.facts, first)
    for (const task of this.tasks) {
      if (this.#stopped) {
        this.#finish({ key: task.key, kind: task.kind, status: 'skipped', changes: [], ...this.#skipReason() })
        continue
      }
      await this.#planTask(task)
    }
    if (!this.opts.check && !this.#stopped) await this.#flushAndConverge()
    return this.outcomes()
  }

  /** Outcomes in task order (tasks not reached yet are reported skipped). */
  outcomes(): TaskOutcome[] {
    // a task that skipped itself while changes were waiting keeps its own reason if those never went out
    const selfSkipped = new Map(this.#pending.filter((p) => p.outcome.selfSkipped === true).map((p) => [p.task.key, p.outcome]))
    return this.tasks.map((t) => this.#outcomes.get(t.key) ?? selfSkipped.get(t.key) ?? { key: t.key, kind: t.kind, status: 'skipped', changes: [], ...this.#skipReason() })
  }

  #skipReason(): { error?: string } {
    return this.#failedKey !== undefined ? { error: `not run: ${this.#failedKey} failed on this host` } : {}
  }

  #finish(o: TaskOutcome): void {
    this.#outcomes.set(o.key, o)
    this.opts.events?.taskDone?.(this.conn.host, o)
  }

  #snapshotFor(task: AnyTask): FactSnapshot {
    const snap = this.#snapshot
    const declared = new Set(task.facts.map((f) => f.id))
    return {
      get<T>(fact: Fact<T>): T {
        if (!declared.has(fact.id)) throw new VxlabError(`${task.key}: reads fact ${fact.id} without declaring it`)
        const v = snap.get(fact.id)
        if (v === undefined) throw new VxlabError(`${task.key}: fact ${fact.id} was not read`)
        if (v.error) throw v.error
        return v.value as T
      },
    }
  }

  /** Whether the task's facts are still valid: no change touching what it watches was applied after they were read. */
  #isFresh(task: AnyTask): boolean {
    const watches = task.watches ?? [WILDCARD]
    let epoch = Infinity
    for (const f of task.facts) epoch = Math.min(epoch, this.#snapshot.get(f.id)?.epoch ?? -1)
    if (task.facts.length === 0) return true
    return !this.#touched.some((t) => t.at >= epoch && watches.some((w) => w === WILDCARD || t.key === WILDCARD || w === t.key))
  }

  async #planTask(task: AnyTask): Promise<void> {
    if (!this.#isFresh(task)) {
      // apply what is pending and re-read this task's facts (and those of every later task), in one exec
      const idx = this.tasks.indexOf(task)
      const later = factIdsOf(this.tasks.slice(idx))
      await this.#execute(this.#takePending(), [...later.values()])
      if (this.#stopped) {
        this.#finish({ key: task.key, kind: task.kind, status: 'skipped', changes: [], ...this.#skipReason() })
        return
      }
    }
    const outcome: TaskOutcome = { key: task.key, kind: task.kind, status: 'ok', changes: [] }
    let changes: Change[]
    let current: unknown
    try {
      current = task.current(this.#snapshotFor(task))
      changes = task.plan(current, task.spec)
    } catch (e) {
      if (e instanceof SkipTask) {
        // the task keeps its object on purpose: not a failure, the host goes on. Reported after the changes
        // still waiting to go out (in task order), without adding an exec of its own
        outcome.status = 'skipped'
        outcome.error = mask(e.reason)
        outcome.selfSkipped = true
        if (this.#pending.length > 0) this.#pending.push({ outcome, task, changes: [] })
        else this.#finish(outcome)
        return
      }
      // check mode: the task reads what an earlier task of this run changes first (a container it would replace,
      // say). Its plan from today's state may not be what apply does, but check mode cannot know whether that
      // change fixes this: it stays a failure (never a hidden one), and says so
      const watches = task.watches ?? [WILDCARD]
      const before = this.opts.check ? this.#plannedTouches.find((t) => watches.some((w) => w === WILDCARD || t.key === WILDCARD || w === t.key)) : undefined
      outcome.status = 'failed'
      outcome.error = before === undefined ? errMessage(e)
        : `${errMessage(e)} (planned from the current state; ${before.by} changes what this task reads first, and apply plans it after that change)`
      this.#stopped = task.result === undefined
      if (this.#stopped) this.#failedKey = task.key
      this.#finish(outcome)
      return
    }
    if (task.result) {
      const r = task.result(current)
      outcome.result = r
      if (!r.ok) {
        outcome.status = 'failed'
        outcome.error = mask(`${r.check}: ${r.detail}`)
      }
    }
    outcome.changes = changes
    if (changes.length === 0) {
      this.#finish(outcome)
      return
    }
    // a change needs what no earlier task of this run creates (a port on a bridge that is not there): apply would
    // fail on the host, so the task fails here, in check mode too, as a plan that cannot be applied
    const unmet = changes.flatMap((c) => c.needs ?? []).find((n) => !this.#touchedEarlier(n.key))
    if (unmet !== undefined) {
      outcome.status = 'failed'
      outcome.error = mask(`${unmet.what} does not exist and no earlier task of this run creates it`)
      this.#stopped = true
      this.#failedKey = task.key
      this.#finish(outcome)
      return
    }
    outcome.status = 'changed'
    if (this.opts.check) {
      for (const c of changes) for (const k of c.touches ?? [WILDCARD]) this.#plannedTouches.push({ key: k, by: task.key })
      this.#finish(outcome)
      return
    }
    this.#pending.push({ outcome, task, changes })
    for (const c of changes) for (const k of c.touches ?? [WILDCARD]) this.#touched.push({ key: k, at: Infinity })
  }

  /** Whether a change planned (check mode) or applied or pending (apply) earlier in this run on the host touches `key`, or may (`*`). */
  #touchedEarlier(key: string): boolean {
    const list: ReadonlyArray<{ readonly key: string }> = this.opts.check ? this.#plannedTouches : this.#touched
    return list.some((t) => t.key === key || t.key === WILDCARD)
  }

  #takePending(): Array<{ outcome: TaskOutcome; task: AnyTask; changes: readonly Change[] }> {
    const p = this.#pending
    this.#pending = []
    return p
  }

  /**
   * One exec: the pending tasks' commands (stop at the first failure), then the given fact reads.
   * Marks applied tasks changed, the failed one failed and the rest skipped.
   */
  async #execute(pending: Array<{ outcome: TaskOutcome; task: AnyTask; changes: readonly Change[] }>, facts: readonly AnyFact[], plan: ReadPlan = readPlan(facts)): Promise<void> {
    const parts: BatchPart[] = []
    const owner: number[] = []
    pending.forEach((p, i) => {
      for (const c of p.changes) for (const command of c.commands) {
        parts.push({ command, stopOnError: true })
        owner.push(i)
      }
    })
    const applyCount = parts.length
    parts.push(...plan.parts)
    this.#exec++
    const execNo = this.#exec
    let results: ExecResult[]
    let interrupted: BatchInterruptedError | undefined
    try {
      results = await this.conn.runBatch(parts)
    } catch (e) {
      if (!(e instanceof BatchInterruptedError)) {
        // nothing ran yet: the host is unreachable, or its run lock (taken in this first exec) was refused
        if ((e instanceof UnreachableError || e instanceof LockError) && pending.length === 0 && this.#outcomes.size === 0) throw e
        interrupted = new BatchInterruptedError(errMessage(e), [], 0, e)
      } else interrupted = e
      results = [...interrupted.completed]
    }
    // apply results
    let failedAt = -1
    for (let i = 0; i < applyCount; i++) {
      const r = results[i]
      if (r === undefined) {
        failedAt = i
        break
      }
      if (r.code !== 0) {
        failedAt = i
        break
      }
    }
    for (const t of this.#touched) if (t.at === Infinity) t.at = execNo - 0.5
    if (failedAt >= 0) {
      const failIdx = failedAt >= 0 ? owner[failedAt]! : pending.length - 1
      pending.forEach((p, i) => {
        if (i < failIdx) this.#finish(p.outcome)
        else if (i === failIdx) {
          p.outcome.status = 'failed'
          this.#failedKey = p.task.key
          const r = results[failedAt]
          const c = parts[failedAt]!.command
          p.outcome.error = r !== undefined
            ? mask(`command failed (exit ${String(r.code)}): ${summarizeCommand(c)}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`)
            : mask(interrupted?.message ?? 'apply interrupted')
          this.#finish(p.outcome)
        } else {
          if (p.outcome.selfSkipped !== true) {
            p.outcome.status = 'skipped'
            p.outcome.error = 'not applied: an earlier task on this host failed'
          }
          this.#finish(p.outcome)
        }
      })
      this.#stopped = true
      if (interrupted) throw new ApplyError(interrupted.message)
      return
    }
    for (const p of pending) this.#finish(p.outcome)
    if (interrupted) {
      // the fact read itself was cut short: say which facts the part that did not finish was reading
      this.#stopped = true
      if (interrupted.cause2 instanceof UnreachableError) throw interrupted.cause2
      const cut = interrupted.failedPart === undefined ? [] : plan.factsOf(interrupted.failedPart - applyCount)
      const ids = cut.map((f) => f.id)
      throw new FactError(ids.length > 0 ? `${interrupted.message} (reading ${ids.join(', ')})` : interrupted.message, ids)
    }
    const outputs = plan.outputs(results.slice(applyCount))
    facts.forEach((f, j) => {
      const r = outputs[j]
      if (r === undefined) return
      const ok = f.okExitCodes ?? [0]
      const svc = f.service !== undefined ? ` (${f.service} did not answer; is it running?)` : ''
      if (r.code === null || !ok.includes(r.code)) {
        const why = r.stderr.trim() || r.stdout.trim().slice(0, 300)
        this.#snapshot.set(f.id, { error: new FactError(mask(`reading ${f.id} failed${svc}: \`${summarizeCommand(f.command)}\` exited ${String(r.code)}${why ? `: ${why}` : ''}`)), epoch: execNo })
        return
      }
      try {
        this.#snapshot.set(f.id, { value: f.parse({ stdout: r.stdout, stderr: r.stderr, code: r.code }), epoch: execNo })
      } catch (e) {
        // the output says the read failed (a daemon that did not answer): reported as such, not as a parse error
        const msg = e instanceof ReadFailedError ? `reading ${f.id} failed${svc}: ${svc ? e.detail : e.message}` : `parsing ${f.id} failed: ${errMessage(e)}`
        this.#snapshot.set(f.id, { error: new FactError(mask(msg)), epoch: execNo })
      }
    })
  }

  /** Apply what is pending, re-read every fact in the same exec, re-plan every task: a non-empty plan did not converge. */
  async #flushAndConverge(): Promise<void> {
    const anyChanged = [...this.#outcomes.values()].some((o) => o.status === 'changed') || this.#pending.length > 0
    if (!anyChanged) return
    const all = factIdsOf(this.tasks)
    try {
      await this.#execute(this.#takePending(), [...all.values()])
    } catch (e) {
      if (e instanceof ApplyError) return
      throw e
    }
    if (this.#stopped) return
    for (const task of this.tasks) {
      if (task.converges === false || task.result !== undefined) continue
      const o = this.#outcomes.get(task.key)
      if (!o || o.status === 'failed' || o.status === 'skipped') continue
      let second: Change[]
      try {
        second = task.plan(task.current(this.#snapshotFor(task)), task.spec)
      } catch (e) {
        o.status = 'failed'
        o.error = `after apply: ${errMessage(e)}`
        this.opts.events?.taskDone?.(this.conn.host, o)
        continue
      }
      if (second.length > 0) {
        o.status = 'failed'
        // a summary usually starts with its op (`update /etc/x mode ...`); say the op only when it does not
        const show = (cs: readonly Change[]): string => cs.map((c) => (c.summary.startsWith(c.op) ? c.summary : `${c.op} ${c.summary}`)).join('; ') || '(none)'
        o.error = mask(new ConvergenceError(`did not converge: first plan: ${show(o.changes)}; plan after apply: ${show(second)}`).message)
        this.opts.events?.taskDone?.(this.conn.host, o)
      }
    }
  }
}
