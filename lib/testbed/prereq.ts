/**
 * Prerequisites of the testbed (root, Linux, programs) and `install-deps`.
 */
import { spawn } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import path from 'node:path'
import { cleanEnv, run } from './exec.ts'

/** Debian packages `install-deps` installs (apt-get install -y). */
export const DEBIAN_PACKAGES = [
  'openvswitch-switch',
  'docker.io',
  'openssh-server',
  'openssh-client',
  'iproute2',
  'iptables',
  'ethtool',
  'busybox-static',
  'iperf3',
  'iputils-ping',
] as const

export const INSTALL_HINT = `npm run testbed -- install-deps   (or: apt-get update && apt-get install -y ${DEBIAN_PACKAGES.join(' ')})`

/** Required programs and the Debian package that provides each. */
const REQUIRED: readonly (readonly [string, string])[] = [
  ['ip', 'iproute2'],
  ['nsenter', 'util-linux'],
  ['unshare', 'util-linux'],
  ['mount', 'mount'],
  ['umount', 'mount'],
  ['ethtool', 'ethtool'],
  ['ovsdb-tool', 'openvswitch-switch'],
  ['ovsdb-server', 'openvswitch-switch'],
  ['ovs-vswitchd', 'openvswitch-switch'],
  ['ovs-vsctl', 'openvswitch-switch'],
  ['ovs-docker', 'openvswitch-switch'],
  ['dockerd', 'docker.io'],
  ['docker', 'docker.io'],
  ['containerd', 'docker.io'],
  ['iptables', 'iptables'],
  ['sshd', 'openssh-server'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['busybox', 'busybox-static'],
  ['iperf3', 'iperf3'],
  ['tar', 'tar'],
  ['usermod', 'passwd'],
]

/** Optional programs: missing ones are warnings. */
const OPTIONAL: readonly (readonly [string, string, string])[] = [
  ['ping', 'iputils-ping', 'the lab image falls back to busybox ping, which has no `-M do` (DF probe)'],
]

export interface PrerequisiteReport {
  ok: boolean
  /** problems that stop the testbed, each a full sentence */
  problems: string[]
  /** missing programs (name) with their Debian package */
  missing: { command: string; pkg: string }[]
  warnings: string[]
  /** absolute path of every program found, by name */
  found: Record<string, string>
}

/** Absolute path of a program on the testbed PATH, or undefined. */
export async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (cleanEnv()['PATH'] ?? '').split(':')) {
    const p = path.join(dir, cmd)
    try {
      await access(p, constants.X_OK)
      return p
    } catch {
      // next
    }
  }
  return undefined
}

/**
 * Checks everything `up` needs; never throws. `problems` names what is missing and how to install it.
 */
export async function checkPrerequisites(): Promise<PrerequisiteReport> {
  const problems: string[] = []
  const warnings: string[] = []
  const missing: { command: string; pkg: string }[] = []
  const found: Record<string, string> = {}
  if (process.platform !== 'linux') problems.push(`the testbed needs Linux (network namespaces); this is ${process.platform}`)
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('the testbed needs root (network namespaces, mounts, veths): run as root, e.g. `sudo npm run testbed -- up`')
  }
  await Promise.all(
    REQUIRED.map(async ([cmd, pkg]) => {
      const p = await which(cmd)
      if (p) found[cmd] = p
      else missing.push({ command: cmd, pkg })
    }),
  )
  await Promise.all(
    OPTIONAL.map(async ([cmd, pkg, why]) => {
      const p = await which(cmd)
      if (p) found[cmd] = p
      else warnings.push(`${cmd} (Debian package ${pkg}) is missing: ${why}; install it with: ${INSTALL_HINT}`)
    }),
  )
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))]
    problems.push(
      `missing programs: ${missing.map((m) => `${m.command} (${m.pkg})`).join(', ')}; install them with: ${INSTALL_HINT}` +
        ` (packages needed here: ${pkgs.join(' ')})`,
    )
  }
  if (process.platform === 'linux' && found['ip']) {
    // The management network must not clash with an address the machine already has.
    const r = await run(['ip', '-j', '-4', 'addr', 'show'], { timeoutMs: 10_000 })
    if (r.code === 0) {
      try {
        const links = JSON.parse(r.stdout) as { ifname?: string; addr_info?: { local?: string }[] }[]
        for (const l of links) {
          for (const a of l.addr_info ?? []) {
            if (a.local?.startsWith('172.16.99.') && l.ifname !== 'vx-mgmt') {
              problems.push(`${l.ifname ?? '?'} already has ${a.local}: the testbed's management network 172.16.99.0/24 would clash`)
            }
          }
        }
      } catch {
        // ip without JSON support: skip this check
      }
    }
  }
  missing.sort((a, b) => a.command.localeCompare(b.command))
  return { ok: problems.length === 0, problems, missing, warnings, found }
}

/** Thrown by `up` when prerequisites are missing; the message lists them and the install command. */
export class PrerequisiteError extends Error {
  constructor(readonly report: PrerequisiteReport) {
    super(`testbed prerequisites missing:\n - ${report.problems.join('\n - ')}`)
    this.name = 'PrerequisiteError'
  }
}

/** `install-deps`: apt-get update, then apt-get install -y of DEBIAN_PACKAGES (output goes to our stdout/stderr). */
export async function installDeps(log: (line: string) => void = console.log): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('install-deps needs root')
  const env = cleanEnv({ DEBIAN_FRONTEND: 'noninteractive' })
  for (const argv of [['apt-get', 'update'], ['apt-get', 'install', '-y', ...DEBIAN_PACKAGES]]) {
    log(`$ ${argv.join(' ')}`)
    const code = await new Promise<number>((resolve) => {
      const [cmd, ...args] = argv as [string, ...string[]]
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'] })
      child.on('error', (e) => {
        log(`${cmd}: ${e.message}`)
        resolve(127)
      })
      child.on('close', (c) => resolve(c ?? 1))
    })
    if (code !== 0) throw new Error(`${argv.join(' ')} failed with exit code ${code}`)
  }
}
