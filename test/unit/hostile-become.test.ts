/**
 * Issue #7, secrets: the become password. The testbed hosts have no sudo, so privilege escalation is tested
 * here with a stand-in `sudo` (first on PATH) that behaves as sudo(8) does with `-n`, `-S` and `-p`: it reads
 * a password from stdin only when it needs one (NOPASSWD rules, root and cached credentials read nothing).
 * The password must reach sudo and nothing else: never the command's stdin, never a shell, never a log line,
 * report or error message.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { LocalConnection } from '../../lib/connection/local.ts'
import { runCli } from '../../lib/cli.ts'
import { cmd } from '../../lib/core/command.ts'
import { LOCK_MARKER, LOCK_REFUSED_MARKER, lockCommand } from '../../lib/core/lock.ts'
import { playbook } from '../../lib/core/playbook.ts'
import { command } from '../../lib/tasks/command.ts'

const dir = mkdtempSync(join(tmpdir(), 'vxlab-become-'))
const bin = join(dir, 'bin')
const marker = join(dir, 'pwned')
/** A password that is also a shell command creating the marker: run by a shell, it leaves a trace. */
const PASSWORD = `x;touch ${marker};#'"$(touch ${marker})`
const savedPath = process.env.PATH

const FAKE_SUDO = `#!/bin/sh
# stand-in for sudo(8): -n never prompts, -S reads the password from stdin (only when one is needed), -p PROMPT
n=0; S=0
while [ $# -gt 0 ]; do
  case "$1" in -n) n=1; shift ;; -S) S=1; shift ;; -p) shift 2 ;; --) shift; break ;; -*) shift ;; *) break ;; esac
done
echo "sudo $*" >> "$FAKE_SUDO_LOG"
if [ "$FAKE_SUDO_MODE" = password ]; then
  [ "$n" = 1 ] && { echo 'sudo: a password is required' >&2; exit 1; }
  [ "$S" = 1 ] || { echo 'sudo: a terminal is required to read the password' >&2; exit 1; }
  IFS= read -r pw || pw=''
  [ "$pw" = "$FAKE_SUDO_PASSWORD" ] || { echo 'Sorry, try again.' >&2; echo 'sudo: 1 incorrect password attempt' >&2; exit 1; }
fi
exec "$@"
`

beforeAll(() => {
  mkdirSync(bin)
  writeFileSync(join(bin, 'sudo'), FAKE_SUDO)
  chmodSync(join(bin, 'sudo'), 0o755)
  process.env.PATH = `${bin}:${savedPath ?? '/usr/bin:/bin'}`
  process.env.FAKE_SUDO_LOG = join(dir, 'sudo.log')
  process.env.FAKE_SUDO_PASSWORD = PASSWORD
})
afterEach(() => {
  if (existsSync(marker)) throw new Error(`the become password was run as a shell command (${marker} exists)`)
})
afterAll(() => {
  process.env.PATH = savedPath
  rmSync(dir, { recursive: true, force: true })
})

function conn(mode: 'nopasswd' | 'password', password: string | undefined, log?: string[]): LocalConnection {
  process.env.FAKE_SUDO_MODE = mode
  return new LocalConnection('h', {
    become: { enabled: true, ...(password !== undefined ? { password } : {}) },
    ...(log ? { log: (_h: string, l: string) => log.push(l) } : {}),
  })
}

describe('become with a password', () => {
  for (const mode of ['nopasswd', 'password'] as const) {
    it(`${mode} sudo: the command gets its own stdin, never the password, in runs and batches`, async () => {
      const c = conn(mode, PASSWORD)
      const one = await c.run({ argv: ['cat'], stdin: 'data\n' })
      expect(one).toMatchObject({ code: 0, stdout: 'data\n' })
      const none = await c.run(cmd('sh', '-c', 'cat; echo end'))
      expect(none.stdout).toBe('end\n')
      const batch = await c.runBatch([{ command: cmd('id', '-u') }, { command: { argv: ['cat'], stdin: 'part stdin' } }, { command: cmd('echo', 'last') }])
      expect(batch.map((r) => r.code)).toEqual([0, 0, 0])
      expect(batch[1]!.stdout).toBe('part stdin')
      expect(batch[2]!.stdout).toBe('last\n')
      expect(existsSync(marker)).toBe(false)
    })
  }

  it('the run lock holder (a long-running command) works with a become password', async () => {
    const c = conn('password', PASSWORD)
    const held = await c.hold(cmd('sh', '-c', 'echo READY; cat >/dev/null'), 'READY', 5_000)
    await held.release()
  })

  it('a run lock refused to a become host with a password fails at the end of its wait, not 10 s later', async () => {
    // sudo -S reads from a `cat` that copies the session's stdin: it outlives the refused holder, and the
    // session with it; the holder's refused line ends the wait instead
    const lockFile = join(dir, 'become.lock')
    const first = await new LocalConnection('first').holdThenBatch(lockCommand({ check: false, waitMs: 1000, owner: 'the first run', file: lockFile }), LOCK_MARKER, 5000, [])
    try {
      for (const how of ['holdThenBatch', 'hold'] as const) {
        const c = conn('password', PASSWORD)
        const holder = lockCommand({ check: false, waitMs: 1000, owner: 'the second run', file: lockFile })
        const t = performance.now()
        const attempt = how === 'hold' ? c.hold(holder, LOCK_MARKER, 11_000, LOCK_REFUSED_MARKER) : c.holdThenBatch(holder, LOCK_MARKER, 11_000, [], LOCK_REFUSED_MARKER)
        const err = await attempt.then(() => undefined, (e: unknown) => e as Error)
        expect(err?.message, how).toMatch(/^h: locked by the first run \(waited 1 s for .*become\.lock\)$/)
        expect(performance.now() - t, how).toBeLessThan(5000)
      }
    } finally {
      await first.held.release()
    }
  })
  it('a wrong become password fails the command with sudo\'s message; neither password appears anywhere', async () => {
    const log: string[] = []
    const c = conn('password', 'wrong-password-123', log)
    const r = await c.run(cmd('echo', 'never'))
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/Sorry, try again/)
    expect(JSON.stringify({ r, log })).not.toContain('wrong-password-123')
  })

  it('through the CLI (VXLAB_BECOME_PASSWORD, -v, --json, a failing task): the password is never shown', async () => {
    process.env.FAKE_SUDO_MODE = 'password'
    const inv = join(dir, 'inv.yml')
    writeFileSync(inv, 'all:\n  hosts:\n    local1: {ansible_connection: local, ansible_become: true}\n')
    const json = join(dir, 'report.json')
    const pb = playbook({
      name: 'become',
      plays: [{
        name: 'p', hosts: 'all', tasks: () => [
          command({ name: 'ok', argv: ['sh', '-c', 'cat; echo ran as "$(id -u)"'] }),
          // a failing command whose stderr echoes its stdin: if the password leaked into stdin it would be printed
          command({ name: 'fails', script: 'cat >&2; echo "stdin was above" >&2; exit 4', stdin: 'task stdin\n' }),
        ],
      }],
    })
    const pw = 'S3cret-become-pw'
    process.env.FAKE_SUDO_PASSWORD = pw
    process.env.VXLAB_BECOME_PASSWORD = pw
    let out = ''
    try {
      const code = await runCli(pb, ['-i', inv, '-v', '--json', json], { out: (s) => (out += s), err: (s) => (out += s) })
      expect(code, out).toBe(1)
    } finally {
      delete process.env.VXLAB_BECOME_PASSWORD
      process.env.FAKE_SUDO_PASSWORD = PASSWORD
    }
    const report = readFileSync(json, 'utf8')
    expect(out).toMatch(/command\[fails\]/)
    expect(out).toMatch(/command failed \(exit 4\).*task stdin/s)
    expect(out + report).not.toContain(pw)
    expect(out).not.toMatch(/S3cret/)
    // sudo did get it: the first task ran (as this user)
    expect(JSON.parse(report).tasks.find((t: { key: string }) => t.key === 'command[ok]').status).toBe('changed')
  })
})
