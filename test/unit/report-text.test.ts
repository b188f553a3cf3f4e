import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { script } from '../../lib/core/command.ts'
import { playbook, runPlaybook, type RunReport } from '../../lib/core/playbook.ts'
import type { TaskOutcome } from '../../lib/core/runner.ts'
import type { Change, Fact, Task } from '../../lib/core/task.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { changeLines, commandText, hostBlock, plainReporter, planSummary, recapText, taskLines, type TextOptions } from '../../lib/report/text.ts'
import { NETNS_CONFIG_SCRIPT } from '../../lib/tasks/docker.ts'
import { FakeHost } from './fake-connection.ts'

const CHECK: TextOptions = { check: true, diff: true, verbose: false, color: false }
const APPLY: TextOptions = { check: false, diff: false, verbose: false, color: false }

const change = (c: Partial<Change> & Pick<Change, 'op' | 'summary'>): Change => ({ commands: [], ...c })
const outcome = (key: string, status: TaskOutcome['status'], changes: Change[] = [], extra: Partial<TaskOutcome> = {}): TaskOutcome => ({ key, kind: key.split('[')[0]!, status, changes, ...extra })

describe('commands in text reports', () => {
  it('a multi-line sh -c script shows its first line, its size and its arguments; -v and the JSON keep it whole', () => {
    const c = script(NETNS_CONFIG_SCRIPT, 'doc1', 'eth0', '--move', 'vx1234_c', '--addr', '10.0.1.10/24')
    const lines = NETNS_CONFIG_SCRIPT.split('\n').length
    expect(commandText(c, false)).toBe(`sh -c "set -e …" (${lines}-line script) sh doc1 eth0 --move vx1234_c --addr 10.0.1.10/24`)
    expect(commandText(c, true)).toContain('nsenter -t')
    expect(commandText(c, true).length).toBeGreaterThan(500)
  })
  it('one-line scripts and plain commands are shown as they are', () => {
    expect(commandText(script('test -e "$1"', '/x y'), false)).toBe(`sh -c 'test -e "$1"' sh '/x y'`)
    expect(commandText({ argv: ['ovs-vsctl', '--may-exist', 'add-br', 'br1'] }, false)).toBe('ovs-vsctl --may-exist add-br br1')
    expect(commandText({ argv: ['sh', '-c', 'a\nb', 'sh', 'x'] }, false)).toBe('sh -c "a …" (2-line script) sh x')

  })
  it('a one-line command pastes into a shell as it ran (the same quoting as the connection layer)', () => {
    const odd = `it's a "test" $HOME \\ * \`id\``
    const shown = commandText({ argv: ['printf', '%s|', odd, '--comment', '-tnat'] }, false)
    expect(spawnSync('sh', ['-c', shown], { encoding: 'utf8' }).stdout).toBe(`${odd}|--comment|-tnat|`)
  })
})

describe('task lines', () => {
  it('+ create, ~ update with field: before -> after, - delete, -/+ replace, with the commands in check mode', () => {
    expect(taskLines(outcome('ovs.bridge[br1]', 'changed', [change({ op: 'create', summary: 'create bridge br1 (datapath netdev)', after: { datapathType: 'netdev' }, commands: [{ argv: ['ovs-vsctl', 'add-br', 'br1'] }] })]), CHECK)).toEqual([
      '  + ovs.bridge[br1]: create bridge br1 (datapath netdev)',
      '      $ ovs-vsctl add-br br1',
    ])
    expect(taskLines(outcome('ovs.vxlanPort[vxlan1]', 'changed', [change({
      op: 'update', summary: 'update VXLAN port vxlan1: remote_ip, key', before: { remote_ip: '172.16.20.99', key: '5000' }, after: { remote_ip: '172.16.20.100', key: '5001' },
      commands: [{ argv: ['ovs-vsctl', 'set', 'interface', 'vxlan1', 'options:remote_ip=172.16.20.100', 'options:key=5001'] }],
    })]), CHECK)).toEqual([
      '  ~ ovs.vxlanPort[vxlan1]: update VXLAN port vxlan1: remote_ip, key',
      '      remote_ip: 172.16.20.99 -> 172.16.20.100',
      '      key: 5000 -> 5001',
      '      $ ovs-vsctl set interface vxlan1 options:remote_ip=172.16.20.100 options:key=5001',
    ])
    expect(taskLines(outcome('net.route[10.0.1.0/24]', 'changed', [change({ op: 'delete', summary: 'remove route 10.0.1.0/24 via 172.16.10.100', before: { via: '172.16.10.100' }, after: { via: null } })]), APPLY)).toEqual([
      '  - net.route[10.0.1.0/24]: remove route 10.0.1.0/24 via 172.16.10.100',
      '      via: 172.16.10.100 -> null',
    ])
    expect(taskLines(outcome('ovs.port[net1]', 'changed', [change({ op: 'replace', summary: 'move port net1 from br2 to br1', before: { bridge: 'br2' }, after: { bridge: 'br1' } })]), APPLY)).toEqual([
      '  -/+ ovs.port[net1]: move port net1 from br2 to br1',
      '      bridge: br2 -> br1',
    ])
  })
  it('a task with several changes lists each under its key; a template change shows its unified diff', () => {
    const diff = 'Index: /etc/x.conf\n===================================================================\n--- /etc/x.conf\tcurrent\n+++ /etc/x.conf\tplanned\n@@ -1,1 +1,1 @@\n-a = 1\n+a = 2\n'
    expect(taskLines(outcome('sysctl[net.ipv4.ip_forward]', 'changed', [
      change({ op: 'update', summary: 'set net.ipv4.ip_forward 0 -> 1', before: { runtime: '0' }, after: { runtime: '1' } }),
      change({ op: 'update', summary: 'write /etc/x.conf', diff }),
    ]), { ...CHECK, check: false })).toEqual([
      '  ~ sysctl[net.ipv4.ip_forward]',
      '      ~ set net.ipv4.ip_forward 0 -> 1',
      '          runtime: 0 -> 1',
      '      ~ write /etc/x.conf',
      '          --- /etc/x.conf\tcurrent',
      '          +++ /etc/x.conf\tplanned',
      '          @@ -1,1 +1,1 @@',
      '          -a = 1',
      '          +a = 2',
    ])
    // without --diff the diff is left out
    expect(taskLines(outcome('file.template[/etc/x.conf]', 'changed', [change({ op: 'update', summary: 'write /etc/x.conf', diff })]), APPLY)).toEqual(['  ~ file.template[/etc/x.conf]: write /etc/x.conf'])
  })
  it('failed tasks show the error, verify tasks PASS/FAIL, ok tasks only with -v, skipped tasks always', () => {
    expect(taskLines(outcome('kv[y]', 'failed', [], { error: 'command failed (exit 5)' }), APPLY)).toEqual(['  ! kv[y] failed: command failed (exit 5)'])
    expect(taskLines(outcome('verify[ping doc1 -> doc3]', 'ok', [], { result: { ok: true, check: 'ping doc1 -> doc3', detail: 'reply after 0 lost' } }), APPLY)).toEqual(['  PASS ping doc1 -> doc3: reply after 0 lost'])
    expect(taskLines(outcome('verify[iperf3]', 'failed', [], { result: { ok: false, check: 'iperf3', detail: 'timed out' } }), APPLY)).toEqual(['  FAIL iperf3: timed out'])
    expect(taskLines(outcome('kv[x]', 'ok'), APPLY)).toEqual([])
    expect(taskLines(outcome('kv[x]', 'ok'), { ...APPLY, verbose: true })).toEqual(['  = kv[x]'])
    expect(taskLines(outcome('kv[z]', 'skipped', [], { error: 'not run: kv[y] failed on this host' }), APPLY)).toEqual(['  . kv[z] skipped: not run: kv[y] failed on this host'])
    // without a reason of its own, the one its host block gives
    expect(taskLines(outcome('kv[z]', 'skipped'), APPLY, 'not run: the host failed')).toEqual(['  . kv[z] skipped: not run: the host failed'])
  })
  it('secrets are masked in summaries, fields and commands', async () => {
    const { secret } = await import('../../lib/core/secrets.ts')
    const pw = secret('hunter2-report-test')
    const lines = taskLines(outcome('docker.container[db]', 'changed', [change({
      op: 'replace', summary: `run db with PASSWORD=${pw}`, before: { env: 'PASSWORD=old' }, after: { env: `PASSWORD=${pw}` }, commands: [{ argv: ['docker', 'run', '-e', `PASSWORD=${pw}`, 'db'] }],
    })]), CHECK).join('\n')
    expect(lines).not.toContain(pw)
    expect(lines).toContain('PASSWORD=***')
  })
})

describe('host blocks', () => {
  it('a header with counts, then the tasks that are not plainly ok', () => {
    const block = hostBlock('host1', [
      outcome('ovs.bridge[br1]', 'ok'),
      outcome('ovs.bridge[br2]', 'changed', [change({ op: 'create', summary: 'create bridge br2' })]),
      outcome('kv[y]', 'failed', [], { error: 'boom' }),
      outcome('kv[z]', 'skipped'),
    ], APPLY)
    // the skipped task is listed with why it did not run (its outcome has no reason: the failed task stopped the host)
    expect(block).toEqual(['host1: 1 changed, 1 ok, 1 failed, 1 skipped', '  + ovs.bridge[br2]: create bridge br2', '  ! kv[y] failed: boom', '  . kv[z] skipped: not run: kv[y] failed on this host'])
    expect(hostBlock('host2', [outcome('a', 'changed', [change({ op: 'create', summary: 's' })])], CHECK)[0]).toBe('host2: 1 would change, 0 ok')
    expect(hostBlock('gw', [], APPLY, { unreachable: 'gw: unreachable: connect ECONNREFUSED' })).toEqual(['gw: 0 ok, UNREACHABLE', '  gw: unreachable: connect ECONNREFUSED'])
    expect(hostBlock('gw', [], APPLY, { error: 'gw: run lock not taken' })).toEqual(['gw: 0 ok, FAILED', '  gw: run lock not taken'])
    // an error that is already a failed task's error is not repeated
    expect(hostBlock('h', [outcome('command[sleep]', 'failed', [], { error: 'h: command timed out' })], APPLY, { error: 'h: command timed out' })).toEqual(['h: 0 ok, 1 failed, FAILED', '  ! command[sleep] failed: h: command timed out'])
    // the re-read after apply timed out: the task says it was not verified; the host line does not repeat it
    expect(hostBlock('h', [outcome('command[x]', 'failed', [], { error: 'not verified after apply: h: read timed out' })], APPLY, { error: 'h: read timed out' })).toEqual(['h: 0 ok, 1 failed, FAILED', '  ! command[x] failed: not verified after apply: h: read timed out'])
    // another error than the task's is still shown
    expect(hostBlock('h', [outcome('command[x]', 'failed', [], { error: 'exit 1' })], APPLY, { error: 'h: connection lost' })).toEqual(['h: 0 ok, 1 failed, FAILED', '  ! command[x] failed: exit 1', '  h: connection lost'])
  })

  it('check and apply mode both show which tasks were skipped and why, without -v', () => {
    const t = outcome('docker.containerPort[doc1:eth0]', 'skipped', [], { error: 'not run: docker.container[doc1] failed on this host' })
    expect(taskLines(t, CHECK)).toEqual(['  . docker.containerPort[doc1:eth0] skipped: not run: docker.container[doc1] failed on this host'])
    expect(taskLines(t, APPLY)).toEqual(['  . docker.containerPort[doc1:eth0] skipped: not run: docker.container[doc1] failed on this host'])
    // a host whose read was cut short, with no task of its own failed: the host's error follows the list
    expect(hostBlock('h', [outcome('kv[a]', 'skipped'), outcome('kv[b]', 'skipped')], APPLY, { error: 'h: connection lost' })).toEqual([
      'h: 0 ok, 2 skipped, FAILED', '  . kv[a] skipped: not run: the host failed', '  . kv[b] skipped: not run: the host failed', '  h: connection lost',
    ])
    // a failed check (verify probe) does not stop its host: it is not what the skipped tasks wait for
    expect(hostBlock('h', [outcome('verify[x]', 'failed', [], { result: { ok: false, check: 'x', detail: 'no' } }), outcome('kv[b]', 'skipped')], APPLY, { error: 'h: connection lost' })[2]).toBe('  . kv[b] skipped: not run: the host failed')
  })
  it('a task that skipped itself (it keeps something on purpose) says why in every mode', () => {
    const t = outcome('ovs.bridge[br1]', 'skipped', [], { error: 'kept bridge br1: it has a port this playbook did not make (myport)', selfSkipped: true })
    const line = '  . ovs.bridge[br1] skipped: kept bridge br1: it has a port this playbook did not make (myport)'
    expect(taskLines(t, APPLY)).toEqual([line])
    expect(taskLines(t, CHECK)).toEqual([line])
    expect(hostBlock('host1', [outcome('kv[x]', 'changed', [{ op: 'delete', summary: 'x', commands: [] }]), t], APPLY)).toEqual(['host1: 1 changed, 0 ok, 1 skipped', '  - kv[x]: x', line])
  })
  it('a play header names its hosts, and a play with none ends without a colon', () => {
    let out = ''
    const ev = plainReporter(CHECK, (s) => (out += s))
    ev.playStart!('gateway router', [])
    ev.playStart!('docker hosts', ['host1', 'host2'])
    expect(out).toBe('\nPLAY [gateway router] 0 hosts\n\nPLAY [docker hosts] 2 hosts: host1, host2\n')
  })
  it('a field that is null on one side and missing on the other is not shown as a change', () => {
    const c: Change = { op: 'replace', summary: 're-attach doc1:eth0', before: { ports: [], hostEnd: null, eth0: null }, after: { bridge: 'br1', hostEnd: 'vxabc_l' }, commands: [], touches: [] }
    expect(changeLines([c], APPLY)).toEqual(['    -/+ re-attach doc1:eth0', '        ports: [] -> null', '        hostEnd: null -> vxabc_l', '        bridge: null -> br1'])
  })
  it('the live view is for terminals at least 40 columns wide, outside CI and without -v', async () => {
    const { liveView } = await import('../../lib/cli.ts')
    expect(liveView({ isTTY: true, columns: 80 }, {}, false)).toBe(true)
    expect(liveView({ isTTY: true, columns: 0 }, {}, false)).toBe(false)
    expect(liveView({ isTTY: true }, {}, false)).toBe(false)
    expect(liveView({ isTTY: true, columns: 39 }, {}, false)).toBe(false)
    expect(liveView({ isTTY: false, columns: 80 }, {}, false)).toBe(false)
    expect(liveView({ isTTY: true, columns: 80 }, { CI: 'true' }, false)).toBe(false)
    expect(liveView({ isTTY: true, columns: 80 }, {}, true)).toBe(false)
  })
  it('a play with no host says why (Ansible: "skipping: no hosts matched"): its pattern, and --limit when given', () => {
    let out = ''
    const ev = plainReporter(CHECK, (s) => (out += s))
    ev.playStart!('docker hosts', [], { pattern: 'docker_hosts', limit: 'gw' })
    ev.playStart!('spare', [], { pattern: 'spare_hosts' })
    expect(out).toBe('\nPLAY [docker hosts] 0 hosts: skipped, no host matches "docker_hosts" within --limit "gw"\n\nPLAY [spare] 0 hosts: skipped, no host matches "spare_hosts"\n')
  })
  it('a time limit in a message is a readable number of ms', async () => {
    const { CommandTimeoutError } = await import('../../lib/core/errors.ts')
    expect(new CommandTimeoutError('h', 0.1 + 0.1 + 0.1, 'true').message).toBe('h: command timed out after 0.3 ms: true')
    expect(new CommandTimeoutError('h', 120000, 'true').message).toBe('h: command timed out after 120000 ms: true')
  })

  it('hosts finishing in parallel print whole blocks, never interleaved lines', () => {
    let out = ''
    const ev = plainReporter(CHECK, (s) => (out += s))
    ev.playStart!('docker hosts', ['host1', 'host2'])
    const c = (k: string) => outcome(k, 'changed', [change({ op: 'create', summary: `create ${k}` })])
    ev.taskDone!('docker hosts', 'host1', c('a1'))
    ev.taskDone!('docker hosts', 'host2', c('b1'))
    ev.taskDone!('docker hosts', 'host1', c('a2'))
    ev.taskDone!('docker hosts', 'host2', c('b2'))
    ev.hostDone!('docker hosts', 'host2', {})
    ev.hostDone!('docker hosts', 'host1', {})
    expect(out).toBe([
      '',
      'PLAY [docker hosts] 2 hosts: host1, host2',
      'host2: 2 would change, 0 ok',
      '  + b1: create b1',
      '  + b2: create b2',
      'host1: 2 would change, 0 ok',
      '  + a1: create a1',
      '  + a2: create a2',
      '',
    ].join('\n'))
  })
})

describe('summaries', () => {
  const report: RunReport = {
    playbook: 'lab', check: true, durationMs: 1234,
    hosts: { host1: { ok: 3, changed: 4, failed: 0, skipped: 0, unreachable: 0, execs: 2 }, host2: { ok: 5, changed: 1, failed: 0, skipped: 0, unreachable: 0, execs: 2 }, gw: { ok: 5, changed: 0, failed: 0, skipped: 0, unreachable: 0, execs: 2 } },
    tasks: [
      { play: 'p', host: 'host1', key: 'a', status: 'changed', changes: [{ op: 'create', summary: '', commands: [] }, { op: 'create', summary: '', commands: [] }] },
      { play: 'p', host: 'host1', key: 'b', status: 'changed', changes: [{ op: 'update', summary: '', commands: [] }] },
      { play: 'p', host: 'host1', key: 'c', status: 'changed', changes: [{ op: 'replace', summary: '', commands: [] }] },
      { play: 'p', host: 'host2', key: 'd', status: 'changed', changes: [{ op: 'delete', summary: '', commands: [] }] },
      { play: 'p', host: 'gw', key: 'e', status: 'ok', changes: [] },
    ],
  }
  it('N to create, N to update, N to replace, N to delete on M hosts', () => {
    expect(planSummary(report)).toBe('2 to create, 1 to update, 1 to replace, 1 to delete on 2 hosts')
    expect(planSummary({ ...report, check: false })).toBe('2 created, 1 updated, 1 replaced, 1 deleted on 2 hosts')
    // after an apply run, a failed task's changes were not made: not counted
    const failed = { ...report, check: false, tasks: report.tasks.map((t) => (t.key === 'b' ? { ...t, status: 'failed' as const } : t)) }
    expect(planSummary(failed)).toBe('2 created, 0 updated, 1 replaced, 1 deleted on 2 hosts')
    expect(planSummary({ ...failed, check: true })).toBe('2 to create, 1 to update, 1 to replace, 1 to delete on 2 hosts')
    expect(recapText(report, false)).toContain('check mode: 2 to create, 1 to update, 1 to replace, 1 to delete on 2 hosts; 1.23 s')
    expect(recapText(report, false)).toContain('host1    : ok=3  changed=4  unreachable=0  failed=0  skipped=0  execs=2')
  })
})

describe('a real check-mode run through the reporter (fake hosts in parallel)', () => {
  type Cur = string | undefined
  const fact = (key: string): Fact<Cur> => ({ id: `kv:${key}`, command: { argv: ['kv-get', key] }, okExitCodes: [0, 1], parse: (o) => (o.code === 1 ? undefined : o.stdout) })
  const kv = (key: string, value: string): Task<{ key: string; value: string }, Cur> => {
    const f = fact(key)
    return {
      kind: 'kv', key: `kv[${key}]`, spec: { key, value }, facts: [f], watches: [`kv:${key}`],
      current: (s) => s.get(f),
      plan: (cur, spec) => (cur === spec.value ? [] : [{
        op: cur === undefined ? 'create' : 'update', summary: `${spec.key}=${spec.value}`, before: { value: cur ?? null }, after: { value: spec.value },
        commands: [{ argv: ['kv-set', spec.key, spec.value] }],
      }]),
    }
  }
  it('prints one block per host with + and ~ and the commands, and changes nothing', async () => {
    const hosts = { a: new FakeHost('a'), b: new FakeHost('b') }
    hosts.b.state.set('x', '0')
    let out = ''
    const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n    b: {}\n', 'fake.yml')
    const pb = playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [kv('x', '1'), kv('y', '2')] }] })
    const r = await runPlaybook(pb, { inventory, check: true, events: plainReporter(CHECK, (s) => (out += s)), connect: async (h) => hosts[h.name as 'a' | 'b'] })
    expect(hosts.a.mutating()).toEqual([])
    const blocks = out.split('\n').filter((l) => l !== '')
    const at = (h: string) => blocks.indexOf(`${h}: 2 would change, 0 ok`)
    expect(at('a')).toBeGreaterThan(0)
    expect(blocks.slice(at('b'), at('b') + 7)).toEqual([
      'b: 2 would change, 0 ok',
      '  ~ kv[x]: x=1',
      '      value: 0 -> 1',
      '      $ kv-set x 1',
      '  + kv[y]: y=2',
      '      value: null -> 2',
      '      $ kv-set y 2',
    ])
    expect(planSummary(r)).toBe('3 to create, 1 to update, 0 to replace, 0 to delete on 2 hosts')
  })
  it('a task whose read fails in an apply run: the host\'s line counts the skipped tasks as the recap does', async () => {
    const host = new FakeHost('a')
    const unreadable: Fact<string> = { id: 'bad', command: { argv: ['no-such-reader'] }, parse: (o) => o.stdout }
    const broken: Task<unknown, unknown> = { kind: 'bad', key: 'bad[1]', spec: {}, facts: [unreadable], watches: ['bad'], current: (f) => f.get(unreadable), plan: () => [] }
    // kv[x]'s change touches only its key: it waits in the apply batch, which the failed read then never sends
    const kvx = kv('x', '1')
    const pending: typeof kvx = { ...kvx, plan: (cur, spec) => kvx.plan(cur, spec).map((c) => ({ ...c, touches: ['kv:x'] })) }
    let out = ''
    const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n', 'fake.yml')
    const pb = playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [kv('x', '1'), broken, kv('y', '2')] }] })
        const r = await runPlaybook(pb, { inventory, events: plainReporter({ ...CHECK, check: false }, (s) => (out += s)), connect: async () => host })
    const h = r.hosts.a!
    expect(h.failed).toBe(1)
    expect(out).toContain(`a: ${h.changed > 0 ? `${h.changed} changed, ` : ''}${h.ok} ok, 1 failed, ${h.skipped} skipped`)
    // the tasks that did not run are listed with why, as the README and the JSON report say
    expect(out).toContain('  . kv[y] skipped: not run: bad[1] failed on this host')
    expect(out.split('\n').filter((l) => l.startsWith('  . ')).length).toBe(h.skipped)
  })
  it('the same in check mode: the plan lists the tasks a failed read leaves unplanned, and why', async () => {
    const host = new FakeHost('a')
    const unreadable: Fact<string> = { id: 'bad', command: { argv: ['no-such-reader'] }, parse: (o) => o.stdout }
    const broken: Task<unknown, unknown> = { kind: 'bad', key: 'bad[1]', spec: {}, facts: [unreadable], watches: ['bad'], current: (f) => f.get(unreadable), plan: () => [] }
    let out = ''
    const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n', 'fake.yml')
    const pb = playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [kv('x', '1'), broken, kv('y', '2'), kv('z', '3')] }] })
    const r = await runPlaybook(pb, { inventory, check: true, events: plainReporter(CHECK, (s) => (out += s)), connect: async () => host })
    expect(r.hosts.a!.skipped).toBe(2)
    const block = out.split('\n').filter((l) => l !== '').slice(1)
    expect(block[0]).toBe('a: 1 would change, 0 ok, 1 failed, 2 skipped')
    expect(block.slice(-2)).toEqual(['  . kv[y] skipped: not run: bad[1] failed on this host', '  . kv[z] skipped: not run: bad[1] failed on this host'])
  })
})
