import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../lib/cli.ts'
import { command } from '../../lib/tasks/command.ts'
import { template } from '../../lib/tasks/file.ts'
import { playbook, runPlaybook } from '../../lib/core/playbook.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { startSshd, type TestSshd } from './sshd.ts'

let sshd: TestSshd
let work: string
beforeAll(async () => {
  sshd = await startSshd()
  work = mkdtempSync(join(tmpdir(), 'vxlab-engine-'))
})
afterAll(async () => {
  await sshd?.stop()
  rmSync(work, { recursive: true, force: true })
})

function book() {
  return playbook({
    name: 'engine',
    plays: [{
      name: 'files',
      hosts: 'all',
      tasks: () => [
        template({ dest: join(work, 'etc', 'motd'), src: { inline: 'hello {{name}}\nvni={{vni}}\n' }, vars: { name: "it's $(me)", vni: 5000 }, mode: '640' }),
        command({ name: 'marker', argv: ['sh', '-c', 'echo "$1" > "$2"', 'sh', 'made by vxlab', join(work, 'marker')], creates: join(work, 'marker') }),
      ],
    }],
  })
}

async function cli(args: string[]): Promise<{ code: number; out: string; report: any }> {
  let out = ''
  const json = join(work, `report-${Math.random()}.json`)
  const code = await runCli(book(), ['-i', sshd.inventory, '--json', json, ...args], { out: (s) => (out += s), err: (s) => (out += s) })
  return { code, out, report: existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined }
}

describe('engine over a real sshd', () => {
  it('check mode plans the template and command, changes nothing on the host', async () => {
    const r = await cli(['--check', '--diff'])
    expect(r.code).toBe(0)
    expect(r.report.check).toBe(true)
    expect(r.report.hosts.local1).toMatchObject({ changed: 2, failed: 0, execs: 1 }) // the facts are read in the run lock holder's session: one exec for both
    expect(r.out).toContain("+hello it's $(me)")
    expect(existsSync(join(work, 'etc', 'motd'))).toBe(false)
    expect(existsSync(join(work, 'marker'))).toBe(false)
  })
  it('applies for real, then a rerun reports 0 changed in one exec', async () => {
    const r = await cli([])
    expect(r.code).toBe(0)
    expect(r.report.hosts.local1).toMatchObject({ changed: 2, failed: 0 })
    expect(readFileSync(join(work, 'etc', 'motd'), 'utf8')).toBe("hello it's $(me)\nvni=5000\n")
    expect((statSync(join(work, 'etc', 'motd')).mode & 0o777).toString(8)).toBe('640')
    expect(readFileSync(join(work, 'marker'), 'utf8')).toBe('made by vxlab\n')
    const again = await cli([])
    expect(again.code).toBe(0)
    expect(again.report.hosts.local1).toMatchObject({ ok: 2, changed: 0, execs: 1 }) // the facts are read in the run lock holder's session: one exec for both
  })
  it('repairs drift made by hand and shows it as a diff in check mode first', async () => {
    writeFileSync(join(work, 'etc', 'motd'), 'edited by hand\n')
    const c = await cli(['--check', '--diff'])
    expect(c.report.tasks[0].status).toBe('changed')
    expect(c.out).toContain('-edited by hand')
    expect(readFileSync(join(work, 'etc', 'motd'), 'utf8')).toBe('edited by hand\n')
    const r = await cli([])
    expect(r.report.hosts.local1.changed).toBe(1)
    expect(readFileSync(join(work, 'etc', 'motd'), 'utf8')).toBe("hello it's $(me)\nvni=5000\n")
  })
  it('refuses a host whose key does not match known_hosts, before any command, naming both fingerprints', async () => {
    const good = readFileSync(sshd.knownHosts, 'utf8')
    const other = join(work, 'other_key')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other])
    const [t, k] = readFileSync(`${other}.pub`, 'utf8').split(' ')
    writeFileSync(sshd.knownHosts, `[127.0.0.1]:${sshd.port} ${t} ${k}\n`)
    try {
      rmSync(join(work, 'marker'))
      const r = await cli([])
      expect(r.code).toBe(1)
      expect(r.report.hosts.local1.unreachable).toBe(1)
      expect(r.out).toMatch(/local1: unreachable: HOST KEY CHANGED for 127\.0\.0\.1:\d+: expected SHA256:\S+, offered SHA256:\S+/)
      expect(existsSync(join(work, 'marker'))).toBe(false)
    } finally {
      writeFileSync(sshd.knownHosts, good)
    }
  })
  it('exits 2 on an unknown flag and on a --limit that matches no host, contacting nothing', async () => {
    expect((await cli(['--bogus'])).code).toBe(2)
    const r = await cli(['--limit', 'nosuchhost'])
    expect(r.code).toBe(2)
    expect(r.out).toMatch(/--limit "nosuchhost": no host or group named "nosuchhost"/)
  })

  it('a read that hangs (a guard reading a FIFO) times out, and its processes die and the run lock is free at once', async () => {
    const fifo = join(work, 'stuck-fifo')
    execFileSync('mkfifo', [fifo])
    const lockFile = join(work, 'run.lock')
    // (a FIFO as a template's destination is refused at once: file facts read regular files only)
    const stuck = playbook({ name: 'stuck', plays: [{ name: 'p', hosts: 'all', tasks: () => [command({ name: 'stuck', argv: ['true'], unless: ['cat', fifo] })] }] })
    const report = await runPlaybook(stuck, { inventory: Inventory.load(sshd.inventory), check: true, commandTimeoutMs: 1500, lockFile })
    const host = Object.keys(report.hosts)[0]!
    expect(report.hosts[host]!.failed).toBe(1)
    expect(report.tasks[0]!.error).toMatch(/timed out after 1500 ms/)
    // nothing of the run is left on the host: no process reading the FIFO, the lock can be taken
    const deadline = Date.now() + 5_000
    let left = ''
    while (Date.now() < deadline) {
      left = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).flatMap((d) => {
        try {
          const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ')
          return args.includes(fifo) ? [`${d}: ${args}`] : []
        } catch {
          return [] // gone meanwhile
        }
      }).join('\n')
      if (left === '') break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(left).toBe('')
    expect(execFileSync('sh', ['-c', 'flock -n -x "$1" true && echo free', 'sh', lockFile], { encoding: 'utf8' }).trim()).toBe('free')
    rmSync(fifo)
  })
})
