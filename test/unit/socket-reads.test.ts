/**
 * Socket reads (Command.socket): a read that comes after every change of its batch is answered by a unix socket
 * of the host instead of running its command; any failure of the socket runs the command instead (one more exec)
 * and that socket is not tried again on the connection. Local connections with /bin/sh and a real unix-socket
 * server (node:net) in a temp folder; commands that leave a trace show whether they ran.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BatchInterruptedError } from '../../lib/connection/base.ts'
import { LocalConnection } from '../../lib/connection/local.ts'
import type { BatchPart } from '../../lib/connection/types.ts'
import { cmd, script, type Command, type SocketRead } from '../../lib/core/command.ts'
import { OVSDB_SOCKET, OVSDB_SOCKET_CHECK, ovsStateFact, parseOvsState, transactOnSocket } from '../../lib/facts/ovs.ts'

/** One connection a test server got: when (performance.now()), and everything it received. */
interface Conn {
  readonly at: number
  request: string
}

/** What the server does once a connection's request is whole (ends with a newline): write to it, close it, or nothing. */
type Reply = (request: string, sock: Socket) => void

let dir: string
const servers: Server[] = []
const sockets: Socket[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vxlab-sockread-'))
})

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))))
  rmSync(dir, { recursive: true, force: true })
})

/** A unix-socket server at `path` that records each connection and answers each whole request with `reply`. */
async function serve(path: string, reply: Reply): Promise<Conn[]> {
  const conns: Conn[] = []
  const server = createServer((sock) => {
    sockets.push(sock)
    const c: Conn = { at: performance.now(), request: '' }
    conns.push(c)
    let answered = false
    sock.on('error', () => undefined)
    sock.on('data', (b: Buffer) => {
      c.request += b.toString('utf8')
      if (!answered && c.request.endsWith('\n')) {
        answered = true
        reply(c.request, sock)
      }
    })
  })
  servers.push(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  return conns
}

const REQUEST = 'READ state\n'

/**
 * A socket read: the request `READ state\n`; the answer is complete at a newline, and becomes `sock:<line>\n`;
 * a line starting with `ERR` is an error reply (throws).
 */
function socketRead(path: string, timeoutMs?: number): SocketRead {
  return {
    path,
    request: REQUEST,
    shown: 'read state',
    answer: (received) => {
      if (!received.endsWith('\n')) return undefined
      if (received.startsWith('ERR')) throw new Error(`error reply: ${received.trim()}`)
      return `sock:${received}`
    },
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  }
}

/** A command that appends `ran` to `trace` and prints `out`: whether it ran is in the file. */
function traced(trace: string, out: string): Command {
  return script('echo ran >> "$1"; echo "$2"', trace, out)
}

/** The read part: `traced` with a socket read at `path`. */
function readPart(path: string, trace: string, opts: { timeoutMs?: number } = {}): BatchPart {
  return { command: { ...traced(trace, 'from-command'), socket: socketRead(path, opts.timeoutMs) } }
}

const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' })

describe('a read with a socket', () => {
  it('is answered on the socket: its command does not run; only the other parts make an exec, in the order of the parts', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer-1\n'))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')

    // every part a socket read: no exec at all
    expect(await c.runBatch([readPart(path, trace)])).toEqual([ok('sock:answer-1\n')])
    expect(c.execCount).toBe(0)
    expect(conns).toHaveLength(1)
    expect(conns[0]!.request).toBe(REQUEST)

    // mixed: the shell parts in one exec, the socket part from the socket, results in the parts' order
    const r = await c.runBatch([
      { command: cmd('echo', 'shell-a') },
      readPart(path, trace),
      { command: script('echo shell-b; echo e >&2; exit 3') },
    ])
    expect(r).toEqual([ok('shell-a\n'), ok('sock:answer-1\n'), { code: 3, stdout: 'shell-b\n', stderr: 'e' }])
    expect(c.execCount).toBe(1)
    expect(conns).toHaveLength(2)
    expect(existsSync(trace)).toBe(false)
  })

  it('whose socket is missing runs its command, in one more exec; the socket is not tried again on the connection', async () => {
    const path = join(dir, 'missing.sock')
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const r = await c.runBatch([{ command: cmd('echo', 'shell-a') }, readPart(path, trace)])
    expect(r).toEqual([ok('shell-a\n'), ok('from-command\n')])
    expect(c.execCount).toBe(2) // the shell batch, then the command of the failed read
    expect(readFileSync(trace, 'utf8')).toBe('ran\n')

    // the socket exists now, but this connection does not open it again
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    expect(await c.runBatch([readPart(path, trace)])).toEqual([ok('from-command\n')])
    expect(c.execCount).toBe(3)
    expect(readFileSync(trace, 'utf8')).toBe('ran\nran\n')
    expect(conns).toHaveLength(0)

    // another connection does use it
    const other = new LocalConnection('h2')
    expect(await other.runBatch([readPart(path, trace)])).toEqual([ok('sock:answer\n')])
    expect(other.execCount).toBe(0)
    expect(conns).toHaveLength(1)
  })

  it('with an answer that `answer` refuses (an error reply) runs its command', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('ERR no such table\n'))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const t0 = performance.now()
    expect(await c.runBatch([readPart(path, trace)])).toEqual([ok('from-command\n')])
    expect(performance.now() - t0).toBeLessThan(2500) // at once, not after the default 5 s timeout
    expect(conns).toHaveLength(1)
    expect(conns[0]!.request).toBe(REQUEST)
    expect(readFileSync(trace, 'utf8')).toBe('ran\n')
    expect(c.execCount).toBe(1)
  })

  it('that closes before a complete answer runs its command', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.end('half an ans'))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const t0 = performance.now()
    expect(await c.runBatch([readPart(path, trace)])).toEqual([ok('from-command\n')])
    expect(performance.now() - t0).toBeLessThan(2500) // at the close, not after the default 5 s timeout
    expect(conns).toHaveLength(1)
    expect(readFileSync(trace, 'utf8')).toBe('ran\n')
  })

  it('whose server never answers runs its command after the read\'s timeoutMs', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, () => undefined)
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const t0 = performance.now()
    expect(await c.runBatch([readPart(path, trace, { timeoutMs: 200 })])).toEqual([ok('from-command\n')])
    const ms = performance.now() - t0
    expect(conns).toHaveLength(1)
    expect(readFileSync(trace, 'utf8')).toBe('ran\n')
    expect(ms).toBeGreaterThanOrEqual(190) // it waited for the socket first
    expect(ms).toBeLessThan(2500) // not the default 5 s
  })
})

describe('a batch cut short', () => {
  it('names the part that did not finish, not a socket read before it whose command never ran', async () => {
    const c = new LocalConnection('h')
    const parts: BatchPart[] = [
      readPart(join(dir, 'missing.sock'), join(dir, 'trace')),
      { command: cmd('echo', 'first') },
      { command: { argv: ['sleep', '5'], timeoutMs: 300 } },
      { command: cmd('echo', 'after') },
    ]
    const e = await c.runBatch(parts).then(() => undefined, (x: unknown) => x)
    expect(e).toBeInstanceOf(BatchInterruptedError)
    const b = e as BatchInterruptedError
    expect(b.message).toMatch(/timed out after 300 ms: sleep 5/)
    expect(b.failedPart).toBe(2)
    // part 0 has no result (its socket failed and its command never ran): nothing is complete before it
    expect(b.completed).toEqual([])
    expect(existsSync(join(dir, 'trace'))).toBe(false)
  })
})

describe('socket reads and the changes of their batch', () => {
  it('a read after a change is made on the socket only once the change ran', async () => {
    const path = join(dir, 'db.sock')
    const state = join(dir, 'state')
    writeFileSync(state, 'old')
    // the server answers with the file as it is when the request comes
    const conns = await serve(path, (_req, sock) => sock.write(`${readFileSync(state, 'utf8')}\n`))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const t0 = performance.now()
    const r = await c.runBatch([
      { command: script('sleep 0.2; printf new > "$1"', state), stopOnError: true },
      readPart(path, trace),
    ])
    expect(r).toEqual([ok(''), ok('sock:new\n')])
    expect(conns).toHaveLength(1)
    expect(conns[0]!.at - t0).toBeGreaterThanOrEqual(180)
    expect(existsSync(trace)).toBe(false)
    expect(c.execCount).toBe(1)
  })

  it('a read before a change of the same batch is not made on the socket: its command runs in the batch', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const trace = join(dir, 'trace')
    const done = join(dir, 'done')
    const c = new LocalConnection('h')
    const r = await c.runBatch([readPart(path, trace), { command: script(': > "$1"', done), stopOnError: true }])
    expect(r).toEqual([ok('from-command\n'), ok('')])
    expect(conns).toHaveLength(0)
    expect(readFileSync(trace, 'utf8')).toBe('ran\n')
    expect(existsSync(done)).toBe(true)
    expect(c.execCount).toBe(1) // one batch, no extra exec
  })

  it('a failed change ends the batch before the socket read: results up to the failure, the socket never opened', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const r = await c.runBatch([
      { command: cmd('echo', 'read-first') },
      { command: script('echo nope >&2; exit 1'), stopOnError: true },
      { command: cmd('echo', 'never'), stopOnError: true },
      readPart(path, trace),
    ])
    expect(r).toEqual([ok('read-first\n'), { code: 1, stdout: '', stderr: 'nope' }])
    await new Promise((res) => setTimeout(res, 50))
    expect(conns).toHaveLength(0)
    expect(existsSync(trace)).toBe(false)
    expect(c.execCount).toBe(1)
  })
})

describe('socket reads with the run lock (holdThenBatch)', () => {
  it('start only once the holder printed its marker; the results are those of the parts', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const holder = script('sleep 0.3; echo HOLD_MARK; exec sh -s')
    const t0 = performance.now()
    const { held, results } = await c.holdThenBatch(holder, 'HOLD_MARK', 5000, [{ command: cmd('echo', 'shell-a') }, readPart(path, trace)])
    try {
      expect(results).toEqual([ok('shell-a\n'), ok('sock:answer\n')])
      expect(conns).toHaveLength(1)
      expect(conns[0]!.request).toBe(REQUEST)
      expect(conns[0]!.at - t0).toBeGreaterThanOrEqual(270) // after the holder's 0.3 s sleep (with slack)
      expect(existsSync(trace)).toBe(false)
      expect(c.execCount).toBe(1) // the holder's session only
    } finally {
      await held.release()
    }
  })

  it('a socket read whose command then times out ends the holder: the run lock is free at once', async () => {
    const lock = join(dir, 'lock')
    const pidFile = join(dir, 'holder.pid')
    const holder = script('exec 9>>"$1"; flock -x -w 1 9 || exit 75; echo $$ > "$2"; echo HOLD_MARK; exec sh -s', lock, pidFile)
    const c = new LocalConnection('h')
    const slow: BatchPart = { command: { argv: ['sleep', '5'], timeoutMs: 300, socket: socketRead(join(dir, 'missing.sock')) } }
    await expect(c.holdThenBatch(holder, 'HOLD_MARK', 5000, [slow])).rejects.toBeInstanceOf(BatchInterruptedError)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    const alive = (): boolean => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    try {
      expect(alive()).toBe(false) // the holder ended before holdThenBatch rejected
      // and its lock with it: another holder takes it at once
      const again = await new LocalConnection('h2').holdThenBatch(script('exec 9>>"$1"; flock -x -n 9 || { echo still locked; exit 75; }; echo HOLD_MARK; exec sh -s', lock), 'HOLD_MARK', 2000, [])
      await again.held.release()
    } finally {
      if (alive()) process.kill(pid, 'SIGKILL')
    }
  })

  it('a holder that never prints its marker: no socket read', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const c = new LocalConnection('h')
    await expect(c.holdThenBatch(script('echo locked by someone; exit 75'), 'HOLD_MARK', 5000, [readPart(path, join(dir, 'trace'))]))
      .rejects.toThrow(/^h: locked by someone$/)
    await new Promise((res) => setTimeout(res, 50))
    expect(conns).toHaveLength(0)
  })
})

describe('no socket read', () => {
  it('with become: the socket would be opened as the login user', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h', { become: { enabled: true } })
    // the command's own outcome (sudo may be missing or refuse) does not matter here
    await c.runBatch([readPart(path, trace)]).catch((e: unknown) => {
      if (!(e instanceof BatchInterruptedError)) throw e
    })
    expect(c.execCount).toBe(1)
    expect(conns).toHaveLength(0)
    // the same read without become is made on the socket
    expect(await new LocalConnection('h').runBatch([readPart(path, trace)])).toEqual([ok('sock:answer\n')])
    expect(conns).toHaveLength(1)
  })
})

describe('-v', () => {
  it('logs a socket read with kind `socket` (its path and what it asks), execs without it', async () => {
    const path = join(dir, 'db.sock')
    await serve(path, (_req, sock) => sock.write('answer\n'))
    const calls: Array<{ host: string; line: string; kind: string | undefined }> = []
    const c = new LocalConnection('h', { log: (host, line, kind) => calls.push({ host, line, kind }) })
    await c.runBatch([{ command: cmd('echo', 'shell-a') }, readPart(path, join(dir, 'trace'))])
    const sock = calls.filter((x) => x.kind === 'socket')
    const execs = calls.filter((x) => x.kind !== 'socket')
    expect(sock).toEqual([{ host: 'h', line: `${path}: read state`, kind: 'socket' }])
    expect(execs).toHaveLength(1)
    expect(execs[0]!.kind === undefined || execs[0]!.kind === 'exec').toBe(true)
    expect(execs[0]!.line).toBe('echo shell-a')

    // a failed read says so, with kind `socket`, and its command's exec is logged as an exec
    calls.length = 0
    const missing = join(dir, 'missing.sock')
    await c.runBatch([readPart(missing, join(dir, 'trace'))])
    expect(calls.filter((x) => x.kind === 'socket').map((x) => x.line)).toEqual([
      `${missing}: read state`,
      expect.stringMatching(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ENOENT.*; running the command instead$`)),
    ])
    const fallback = calls.filter((x) => x.kind !== 'socket')
    expect(fallback).toHaveLength(1)
    expect(fallback[0]!.line).toContain('from-command')
  })
})

describe('transactOnSocket: an OVSDB transact on ovsdb-server\'s socket', () => {
  const T = JSON.stringify(['Open_vSwitch', { op: 'select', table: 'Bridge', where: [], columns: ['name'] }])
  const RESULT = [
    {
      rows: [{
        name: 'br0', _uuid: ['uuid', 'u-b'], ports: ['set', [['uuid', 'u-p0'], ['uuid', 'u-p1']]], datapath_type: '',
        fail_mode: 'secure', external_ids: ['map', [['owner', 'vxlab']]],
      }],
    },
    {
      rows: [
        { name: 'p0', _uuid: ['uuid', 'u-p0'], interfaces: ['uuid', 'u-i0'], external_ids: ['map', []] },
        { name: 'p1', _uuid: ['uuid', 'u-p1'], interfaces: ['uuid', 'u-i1'], external_ids: ['map', []] },
      ],
    },
    {
      rows: [
        { name: 'p0', _uuid: ['uuid', 'u-i0'], type: 'internal', options: ['map', []], external_ids: ['map', []], mtu_request: ['set', []], mtu: 1500, ofport: 1, error: ['set', []] },
        { name: 'p1', _uuid: ['uuid', 'u-i1'], type: 'vxlan', options: ['map', [['remote_ip', '10.0.0.2']]], external_ids: ['map', []], mtu_request: 1450, mtu: ['set', []], ofport: -1, error: 'could not open network device p1 (No such device)' },
      ],
    },
  ]
  const reply = (id: unknown, result: unknown, error: unknown = null) => JSON.stringify({ id, result, error })
  /** What `ovsdb-client transact` prints for RESULT: the result array as JSON, one line. */
  const ovsdbClientPrints = `${JSON.stringify(RESULT)}\n`

  it('sends a JSON-RPC transact request (RFC 7047 4.1.3) on the default socket', () => {
    const s = transactOnSocket(T)
    expect(s.path).toBe(OVSDB_SOCKET)
    expect(JSON.parse(s.request)).toEqual({ method: 'transact', params: JSON.parse(T), id: 'vxlab' })
    expect(s.shown).toBe(`transact ${T}`)
    // the state fact reads the same transaction as its command
    const fact = ovsStateFact.command
    expect(fact.socket).toBeDefined()
    expect(JSON.parse(fact.socket!.request).params).toEqual(JSON.parse(fact.argv[3]!))
  })

  it('an incomplete reply is no answer yet; a reply in two chunks is complete only when whole', () => {
    const { answer } = transactOnSocket(T)
    const whole = reply('vxlab', RESULT)
    expect(answer('')).toBeUndefined()
    expect(answer('{"id":"vxlab","result":[{"rows":[]}')).toBeUndefined()
    // a first chunk that ends with `}` (the end of an inner object) is still incomplete
    const cut = whole.indexOf('}') + 1
    expect(whole[cut - 1]).toBe('}')
    expect(answer(whole.slice(0, cut))).toBeUndefined()
    expect(answer(whole.slice(0, -1))).toBeUndefined()
    expect(answer(whole)).toBe(ovsdbClientPrints)
    expect(answer(`${whole}\n`)).toBe(ovsdbClientPrints)
  })

  it('a success reply is the result that `ovsdb-client transact` prints, which parseOvsState reads the same', () => {
    const { answer } = transactOnSocket(T)
    const out = answer(reply('vxlab', RESULT))!
    expect(out).toBe(ovsdbClientPrints)
    const state = parseOvsState(out)
    expect(state).toEqual(parseOvsState(ovsdbClientPrints))
    expect(state.bridges.br0).toEqual({ name: 'br0', uuid: 'u-b', datapathType: 'system', failMode: 'secure', externalIds: { owner: 'vxlab' }, ports: ['p0', 'p1'] })
    expect(state.ports.p1).toEqual({ name: 'p1', uuid: 'u-p1', bridge: 'br0', interfaces: ['p1'], externalIds: {} })
    expect(state.interfaces.p1).toEqual({
      name: 'p1', uuid: 'u-i1', type: 'vxlan', options: { remote_ip: '10.0.0.2' }, externalIds: {}, mtuRequest: 1450, ofport: -1,
      error: 'could not open network device p1 (No such device)',
    })
    expect(answer(reply('vxlab', [{ rows: [] }, { rows: [] }, { rows: [] }]))).toBe('[{"rows":[]},{"rows":[]},{"rows":[]}]\n')
  })

  it('refuses an error reply, a failed operation, a reply of another id, a result that is no array', () => {
    const { answer } = transactOnSocket(T)
    expect(() => answer(reply('vxlab', null, 'unknown database'))).toThrow(/^ovsdb-server: "unknown database"$/)
    expect(() => answer(reply('vxlab', null, { error: 'syntax error', details: 'x' }))).toThrow(/ovsdb-server: .*syntax error/)
    expect(() => answer(reply('vxlab', [{ rows: [] }, { error: 'constraint violation', details: 'no table' }]))).toThrow(/ovsdb-server: .*constraint violation/)
    expect(() => answer(reply('other', RESULT))).toThrow(/^ovsdb-server sent something other than the reply: /)
    expect(() => answer(JSON.stringify({ id: 'echo', method: 'echo', params: [] }))).toThrow(/something other than the reply/)
    expect(() => answer(reply('vxlab', { rows: [] }))).toThrow(/^ovsdb-server: /)
    expect(() => answer(reply('vxlab', [null]))).toThrow(/^ovsdb-server: /)
  })

  it('end to end on a local connection: a fake ovsdb-server answering in two chunks gives the state, no exec', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, () => undefined)
    const gotRequest = new Promise<Socket>((resolve) => {
      const s = servers[0]!
      s.on('connection', (sock) => sock.on('data', () => resolve(sock)))
    })
    const whole = reply('vxlab', RESULT)
    void gotRequest.then((sock) => {
      sock.write(whole.slice(0, 40))
      setTimeout(() => sock.write(whole.slice(40)), 50)
    })
    // without its check (which asks this machine's OVS_RUNDIR and PATH: the tests below)
    const { check: _check, ...socket } = { ...ovsStateFact.command.socket!, path }
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const r = await c.runBatch([{ command: { ...traced(trace, 'from-command'), socket } }])
    expect(r).toEqual([ok(ovsdbClientPrints)])
    expect(ovsStateFact.parse({ code: 0, stdout: r[0]!.stdout, stderr: '' })).toEqual(parseOvsState(ovsdbClientPrints))
    expect(c.execCount).toBe(0)
    expect(existsSync(trace)).toBe(false)
    expect(conns).toHaveLength(1)
    expect(JSON.parse(conns[0]!.request)).toEqual({ method: 'transact', params: JSON.parse(ovsStateFact.command.argv[3]!), id: 'vxlab' })
  })
})

describe('the socket\'s time limit', () => {
  it('is never more than the command\'s own (a silent daemon costs at most that before the command runs)', async () => {
    const path = join(dir, 'db.sock')
    await serve(path, () => undefined)
    const trace = join(dir, 'trace')
    const c = new LocalConnection('h')
    const t0 = performance.now()
    const r = await c.runBatch([{ command: { ...traced(trace, 'from-command'), timeoutMs: 150, socket: socketRead(path) } }])
    const ms = performance.now() - t0
    expect(r).toEqual([ok('from-command\n')])
    expect(ms).toBeGreaterThanOrEqual(140)
    expect(ms).toBeLessThan(900) // not the default 1000 ms of DEFAULT_SOCKET_TIMEOUT_MS
  })
})

describe('a socket check (SocketRead.check)', () => {
  it('that prints ok: the socket is used; asked once per connection, in the batch\'s shell', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const trace = join(dir, 'trace')
    const checks = join(dir, 'checks')
    const socket: SocketRead = { ...socketRead(path), check: script('echo x >> "$1"; echo ok', checks) }
    const c = new LocalConnection('h')
    const part: BatchPart = { command: { ...traced(trace, 'from-command'), socket } }
    expect(await c.runBatch([part])).toEqual([ok('sock:answer\n')])
    expect(c.execCount).toBe(1) // the check's shell
    expect(await c.runBatch([part])).toEqual([ok('sock:answer\n')])
    expect(c.execCount).toBe(1) // checked already: no shell needed
    expect(readFileSync(checks, 'utf8')).toBe('x\n')
    expect(conns).toHaveLength(2)
    expect(existsSync(trace)).toBe(false)
  })

  it('that never ran (the batch was cut short before it): the socket\'s answer is no result', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('answer\n'))
    const socket: SocketRead = { ...socketRead(path), check: script('echo ok') }
    const c = new LocalConnection('h')
    const e = await c.runBatch([
      { command: { ...traced(join(dir, 'trace'), 'from-command'), socket } },
      { command: { argv: ['sleep', '5'], timeoutMs: 300 } },
    ]).then(() => undefined, (x: unknown) => x)
    expect(e).toBeInstanceOf(BatchInterruptedError)
    expect(conns).toHaveLength(1) // the socket did answer, beside the shell
    expect((e as BatchInterruptedError).completed).toEqual([])
    expect((e as BatchInterruptedError).failedPart).toBe(1)
  })

  it('that prints why not: the socket\'s answer is not used, the command runs, then and for the rest of the connection', async () => {
    const path = join(dir, 'db.sock')
    const conns = await serve(path, (_req, sock) => sock.write('wrong database\n'))
    const trace = join(dir, 'trace')
    const lines: string[] = []
    const socket: SocketRead = { ...socketRead(path), check: script('echo "OVS_RUNDIR is /elsewhere"') }
    const c = new LocalConnection('h', { log: (_h, line, kind) => lines.push(`${kind ?? 'exec'} ${line}`) })
    const part: BatchPart = { command: { ...traced(trace, 'from-command'), socket } }
    expect(await c.runBatch([part])).toEqual([ok('from-command\n')])
    expect(lines).toContain(`socket ${path}: not used: OVS_RUNDIR is /elsewhere; running the command instead`)
    const before = conns.length
    expect(await c.runBatch([part])).toEqual([ok('from-command\n')])
    expect(conns).toHaveLength(before) // not tried again
    expect(readFileSync(trace, 'utf8')).toBe('ran\nran\n')
    expect(c.execCount).toBe(3) // check + socket read beside it, the fallback, then the command in the batch
  })
})

describe('OVSDB_SOCKET_CHECK: does ovsdb-client use /var/run/openvswitch/db.sock?', () => {
  const run = async (env: string[]): Promise<string> => {
    const [, , body = '', , ...args] = OVSDB_SOCKET_CHECK.argv
    const r = await new LocalConnection('h').run({ argv: ['env', '-i', ...env, '/bin/sh', '-c', body, 'sh', ...args] })
    expect(r.code).toBe(0)
    return r.stdout.trim()
  }
  it('not when OVS_RUNDIR points elsewhere', async () => {
    expect(await run(['OVS_RUNDIR=/tmp/ovs-other', 'PATH=/usr/bin:/bin'])).toBe('OVS_RUNDIR is /tmp/ovs-other: ovsdb-client would use /tmp/ovs-other/db.sock')
  })
  it('not when the ovsdb-client on PATH is not in a system folder (a build under /usr/local, say)', async () => {
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'ovsdb-client'), '#!/bin/sh\n', { mode: 0o755 })
    expect(await run([`PATH=${bin}:/usr/bin:/bin`])).toBe(`ovsdb-client is ${bin}/ovsdb-client, not a distribution's: its run directory may not be /var/run/openvswitch`)
  })
  it('ok for a distribution\'s ovsdb-client with OVS_RUNDIR unset or the default; else no ovsdb-client at all', async () => {
    const packaged = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => existsSync(join(d, 'ovsdb-client')))
    const want = packaged ? 'ok' : 'no ovsdb-client on PATH'
    expect(await run(['PATH=/usr/bin:/bin:/usr/sbin:/sbin'])).toBe(want)
    expect(await run(['OVS_RUNDIR=/var/run/openvswitch', 'PATH=/usr/bin:/bin:/usr/sbin:/sbin'])).toBe(want)
    expect(await run([`PATH=${dir}`])).toBe('no ovsdb-client on PATH')
  })
  it('is the check of the OVS state\'s socket read', () => {
    expect(ovsStateFact.command.socket?.check).toBe(OVSDB_SOCKET_CHECK)
  })
})
