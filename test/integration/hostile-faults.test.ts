/**
 * Issue #7, faults during a run, on the testbed: a host unreachable before the run, sshd killed in the middle
 * of a host's tasks, dockerd or ovsdb-server down, a regenerated host key, two runs at once, connect and
 * command timeouts. Each fault is applied with lib/testbed's `withFault`, which restores the host (services
 * up and answering, the original host key) even when a test fails.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { playbook } from '../../lib/core/playbook.ts'
import { command } from '../../lib/tasks/command.ts'
import { containerPort, dockerContainer } from '../../lib/tasks/docker.ts'
import { template } from '../../lib/tasks/file.ts'
import { ovsBridge } from '../../lib/tasks/ovs.ts'
import { ensureTestbed, hostExec, startService, testbedDir, withFault } from '../../lib/testbed/index.ts'
import { runDir } from '../../lib/testbed/paths.ts'
import { cleanupHostile, cli, failures, hostileBook, hostileCounts, KILLED_MARK, work } from './hostile-helpers.ts'

/** Every mutating command vxlab's tasks could send; none may follow a failed read. */
const MUTATING = /(add-br|del-br|add-port|del-port|\bset\b (Interface|Port|Bridge)|docker (run|rm|create|start|stop|build|update)|ip (link|addr|address|route) (add|del|set|replace)|iptables( -t \w+)? -[ADIR] |sysctl -w|mv -f)/

const converged = {
  ports: ['container port', 'hxint', 'hxvx'],
  bridges: 1,
  rules: 1,
  containers: 1,
  running: 'true',
  addresses: 1,
  attachments: 1,
}

beforeAll(async () => {
  await ensureTestbed({ hosts: 2 })
  await cleanupHostile()
})
afterAll(async () => {
  // whatever happened above: every service up (withFault restores, this is the belt to its braces), then clean
  for (const h of ['host1', 'host2']) for (const s of ['sshd', 'ovsdb-server', 'dockerd'] as const) await startService(h, s)
  await cleanupHostile()
})

describe('faults during a run', () => {
  it('a host unreachable before the run: the others converge, the recap marks it unreachable, exit 1; a rerun converges it', async () => {
    const r = await withFault({ host: 'host2', stop: 'sshd' }, () => cli(hostileBook(), ['--connect-timeout', '3']))
    expect(r.code).toBe(1)
    expect(r.report.hosts.host2).toMatchObject({ unreachable: 1, changed: 0, failed: 0, execs: 0 })
    expect(r.report.hosts.host1).toMatchObject({ unreachable: 0, failed: 0 })
    expect(r.report.hosts.host1!.changed).toBeGreaterThanOrEqual(8)
    expect(r.out).toMatch(/host2: unreachable: root@172\.16\.99\.102:22: connect ECONNREFUSED/)
    expect(r.out).toMatch(/host2\s+: ok=0\s+changed=0\s+unreachable=1\s+failed=0/)
    expect(await hostileCounts('host1')).toMatchObject(converged)

    const again = await cli(hostileBook())
    expect(failures(again.report)).toEqual([])
    expect(again.code).toBe(0)
    expect(again.report.hosts.host1).toMatchObject({ changed: 0, failed: 0 })
    expect(again.report.hosts.host2!.changed).toBeGreaterThanOrEqual(8)
    expect(await hostileCounts('host2')).toMatchObject(converged)
  })

  it('sshd killed in the middle of a host\'s tasks: that host fails clearly, the other completes; a rerun finishes with no duplicates', async () => {
    await cleanupHostile()
    const r = await withFault({ host: 'host2', ensure: ['sshd'] }, () => cli(hostileBook({ killSshdOn: 'host2' })))
    expect(r.code).toBe(1)
    expect(r.report.hosts.host1).toMatchObject({ failed: 0, unreachable: 0 })
    expect(await hostileCounts('host1')).toMatchObject(converged)
    const h2 = r.report.tasks.filter((t) => t.host === 'host2')
    const failed = h2.filter((t) => t.status === 'failed')
    expect(failed.map((t) => t.key)).toEqual(['command[kill sshd]'])
    expect(failed[0]!.error).toMatch(/^host2: connection lost while running `sh -c .*` \(it may have run partly\): the exec ended without an exit status \(its session or sshd was killed, or the host went down\)/)
    expect(h2.find((t) => t.key === 'docker.containerPort[hxc:eth0]')!.error).toBe('not run: command[kill sshd] failed on this host')
    // the work before the kill is done, the rest is reported as not done
    expect(Object.fromEntries(h2.map((t) => [t.key, t.status]))).toMatchObject({
      'ovs.bridge[hxbr]': 'changed',
      'docker.container[hxc]': 'changed',
      'docker.containerPort[hxc:eth0]': 'skipped',
      'file.template[/etc/vxlab-hostile.conf]': 'skipped',
    })
    const partial = await hostileCounts('host2')
    expect(partial).toMatchObject({ bridges: 1, rules: 1, containers: 1, attachments: 0, addresses: 0, file: '' })
    expect((await hostExec('host2', ['test', '-e', KILLED_MARK])).code).toBe(0)

    // sshd is back (withFault): the rerun finishes the partial work, and adds nothing twice
    const again = await cli(hostileBook({ killSshdOn: 'host2' }))
    expect(failures(again.report)).toEqual([])
    expect(again.code).toBe(0)
    const st = Object.fromEntries(again.report.tasks.filter((t) => t.host === 'host2').map((t) => [t.key, t.status]))
    expect(st).toMatchObject({
      'ovs.bridge[hxbr]': 'ok',
      'ovs.port[hxint]': 'ok',
      'ovs.vxlanPort[hxvx]': 'ok',
      'docker.container[hxc]': 'ok',
      'command[kill sshd]': 'ok',
      'docker.containerPort[hxc:eth0]': 'changed',
      'file.template[/etc/vxlab-hostile.conf]': 'changed',
    })
    expect(await hostileCounts('host2')).toMatchObject({ ...converged, file: 'host host2', containerAddr: '10.99.2.10/24' })
    const third = await cli(hostileBook({ killSshdOn: 'host2' }))
    expect(third.report.hosts.host2).toMatchObject({ changed: 0, failed: 0 })
  })

  /** Lines of the -v exec log that change something (there must be none after a failed read). */
  const mutations = (out: string): string[] => out.split('\n').filter((l) => / exec: /.test(l) && MUTATING.test(l))

  for (const svc of ['dockerd', 'ovsdb-server'] as const) {
    it(`${svc} stopped: the error names ${svc}, nothing is reported absent, no command that changes anything is sent`, async () => {
      // converged first: were a daemon that is down read as "nothing there", the plans would create and delete
      const ok = await cli(hostileBook())
      expect(failures(ok.report)).toEqual([])
      const attachOnly = playbook({
        name: 'attach',
        plays: [{ name: 'attach', hosts: 'host1', tasks: () => [
          containerPort({ bridge: 'hxbr', container: 'hxc', address: '10.99.1.10/24', gateway: '10.99.1.1' }),
          dockerContainer({ name: 'hxc', image: 'con_img', network: 'none' }),
          ovsBridge({ name: 'hxbr', datapathType: 'netdev' }),
        ] }],
      })
      const [full, attach] = await withFault({ host: 'host1', stop: svc }, async () => [
        await cli(hostileBook(), ['--limit', 'host1', '-v']),
        await cli(attachOnly, ['-v']),
      ])
      for (const r of [full, attach]) {
        expect(r.code).toBe(1)
        const h1 = r.report.tasks.filter((t) => t.host === 'host1')
        const failed = h1.filter((t) => t.status === 'failed')
        expect(failed.length, r.out).toBe(1)
        // named by the runner (a read that exited non-zero) or by the fact itself (docker's exit 1 is also "No such ...")
        expect(failed[0]!.error).toMatch(new RegExp(`^(reading \\S+ failed \\(${svc} did not answer; is it running\\?\\)|parsing \\S+ failed: ${svc} did not answer \\(is it running\\?\\)): `))
        expect(failed[0]!.error).toMatch(svc === 'dockerd' ? /Cannot connect to the Docker daemon/ : /database connection failed|No such file or directory/)
        expect(h1.filter((t) => t.status === 'changed')).toEqual([])
        expect(mutations(r.out)).toEqual([])
        expect(r.out).toMatch(/host1\s+exec: /) // the -v log is there (so "no mutation" is not vacuous)
      }
      expect(full.report.tasks.find((t) => t.status === 'failed')!.key).toBe(svc === 'dockerd' ? 'docker.image[con_img]' : 'ovs.bridge[hxbr]')
      expect(attach.report.tasks.find((t) => t.status === 'failed')!.key).toBe('docker.containerPort[hxc:eth0]')
      // with the daemon back nothing was lost: a rerun converges (a dockerd that died stops its containers,
      // which the rerun starts and attaches again), with no duplicate
      const after = await cli(hostileBook(), ['--limit', 'host1'])
      expect(failures(after.report)).toEqual([])
      expect(await hostileCounts('host1')).toMatchObject({ ...converged, containerAddr: '10.99.1.10/24' })
    })
  }

  it('a regenerated host key: the host is refused before any command, naming host, expected and offered fingerprints; the other proceeds', async () => {
    const log = join(runDir(), 'logs', 'host2', 'sshd.log')
    const accepted = (): number => (readFileSync(log, 'utf8').match(/Accepted publickey/g) ?? []).length
    const { r, info, logins } = await withFault({ host: 'host2', newHostKey: true }, async (info) => {
      const before = accepted()
      const r = await cli(hostileBook())
      return { r, info, logins: accepted() - before }
    })
    expect(info.oldFingerprint).toMatch(/^SHA256:/)
    expect(info.newFingerprint).not.toBe(info.oldFingerprint)
    expect(r.code).toBe(1)
    expect(r.report.hosts.host2).toMatchObject({ unreachable: 1, execs: 0, changed: 0 })
    expect(r.report.hosts.host1).toMatchObject({ unreachable: 0, failed: 0 })
    const msg = `host2: unreachable: HOST KEY CHANGED for 172.16.99.102:22: expected ${info.oldFingerprint}, offered ${info.newFingerprint} (${join(testbedDir(), 'known_hosts')}); refusing to connect`
    expect(r.out).toContain(msg)
    expect(r.report.tasks.find((t) => t.host === 'host2')!.error).toBe(msg)
    expect(logins).toBe(0) // refused before authentication: no session, no command
  })

  it('two runs at once never interleave on a host: the second waits for the lock, or says who holds it', async () => {
    const LOG = '/tmp/vxlab-hostile-lock.log'
    await hostExec('host1', ['rm', '-f', LOG])
    // (with a file task, so even check mode reads the host: a run that reads nothing takes no lock)
    const locker = (secs: number) => playbook({
      name: 'hostile-lock',
      plays: [{ name: 'lock', hosts: 'host1', tasks: () => [
        template({ dest: '/tmp/vxlab-hostile-lock.conf', src: { inline: 'locked\n' } }),
        command({ name: 'critical section', script: 'echo "start $$" >> "$1"; sleep "$2"; echo "end $$" >> "$1"', args: [LOG, String(secs)] }),
      ] }],
    })
    // two apply runs started together: both succeed, one after the other
    const [a, b] = await Promise.all([cli(locker(1)), cli(locker(1))])
    expect([a.code, b.code]).toEqual([0, 0])
    const lines = (await hostExec('host1', ['cat', LOG])).stdout.trim().split('\n').map((l) => l.split(' ')[0])
    expect(lines).toEqual(['start', 'end', 'start', 'end'])
    // a run that holds the host for 3 s; an apply and a check run with --lock-timeout 1 give up, naming the holder
    const long = cli(locker(3))
    await new Promise((r) => setTimeout(r, 1_000))
    const [apply, check] = await Promise.all([cli(locker(0), ['--lock-timeout', '1']), cli(locker(0), ['--lock-timeout', '1', '--check'])])
    for (const r of [apply, check]) {
      expect(r.code).toBe(1)
      expect(r.report.hosts.host1).toMatchObject({ failed: 1, changed: 0, ok: 0 })
      expect(r.report.tasks.every((t) => t.status !== 'changed')).toBe(true)
      expect(r.out).toMatch(/host1: run lock not taken: locked by vxlab apply run of playbook hostile-lock, pid \d+ on \S+, since \S+ \(waited 1 s for \/run\/vxlab\.lock\)/)
    }
    expect((await long).code).toBe(0)
    const all = (await hostExec('host1', ['cat', LOG])).stdout.trim().split('\n').map((l) => l.split(' ')[0])
    expect(all).toEqual(['start', 'end', 'start', 'end', 'start', 'end'])
    await hostExec('host1', ['rm', '-f', LOG, '/tmp/vxlab-hostile-lock.conf'])
  })

  it('connect timeout: the host that does not answer is unreachable with the limit named, the others run', async () => {
    const inv = parse(readFileSync(join(testbedDir(), 'inventory.yml'), 'utf8')) as { all: { children: Record<string, unknown> } }
    // an unused address inside the testbed's management network: nothing answers there
    inv.all.children.ghosts = { hosts: { ghost: { ansible_host: '172.16.99.250' } } }
    const file = join(work, 'ghost.yml')
    writeFileSync(file, stringify(inv))
    const pb = playbook({ name: 'ghost', plays: [{ name: 'p', hosts: 'host1,ghost', tasks: () => [command({ name: 'noop', argv: ['true'], unless: ['true'] })] }] })
    const r = await cli(pb, ['--connect-timeout', '1'], { inventory: file })
    expect(r.code).toBe(1)
    expect(r.report.hosts.ghost).toMatchObject({ unreachable: 1, execs: 0 })
    expect(r.report.hosts.host1).toMatchObject({ ok: 1, failed: 0 })
    expect(r.out).toContain('ghost: unreachable: root@172.16.99.250:22: connect timed out after 1000 ms')
    expect(r.report.tasks.find((t) => t.host === 'ghost')!.error).toContain('connect timed out after 1000 ms')
    expect(r.ms).toBeLessThan(5_000)
  })

  it('command timeout: the task fails naming host, task, command and the limit; the host is left as it was told', async () => {
    const pb = playbook({
      name: 'slow',
      plays: [{ name: 'p', hosts: 'host1', tasks: () => [
        template({ dest: '/tmp/vxlab-hostile-a', src: { inline: 'a\n' } }),
        command({ name: 'sleep', argv: ['sleep', '7.31'] }),
        template({ dest: '/tmp/vxlab-hostile-b', src: { inline: 'b\n' } }),
      ] }],
    })
    const t0 = Date.now()
    const r = await cli(pb, ['--command-timeout', '1'])
    expect(r.code).toBe(1)
    const t = r.report.tasks.find((x) => x.status === 'failed')!
    expect(t.key).toBe('command[sleep]')
    expect(t.error).toBe('host1: command timed out after 1000 ms: sleep 7.31')
    expect(r.out).toMatch(/command\[sleep\].*\n?.*host1: command timed out after 1000 ms: sleep 7\.31/)
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(r.report.tasks.find((x) => x.key === 'file.template[/tmp/vxlab-hostile-b]')).toMatchObject({ status: 'skipped', error: 'not run: command[sleep] failed on this host' })
    // the timed-out command does not live on behind vxlab's back (it would race the next run)
    const left = await hostExec('host1', ['sh', '-c', 'ps -eo pid,args | grep -c "[s]leep 7$"'])
    expect(left.stdout.trim()).toBe('0')
    await hostExec('host1', ['rm', '-f', '/tmp/vxlab-hostile-a', '/tmp/vxlab-hostile-b'])
  })
})
