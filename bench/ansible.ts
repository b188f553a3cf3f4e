/**
 * Tuned Ansible on vxlab's testbed, for the benchmark (bench/run.ts, scenario `ansible`): the lab as an Ansible
 * playbook (bench/ansible/lab.yml, the one issue #6 measured, adapted to this testbed), run with pipelining and SSH
 * ControlPersist, as issue #6's "tuned Ansible". Needs `apt-get install ansible python3-docker` (Ansible 7.7 on
 * Debian 12, with the openvswitch.openvswitch, community.docker and ansible.posix collections it bundles).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { timed, type Timed } from './measure.ts'

/** bench/ansible: the playbooks and their group_vars. */
export const ANSIBLE_DIR = fileURLToPath(new URL('./ansible/', import.meta.url))

/** Whether `ansible-playbook` is on PATH. */
export function ansibleInstalled(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v ansible-playbook'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** One host's line of Ansible's PLAY RECAP. */
export interface AnsibleRecap {
  readonly ok: number
  readonly changed: number
  readonly unreachable: number
  readonly failed: number
  readonly skipped: number
}

/**
 * The PLAY RECAP of `ansible-playbook`'s output, by host (`host : ok=2 changed=0 unreachable=0 failed=0 ...`);
 * a counter the line lacks is 0. Empty when the output has no recap (the run stopped before one).
 */
export function parseRecap(stdout: string): Record<string, AnsibleRecap> {
  const at = stdout.lastIndexOf('PLAY RECAP')
  const out: Record<string, AnsibleRecap> = {}
  if (at < 0) return out
  for (const line of stdout.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(ok=\d+.*)$/.exec(line.trim())
    if (!m) continue
    const n = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(m[2]!)?.[1] ?? 0)
    out[m[1]!] = { ok: n('ok'), changed: n('changed'), unreachable: n('unreachable'), failed: n('failed'), skipped: n('skipped') }
  }
  return out
}

/** Sum of one counter over the hosts of a recap. */
export function recapTotal(recap: Record<string, AnsibleRecap>, key: keyof AnsibleRecap): number {
  return Object.values(recap).reduce((a, h) => a + h[key], 0)
}

/**
 * The tuned configuration of issue #6's measurement (pipelining, ControlPersist 60 s, forks 5, no fact gathering,
 * the interpreter given), pointed at the testbed: its inventory (Ansible's own YAML format), its known_hosts with
 * strict checking. Written to `dir`/ansible.cfg; returns its path. The control sockets go to `dir`/cp.
 */
export function writeTunedConfig(dir: string, testbed: string): string {
  mkdirSync(join(dir, 'cp'), { recursive: true })
  const file = join(dir, 'ansible.cfg')
  writeFileSync(file, [
    '[defaults]',
    `inventory = ${join(testbed, 'inventory.yml')}`,
    'host_key_checking = True',
    'forks = 5',
    'gathering = explicit',
    'interpreter_python = /usr/bin/python3',
    'retry_files_enabled = False',
    'timeout = 10',
    '',
    '[ssh_connection]',
    `ssh_args = -o UserKnownHostsFile=${join(testbed, 'known_hosts')} -o StrictHostKeyChecking=yes -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60s`,
    `control_path_dir = ${join(dir, 'cp')}`,
    'pipelining = True',
    // as issue #6's measurement: modules go through the pipelined shell, no sftp or scp per module
    'transfer_method = piped',
    '',
  ].join('\n'))
  return file
}

/** A timed `ansible-playbook` run and its recap. */
export interface AnsibleRun extends Timed {
  readonly recap: Record<string, AnsibleRecap>
}

/** `ansible-playbook PLAYBOOK ARGS` in bench/ansible with the config `cfg`, wall-clock timed. */
export async function ansiblePlaybook(cfg: string, playbook: string, args: readonly string[] = []): Promise<AnsibleRun> {
  // Ansible ranks ANSIBLE_* variables above the config file: none of the caller's may change what is measured
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANSIBLE_')))
  const t = await timed(['ansible-playbook', playbook, ...args], { cwd: ANSIBLE_DIR, env: { ...env, ANSIBLE_CONFIG: cfg, ANSIBLE_NOCOLOR: '1' }, timeoutMs: 600_000 })
  return { ...t, recap: parseRecap(t.stdout) }
}

/** Stop the SSH control masters of `dir`/cp (`ssh -O exit`), so none outlives the testbed it connects to. */
export function stopControlMasters(dir: string): void {
  const cp = join(dir, 'cp')
  if (!existsSync(cp)) return
  for (const s of readdirSync(cp)) {
    try {
      execFileSync('ssh', ['-O', 'exit', '-o', `ControlPath=${join(cp, s)}`, 'x'], { stdio: 'ignore', timeout: 10_000 })
    } catch {
      /* already gone */
    }
  }
}
