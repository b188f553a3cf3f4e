import type { Command } from '../../lib/core/command.ts'
import type { BatchPart, Connection, ExecResult } from '../../lib/connection/types.ts'

/**
 * A recording fake connection for runner tests: a host whose state is a key/value map, driven by
 * `kv-get KEY` (exit 1 when absent, 2 when the "daemon" is down) and `kv-set KEY VALUE`.
 */
export class FakeHost implements Connection {
  readonly commands: string[][] = []
  execCount = 0
  readonly state = new Map<string, string>()
  /** Keys whose kv-set is silently ignored (a task that never converges). */
  readonly sticky = new Set<string>()
  /** Keys whose kv-set fails. */
  readonly failing = new Set<string>()
  daemonDown = false

  constructor(readonly host: string) {}

  #one(c: Command): ExecResult {
    this.commands.push([...c.argv])
    const [prog, key = '', value = ''] = c.argv
    if (this.daemonDown) return { code: 2, stdout: '', stderr: 'kv daemon is not running' }
    if (prog === 'kv-get') {
      const v = this.state.get(key)
      return v === undefined ? { code: 1, stdout: '', stderr: 'no such key' } : { code: 0, stdout: v, stderr: '' }
    }
    if (prog === 'kv-set') {
      if (this.failing.has(key)) return { code: 5, stdout: '', stderr: `cannot set ${key}` }
      if (!this.sticky.has(key)) this.state.set(key, value)
      return { code: 0, stdout: '', stderr: '' }
    }
    return { code: 127, stdout: '', stderr: `${String(prog)}: not found` }
  }

  async run(c: Command): Promise<ExecResult> {
    this.execCount++
    return this.#one(c)
  }

  async runBatch(parts: readonly BatchPart[]): Promise<ExecResult[]> {
    this.execCount++
    const out: ExecResult[] = []
    for (const p of parts) {
      const r = this.#one(p.command)
      out.push(r)
      if (p.stopOnError === true && r.code !== 0) break
    }
    return out
  }

  /** Commands that change state (anything but reads). */
  mutating(): string[][] {
    return this.commands.filter((c) => c[0] !== 'kv-get')
  }

  async close(): Promise<void> {}
}
