import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect as tcpConnect } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import type { Config } from 'node-ssh'
import { HostKeyError, UnreachableError } from '../core/errors.ts'
import { requireDependency, resolveDependency } from '../core/require.ts'
import { mask } from '../core/secrets.ts'
import { BaseConnection, type ConnectionOptions, type ExecWatch, type RawExecResult, type RawStream, type SocketLimits, socketExchange } from './base.ts'
import { KnownHosts } from './known-hosts.ts'

const { NodeSSH } = requireDependency('node-ssh') as typeof import('node-ssh')

/** How to reach one host over SSH (from the inventory's connection vars). */
export interface SshTarget {
  /** Inventory name, used in messages. */
  readonly name: string
  /** Address to connect to (`ansible_host`). */
  readonly address: string
  /** TCP port (`ansible_port`, default 22). */
  readonly port: number
  /** Login user (`ansible_user`, default the controller's $USER or root). */
  readonly user: string
  /** Private key file (`ansible_ssh_private_key_file`); when absent, ssh-agent ($SSH_AUTH_SOCK) is used. */
  readonly privateKeyFile?: string
  /** SSH password (from an environment variable or prompt); never printed. */
  readonly password?: string
  /** known_hosts file to verify the host key against (default ~/.ssh/known_hosts). */
  readonly knownHostsFile: string
  /** `strict` (default): unknown or changed keys are refused. `accept-new`: record a first-contact key, refuse changed ones. */
  readonly hostKeyPolicy: 'strict' | 'accept-new'
  /** Connect timeout in ms (TCP + handshake + auth); default 10000. */
  readonly connectTimeoutMs: number
}

/** known_hosts files parsed once per content version (path, mtime, size): many hosts share one file. */
const knownHostsCache = new Map<string, { stamp: string; kh: KnownHosts }>()

function loadKnownHosts(path: string): KnownHosts {
  let stamp = 'missing'
  try {
    const st = statSync(path)
    stamp = `${st.mtimeMs}:${st.size}`
  } catch {
    /* a missing file means every key is unknown */
  }
  const hit = knownHostsCache.get(path)
  if (hit && hit.stamp === stamp) return hit.kh
  const kh = new KnownHosts(path)
  knownHostsCache.set(path, { stamp, kh })
  return kh
}

/**
 * Private key files, read once per content version (path, mtime, size) like known_hosts: the hosts of a run usually
 * share one key, which the check before contacting hosts ({@link privateKeyProblem}) parses once and every connection
 * reuses (node-ssh reading the file for every connection cost ~1 ms of the controller's thread each). Throws what
 * statSync and readFileSync throw.
 */
const keyFiles = new Map<string, { stamp: string; data: Buffer; problem?: string | undefined }>()

function keyFile(path: string): { stamp: string; data: Buffer; problem?: string | undefined } {
  const st = statSync(path)
  const stamp = `${st.mtimeMs}:${st.size}`
  let k = keyFiles.get(path)
  if (k === undefined || k.stamp !== stamp) {
    k = { stamp, data: readFileSync(path) }
    keyFiles.set(path, k)
  }
  return k
}

/** The key's text for node-ssh, or undefined when the file cannot be read (node-ssh then reads the path and reports the error). */
function loadPrivateKey(path: string): string | undefined {
  try {
    return keyFile(path).data.toString('utf8')
  } catch {
    return undefined
  }
}

/**
 * One SSH connection (node-ssh / ssh2) reused for every command of a run. The host key is verified before
 * authentication; a refused key closes the connection before any command can run.
 */
export class SshConnection extends BaseConnection {
  readonly #ssh: InstanceType<typeof NodeSSH>

  private constructor(readonly target: SshTarget, ssh: InstanceType<typeof NodeSSH>, opts: ConnectionOptions) {
    super(target.name, opts)
    this.#ssh = ssh
  }

  /** Connect and verify the host key. Throws {@link HostKeyError} or {@link UnreachableError}. */
  static async connect(target: SshTarget, opts: ConnectionOptions = {}): Promise<SshConnection> {
    const known = loadKnownHosts(target.knownHostsFile)
    let refusal: string | undefined
    const config: Config = {
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: 15_000,
      hostVerifier: (key: Buffer): boolean => {
        const v = known.verify(target.address, target.port, key)
        if (v.status === 'match') return true
        if (v.status === 'unknown' && target.hostKeyPolicy === 'accept-new') {
          known.add(target.address, target.port, key)
          return true
        }
        if (v.status === 'unknown') refusal = `host key ${v.offered} for ${target.address}:${target.port} is not in ${target.knownHostsFile} (add it, or pass --host-key-policy accept-new for first contact)`
        else if (v.status === 'revoked') refusal = `host key ${v.offered} is marked @revoked in ${target.knownHostsFile}`
        else refusal = `HOST KEY CHANGED for ${target.address}:${target.port}: expected ${v.expected.join(' or ')}, offered ${v.offered} (${target.knownHostsFile}); refusing to connect`
        return false
      },
    }
    if (target.privateKeyFile !== undefined) {
      const key = loadPrivateKey(target.privateKeyFile)
      if (key !== undefined) config.privateKey = key
      else config.privateKeyPath = target.privateKeyFile
    }
    else if (process.env.SSH_AUTH_SOCK) config.agent = process.env.SSH_AUTH_SOCK
    if (target.password !== undefined) config.password = target.password
    // TCP_NODELAY. The handshake sends small packets back to back (KEXINIT then KEX_ECDH_INIT, NEWKEYS then
    // SERVICE_REQUEST); with Nagle's algorithm (RFC 896) the second waits for the server's delayed ACK, ~40 ms
    // on Linux, twice per connection: ~45-65 ms to ready instead of ~95-130 ms on the testbed. ssh2 leaves
    // Nagle on and sets options only on a socket of its own, so vxlab opens the socket and hands it over.
    const sock = tcpConnect({ host: target.address, port: target.port, noDelay: true })
    // an error before ssh2 listens on the socket (node-ssh prepares the config asynchronously) ends the attempt
    let onSockError: (e: Error) => void = () => undefined
    const sockFailed = new Promise<never>((_, reject) => (onSockError = reject))
    sock.on('error', onSockError)
    config.sock = sock
    const ssh = new NodeSSH()
    const attempt = ssh.connect(config)
    attempt.catch(() => undefined)
    sockFailed.catch(() => undefined)
    try {
      await Promise.race([attempt, sockFailed])
      sock.removeListener('error', onSockError)
    } catch (e) {
      sock.removeListener('error', onSockError)
      sock.destroy()
      ssh.dispose()
      if (refusal !== undefined) throw new HostKeyError(target.name, refusal)
      const msg = e instanceof Error ? e.message : String(e)
      const hint = /Timed out while waiting for handshake/.test(msg) ? `connect timed out after ${target.connectTimeoutMs} ms` : msg
      throw new UnreachableError(target.name, mask(`${target.user}@${target.address}:${target.port}: ${hint}`))
    }
    // An error on the connection while no exec listens (a reset, a keepalive timeout) would otherwise be an
    // uncaught 'error' event and end the whole run, every host; the next exec on it fails as "connection lost".
    const conn = new SshConnection(target, ssh, opts)
    ssh.connection?.on('error', (e: Error) => {
      conn.#lost ??= e.message
    })
    return conn
  }

  /** Why the connection failed while idle, if it did (reported by the next exec). */
  #lost: string | undefined

  protected execRaw(commandLine: string, stdin: string | Uint8Array | undefined, timeoutMs: number, watch?: ExecWatch): Promise<RawExecResult> {
    return new Promise((resolve, reject) => {
      let timedOut = false
      let channel: { close(): void; signal?(s: string): void } | undefined
      const out: Buffer[] = []
      const err: Buffer[] = []
      const expire = (): void => {
        if (timedOut) return
        clearTimeout(timer)
        timedOut = true
        try {
          channel?.signal?.('KILL')
          channel?.close()
        } catch {
          /* channel already gone */
        }
        resolve({ code: null, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut: true })
      }
      const timer = setTimeout(expire, timeoutMs)
      watch?.signal.addEventListener('abort', expire, { once: true })
      const input = stdin === undefined ? undefined : typeof stdin === 'string' ? stdin : Readable.from([Buffer.from(stdin)])
      this.#ssh
        .execCommand(commandLine, {
          ...(input !== undefined ? { stdin: input } : {}),
          noTrim: true,
          onChannel: (c) => {
            channel = c
          },
          onStdout: (b) => {
            out.push(b)
            watch?.onStdout(b)
          },
          onStderr: (b) => err.push(b),
        })
        .then((r) => {
          clearTimeout(timer)
          if (timedOut) return
          resolve({ code: r.code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut: false })
        })
        .catch((e: unknown) => {
          clearTimeout(timer)
          if (timedOut) return
          reject(new UnreachableError(this.host, `connection lost: ${this.#lost ?? (e instanceof Error ? e.message : String(e))}`))
        })
    })
  }

  protected async streamRaw(commandLine: string, onOutput: (chunk: Buffer) => void, first?: string | Uint8Array): Promise<RawStream> {
    const stdin = new PassThrough()
    if (first !== undefined) stdin.write(Buffer.from(first))
    const exited = this.#ssh
      .execCommand(commandLine, { stdin, noTrim: true, onStdout: onOutput, onStderr: onOutput })
      .then((r) => r.code)
      .catch(() => null)
    return { end: () => stdin.end(), exited }
  }

  /**
   * A unix socket of the host over a `direct-streamlocal@openssh.com` channel of this connection (OpenSSH's
   * PROTOCOL, section 2.4; sshd's `AllowStreamLocalForwarding`, on by default): sshd connects to the socket as the
   * login user, and no process is started on the host.
   */
  protected override socketRaw(path: string, request: string, complete: (received: string) => boolean, limits: SocketLimits): Promise<string | undefined> {
    return new Promise((resolve) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        resolve(`sshd did not open it within ${limits.openMs} ms`)
      }, limits.openMs)
      const opened = (why: string | undefined): void => {
        clearTimeout(timer)
        if (!settled) resolve(why)
        settled = true
      }
      const client = this.#ssh.connection
      if (client === null) {
        opened(`connection lost: ${this.#lost ?? 'closed'}`)
        return
      }
      try {
        client.openssh_forwardOutStreamLocal(path, (err, ch) => {
          // sshd answers "open failed" both when streamlocal forwarding is off and when the socket is missing
          if (err !== undefined && err !== null) opened(`sshd did not open it (streamlocal forwarding off, or no such socket): ${err.message}`)
          else if (settled) ch.close()
          else {
            clearTimeout(timer)
            void socketExchange(ch, request, complete, limits.answerMs).then((why) => {
              ch.close()
              opened(why)
            })
          }
        })
      } catch (e) {
        opened(e instanceof Error ? e.message : String(e))
      }
    })
  }

  async close(): Promise<void> {
    this.#ssh.dispose()
  }
}

/** Whether a private key file exists (checked before any host is contacted). */
export function privateKeyExists(path: string): boolean {
  return existsSync(path)
}

type KeyParser = (data: Buffer) => unknown
let parseKey: KeyParser | undefined

/**
 * Why a private key file cannot be used (missing, unreadable, not a key ssh2 understands, encrypted:
 * vxlab takes no key passphrase, use ssh-agent), or undefined when it parses. Checked before any host is
 * contacted, so a bad key is a usage error instead of every host "unreachable". Uses the ssh2 that
 * node-ssh itself loads.
 */
export function privateKeyProblem(path: string): string | undefined {
  let k: ReturnType<typeof keyFile>
  try {
    k = keyFile(path)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(e as Error).message}`
  }
  if (!('problem' in k)) {
    parseKey ??= (createRequire(resolveDependency('node-ssh'))('ssh2') as { utils: { parseKey: KeyParser } }).utils.parseKey
    const parsed = parseKey(k.data)
    k.problem = parsed instanceof Error ? `is not a usable private key: ${parsed.message}` : undefined
  }
  return k.problem
}
