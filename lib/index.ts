/**
 * vxlab public API. Everything a playbook needs, as an explicit export list.
 *
 * A playbook is ordinary TypeScript: {@link playbook} with {@link play}s whose `tasks(host, ctx)` return task
 * objects made by the factories below. `runIfMain(import.meta.url, pb)` gives it the CLI
 * (`-i`, `--check`, `--diff`, `--limit`, `--forks`, `--json`, `-v`).
 */

// model
export type { Command, SocketRead } from './core/command.ts'
export { cmd, cmdStdin, script, describeCommand, summarizeCommand, withSecretArgs } from './core/command.ts'
export type { Change, ChangeOp, CheckResult, Claim, Fact, FactOutput, FactSnapshot, Task, AnyTask, AnyFact } from './core/task.ts'
export { defineFact, defineTask, SkipTask } from './core/task.ts'
export {
  VxlabError, UsageError, ValidationError, PlaybookValidationError, InventoryError, UnreachableError, HostKeyError,
  CommandTimeoutError, FactError, ApplyError, ConvergenceError, LockError,
} from './core/errors.ts'
export { secret, mask, holdsSecret, SECRET_TEXT_MIN_LENGTH } from './core/secrets.ts'
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

// tasks: Open vSwitch
export { ovsBridge, ovsPort, vxlanPort } from './tasks/ovs.ts'
export type { OvsBridgeSpec, OvsPortSpec, VxlanPortSpec, PortCurrent, Ensure } from './tasks/ovs.ts'
// tasks: links, addresses, routes, MTU
export { ipAddress, route, setMtu, mtuRecordFile } from './tasks/net.ts'
export type { IpAddressSpec, RouteSpec, SetMtuSpec } from './tasks/net.ts'
// tasks: kernel parameters, packet filter, packages
export { sysctl, defaultSysctlFile } from './tasks/sysctl.ts'
export type { SysctlSpec } from './tasks/sysctl.ts'
export { iptablesRule, iptablesMasq, masqRules, IPTABLES_TABLES } from './tasks/iptables.ts'
export type { IptablesRuleSpec, IptablesMasqSpec, IptablesTable } from './tasks/iptables.ts'
export { packages } from './tasks/packages.ts'
export type { PackagesSpec } from './tasks/packages.ts'
// tasks: Docker
export { dockerImage, dockerContainer, containerPort, vethNames, IMAGE_HASH_LABEL, CONTAINER_SPEC_LABEL } from './tasks/docker.ts'
export type { DockerImageSpec, DockerfileSource, DockerContainerSpec, ContainerPortSpec, RestartPolicy, DockerImageCurrent, DockerContainerCurrent, ContainerPortCurrent } from './tasks/docker.ts'
// tasks: read-only checks
export { probe } from './tasks/probe.ts'
export type { ProbeSpec } from './tasks/probe.ts'

// facts (machine-readable reads shared by tasks)
export { ovsStateFact, decodeOvsdb, transactOnSocket, OVSDB_SOCKET, OVSDB_SOCKET_CHECK } from './facts/ovs.ts'
export type { OvsState, OvsBridge, OvsPort, OvsInterface } from './facts/ovs.ts'
export { linksFact, routesFact } from './facts/ip.ts'
export type { Link, Links, Route } from './facts/ip.ts'
export { sysctlFact } from './facts/sysctl.ts'
export { iptablesRuleFact } from './facts/iptables.ts'
export { packageStatesFact } from './facts/packages.ts'
export { dockerImageFact, dockerImageUsersFact, dockerContainerFact, dockerContextHashFact, containerNetnsFact, DockerDaemonError } from './facts/docker.ts'
export type { DockerImageState, ImageUser, DockerContainerState, ContainerNetns } from './facts/docker.ts'

// topology pictures (Mermaid and SVG) of a built playbook
export { graphPlaybook, topologyOf, markTopology, toMermaid, toSvg, renderTopology, writeTopology } from './graph/index.ts'
export type { Topology, GraphFormat, TopoHost, TopoBridge, TopoPort, TopoVxlanPort, TopoAttachment, TopoContainer, TopoNat, TopoRoute, TopoTunnel, Verdict } from './graph/index.ts'

// the seed's lab as data
export { validateLab, tunnelsOf, gatewayOf } from './lab/spec.ts'
export type { LabSpec, LabNetwork, LabContainer, LabTunnel } from './lab/spec.ts'
export { labPlaybook } from './lab/plays.ts'

// generic tasks
export { command } from './tasks/command.ts'
export type { CommandSpec, CommandArgvSpec, CommandScriptSpec, CommandOptions } from './tasks/command.ts'
export { template, renderTemplate } from './tasks/file.ts'
export type { TemplateSpec } from './tasks/file.ts'
export { fileFact } from './facts/files.ts'
export type { FileState } from './facts/files.ts'
