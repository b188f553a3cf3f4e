/**
 * vxlab's lab in a box: the seed's VMs (gateway router, N Docker hosts, an external host) as network
 * namespaces on one Linux machine, running the real sshd, Open vSwitch and Docker.
 *
 * ```ts
 * import { ensureTestbed, hostExec, down } from '../../lib/testbed/index.ts'
 * const tb = await ensureTestbed({ hosts: 2 })      // TestbedInfo: tb.inventory, tb.hostsList[0].mgmtIp, ...
 * const r = await hostExec('host1', ['ovs-vsctl', 'show'])   // {stdout, stderr, code}, no SSH
 * ```
 * CLI: `npm run testbed -- up [--hosts N] [--light] | down | status | install-deps`.
 * Layout, addresses and the pitfalls handled: lib/testbed/README.md.
 */
export {
  up,
  down,
  status,
  ensureTestbed,
  hostExec,
  hostPid,
  readState,
  withTestbedLock,
  sshOptions,
  TestbedStartError,
  type TestbedInfo,
  type TestbedHostInfo,
  type HostStatus,
  type ServiceStatus,
  type ServiceName,
  type UpOptions,
  type HostExecOptions,
} from './lifecycle.ts'
export { testbedDir, runDir, paths, type TestbedPaths } from './paths.ts'
export { withFault, stopService, startService, serviceAnswers, type Fault, type FaultInfo, type FaultService } from './faults.ts'
export {
  checkPrerequisites,
  installDeps,
  PrerequisiteError,
  DEBIAN_PACKAGES,
  INSTALL_HINT,
  type PrerequisiteReport,
} from './prereq.ts'
export { planTestbed, underlayNet, mgmtIp, MAX_HOSTS, DEFAULT_HOSTS, INET_IP, type TestbedPlan } from './plan.ts'
export type { RunResult } from './exec.ts'
