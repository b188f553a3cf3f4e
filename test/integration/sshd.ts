import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A throwaway OpenSSH server on 127.0.0.1 (own host key, own client key), for engine integration tests. */
export interface TestSshd {
  readonly dir: string
  readonly port: number
  readonly clientKey: string
  readonly knownHosts: string
  readonly inventory: string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))))
    })
  })
}

export async function startSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'vxlab-sshd-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')])
  const port = await freePort()
  mkdirSync('/run/sshd', { recursive: true })
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'client_key.pub')}`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
    'StrictModes no', 'UsePAM no', `PidFile ${join(dir, 'sshd.pid')}`, 'Subsystem sftp internal-sftp', 'MaxSessions 64',
  ].join('\n') + '\n')
  const pub = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ')
  const knownHosts = join(dir, 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`)
  const inventory = join(dir, 'inventory.yml')
  writeFileSync(inventory, [
    'all:', '  hosts:', '    local1:', '      ansible_host: 127.0.0.1', `      ansible_port: ${port}`, '      ansible_user: root',
    `      ansible_ssh_private_key_file: ${join(dir, 'client_key')}`, `      vxlab_known_hosts_file: ${knownHosts}`, '',
  ].join('\n'))
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  proc.stderr?.on('data', (b: Buffer) => (log += b.toString()))
  // poll until it accepts connections (bounded)
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = createServer()
      s.once('error', () => res(true)) // port taken = sshd is listening
      s.listen(port, '127.0.0.1', () => s.close(() => res(false)))
    })
    if (ok) break
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`test sshd did not start: ${log}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    dir, port, clientKey: join(dir, 'client_key'), knownHosts, inventory,
    stop: async () => {
      proc.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
