/**
 * vxlab public API. Everything a playbook needs, as an explicit export list.
 *
 * A playbook is ordinary TypeScript: {@link playbook} with {@link play}s whose `tasks(host, ctx)` return task
 * objects made by the factories below. `runIfMain(import.meta.url, pb)` gives it the CLI
 * (`-i`, `--check`, `--diff`, `--limit`, `--forks`, `--json`, `-v`).
 */

// model
export type { Command } from './core/command.ts'
export { cmd, cmdStdin, script, describeCommand } from './core/command.ts'
export type { Change, ChangeOp, CheckResult, Fact, FactOutput, FactSnapshot, Task, AnyTask, AnyFact } from './core/task.ts'
export { defineFact, defineTask } from './core/task.ts'
export {
  VxlabError, UsageError, ValidationError, PlaybookValidationError, InventoryError, UnreachableError, HostKeyError,
  CommandTimeoutError, FactError, ApplyError, ConvergenceError,
} from './core/errors.ts'
export { secret, mask } from './core/secrets.ts'
export * as validate from './core/validate.ts'

// playbooks and runs
export type {
  PlaybookDef, PlayDef, BuildContext, FlagDef, FlagValues, RunOptions, RunReport, HostRecap, TaskReport, PlaybookEvents, BuiltPlay,
} from './core/playbook.ts'
export { playbook, play, buildPlaybook, runPlaybook, exitCodeOf } from './core/playbook.ts'
export type { TaskOutcome, TaskStatus } from './core/runner.ts'
export { runCli, runIfMain, EXIT } from './cli.ts'

// inventory
export { Inventory, HostVars } from './inventory/inventory.ts'
export type { InventoryHost, InventoryGroup, HostConnectionVars, VarSource } from './inventory/inventory.ts'

// connections
export type { Connection, ExecResult } from './connection/types.ts'
export { SshConnection } from './connection/ssh.ts'
export type { SshTarget } from './connection/ssh.ts'
export { LocalConnection } from './connection/local.ts'
export { quote, renderArgv } from './connection/quote.ts'
export { KnownHosts, fingerprint } from './connection/known-hosts.ts'

// generic tasks
export { command } from './tasks/command.ts'
export type { CommandSpec } from './tasks/command.ts'
export { template, renderTemplate, fileFact } from './tasks/file.ts'
export type { TemplateSpec, FileState } from './tasks/file.ts'
