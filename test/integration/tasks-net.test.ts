/**
 * net, sysctl, iptables and packages tasks on the real testbed (host1, over SSH): create, rerun = 0
 * changed in one exec, drift made by hand (hostExec, outside vxlab) repaired, check mode reports drift and
 * changes nothing, `ensure: 'absent'` cleans up. Objects are ours alone (links tnet0/tnet0p, OVS bridge
 * tnbr with internal port tnint, 10.99.x.0/24, iptables rules on tnet0) and removed afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyTask } from '../../lib/core/task.ts'
import { ensureTestbed, hostExec } from '../../lib/testbed/index.ts'
import { iptablesMasq, iptablesRule } from '../../lib/tasks/iptables.ts'
import { ipAddress, route, setMtu } from '../../lib/tasks/net.ts'
import { packages } from '../../lib/tasks/packages.ts'
import { sysctl, sysctlFileContent } from '../../lib/tasks/sysctl.ts'
import { errors, runTasks, statuses } from './helpers.ts'

const H = 'host1'

async function x(...argv: string[]): Promise<string> {
  const r = await hostExec(H, argv)
  if (r.code !== 0) throw new Error(`${argv.join(' ')} on ${H} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}
async function tryX(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return hostExec(H, argv)
}

/** Run tasks on host1 and return the report, failing with the task errors if any failed. */
async function run(tasks: AnyTask[], check = false) {
  const r = await runTasks({ [H]: tasks }, { check })
  return r
}
function expectNoErrors(r: Awaited<ReturnType<typeof run>>): void {
  expect(errors(r)).toBe('')
}

interface AddrInfo { family: string; local: string; prefixlen: number }
async function addresses(dev: string): Promise<string[]> {
  const [l] = JSON.parse(await x('ip', '-j', 'addr', 'show', 'dev', dev)) as Array<{ addr_info: AddrInfo[] }>
  return l!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)
}
async function linkInfo(dev: string): Promise<{ mtu: number; flags: string[] }> {
  const [l] = JSON.parse(await x('ip', '-j', 'link', 'show', 'dev', dev)) as Array<{ mtu: number; flags: string[] }>
  return l!
}
async function routeTo(dst: string): Promise<Array<{ dst: string; gateway?: string; dev: string }>> {
  return JSON.parse(await x('ip', '-j', '-4', 'route', 'show', dst)) as Array<{ dst: string; gateway?: string; dev: string }>
}
/** How many times each exact rule line appears in iptables-save. */
async function countRules(lines: string[]): Promise<number[]> {
  const save = (await x('iptables-save')).split('\n')
  return lines.map((l) => save.filter((s) => s === l).length)
}

const MASQ_LINES = ['-A FORWARD -i tnet0 -j ACCEPT', '-A FORWARD -o tnet0 -j ACCEPT', '-A POSTROUTING -s 10.99.1.0/24 -j MASQUERADE']
const SYSCTL_KEY = 'net.ipv4.conf.tnet0.rp_filter'
const SYSCTL_FILE = '/etc/sysctl.d/90-vxlab-net.ipv4.conf.tnet0.rp_filter.conf'

async function deleteAllCopies(table: string, chain: string, rule: string[]): Promise<void> {
  while ((await tryX('iptables', '-t', table, '-D', chain, ...rule)).code === 0) { /* next copy */ }
}
async function cleanup(): Promise<void> {
  await tryX('ip', 'link', 'del', 'tnet0')
  await x('ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', 'tnbr')
  await deleteAllCopies('filter', 'FORWARD', ['-i', 'tnet0', '-j', 'ACCEPT'])
  await deleteAllCopies('filter', 'FORWARD', ['-o', 'tnet0', '-j', 'ACCEPT'])
  await deleteAllCopies('filter', 'FORWARD', ['-i', 'tnet0', '-p', 'tcp', '--dport', '9999', '-j', 'DROP'])
  await deleteAllCopies('nat', 'POSTROUTING', ['-s', '10.99.1.0/24', '-j', 'MASQUERADE'])
  await x('rm', '-f', SYSCTL_FILE)
}

beforeAll(async () => {
  await ensureTestbed({ hosts: 2 })
  await cleanup()
  // a veth pair stands in for a link (the testbed kernel has no dummy driver); the peer is up so tnet0 gets carrier
  await x('ip', 'link', 'add', 'tnet0', 'type', 'veth', 'peer', 'name', 'tnet0p')
  await x('ip', 'link', 'set', 'dev', 'tnet0p', 'up')
})
afterAll(async () => {
  await cleanup()
})

describe('net.ipAddress on a real link', () => {
  const want = () => ipAddress({ dev: 'tnet0', address: '10.99.1.1/24' })
  it('check mode reports the address and the link state to change, and changes nothing', async () => {
    const r = await run([want()], true)
    expectNoErrors(r)
    expect(statuses(r, H)).toEqual({ 'net.ipAddress[tnet0 10.99.1.1/24]': 'changed' })
    expect(r.tasks[0]!.changes.map((c) => c.summary)).toEqual(['add 10.99.1.1/24 to tnet0', 'set tnet0 up'])
    expect(r.tasks[0]!.changes.flatMap((c) => c.commands)).toEqual(['ip addr replace 10.99.1.1/24 dev tnet0', 'ip link set dev tnet0 up'])
    expect(await addresses('tnet0')).toEqual([])
    expect((await linkInfo('tnet0')).flags).not.toContain('UP')
  })
  it('applies, keeping addresses it does not manage; a rerun is 0 changed in one exec', async () => {
    await x('ip', 'addr', 'add', '10.99.9.9/24', 'dev', 'tnet0')
    const r = await run([want()])
    expectNoErrors(r)
    expect(r.hosts[H]).toMatchObject({ changed: 1, failed: 0 })
    expect((await addresses('tnet0')).sort()).toEqual(['10.99.1.1/24', '10.99.9.9/24'])
    expect((await linkInfo('tnet0')).flags).toContain('UP')
    const again = await run([want()])
    expect(again.hosts[H]).toMatchObject({ ok: 1, changed: 0, failed: 0, execs: 1 })
  })
  it('repairs drift made by hand (address removed, link set down), check mode first', async () => {
    await x('ip', 'addr', 'del', '10.99.1.1/24', 'dev', 'tnet0')
    await x('ip', 'link', 'set', 'dev', 'tnet0', 'down')
    const c = await run([want()], true)
    expect(c.tasks[0]!.changes.map((ch) => ch.op)).toEqual(['create', 'update'])
    expect(await addresses('tnet0')).toEqual(['10.99.9.9/24'])
    const r = await run([want()])
    expectNoErrors(r)
    expect((await addresses('tnet0')).sort()).toEqual(['10.99.1.1/24', '10.99.9.9/24'])
    expect((await linkInfo('tnet0')).flags).toContain('UP')
  })
  it('replaces a prefix length changed by hand', async () => {
    await x('ip', 'addr', 'del', '10.99.1.1/24', 'dev', 'tnet0')
    await x('ip', 'addr', 'add', '10.99.1.1/16', 'dev', 'tnet0')
    const r = await run([want()])
    expectNoErrors(r)
    expect(r.tasks[0]!.changes.map((ch) => ch.op)).toEqual(['replace'])
    expect((await addresses('tnet0')).sort()).toEqual(['10.99.1.1/24', '10.99.9.9/24'])
  })
  it('plans a create for a link that does not exist yet (check mode), without failing', async () => {
    const r = await run([ipAddress({ dev: 'tnetnone', address: '10.99.2.1/24' })], true)
    expectNoErrors(r)
    expect(r.tasks[0]!.changes[0]!.summary).toMatch(/link tnetnone does not exist yet/)
  })
  it('ensure absent removes exactly its address, then is a no-op', async () => {
    await x('ip', 'addr', 'add', '10.99.3.1/24', 'dev', 'tnet0')
    const gone = () => ipAddress({ dev: 'tnet0', address: '10.99.3.1/24', ensure: 'absent' })
    const r = await run([gone()])
    expectNoErrors(r)
    expect(r.hosts[H]!.changed).toBe(1)
    expect((await addresses('tnet0')).sort()).toEqual(['10.99.1.1/24', '10.99.9.9/24'])
    expect((await run([gone()])).hosts[H]).toMatchObject({ changed: 0, ok: 1 })
    await x('ip', 'addr', 'del', '10.99.9.9/24', 'dev', 'tnet0')
  })
})

describe('net.route', () => {
  const want = () => route({ destination: '10.99.5.0/24', via: '10.99.1.2' })
  it('check mode, create, rerun', async () => {
    const c = await run([want()], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes[0]!.commands).toEqual(['ip route replace 10.99.5.0/24 via 10.99.1.2'])
    expect(await routeTo('10.99.5.0/24')).toEqual([])
    const r = await run([want()])
    expectNoErrors(r)
    expect(await routeTo('10.99.5.0/24')).toMatchObject([{ dst: '10.99.5.0/24', gateway: '10.99.1.2', dev: 'tnet0' }])
    expect((await run([want()])).hosts[H]).toMatchObject({ changed: 0, ok: 1, execs: 1 })
  })
  it('repairs a gateway changed by hand', async () => {
    await x('ip', 'route', 'replace', '10.99.5.0/24', 'via', '10.99.1.3')
    const c = await run([want()], true)
    expect(c.tasks[0]!.changes[0]).toMatchObject({ op: 'update', before: { via: '10.99.1.3' }, after: { via: '10.99.1.2' } })
    expect(await routeTo('10.99.5.0/24')).toMatchObject([{ gateway: '10.99.1.3' }])
    expectNoErrors(await run([want()]))
    expect(await routeTo('10.99.5.0/24')).toMatchObject([{ gateway: '10.99.1.2' }])
  })
  it('ensure absent deletes the route', async () => {
    const gone = () => route({ destination: '10.99.5.0/24', via: '10.99.1.2', ensure: 'absent' })
    expectNoErrors(await run([gone()]))
    expect(await routeTo('10.99.5.0/24')).toEqual([])
    expect((await run([gone()])).hosts[H]).toMatchObject({ changed: 0 })
  })
  it('an address and a route through it in one run (the route is planned after the address is applied)', async () => {
    await x('ip', 'addr', 'flush', 'dev', 'tnet0')
    const tasks = () => [ipAddress({ dev: 'tnet0', address: '10.99.1.1/24' }), route({ destination: '10.99.5.0/24', via: '10.99.1.2', dev: 'tnet0' })]
    const r = await run(tasks())
    expectNoErrors(r)
    expect(r.hosts[H]).toMatchObject({ changed: 2, failed: 0 })
    expect(await routeTo('10.99.5.0/24')).toMatchObject([{ gateway: '10.99.1.2', dev: 'tnet0' }])
    expect((await run(tasks())).hosts[H]).toMatchObject({ changed: 0, ok: 2, execs: 1 })
    await x('ip', 'route', 'del', '10.99.5.0/24')
  })
})

describe('net.setMtu', () => {
  it('kernel link: check, set with ip link, rerun, drift repaired', async () => {
    const want = () => setMtu({ dev: 'tnet0', mtu: 1450 })
    const c = await run([want()], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes[0]!.commands).toEqual(['ip link set dev tnet0 mtu 1450'])
    expect((await linkInfo('tnet0')).mtu).toBe(1500)
    expectNoErrors(await run([want()]))
    expect((await linkInfo('tnet0')).mtu).toBe(1450)
    expect((await run([want()])).hosts[H]).toMatchObject({ changed: 0, execs: 1 })
    await x('ip', 'link', 'set', 'dev', 'tnet0', 'mtu', '1500')
    expect((await run([want()])).hosts[H]).toMatchObject({ changed: 1, failed: 0 })
    expect((await linkInfo('tnet0')).mtu).toBe(1450)
  })
  it('OVS internal port: mtu_request via ovs-vsctl, rerun, drift of the request repaired', async () => {
    await x('ovs-vsctl', '--timeout=10', 'add-br', 'tnbr', '--', 'set', 'bridge', 'tnbr', 'datapath_type=netdev', '--',
      'add-port', 'tnbr', 'tnint', '--', 'set', 'interface', 'tnint', 'type=internal')
    const want = () => setMtu({ dev: 'tnint', mtu: 1450 })
    const c = await run([want()], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes[0]!.commands).toEqual(['ovs-vsctl --timeout=10 set interface tnint mtu_request=1450'])
    expectNoErrors(await run([want()]))
    expect((await x('ovs-vsctl', '--timeout=10', 'get', 'interface', 'tnint', 'mtu_request')).trim()).toBe('1450')
    expect((await linkInfo('tnint')).mtu).toBe(1450)
    expect((await run([want()])).hosts[H]).toMatchObject({ changed: 0, execs: 1 })
    await x('ovs-vsctl', '--timeout=10', 'set', 'interface', 'tnint', 'mtu_request=1400')
    const d = await run([want()], true)
    expect(d.tasks[0]!.changes[0]).toMatchObject({ before: { mtu_request: 1400, mtu: 1400 }, after: { mtu_request: 1450, mtu: 1450 } })
    expectNoErrors(await run([want()]))
    expect((await linkInfo('tnint')).mtu).toBe(1450)
  })
})

describe('sysctl (per-interface key of our own link: net.ipv4.conf.tnet0.rp_filter)', () => {
  const want = () => sysctl({ key: SYSCTL_KEY, value: 2 })
  const runtime = async () => (await x('sysctl', '-n', SYSCTL_KEY)).trim()
  const fileState = async () => (await tryX('sh', '-c', 'stat -c %i "$1" && cat "$1"', 'sh', SYSCTL_FILE))
  it('check mode shows the runtime and the file change and changes neither', async () => {
    await x('sysctl', '-w', `${SYSCTL_KEY}=0`)
    const c = await run([want()], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes.map((ch) => ch.op)).toEqual(['update', 'create'])
    expect(c.tasks[0]!.changes[0]!.commands[0]).toBe('sysctl -w net.ipv4.conf.tnet0.rp_filter=2')
    expect(await runtime()).toBe('0')
    expect((await fileState()).code).not.toBe(0)
  })
  it('applies both, then a rerun is 0 changed in one exec', async () => {
    const r = await run([want()])
    expectNoErrors(r)
    expect(await runtime()).toBe('2')
    expect((await x('cat', SYSCTL_FILE))).toBe(sysctlFileContent(SYSCTL_KEY, '2'))
    expect((await x('stat', '-c', '%a', SYSCTL_FILE)).trim()).toBe('644')
    expect((await run([want()])).hosts[H]).toMatchObject({ changed: 0, ok: 1, execs: 1 })
  })
  it('runtime changed by hand while the file is right: only the runtime is updated (file not rewritten)', async () => {
    const before = (await fileState()).stdout
    await x('sysctl', '-w', `${SYSCTL_KEY}=1`)
    const r = await run([want()])
    expectNoErrors(r)
    expect(r.tasks[0]!.changes.map((ch) => ch.summary)).toEqual([`set ${SYSCTL_KEY} = 2 at runtime`])
    expect(await runtime()).toBe('2')
    expect((await fileState()).stdout).toBe(before) // same inode and content: not rewritten
  })
  it('file edited by hand while the runtime is right: only the file is rewritten', async () => {
    await x('sh', '-c', 'echo "net.ipv4.conf.tnet0.rp_filter = 0" > "$1"', 'sh', SYSCTL_FILE)
    const c = await run([want()], true)
    expect(c.tasks[0]!.changes.map((ch) => ch.op)).toEqual(['update'])
    expect(c.tasks[0]!.changes[0]!.diff).toContain('-net.ipv4.conf.tnet0.rp_filter = 0')
    expectNoErrors(await run([want()]))
    expect((await x('cat', SYSCTL_FILE))).toBe(sysctlFileContent(SYSCTL_KEY, '2'))
    expect(await runtime()).toBe('2')
  })
  it('a key that does not exist fails the task with a clear error', async () => {
    const r = await run([sysctl({ key: 'net.ipv4.tnet_no_such_key', value: 1, persist: false })], true)
    expect(statuses(r, H)).toEqual({ 'sysctl[net.ipv4.tnet_no_such_key]': 'failed' })
    expect(errors(r)).toMatch(/sysctl key net\.ipv4\.tnet_no_such_key does not exist on this host/)
  })
  it('a value the kernel refuses fails the apply at sysctl -w; nothing after it runs (file untouched)', async () => {
    const r = await run([sysctl({ key: SYSCTL_KEY, value: 'abc' })])
    expect(statuses(r, H)[`sysctl[${SYSCTL_KEY}]`]).toBe('failed')
    expect(errors(r)).toMatch(/command failed \(exit \d+\): sysctl -w net\.ipv4\.conf\.tnet0\.rp_filter=abc: .*Invalid argument/)
    expect(await runtime()).toBe('2')
    expect((await x('cat', SYSCTL_FILE))).toBe(sysctlFileContent(SYSCTL_KEY, '2'))
  })
  it('sysctl -w that exits 0 without the value taking (ping_group_range "5 3" reads back "1 0") fails the read-back check', async () => {
    // the kernel silently resets an inverted range to "1 0" (net/ipv4/sysctl_net_ipv4.c, ipv4_ping_group_range)
    const before = (await x('sysctl', '-n', 'net.ipv4.ping_group_range')).trim().split(/\s+/).join(' ')
    try {
      const r = await run([sysctl({ key: 'net.ipv4.ping_group_range', value: '5 3', persist: false })])
      expect(statuses(r, H)['sysctl[net.ipv4.ping_group_range]']).toBe('failed')
      expect(errors(r)).toMatch(/sysctl net\.ipv4\.ping_group_range: wrote "5 3" but it reads back "1 0"/)
    } finally {
      await x('sysctl', '-w', `net.ipv4.ping_group_range=${before}`)
    }
  })
  it('ensure absent deletes the persisted file', async () => {
    const gone = () => sysctl({ key: SYSCTL_KEY, ensure: 'absent' })
    expectNoErrors(await run([gone()]))
    expect((await fileState()).code).not.toBe(0)
    expect((await run([gone()])).hosts[H]).toMatchObject({ changed: 0 })
  })
})

describe('iptables', () => {
  const masq = () => iptablesMasq({ iface: 'tnet0', source: '10.99.1.0/24' })
  it('check mode lists the three seed rules and adds none', async () => {
    const c = await run([masq()], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes.flatMap((ch) => ch.commands)).toEqual([
      'iptables -w 10 -t filter -A FORWARD -i tnet0 -j ACCEPT',
      'iptables -w 10 -t filter -A FORWARD -o tnet0 -j ACCEPT',
      'iptables -w 10 -t nat -A POSTROUTING -s 10.99.1.0/24 -j MASQUERADE',
    ])
    expect(await countRules(MASQ_LINES)).toEqual([0, 0, 0])
  })
  it('masquerade applied three times leaves exactly one rule of each', async () => {
    const first = await run([masq()])
    expectNoErrors(first)
    expect(first.hosts[H]!.changed).toBe(1)
    for (let i = 0; i < 2; i++) expect((await run([masq()])).hosts[H]).toMatchObject({ changed: 0, ok: 1, execs: 1 })
    expect(await countRules(MASQ_LINES)).toEqual([1, 1, 1])
  })
  it('repairs a rule deleted by hand, and only that one', async () => {
    await x('iptables', '-t', 'nat', '-D', 'POSTROUTING', '-s', '10.99.1.0/24', '-j', 'MASQUERADE')
    const r = await run([masq()])
    expectNoErrors(r)
    expect(r.tasks[0]!.changes.map((ch) => ch.summary)).toEqual(['append nat/POSTROUTING -s 10.99.1.0/24 -j MASQUERADE'])
    expect(await countRules(MASQ_LINES)).toEqual([1, 1, 1])
  })
  it('a rule written with long options is the same rule (iptables -C compares, not vxlab)', async () => {
    const r = await run([iptablesRule({ chain: 'FORWARD', rule: ['--in-interface', 'tnet0', '--jump', 'ACCEPT'] })], true)
    expectNoErrors(r)
    expect(r.hosts[H]).toMatchObject({ changed: 0, ok: 1 })
  })
  it('iptables.rule with position insert goes first in the chain; absent removes it', async () => {
    const rule = ['-i', 'tnet0', '-p', 'tcp', '--dport', '9999', '-j', 'DROP']
    expectNoErrors(await run([iptablesRule({ chain: 'FORWARD', rule, position: 'insert' })]))
    const fwd = (await x('iptables', '-S', 'FORWARD')).split('\n').filter((l) => l.startsWith('-A '))
    expect(fwd[0]).toBe('-A FORWARD -i tnet0 -p tcp -m tcp --dport 9999 -j DROP')
    expect((await run([iptablesRule({ chain: 'FORWARD', rule, position: 'insert' })])).hosts[H]).toMatchObject({ changed: 0 })
    expectNoErrors(await run([iptablesRule({ chain: 'FORWARD', rule, ensure: 'absent' })]))
    expect(await countRules(['-A FORWARD -i tnet0 -p tcp -m tcp --dport 9999 -j DROP'])).toEqual([0])
  })
  it('a missing chain fails the read (never "absent"), naming the chain', async () => {
    const r = await run([iptablesRule({ chain: 'TNET-NOCHAIN', rule: ['-i', 'tnet0', '-j', 'ACCEPT'] })], true)
    expect(statuses(r, H)).toEqual({ 'iptables.rule[filter/TNET-NOCHAIN -i tnet0 -j ACCEPT]': 'failed' })
    expect(errors(r)).toMatch(/cannot list chain TNET-NOCHAIN of table filter/)
  })
  it('ensure absent removes exactly ours, including copies added by hand', async () => {
    await x('iptables', '-A', 'FORWARD', '-i', 'tnet0', '-j', 'ACCEPT')
    await x('iptables', '-A', 'FORWARD', '-i', 'tnet0', '-j', 'ACCEPT')
    await x('iptables', '-A', 'FORWARD', '-i', 'tnet0p', '-j', 'ACCEPT') // not ours
    expect(await countRules(MASQ_LINES)).toEqual([3, 1, 1])
    const gone = () => iptablesMasq({ iface: 'tnet0', source: '10.99.1.0/24', ensure: 'absent' })
    const c = await run([gone()], true)
    expect(c.tasks[0]!.changes.map((ch) => ch.op)).toEqual(['delete', 'delete', 'delete'])
    expect(await countRules(MASQ_LINES)).toEqual([3, 1, 1])
    const r = await run([gone()])
    expectNoErrors(r)
    expect(await countRules([...MASQ_LINES, '-A FORWARD -i tnet0p -j ACCEPT'])).toEqual([0, 0, 0, 1])
    expect((await run([gone()])).hosts[H]).toMatchObject({ changed: 0 })
    await x('iptables', '-D', 'FORWARD', '-i', 'tnet0p', '-j', 'ACCEPT')
  })
})

describe('packages.apt (check mode and already-installed packages only: no network in the testbed)', () => {
  it('an installed package is ok; check mode lists what would be installed and installs nothing', async () => {
    expect((await run([packages({ names: ['iproute2'] })])).hosts[H]).toMatchObject({ ok: 1, changed: 0, failed: 0 })
    const c = await run([packages({ names: ['iproute2', 'tnet-no-such-package'] })], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes).toMatchObject([{ op: 'create', summary: 'install tnet-no-such-package', commands: ['env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tnet-no-such-package'] }])
  })
  it('check mode with absent lists what would be removed (not applied)', async () => {
    const c = await run([packages({ names: ['iproute2', 'tnet-no-such-package'], ensure: 'absent' })], true)
    expectNoErrors(c)
    expect(c.tasks[0]!.changes).toMatchObject([{ op: 'delete', summary: 'remove iproute2' }])
    expect((await x('dpkg-query', '-W', '-f', '${db:Status-Status}', 'iproute2'))).toBe('installed')
  })
})
