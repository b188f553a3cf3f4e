/**
 * The testbed itself (lib/testbed): files it writes, SSH with strict host keys, OVS and Docker over
 * SSH, per-host /etc, the gateway's forwarding, and a clean `down`.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { run, type RunResult } from '../../lib/testbed/exec.ts'
import { down, ensureTestbed, hostExec, runDir, sshOptions, status, testbedDir, up, type TestbedInfo } from '../../lib/testbed/index.ts'
import { projectRoot } from '../../lib/testbed/paths.ts'
import { inTestbedCgroup, listProcs, testbedCgroupDirs } from '../../lib/testbed/procs.ts'

let tb: TestbedInfo

/** `ssh root@ip cmd` with the real client, strict host key checking against `knownHosts`. */
function ssh(ip: string, cmd: string, knownHosts = tb.knownHosts): Promise<RunResult> {
  return run(['ssh', ...sshOptions({ knownHosts, privateKey: tb.privateKey }), `root@${ip}`, cmd], { timeoutMs: 60_000 })
}

function host(i: number) {
  const h = tb.hostsList[i]
  if (!h) throw new Error(`no docker host #${i + 1}`)
  return h
}

beforeAll(async () => {
  // fresh: these tests assert the initial state (e.g. gw not forwarding), which earlier files may change
  tb = await ensureTestbed({ hosts: 2, fresh: true })
})

describe('testbed files', () => {
  it('writes the inventory in the documented shape', () => {
    const inv = parse(readFileSync(tb.inventory, 'utf8')) as Record<string, any>
    const dir = testbedDir()
    expect(inv).toEqual({
      all: {
        vars: {
          ansible_user: 'root',
          ansible_ssh_private_key_file: path.join(dir, 'client', 'id_ed25519'),
          vxlab_known_hosts_file: path.join(dir, 'known_hosts'),
          lab_image_context: path.join(dir, 'image'),
        },
        children: {
          gateway: { hosts: { gw: { ansible_host: '172.16.99.254', underlay_ifaces: ['gw-h1', 'gw-h2'], wan_iface: 'wan' } } },
          docker_hosts: {
            vars: { ovs_datapath_type: 'netdev' },
            hosts: {
              host1: { ansible_host: '172.16.99.101', underlay_ip: '172.16.10.100', underlay_iface: 'eth0', underlay_bridge: 'br-phy' },
              host2: { ansible_host: '172.16.99.102', underlay_ip: '172.16.20.100', underlay_iface: 'eth0', underlay_bridge: 'br-phy' },
            },
          },
        },
      },
    })
  })

  it('writes known_hosts (one ed25519 key per SSH host) and state.json', () => {
    const lines = readFileSync(tb.knownHosts, 'utf8').trim().split('\n')
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['172.16.99.254', '172.16.99.101', '172.16.99.102'])
    for (const l of lines) expect(l).toMatch(/^\S+ ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/)
    expect(new Set(lines.map((l) => l.split(' ')[2])).size).toBe(3) // every host its own key
    const st = JSON.parse(readFileSync(path.join(testbedDir(), 'state.json'), 'utf8')) as TestbedInfo
    expect(st).toMatchObject({ hosts: 2, light: false })
    expect(st.hostsList.map((h) => [h.name, h.ns, h.mgmtIp, h.underlayIp])).toEqual([
      ['host1', 'vx-h1', '172.16.99.101', '172.16.10.100'],
      ['host2', 'vx-h2', '172.16.99.102', '172.16.20.100'],
    ])
    expect(Date.parse(st.createdAt)).not.toBeNaN()
  })

  it('writes a clean FROM scratch build context for the lab image', async () => {
    expect((await readdir(tb.imageContext)).sort()).toEqual(['Dockerfile', 'rootfs.tar'])
    expect(readFileSync(path.join(tb.imageContext, 'Dockerfile'), 'utf8')).toMatch(/^FROM scratch\nADD rootfs.tar \/\nEXPOSE 80\n/)
    const list = (await run(['tar', '-tf', path.join(tb.imageContext, 'rootfs.tar')])).stdout.split('\n')
    for (const f of ['./bin/busybox', './bin/sh', './bin/ping', './bin/iperf3', './www/index.html', './tmp/']) expect(list).toContain(f)
  })
})

describe('testbed hosts', () => {
  it('every SSH host answers with strict host key checking', async () => {
    const hosts = [{ name: 'gw', mgmtIp: tb.gateway.mgmtIp }, ...tb.hostsList]
    for (const h of hosts) {
      const r = await ssh(h.mgmtIp, 'hostname')
      expect(r.stderr).toBe('')
      expect({ code: r.code, out: r.stdout.trim() }).toEqual({ code: 0, out: h.name })
    }
  })

  it('a wrong host key is refused', async () => {
    // known_hosts that lists host2's key for host1's address
    const lines = readFileSync(tb.knownHosts, 'utf8').trim().split('\n')
    const key2 = lines.find((l) => l.startsWith(`${host(1).mgmtIp} `))?.split(' ').slice(1).join(' ')
    const bad = path.join(testbedDir(), `known_hosts.wrong-${process.pid}`)
    writeFileSync(bad, `${host(0).mgmtIp} ${key2}\n`)
    try {
      const r = await ssh(host(0).mgmtIp, 'true', bad)
      expect(r.code).toBe(255)
      expect(r.stderr).toMatch(/host key|HOST IDENTIFICATION/i)
    } finally {
      await run(['rm', '-f', bad])
    }
  })

  it('ovs-vsctl and docker work over SSH on each docker host, underlay on br-phy', async () => {
    for (const h of tb.hostsList) {
      const r = await ssh(
        h.mgmtIp,
        'ovs-vsctl show >/dev/null && ovs-vsctl get bridge br-phy datapath_type && docker info --format "{{.ServerVersion}}" && ip -4 -o addr show br-phy',
      )
      expect(r.code, r.stderr).toBe(0)
      const [dp, dockerVersion, addr] = r.stdout.trim().split('\n')
      expect(dp).toBe('netdev')
      expect(dockerVersion).toMatch(/^\d+\.\d+/)
      expect(addr).toContain(`inet ${h.underlayIp}/24`)
    }
  })

  it('a file written under /etc or /tmp on host1 is seen neither on host2 nor on the machine', async () => {
    const name = `vxlab-testbed-probe-${randomBytes(4).toString('hex')}`
    for (const dir of ['/etc', '/tmp', '/root']) {
      const f = `${dir}/${name}`
      expect((await ssh(host(0).mgmtIp, `echo host1 > ${f} && cat ${f}`)).stdout.trim()).toBe('host1')
      expect((await ssh(host(1).mgmtIp, `test -e ${f}`)).code).toBe(1)
      expect((await ssh(tb.gateway.mgmtIp, `test -e ${f}`)).code).toBe(1)
      expect(existsSync(f)).toBe(false)
    }
  })

  it('hosts see the project checkout and .testbed at the same absolute paths', async () => {
    const r = await ssh(host(0).mgmtIp, `test -f ${projectRoot()}/package.json && test -f ${tb.imageContext}/Dockerfile && echo ok`)
    expect(r.stdout.trim()).toBe('ok')
  })

  it('docker build of the lab image works over SSH, and the image has ping, iperf3 and httpd', async () => {
    const r = await ssh(
      host(0).mgmtIp,
      `docker build -q -t vxlab-testbed-check ${tb.imageContext} >/dev/null && ` +
        `docker run --rm --net none vxlab-testbed-check sh -c 'iperf3 --version >/dev/null && ping -c 1 -W 1 127.0.0.1 >/dev/null && cat /www/index.html' && ` +
        'docker rmi -f vxlab-testbed-check >/dev/null',
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/VXLAN-distributed network/)
  })

  it('hostExec runs inside a host without SSH', async () => {
    const r = await hostExec('host2', ['ip', '-4', '-o', 'addr', 'show', 'br-phy'])
    expect(r.stdout).toContain(`inet ${host(1).underlayIp}/24`)
    expect((await hostExec('inet', ['hostname'])).stdout.trim()).toBe('inet')
    expect((await hostExec('gw', ['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).toBe('0')
    await expect(hostExec('host99', ['true'])).rejects.toThrow(/not running/)
    await expect(hostExec('nope', ['true'])).rejects.toThrow(/not a testbed host/)
  })

  it('host1 reaches host2 and the external host only once gw forwards', async () => {
    const h1 = host(0)
    const h2 = host(1)
    const ping = () => hostExec('host1', ['busybox', 'ping', '-c', '1', '-W', '1', h2.underlayIp], { timeoutMs: 5_000 })
    expect((await ping()).code).not.toBe(0)
    try {
      expect((await ssh(tb.gateway.mgmtIp, 'sysctl -qw net.ipv4.ip_forward=1')).code).toBe(0)
      let ok = false
      for (let i = 0; i < 5 && !ok; i++) ok = (await ping()).code === 0 // ARP on a fresh path: a few tries, bounded
      expect(ok).toBe(true)
      // the external host's CGI prints the caller's address: host1's underlay (routed, no NAT)
      const who = await hostExec('host1', ['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', tb.external.whoamiUrl])
      expect(who.stdout.trim()).toBe(h1.underlayIp)
    } finally {
      await ssh(tb.gateway.mgmtIp, 'sysctl -qw net.ipv4.ip_forward=0')
    }
  })

  it('status reports every service of every host', async () => {
    const s = await status()
    expect(s.map((h) => h.name)).toEqual(['gw', 'host1', 'host2', 'inet'])
    expect(s.filter((h) => !h.ok)).toEqual([])
    expect(s.find((h) => h.name === 'host1')?.services.map((x) => x.name)).toEqual(['process', 'sshd', 'ovsdb', 'docker'])
  })
})

// ---------------------------------------------------------------------------------------------
// up then down leaves nothing behind

interface Snapshot {
  netns: string[]
  links: string[]
  mounts: string[]
  cgroups: string[]
}

async function snapshot(): Promise<Snapshot> {
  const netns = (await readdir('/run/netns').catch(() => [] as string[])).sort()
  const links = (JSON.parse((await run(['ip', '-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort()
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ')
      const rest = l.split(' - ')[1]?.split(' ') ?? []
      return `${f[4]} ${rest[0]} ${rest[1]}`
    })
    .sort()
  return { netns, links, mounts, cgroups: await testbedCgroupDirs() }
}

/** Live processes that belong to a testbed: in the given namespaces, in a vxlab-hN cgroup, or run from the run dir. */
async function testbedResidue(netnsInodes: Set<number>, mntInodes: Set<number>): Promise<string[]> {
  const rd = runDir()
  return (await listProcs())
    .filter((p) => p.state !== 'Z')
    .filter(
      (p) =>
        inTestbedCgroup(p) ||
        p.cmdline.some((a) => a.includes(rd)) ||
        (p.netns !== undefined && netnsInodes.has(p.netns)) ||
        (p.mntns !== undefined && mntInodes.has(p.mntns)),
    )
    .map((p) => `${p.pid} ${p.comm} ${p.cmdline.join(' ')}`)
}

const added = (before: string[], after: string[]) => after.filter((x) => !before.includes(x))

describe('testbed down', () => {
  afterAll(async () => {
    await ensureTestbed({ hosts: 2 }) // later test files expect the default testbed
  })

  it('up then down leaves no namespaces, links, mounts, processes or cgroups behind', async () => {
    await down()
    const before = await snapshot()
    expect(before.netns.filter((n) => n.startsWith('vx-'))).toEqual([])
    expect(before.cgroups).toEqual([])
    const t = await up({ hosts: 2 })
    // a running container, so down must also find processes in their own network namespaces
    const built = await hostExec('host1', ['docker', 'build', '-q', '-t', 'vxlab-testbed-check', t.imageContext])
    expect(built.code, built.stderr).toBe(0)
    const c = await hostExec('host1', ['docker', 'run', '-d', '--net', 'none', '--name', 'probe', 'vxlab-testbed-check'])
    expect(c.code, c.stderr).toBe(0)
    const cpid = Number((await hostExec('host1', ['docker', 'inspect', '-f', '{{.State.Pid}}', 'probe'])).stdout.trim())
    expect(cpid).toBeGreaterThan(0)

    const during = await snapshot()
    expect(during.netns).toEqual(expect.arrayContaining(['vx-gw', 'vx-inet', 'vx-h1', 'vx-h2']))
    expect(during.links).toEqual(expect.arrayContaining(['vx-mgmt', 'mg-gw', 'mg-h1', 'mg-h2']))
    expect(during.cgroups.length).toBeGreaterThan(0)
    const nsInodes = new Set<number>()
    for (const n of ['vx-gw', 'vx-inet', 'vx-h1', 'vx-h2']) nsInodes.add((await stat(`/run/netns/${n}`)).ino)
    const procs = await listProcs()
    const mntInodes = new Set(procs.filter((p) => p.netns !== undefined && nsInodes.has(p.netns) && p.mntns !== undefined).map((p) => p.mntns as number))
    mntInodes.delete(procs.find((p) => p.pid === process.pid)?.mntns ?? -1) // never the machine's own
    const residueDuring = await testbedResidue(nsInodes, mntInodes)
    expect(residueDuring.some((p) => p.startsWith(`${cpid} `))).toBe(true) // the container process is found
    expect(residueDuring.length).toBeGreaterThan(10)

    const t0 = Date.now()
    await down()
    const ms = Date.now() - t0
    const after = await snapshot()
    expect(await testbedResidue(nsInodes, mntInodes)).toEqual([])
    const cstat = await readFile(`/proc/${cpid}/stat`, 'utf8').catch(() => '')
    expect(cstat === '' || / Z /.test(cstat.slice(cstat.lastIndexOf(')')))).toBe(true) // gone (or a zombie awaiting its reaper)
    expect(added(before.netns, after.netns)).toEqual([])
    expect(added(before.links, after.links)).toEqual([])
    expect(added(before.mounts, after.mounts)).toEqual([])
    expect(after.cgroups).toEqual([])
    expect(existsSync(path.join(testbedDir(), 'state.json'))).toBe(false)
    expect(await status()).toEqual([])
    await down() // idempotent
    console.log(`testbed down with a running container: ${ms} ms`)
  })
})
