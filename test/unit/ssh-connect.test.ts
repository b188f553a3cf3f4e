import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { SshConnection } from '../../lib/connection/ssh.ts'
import { UnreachableError } from '../../lib/core/errors.ts'

/** The options of every TCP socket vxlab opens (node:net's connect, passed through). */
const opened = vi.hoisted(() => [] as unknown[])
vi.mock('node:net', async (importOriginal) => {
  const net = await importOriginal<typeof import('node:net')>()
  const connect = ((...args: Parameters<typeof net.connect>) => {
    opened.push(args[0])
    return net.connect(...args)
  }) as typeof net.connect
  return { ...net, connect, default: { ...net, connect } }
})

// vxlab opens the TCP socket itself (TCP_NODELAY) and hands it to ssh2: a socket error that comes before ssh2
// listens on it must still end the attempt at once, with the socket's own message.
describe('SSH connect: the socket vxlab opens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxlab-sshc-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const knownHostsFile = join(dir, 'known_hosts')
  writeFileSync(knownHostsFile, '')

  /** A loopback port that nothing listens on (bound, then closed). */
  const closedPort = async (): Promise<number> => {
    const srv = createServer()
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    const { port } = srv.address() as { port: number }
    await new Promise<void>((r) => srv.close(() => r()))
    return port
  }

  it('a refused connection fails with the socket error, not the connect timeout', async () => {
    const port = await closedPort()
    const err = await SshConnection.connect({ name: 'h', address: '127.0.0.1', port, user: 'root', knownHostsFile, hostKeyPolicy: 'strict', connectTimeoutMs: 60_000 })
      .then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(UnreachableError)
    // Nagle off: the handshake's back-to-back small packets would each wait for a delayed ACK (~40 ms)
    expect(opened.at(-1)).toMatchObject({ host: '127.0.0.1', port, noDelay: true })
    expect(String((err as Error).message)).toMatch(new RegExp(`^h: unreachable: root@127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`))
  })
  it('a name that does not resolve fails with the resolver error', async () => {
    const err = await SshConnection.connect({ name: 'h', address: 'no-such-host.invalid', port: 22, user: 'root', knownHostsFile, hostKeyPolicy: 'strict', connectTimeoutMs: 60_000 })
      .then(() => undefined, (e: unknown) => e)
    expect(String((err as Error).message)).toMatch(/^h: unreachable: root@no-such-host\.invalid:22: getaddrinfo E(NOTFOUND|AI_AGAIN)/)
  })
  it('a server that accepts and says nothing ends at the connect timeout, and the socket is closed', async () => {
    let closed = false
    const srv = createServer((s) => s.resume().on('close', () => (closed = true)))
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    const { port } = srv.address() as { port: number }
    const err = await SshConnection.connect({ name: 'h', address: '127.0.0.1', port, user: 'root', knownHostsFile, hostKeyPolicy: 'strict', connectTimeoutMs: 300 })
      .then(() => undefined, (e: unknown) => e)
    expect(String((err as Error).message)).toMatch(/connect timed out after 300 ms/)
    await new Promise((r) => setTimeout(r, 100))
    expect(closed).toBe(true)
    await new Promise<void>((r) => srv.close(() => r()))
  })

  it('a connection reset while no exec runs does not end the process; the next exec fails as connection lost', async () => {
    // an SSH server in this process (the ssh2 that node-ssh loads), accepting any login, answering exec with "hi"
    const ssh2 = createRequire(createRequire(import.meta.url).resolve('node-ssh'))('ssh2') as {
      Server: new (cfg: { hostKeys: unknown[] }, onClient: (c: import('node:events').EventEmitter & Record<string, (...a: never[]) => unknown>) => void) => import('node:events').EventEmitter & { listen(p: number, h: string, cb: () => void): void; address(): { port: number }; close(): void }
      utils: { generateKeyPairSync(type: string): { private: string } }
    }
    const sockets: Socket[] = []
    const server = new ssh2.Server({ hostKeys: [ssh2.utils.generateKeyPairSync('ed25519').private] }, (client) => {
      client.on('error', () => undefined)
      client.on('authentication', (ctx: { accept(): void }) => ctx.accept())
      client.on('ready', () => client.on('session', (accept: () => import('node:events').EventEmitter) => {
        accept().on('exec', (acc: () => { write(s: string): void; exit(c: number): void; end(): void }) => {
          const ch = acc()
          ch.write('hi\n')
          ch.exit(0)
          ch.end()
        })
      }))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    ;(server as unknown as { _srv: import('node:net').Server })._srv.on('connection', (s: Socket) => sockets.push(s))
    const c = await SshConnection.connect({ name: 'h', address: '127.0.0.1', port: server.address().port, user: 'u', password: 'p', knownHostsFile, hostKeyPolicy: 'accept-new', connectTimeoutMs: 5000 })
    expect((await c.run({ argv: ['true'] })).stdout).toBe('hi\n')
    sockets[0]!.resetAndDestroy()
    await new Promise((r) => setTimeout(r, 200))
    await expect(c.run({ argv: ['true'] })).rejects.toThrow(/^h: unreachable: connection lost: read ECONNRESET/)
    await c.close()
    server.close()
  })
})
