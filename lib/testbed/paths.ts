/**
 * Where the testbed keeps things.
 *
 * - `testbedDir()`: `.testbed/` at the project root (override: env VXLAB_TESTBED_DIR). What clients
 *   need: inventory.yml, known_hosts, state.json, client/id_ed25519, image/ (the lab image context).
 * - `runDir()`: `/var/lib/vxlab-testbed` (override: env VXLAB_TESTBED_RUN_DIR). The hosts' runtime
 *   state: per host `hosts/<name>/` (overlay upper/work dirs for /etc /root /tmp, docker and
 *   containerd dirs, OVS db, sshd config and host key, init script) and `logs/<name>/`. It must not be
 *   under /etc, /root or /tmp (those are overlay lower dirs inside hosts, and overlayfs refuses
 *   overlapping layers) and must be on a filesystem overlayfs accepts as upper dir (ext4, xfs, tmpfs).
 *   The path is machine-wide on purpose: the namespaces (vx-*) are machine-wide too.
 */
import { fileURLToPath } from 'node:url'
import path from 'node:path'

/** Project root: two levels above this file (lib/testbed/paths.ts). */
export function projectRoot(): string {
  return fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '')
}

/** Absolute `.testbed` directory (env VXLAB_TESTBED_DIR overrides). */
export function testbedDir(): string {
  const env = process.env['VXLAB_TESTBED_DIR']
  return env ? path.resolve(env) : path.join(projectRoot(), '.testbed')
}

/** Absolute runtime-state directory of the hosts (env VXLAB_TESTBED_RUN_DIR overrides). */
export function runDir(): string {
  const env = process.env['VXLAB_TESTBED_RUN_DIR']
  const dir = env ? path.resolve(env) : '/var/lib/vxlab-testbed'
  // The path is written into sshd_config, overlay mount options and init scripts: keep it boring.
  if (!/^\/[A-Za-z0-9._/-]+$/.test(dir)) {
    throw new Error(`testbed run dir ${JSON.stringify(dir)} may only contain [A-Za-z0-9._/-]`)
  }
  for (const lower of ['/etc', '/root', '/tmp']) {
    if (dir === lower || dir.startsWith(`${lower}/`)) {
      throw new Error(`testbed run dir ${dir} must not be under ${lower} (an overlay lower dir inside hosts)`)
    }
  }
  return dir
}

export interface TestbedPaths {
  dir: string
  inventory: string
  knownHosts: string
  state: string
  clientDir: string
  privateKey: string
  publicKey: string
  image: string
  imageStamp: string
  run: string
  /** run/current.json: which testbed (id, .testbed dir) currently owns the vx-* namespaces */
  current: string
  lock: string
}

export function paths(): TestbedPaths {
  const dir = testbedDir()
  const run = runDir()
  return {
    dir,
    inventory: path.join(dir, 'inventory.yml'),
    knownHosts: path.join(dir, 'known_hosts'),
    state: path.join(dir, 'state.json'),
    clientDir: path.join(dir, 'client'),
    privateKey: path.join(dir, 'client', 'id_ed25519'),
    publicKey: path.join(dir, 'client', 'id_ed25519.pub'),
    image: path.join(dir, 'image'),
    imageStamp: path.join(dir, 'image.stamp'),
    run,
    current: path.join(run, 'current.json'),
    lock: path.join(run, 'lock'),
  }
}

/** State dir of one host under the run dir. */
export function hostRunDir(name: string): string {
  return path.join(runDir(), 'hosts', name)
}

/** Log dir of one host under the run dir (kept by `down`, for post-mortems; wiped by `up`). */
export function hostLogDir(name: string): string {
  return path.join(runDir(), 'logs', name)
}
