/**
 * Issue #7, bad input: every mistake below is a clear error (exit 2) raised before any host is contacted.
 * "Not contacted" is proven with a TCP listener standing in for every host's sshd: it counts connections.
 * A control run (valid input, same inventory) must reach it, so the proof can fail.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../lib/cli.ts'
import { privateKeyProblem } from '../../lib/connection/ssh.ts'
import { playbook, type PlaybookDef } from '../../lib/core/playbook.ts'
import type { AnyTask } from '../../lib/core/task.ts'
import { labPlaybook } from '../../lib/lab/plays.ts'
import type { LabSpec } from '../../lib/lab/spec.ts'
import { LAB as SEED_LAB } from '../../playbooks/lab.ts'
import { command } from '../../lib/tasks/command.ts'
import { template } from '../../lib/tasks/file.ts'
import { sysctl } from '../../lib/tasks/sysctl.ts'
import { containerPort, dockerContainer } from '../../lib/tasks/docker.ts'
import { ipAddress, route, setMtu } from '../../lib/tasks/net.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../../lib/tasks/ovs.ts'

let server: Server
let port = 0
let contacts = 0
const sockets = new Set<Socket>()
const dir = mkdtempSync(join(tmpdir(), 'vxlab-hostile-input-'))
const key = join(dir, 'id_ed25519')
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])

/** A testbed-shaped inventory whose every host is the counting listener on 127.0.0.1. */
function inventory(edit: (text: string) => string = (t) => t, keyFile = key): string {
  const file = join(dir, `inv-${Math.random().toString(36).slice(2)}.yml`)
  writeFileSync(file, edit([
    'all:',
    '  vars:',
    '    ansible_user: root',
    '    ansible_host: 127.0.0.1',
    `    ansible_port: ${port}`,
    `    ansible_ssh_private_key_file: ${keyFile}`,
    `    vxlab_known_hosts_file: ${join(dir, 'known_hosts')}`,
    '  children:',
    '    gateway:',
    '      hosts:',
    '        gw: {underlay_ifaces: [gw-h1, gw-h2]}',
    '    docker_hosts:',
    '      vars: {ovs_datapath_type: netdev}',
    '      hosts:',
    '        host1: {underlay_ip: 172.16.10.100, underlay_iface: eth0}',
    '        host2: {underlay_ip: 172.16.20.100, underlay_iface: eth0}',
    '',
  ].join('\n')))
  return file
}

async function cli(pb: PlaybookDef, args: string[]): Promise<{ code: number; out: string; contacted: number }> {
  const before = contacts
  let out = ''
  const code = await runCli(pb, ['--connect-timeout', '1', ...args], { out: (s) => (out += s), err: (s) => (out += s) })
  // a connection attempt may still be in flight on a failure path: give it a moment to arrive
  await new Promise((r) => setTimeout(r, 50))
  return { code, out, contacted: contacts - before }
}

/** A one-play playbook on docker_hosts whose tasks are built per host (so factories throw at build time). */
function book(tasks: () => AnyTask[]): PlaybookDef {
  return playbook({ name: 'bad', plays: [{ name: 'p', hosts: 'docker_hosts', tasks: () => tasks() }] })
}

beforeAll(async () => {
  server = createServer((s) => {
    contacts++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as { port: number }).port
})
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise((r) => server.close(r))
  rmSync(dir, { recursive: true, force: true })
})

describe('bad input: exit 2, a clear error, no host contacted', () => {
  it('control: valid input does contact the hosts (the listener sees it; they are unreachable, exit 1)', async () => {
    const r = await cli(book(() => [ovsBridge({ name: 'br1' })]), ['-i', inventory()])
    expect(r.code).toBe(1)
    expect(r.contacted).toBeGreaterThanOrEqual(2)
    expect(r.out).toMatch(/host1: unreachable: root@127\.0\.0\.1:\d+: connect timed out after 1000 ms/)
  })

  const cases: Array<[string, () => AnyTask[], RegExp]> = [
    ['invalid IPv4 address', () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.1000', key: 5000 })], /bad: host1 ovs\.vxlanPort\[vxlan1\]\.remoteIp: expected an IPv4 address, got "172\.16\.20\.1000"/],
    ['IPv4 with a leading zero (ambiguous octal)', () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.016.20.1', key: 5000 })], /remoteIp: expected an IPv4 address, got "172\.016\.20\.1"/],
    ['invalid interface address (prefix)', () => [ipAddress({ dev: 'net1', address: '10.0.1.1/33' })], /net\.ipAddress\[net1 10\.0\.1\.1\/33\]\.address: prefix length must be 0\.\.32|address: .*10\.0\.1\.1\/33/],
    ['interface address with a second "/" (was read as 10.0.1.1/24)', () => [ipAddress({ dev: 'net1', address: '10.0.1.1/24/8' })], /bad: host1 net\.ipAddress\[net1 10\.0\.1\.1\/24\/8\]\.address: expected A\.B\.C\.D\/len with one "\/", got "10\.0\.1\.1\/24\/8"/],
    ['a multicast MAC for a container port', () => [containerPort({ bridge: 'br1', container: 'doc1', iface: 'eth1', address: '10.0.1.77/24', mac: '01:00:5e:00:00:01' })], /bad: host1 docker\.containerPort\[doc1:eth1\]\.mac: 01:00:5e:00:00:01 is a multicast \(group\) address/],
    ['a multicast VXLAN remote_ip (OVS takes unicast endpoints only)', () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '239.1.1.1', key: 5000 })], /bad: host1 ovs\.vxlanPort\[vxlan1\]\.remoteIp: 239\.1\.1\.1 is a multicast address/],
    ['a sysctl value that is no integer (the kernel refused it at apply)', () => [sysctl({ key: 'net.ipv4.ip_forward', value: 1.5 })], /bad: host1 sysctl\[net\.ipv4\.ip_forward\]\.value: expected an integer, got 1\.5/],
    ['a template whose src is null (was "internal error: TypeError", exit 1)', () => [template({ dest: '/etc/vx', src: null as never })], /bad: host1 file\.template\[\/etc\/vx\]\.src: expected the path of a template file on the controller or \{inline: 'template text'\}, got null/],
    ['a negative command time limit (failed at apply: "timed out after -5 ms")', () => [command({ argv: ['true'], timeoutMs: -5 })], /bad: host1 command\[true\]\.timeoutMs: -5 ms is out of range 1\.\.2000000000/],
    ['script args that are not strings (was "internal error: TypeError", exit 1)', () => [command({ script: 'echo "$1"', args: [1, 2] as never })], /bad: host1 command\[script\]\.args: expected a list of strings/],
    ['a command stdin that is no string (a raw TypeError at apply)', () => [command({ argv: ['cat'], stdin: 5 as never })], /bad: host1 command\[cat\]\.stdin: expected a string, got 5/],
    ['CIDR with host bits set', () => [route({ destination: '10.0.1.5/24', via: '172.16.10.100' })], /destination: "10\.0\.1\.5\/24" has host bits set; did you mean 10\.0\.1\.0\/24\?/],
    ['CIDR that is no CIDR', () => [route({ destination: '10.0.1.0/24x', via: '172.16.10.100' })], /destination: prefix length must be 0\.\.32, got "10\.0\.1\.0\/24x"/],
    ['VNI above 16777215', () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: 16_777_216 })], /ovs\.vxlanPort\[vxlan1\]\.key: 16777216 is out of range 0\.\.16777215/],
    ['negative VNI', () => [vxlanPort({ bridge: 'br1', name: 'vxlan1', remoteIp: '172.16.20.100', key: -1 })], /\.key: -1 is out of range 0\.\.16777215/],
    ['MTU below 68', () => [setMtu({ dev: 'eth0', mtu: 67 })], /\.mtu: 67 is out of range 68\.\.65535/],
    ['MTU above 65535', () => [setMtu({ dev: 'eth0', mtu: 65_536 })], /\.mtu: 65536 is out of range 68\.\.65535/],
    ['interface name of 16 characters', () => [ovsPort({ bridge: 'br1', name: 'abcdefghijklmnop', type: 'internal' })], /interface name "abcdefghijklmnop" is longer than 15 characters/],
    ['interface name starting with -', () => [ovsBridge({ name: '-br1' })], /interface name "-br1" must not start with "-"/],
    ['bridge name with shell metacharacters', () => [ovsBridge({ name: 'br1;reboot' })], /interface name "br1;reboot" may only contain letters, digits and _ \. @ \+ -/],
    ['bridge name with $(...)', () => [ovsBridge({ name: 'b$(id)' })], /interface name "b\$\(id\)" may only contain/],
    ['container name with shell metacharacters', () => [dockerContainer({ name: 'doc1`id`', image: 'con_img', network: 'none' })], /docker\.container\[doc1`id`\]\.name: "doc1`id`" is not a valid container name/],
    ['container name with a space and ;', () => [dockerContainer({ name: 'a; rm -rf /', image: 'con_img', network: 'none' })], /\.name: "a; rm -rf \/" is not a valid container name/],
    ['image name with shell metacharacters', () => [dockerContainer({ name: 'doc1', image: 'con_img|sh', network: 'none' })], /\.image: "con_img\|sh" is not a valid image name/],
    ['duplicate task keys on one host', () => [ovsBridge({ name: 'br1' }), ovsBridge({ name: 'br1', datapathType: 'netdev' })], /bad: host1 ovs\.bridge\[br1\]: duplicate task key in play "p" \(keys must be unique per host\)/],
    ['command without argv or script (from JavaScript: the type requires one)', () => [command({ name: 'x' } as never)], /command\[x\]\.argv: give exactly one of argv or script/],
    ['two tasks writing one file whole', () => [sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: '/etc/sysctl.d/90-vx.conf' }), sysctl({ key: 'net.ipv4.conf.all.rp_filter', value: 0, file: '/etc/sysctl.d/90-vx.conf' })], /bad: host1 sysctl\[net\.ipv4\.conf\.all\.rp_filter\]: file:\/etc\/sysctl\.d\/90-vx\.conf is also written whole by sysctl\[net\.ipv4\.ip_forward\] in play "p"/],
    ['one file spelled two ways, a sysctl file and a template', () => [template({ dest: '/etc/sysctl.d/y.conf', src: { inline: 'a' } }), sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: '/etc//sysctl.d/./y.conf' })], /bad: host1 sysctl\[net\.ipv4\.ip_forward\]: file:\/etc\/sysctl\.d\/y\.conf is also written whole by file\.template\[\/etc\/sysctl\.d\/y\.conf\] in play "p"/],
    ['a guard that is no argv list', () => [command({ name: 'g', argv: ['true'], unless: true as never })], /command\[g\]\.unless: expected a list of strings \(program and arguments\), got true/],
    ['an argv with a number in it', () => [command({ name: 'n', argv: ['sleep', 5 as never] })], /command\[n\]\.argv: expected a list of strings \(program and arguments\), got \["sleep",5\]/],
    ['the same file spelled two ways', () => [template({ dest: '/etc/vx', src: { inline: 'a' } }), template({ dest: '/etc//vx', src: { inline: 'b' } })], /bad: host1 file\.template\[\/etc\/vx\]: duplicate task key/],
    ['a file mode given as a number', () => [template({ dest: '/etc/vx', src: { inline: 'a' }, mode: 644 as never })], /file\.template\[\/etc\/vx\]\.mode: expected an octal mode as a string like '644' \(a number is read as decimal\), got 644/],
    ['a template variable that is not given', () => [template({ dest: '/etc/vx', src: { inline: 'x={{missing}}' } })], /\.vars: template \(inline\): variable "missing" is not defined \(line 1, column 5\)/],
    ['a template that does not parse', () => [template({ dest: '/etc/vx', src: { inline: '{{#if}}' } })], /\.vars: template \(inline\): Parse error on line 1: \| \{\{#if\}\} \| Expecting /],
  ]
  for (const [name, tasks, message] of cases) {
    it(name, async () => {
      const r = await cli(book(tasks), ['-i', inventory()])
      expect(r.out).toMatch(message)
      expect(r.out).toMatch(/^error: /m)
      expect(r.code).toBe(2)
      expect(r.contacted).toBe(0)
    })
  }

  const labCases: Array<[string, (l: LabSpec) => LabSpec, RegExp]> = [
    ['lab: VNI out of range', (l) => ({ ...l, networks: l.networks.map((n, i) => (i === 0 ? { ...n, vni: 16_777_216 } : n)) }), /^error: lab: lab\.networks\[net1\]\.vni: 16777216 is out of range 0\.\.16777215$/m],
    ['lab: MTU out of range', (l) => ({ ...l, underlayMtu: 70_000 }), /lab\.underlayMtu: 70000 is out of range 68\.\.65535/],
    ['lab: invalid CIDR', (l) => ({ ...l, networks: l.networks.map((n, i) => (i === 1 ? { ...n, cidr: '10.0.2.0/33' } : n)) }), /lab\.networks\[net2\]\.cidr: prefix length must be 0\.\.32/],
    ['lab: container address not an IPv4 address', (l) => ({ ...l, containers: l.containers.map((c, i) => (i === 0 ? { ...c, address: '10.0.1.256' } : c)) }), /lab\.containers\[doc1\]\.address: expected an IPv4 address, got "10\.0\.1\.256"/],
    ['lab: bridge name too long', (l) => ({ ...l, networks: l.networks.map((n, i) => (i === 0 ? { ...n, bridge: 'bridge-for-net-one' } : n)) }), /lab\.networks\[net1\]\.bridge: interface name "bridge-for-net-one" is longer than 15 characters/],
    ['lab: container name with shell metacharacters', (l) => ({ ...l, containers: l.containers.map((c, i) => (i === 0 ? { ...c, name: 'doc1$(touch /tmp/x)' } : c)) }), /lab\.containers\[doc1\$\(touch \/tmp\/x\)\]\.name: .* is not a valid container name/],
  ]
  for (const [name, edit, message] of labCases) {
    it(name, async () => {
      const r = await cli(labPlaybook(edit(SEED_LAB)), ['-i', inventory()])
      expect(r.out).toMatch(message)
      expect(r.code).toBe(2)
      expect(r.contacted).toBe(0)
    })
  }

  it('a --limit that matches no host (unknown name, and an exclusion that leaves nothing)', async () => {
    const a = await cli(labPlaybook(SEED_LAB), ['-i', inventory(), '--limit', 'host9'])
    expect(a.out).toMatch(/--limit "host9": no host or group named "host9" in \S+inv-\w+\.yml/)
    expect(a.code).toBe(2)
    const b = await cli(labPlaybook(SEED_LAB), ['-i', inventory(), '--limit', 'docker_hosts,!host*'])
    expect(b.out).toMatch(/--limit "docker_hosts,!host\*" matches no host/)
    expect(b.code).toBe(2)
    expect(a.contacted + b.contacted).toBe(0)
  })

  it('an output file whose folder is missing or a folder, and a time limit past Node\'s timers: before the run', async () => {
    // a symbolic link is written through: one that points into a missing folder is refused too
    const dangling = join(dir, 'dangling.json')
    if (!existsSync(dangling)) symlinkSync(join(dir, 'no-such-dir', 'x.json'), dangling)
    const loop = join(dir, 'loop1.json')
    try {
      symlinkSync(join(dir, 'loop2.json'), loop)
      symlinkSync(loop, join(dir, 'loop2.json'))
    } catch { /* made by an earlier run of this test */ }
    const cases: Array<[string[], RegExp]> = [
      [['--json', join(dir, 'no-such-dir', 'r.json')], /^error: --json: folder \S+no-such-dir does not exist$/m],
      [['--json', dir], /^error: --json: \S+ is a folder, not a file$/m],
      [['--graph-after', join(dir, 'nope', 'x.svg')], /^error: --graph-after: folder \S+nope does not exist$/m],
      [['--command-timeout', '3000000'], /^error: --command-timeout: at most 2000000 seconds \(~23 days\), got "3000000"$/m],
      [['--lock-timeout', '1e308'], /^error: --lock-timeout: at most 2000000 seconds/m],
      [['--json', dangling], /^error: --json: folder \S+no-such-dir \(where \S+dangling\.json points\) does not exist$/m],
      [['--json', loop], /^error: --json: \S+loop1\.json is a loop of symbolic links$/m],
      [['--json', join(dir, 'new.json') + '/'], /^error: --json: \S+new\.json\/ names a folder, not a file$/m],
      [['--json', ''], /^error: --json: expected a file name$/m],
    ]
    for (const [args, msg] of cases) {
      const r = await cli(labPlaybook(SEED_LAB), ['-i', inventory(), ...args])
      expect(r.out, args.join(' ')).toMatch(msg)
      expect(r.code).toBe(2)
      expect(r.contacted).toBe(0)
    }
  })

  it('inventory YAML syntax error: file:line:column', async () => {
    const file = join(dir, 'syntax.yml')
    writeFileSync(file, `all:\n  hosts:\n    host1: {ansible_host: 127.0.0.1, ansible_port: ${port}\n    host2:\n`)
    const r = await cli(labPlaybook(SEED_LAB), ['-i', file])
    expect(r.out).toMatch(new RegExp(`^error: ${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: YAML syntax error: `, 'm'))
    expect(r.code).toBe(2)
    expect(r.contacted).toBe(0)
  })

  it('inventory value of the wrong type: file:line:column and the path', async () => {
    const a = await cli(labPlaybook(SEED_LAB), ['-i', inventory((t) => t.replace('underlay_ip: 172.16.10.100', 'underlay_ip: 17216'))])
    expect(a.out).toMatch(/inv-\w+\.yml:15:\d+: docker_hosts\.hosts\.host1\.underlay_ip: expected an IPv4 address, got 17216/)
    expect(a.code).toBe(2)
    const b = await cli(labPlaybook(SEED_LAB), ['-i', inventory((t) => t.replace(`ansible_port: ${port}`, 'ansible_port: twenty-two'))])
    expect(b.out).toMatch(/inv-\w+\.yml:5:\d+: all\.vars\.ansible_port: expected a port number 1\.\.65535, got "twenty-two"/)
    expect(b.code).toBe(2)
    const c = await cli(labPlaybook(SEED_LAB), ['-i', inventory((t) => t.replace('underlay_ifaces: [gw-h1, gw-h2]', 'underlay_ifaces: gw-h1'))])
    expect(c.out).toMatch(/inv-\w+\.yml:11:\d+: gateway\.hosts\.gw\.underlay_ifaces: expected a list of strings, got "gw-h1"/)
    expect(c.code).toBe(2)
    const d = await cli(labPlaybook(SEED_LAB), ['-i', inventory((t) => t.replace('ovs_datapath_type: netdev', 'ovs_datapath_type: [netdev]'))])
    expect(d.out).toMatch(/inv-\w+\.yml:13:\d+: docker_hosts\.vars\.ovs_datapath_type: expected one of "system", "netdev", got \["netdev"\]/)
    expect(d.code).toBe(2)
    expect(a.contacted + b.contacted + c.contacted + d.contacted).toBe(0)
  })

  it('a missing private key file, named with the variable', async () => {
    const r = await cli(labPlaybook(SEED_LAB), ['-i', inventory(undefined, join(dir, 'no-such-key'))])
    expect(r.out).toMatch(/host1: private key file \S+no-such-key \(ansible_ssh_private_key_file\) does not exist/)
    expect(r.code).toBe(2)
    expect(r.contacted).toBe(0)
  })

  it('a private key file that is no key (or needs a passphrase): a usage error, not every host "unreachable"', async () => {
    const junk = join(dir, 'junk_key')
    writeFileSync(junk, 'this is not a key\n', { mode: 0o600 })
    const r = await cli(labPlaybook(SEED_LAB), ['-i', inventory(undefined, junk)])
    expect(r.out).toMatch(/host1: private key file \S+junk_key \(ansible_ssh_private_key_file\) is not a usable private key: Unsupported key format/)
    expect(r.code).toBe(2)
    const enc = join(dir, 'enc_key')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'passphrase', '-f', enc])
    const e = await cli(labPlaybook(SEED_LAB), ['-i', inventory(undefined, enc)])
    expect(e.out).toMatch(/enc_key \(ansible_ssh_private_key_file\) is not a usable private key: Encrypted private OpenSSH key detected, but no passphrase given/)
    expect(e.code).toBe(2)
    expect(r.contacted + e.contacted).toBe(0)
  })

  it('a key file fixed after a refusal is checked again (a key\'s verdict is kept for its content version only)', () => {
    const k = join(dir, 'fixed_key')
    writeFileSync(k, 'not a key yet\n', { mode: 0o600 })
    expect(privateKeyProblem(k)).toMatch(/is not a usable private key/)
    const good = join(dir, 'good_key')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', good])
    writeFileSync(k, readFileSync(good), { mode: 0o600 })
    expect(privateKeyProblem(k)).toBeUndefined()
    rmSync(k)
    expect(privateKeyProblem(k)).toBe('does not exist')
  })

  it('two plays writing one file whole on a host: exit 2, naming both plays', async () => {
    const twice = playbook({ name: 'twice', plays: [
      { name: 'first', hosts: 'docker_hosts', tasks: () => [template({ dest: '/etc/vx/same', src: { inline: 'a' } })] },
      { name: 'second', hosts: 'host1', tasks: () => [template({ dest: '/etc/vx//same', src: { inline: 'b' } })] },
    ] })
    const r = await cli(twice, ['-i', inventory()])
    expect(r.out).toMatch(/twice: host1 file\.template\[\/etc\/vx\/same\]: file:\/etc\/vx\/same is also written whole by file\.template\[\/etc\/vx\/same\] in play "first"/)
    expect(r.code).toBe(2)
    expect(r.contacted).toBe(0)
  })

  it('two plays setting one OVS object differently on a host (a fresh-user trial\'s twoplays.ts): exit 2, naming both plays', async () => {
    const twoplays = playbook({ name: 'twoplays', plays: [
      { name: 'a', hosts: 'host1', tasks: () => [ovsBridge({ name: 'br9', datapathType: 'netdev' }), ovsPort({ bridge: 'br9', name: 'p9', type: 'internal' })] },
      { name: 'b', hosts: 'host1', tasks: () => [ovsBridge({ name: 'br9', datapathType: 'system' }), ovsPort({ bridge: 'br1', name: 'p9', type: 'internal' })] },
    ] })
    const r = await cli(twoplays, ['-i', inventory()])
    expect(r.out).toMatch(/twoplays: host1 ovs\.bridge\[br9\]: wants ovs\.bridge:br9 datapath_type = system in play "b", but ovs\.bridge\[br9\] in play "a" wants ovs\.bridge:br9 datapath_type = netdev/)
    expect(r.out).toMatch(/twoplays: host1 ovs\.port\[p9\]: wants ovs\.port:p9 = internal port on br1 in play "b", but ovs\.port\[p9\] in play "a" wants ovs\.port:p9 = internal port on br9/)
    expect(r.code).toBe(2)
    expect(r.contacted).toBe(0)
    // in check mode too: its plan of play b would otherwise be made as if play a had changed nothing
    const c = await cli(twoplays, ['-i', inventory(), '--check'])
    expect(c.code).toBe(2)
    expect(c.contacted).toBe(0)
  })

  it('a missing inventory file, and bad flag values', async () => {
    expect((await cli(labPlaybook(SEED_LAB), ['-i', join(dir, 'nope.yml')])).out).toMatch(/inventory \S+nope\.yml not found/)
    for (const args of [['--forks', '0'], ['--connect-timeout', 'soon'], ['--command-timeout', '-1'], ['--host-key-policy', 'yolo'], ['--state', 'gone']]) {
      const r = await cli(labPlaybook(SEED_LAB), ['-i', inventory(), ...args])
      expect(r.code, `${args.join(' ')}: ${r.out}`).toBe(2)
      expect(r.contacted).toBe(0)
    }
  })
})
