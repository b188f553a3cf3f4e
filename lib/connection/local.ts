import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { BaseConnection, type ConnectionOptions, type ExecWatch, type RawExecResult, type RawStream, type SocketLimits, socketExchange } from './base.ts'

/** `ansible_connection: local`: runs commands on the controller with /bin/sh, no SSH. */
export class LocalConnection extends BaseConnection {
  constructor(host: string, opts: ConnectionOptions = {}) {
    super(host, opts)
  }

  protected execRaw(commandLine: string, stdin: string | Uint8Array | undefined, timeoutMs: number, watch?: ExecWatch): Promise<RawExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', commandLine], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
      const out: Buffer[] = []
      const err: Buffer[] = []
      let timedOut = false
      const expire = (): void => {
        if (timedOut) return
        timedOut = true
        clearTimeout(timer)
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL') // the whole process group
        } catch {
          child.kill('SIGKILL')
        }
        // at once, as over SSH: a part in a process group of its own (timeout(1)) may keep the pipes open a while
        resolve({ code: null, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut: true })
      }
      const timer = setTimeout(expire, timeoutMs)
      watch?.signal.addEventListener('abort', expire, { once: true })
      child.stdout.on('data', (b: Buffer) => {
        out.push(b)
        watch?.onStdout(b)
      })
      child.stderr.on('data', (b: Buffer) => err.push(b))
      child.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        if (!timedOut) resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut: false })
      })
      child.stdin.on('error', () => undefined)
      child.stdin.end(stdin === undefined ? undefined : Buffer.from(stdin))
    })
  }

  protected async streamRaw(commandLine: string, onOutput: (chunk: Buffer) => void, stdin?: string | Uint8Array): Promise<RawStream> {
    // a process group of its own, as sshd gives a session: a run-lock holder may kill its group (base.ts holdThenBatch)
    const child = spawn('/bin/sh', ['-c', commandLine], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    child.stdout.on('data', onOutput)
    child.stderr.on('data', onOutput)
    child.stdin.on('error', () => undefined)
    if (stdin !== undefined) child.stdin.write(Buffer.from(stdin))
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)))
    return { end: () => child.stdin.end(), exited }
  }

  /** A unix socket of this machine, opened by the controller itself (no process). */
  protected override socketRaw(path: string, request: string, complete: (received: string) => boolean, limits: SocketLimits): Promise<string | undefined> {
    return new Promise((resolve) => {
      const sock = connect(path)
      const failed = (e: Error): void => done(e.message)
      const timer = setTimeout(() => done(`not open within ${limits.openMs} ms`), limits.openMs)
      const done = (why: string | undefined): void => {
        clearTimeout(timer)
        sock.off('error', failed)
        sock.destroy()
        resolve(why)
      }
      sock.once('error', failed)
      sock.once('connect', () => {
        clearTimeout(timer)
        sock.off('error', failed)
        void socketExchange(sock, request, complete, limits.answerMs).then(done)
      })
    })
  }

  async close(): Promise<void> {}
}
