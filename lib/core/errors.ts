/** Base class of every error vxlab raises on purpose; `exitCode` is the CLI exit code it maps to. */
export class VxlabError extends Error {
  readonly exitCode: number = 1
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** Bad CLI usage (unknown flag, --limit matching no host). Exit 2, nothing contacted. */
export class UsageError extends VxlabError {
  override readonly exitCode = 2
}

/** A spec field failed validation. `field` is the dotted path inside the spec. Exit 2, nothing contacted. */
export class ValidationError extends VxlabError {
  override readonly exitCode = 2
  constructor(readonly field: string, readonly problem: string, readonly taskKey?: string) {
    super(`${taskKey !== undefined ? `${taskKey}.` : ''}${field}: ${problem}`)
  }
}

/** Several validation errors at once (all of a playbook's, before any host is contacted). Exit 2. */
export class PlaybookValidationError extends VxlabError {
  override readonly exitCode = 2
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} validation errors:\n  ${problems.join('\n  ')}`)
  }
}

/** The inventory file cannot be read or is invalid (with file:line:column and the path). Exit 2. */
export class InventoryError extends VxlabError {
  override readonly exitCode = 2
}

/** A host cannot be reached or authenticated (connect timeout, refused, host key mismatch). */
export class UnreachableError extends VxlabError {
  constructor(readonly host: string, reason: string) {
    super(`${host}: unreachable: ${reason}`)
  }
}

/** The host refused its host key check: unknown or changed key. The host is never sent a command. */
export class HostKeyError extends UnreachableError {}

/** Another run holds the host's run lock (or the lock could not be taken): nothing was read or changed. */
export class LockError extends VxlabError {
  constructor(readonly host: string, reason: string) {
    super(`${host}: ${reason}`)
  }
}

/** A command (or batch) did not finish within its time limit. */
export class CommandTimeoutError extends VxlabError {
  constructor(readonly host: string, readonly limitMs: number, readonly what: string) {
    super(`${host}: command timed out after ${Number(limitMs.toPrecision(6))} ms: ${what}`)
  }
}

/**
 * A fact could not be read (daemon down, permission denied): never treated as "absent". `factIds`: the facts of a
 * read that was cut short (a timeout, the connection lost), when known: the first task declaring one of them
 * carries the error.
 */
export class FactError extends VxlabError {
  constructor(message: string, readonly factIds: readonly string[] = []) {
    super(message)
  }
}

/**
 * Thrown by a fact's `parse` when the output shows that the read itself failed (a daemon that did not answer, with
 * an exit code the fact otherwise accepts), not that the output could not be understood. The runner reports it
 * like a read that exited non-zero: `reading ID failed (SERVICE did not answer; is it running?): DETAIL`.
 */
export class ReadFailedError extends Error {
  constructor(message: string, readonly detail: string) {
    super(message)
  }
}

/** A planned command exited non-zero. */
export class ApplyError extends VxlabError {}

/** After apply, re-reading the host and planning again still found changes. */
export class ConvergenceError extends VxlabError {}
