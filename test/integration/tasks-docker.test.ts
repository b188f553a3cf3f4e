/**
 * Docker tasks on the real testbed: an image built from the testbed's FROM-scratch context, containers on
 * host1 and host2 attached to netdev OVS bridges (joined by a VXLAN port), traffic on host1 (ping between
 * containers and to the host's bridge port, TCP to httpd), drift made by hand (tx offload, an address changed
 * inside the namespace, docker restart, docker rm -f, a changed spec) repaired, check mode that changes
 * nothing, and a clean removal.
 *
 * Traffic between host1 and host2 is not probed here: the testbed's gateway starts with ip_forward=0 (the
 * lab playbook's job, observed by its own tests), so the underlay between the hosts is routed only after
 * that playbook ran; the lab's verify play probes cross-host ping and iperf3 over these same tasks. Names are unique to this file (tdoc*, tdbr1, tdvx1,
 * vxlab-test-lab) so other work on the shared testbed is left alone.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunReport } from '../../lib/core/playbook.ts'
import type { AnyTask } from '../../lib/core/task.ts'
import { CONTEXT_HASH_SCRIPT, contextCacheName } from '../../lib/facts/docker.ts'
import { containerPort, dockerContainer, dockerImage, vethNames } from '../../lib/tasks/docker.ts'
import { ovsBridge, vxlanPort } from '../../lib/tasks/ovs.ts'
import { ensureTestbed, hostExec } from '../../lib/testbed/index.ts'
import { errors, runTasks, statuses, testbedInventory } from './helpers.ts'

const IMAGE = 'vxlab-test-lab'
const BR = 'tdbr1'
const NET = '10.99.47'
const GW = `${NET}.1`
const HOSTS = ['host1', 'host2'] as const
let context = ''
let underlay: Record<string, string> = {}

type Opts = { env?: Record<string, string>; buildArgs?: Record<string, string>; absent?: boolean }

function host1Tasks(o: Opts = {}): AnyTask[] {
  if (o.absent) {
    return [
      containerPort({ bridge: BR, container: 'tdoc1', ensure: 'absent' }),
      containerPort({ bridge: BR, container: 'tdoc2', ensure: 'absent' }),
      dockerContainer({ name: 'tdoc1', image: IMAGE, network: 'none', state: 'absent' }),
      dockerContainer({ name: 'tdoc2', image: IMAGE, network: 'none', state: 'absent' }),
      dockerImage({ name: IMAGE, ensure: 'absent' }),
      ovsBridge({ name: BR, ensure: 'absent' }),
    ]
  }
  return [
    dockerImage({ name: IMAGE, context, ...(o.buildArgs ? { buildArgs: o.buildArgs } : {}) }),
    ovsBridge({ name: BR, datapathType: 'netdev' }),
    vxlanPort({ bridge: BR, name: 'tdvx1', remoteIp: underlay.host2!, key: 4999 }),
    dockerContainer({ name: 'tdoc1', image: IMAGE, network: 'none', ...(o.env ? { env: o.env } : {}) }),
    dockerContainer({ name: 'tdoc2', image: IMAGE, network: 'none' }),
    containerPort({ bridge: BR, container: 'tdoc1', address: `${NET}.11/24`, gateway: GW, mtu: 1450 }),
    containerPort({ bridge: BR, container: 'tdoc2', address: `${NET}.12/24`, gateway: GW, mtu: 1450 }),
  ]
}

function host2Tasks(o: Opts = {}): AnyTask[] {
  if (o.absent) {
    return [
      containerPort({ bridge: BR, container: 'tdoc3', ensure: 'absent' }),
      dockerContainer({ name: 'tdoc3', image: IMAGE, network: 'none', state: 'absent' }),
      dockerImage({ name: IMAGE, ensure: 'absent' }),
      ovsBridge({ name: BR, ensure: 'absent' }),
    ]
  }
  return [
    dockerImage({ name: IMAGE, context, ...(o.buildArgs ? { buildArgs: o.buildArgs } : {}) }),
    ovsBridge({ name: BR, datapathType: 'netdev' }),
    vxlanPort({ bridge: BR, name: 'tdvx1', remoteIp: underlay.host1!, key: 4999 }),
    dockerContainer({ name: 'tdoc3', image: IMAGE, network: 'none' }),
    containerPort({ bridge: BR, container: 'tdoc3', address: `${NET}.13/24`, gateway: GW, mtu: 1450 }),
  ]
}

const run = (o: Opts & { check?: boolean } = {}): Promise<RunReport> => runTasks({ host1: host1Tasks(o), host2: host2Tasks(o) }, { check: o.check ?? false })

async function sh(host: string, script: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return hostExec(host, ['sh', '-c', script, 'sh', ...args], { timeoutMs: 60_000 })
}

async function cleanup(): Promise<void> {
  await sh('host1', 'docker rm -f tdoc1 tdoc2 >/dev/null 2>&1; ovs-vsctl --if-exists del-br tdbr1; docker image rm vxlab-test-lab >/dev/null 2>&1; true')
  await sh('host2', 'docker rm -f tdoc3 >/dev/null 2>&1; ovs-vsctl --if-exists del-br tdbr1; docker image rm vxlab-test-lab >/dev/null 2>&1; true')
}

/** What check mode must not change: containers, the image, OVS and the containers' namespaces. */
async function observable(host: string): Promise<string> {
  const r = await sh(host, `docker ps -a --no-trunc --filter name=tdoc --format '{{.Names}} {{.ID}} {{.Status}}' | sed 's/Up [^)]*/Up/'
docker image ls --no-trunc --format '{{.Repository}} {{.ID}}' ${IMAGE}
if ovs-vsctl --timeout=10 br-exists ${BR}; then ovs-vsctl --timeout=10 list-ports ${BR}; fi
for c in tdoc1 tdoc2 tdoc3; do ovs-vsctl --timeout=10 --format=json --columns=name,ofport,external_ids find interface external_ids:container_id=$c; done
for c in $(docker ps -q --filter name=tdoc); do pid=$(docker inspect -f '{{.State.Pid}}' "$c"); nsenter -t "$pid" -n ip -4 -o addr show; nsenter -t "$pid" -n ip -4 route show; done`)
  return r.stdout
}

/** Ping from a container until the first reply, at most ~10 s (pitfall 12: a fresh tunnel drops the first packets). */
async function pingFrom(host: string, container: string, target: string): Promise<{ ok: boolean; out: string }> {
  const r = await sh(host, 'for i in 1 2 3 4 5 6 7 8 9 10; do if docker exec "$1" ping -c 1 -W 1 "$2"; then exit 0; fi; done; exit 1', container, target)
  return { ok: r.code === 0, out: r.stdout + r.stderr }
}

/** An HTTP GET to the lab image's httpd from a container (busybox nc; bounded to 3 s): the status line or nc's error. */
async function httpGet(host: string, container: string, ip: string): Promise<string> {
  const r = await sh(host, 'timeout 10 docker exec "$1" sh -c \'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 "$1" 80\' sh "$2" 2>&1', container, ip)
  return (r.stdout + r.stderr).trim()
}

async function imageId(host: string): Promise<string> {
  return (await hostExec(host, ['docker', 'image', 'inspect', '-f', '{{.Id}}', IMAGE])).stdout.trim()
}

function changesOf(r: RunReport, host: string, key: string): string[] {
  return r.tasks.find((t) => t.host === host && t.key === key)?.changes.map((c) => c.op) ?? []
}

beforeAll(async () => {
  await ensureTestbed({ hosts: 2 })
  const inv = testbedInventory()
  context = String(inv.host('host1').vars.raw('lab_image_context'))
  underlay = Object.fromEntries(HOSTS.map((h) => [h, String(inv.host(h).vars.raw('underlay_ip'))]))
  await cleanup()
})
afterAll(async () => {
  await cleanup()
})

describe('docker tasks on the testbed', () => {
  it('check mode on fresh hosts plans every create and changes nothing', async () => {
    const before = await Promise.all(HOSTS.map(observable))
    const r = await run({ check: true })
    expect(errors(r)).toBe('')
    expect(Object.values(statuses(r, 'host1'))).toEqual(Array(7).fill('changed'))
    expect(Object.values(statuses(r, 'host2'))).toEqual(Array(5).fill('changed'))
    expect(r.hosts.host1!.execs).toBe(1)
    expect(changesOf(r, 'host1', 'docker.containerPort[tdoc1:eth0]')).toEqual(['create'])
    expect(await Promise.all(HOSTS.map(observable))).toEqual(before)
    expect((await hostExec('host1', ['ovs-vsctl', 'br-exists', BR])).code).toBe(2)
  })

  it('builds the image, runs and attaches the containers; a rerun changes nothing in one exec and does not rebuild', async () => {
    const r = await run()
    expect(errors(r)).toBe('')
    expect(r.hosts.host1).toMatchObject({ changed: 7, failed: 0 })
    expect(r.hosts.host2).toMatchObject({ changed: 5, failed: 0 })
    const ids = await Promise.all(HOSTS.map(imageId))
    expect(ids[0]).toMatch(/^sha256:/)
    const again = await run()
    expect(errors(again)).toBe('')
    expect(again.hosts.host1).toMatchObject({ ok: 7, changed: 0, execs: 1 })
    expect(again.hosts.host2).toMatchObject({ ok: 5, changed: 0, execs: 1 })
    expect(await Promise.all(HOSTS.map(imageId))).toEqual(ids)
    // the attachment is what ovs-docker would have made: external_ids, container end inside, offload off
    const H = vethNames('tdoc1', 'eth0').host
    const ext = await hostExec('host1', ['ovs-vsctl', 'get', 'interface', H, 'external_ids'])
    expect(ext.stdout.trim()).toBe('{container_id=tdoc1, container_iface=eth0}')
    const inside = await sh('host1', 'pid=$(docker inspect -f "{{.State.Pid}}" tdoc1); nsenter -t "$pid" -n ip -4 -o addr show dev eth0; nsenter -t "$pid" -n ip route show default; nsenter -t "$pid" -n ethtool -k eth0 | grep "^tx-checksumming"; ip -o link show dev "$1"', H)
    expect(inside.stdout).toContain(`inet ${NET}.11/24`)
    expect(inside.stdout).toContain(`default via ${GW} dev eth0`)
    expect(inside.stdout).toContain('tx-checksumming: off')
    expect(inside.stdout).toContain('mtu 1450')
  })

  it('carries traffic (ping to a container and to the host, TCP); tx offload turned on by hand breaks TCP and is repaired', async () => {
    const gw = await sh('host1', 'ip addr replace "$1" dev tdbr1 && ip link set dev tdbr1 up', `${GW}/24`)
    expect(gw.stderr).toBe('')
    expect(await pingFrom('host1', 'tdoc1', `${NET}.12`)).toMatchObject({ ok: true })
    expect(await pingFrom('host1', 'tdoc2', GW)).toMatchObject({ ok: true })
    expect(await httpGet('host1', 'tdoc2', `${NET}.11`)).toMatch(/^HTTP\/1\.[01] 200 OK/)
    // pitfall 13: with tx checksum offload on, TCP over the userspace datapath fails while ping works
    await sh('host1', 'for c in tdoc1 tdoc2; do pid=$(docker inspect -f "{{.State.Pid}}" "$c"); nsenter -t "$pid" -n ethtool -K eth0 tx on >/dev/null; done')
    expect(await pingFrom('host1', 'tdoc2', `${NET}.11`)).toMatchObject({ ok: true })
    expect(await httpGet('host1', 'tdoc2', `${NET}.11`)).toMatch(/timed out/)
    const c = await run({ check: true })
    expect(c.tasks.filter((t) => t.host === 'host1' && t.status === 'changed').map((t) => [t.key, t.changes[0]?.after])).toEqual([
      ['docker.containerPort[tdoc1:eth0]', { txChecksum: 'off' }],
      ['docker.containerPort[tdoc2:eth0]', { txChecksum: 'off' }],
    ])
    const r = await run()
    expect(errors(r)).toBe('')
    expect(r.hosts.host1).toMatchObject({ changed: 2 })
    expect(await httpGet('host1', 'tdoc2', `${NET}.11`)).toMatch(/^HTTP\/1\.[01] 200 OK/)
  })

  it('repairs an address changed by hand inside the container, after check mode reported it without touching it', async () => {
    await sh('host1', 'pid=$(docker inspect -f "{{.State.Pid}}" tdoc1); nsenter -t "$pid" -n ip addr flush dev eth0 && nsenter -t "$pid" -n ip addr add "$1" dev eth0', `${NET}.99/24`)
    const before = await observable('host1')
    const c = await run({ check: true })
    expect(errors(c)).toBe('')
    expect(statuses(c, 'host1')['docker.containerPort[tdoc1:eth0]']).toBe('changed')
    expect(c.tasks.find((t) => t.key === 'docker.containerPort[tdoc1:eth0]')!.changes[0]).toMatchObject({ op: 'update', before: { address: `${NET}.99/24`, gateway: null }, after: { address: `${NET}.11/24`, gateway: GW } })
    expect(c.hosts.host1).toMatchObject({ changed: 1, ok: 6 })
    expect(await observable('host1')).toBe(before)
    const r = await run()
    expect(errors(r)).toBe('')
    expect(r.hosts.host1).toMatchObject({ changed: 1 })
    const inside = await sh('host1', 'pid=$(docker inspect -f "{{.State.Pid}}" tdoc1); nsenter -t "$pid" -n ip -4 -o addr show dev eth0; nsenter -t "$pid" -n ip route show default')
    expect(inside.stdout).toContain(`inet ${NET}.11/24`)
    expect(inside.stdout).not.toContain(`${NET}.99`)
    expect(inside.stdout).toContain(`default via ${GW} dev eth0`)
  })

  it('re-attaches a container restarted after attachment (its end is gone, the OVS row is stale)', async () => {
    expect((await hostExec('host1', ['docker', 'restart', '-t', '1', 'tdoc1'])).code).toBe(0)
    const r = await run()
    expect(errors(r)).toBe('')
    expect(changesOf(r, 'host1', 'docker.containerPort[tdoc1:eth0]')).toEqual(['replace'])
    expect(r.hosts.host1).toMatchObject({ changed: 1, ok: 6 })
    expect(await pingFrom('host1', 'tdoc1', `${NET}.12`)).toMatchObject({ ok: true })
    const again = await run()
    expect(again.hosts.host1).toMatchObject({ changed: 0, execs: 1 })
  })

  it('re-creates a removed container and attaches it in the same run; a changed spec replaces and re-attaches', async () => {
    expect((await hostExec('host1', ['docker', 'rm', '-f', 'tdoc2'])).code).toBe(0)
    const r = await run()
    expect(errors(r)).toBe('')
    expect(changesOf(r, 'host1', 'docker.container[tdoc2]')).toEqual(['create'])
    expect(statuses(r, 'host1')['docker.containerPort[tdoc2:eth0]']).toBe('changed')
    expect(await pingFrom('host1', 'tdoc2', `${NET}.11`)).toMatchObject({ ok: true })

    const env = { GREETING: `it's "$(quoted)"; ok` }
    const c = await run({ env })
    expect(errors(c)).toBe('')
    expect(changesOf(c, 'host1', 'docker.container[tdoc1]')).toEqual(['replace'])
    expect(changesOf(c, 'host1', 'docker.containerPort[tdoc1:eth0]')).toEqual(['replace'])
    const seen = await hostExec('host1', ['docker', 'exec', 'tdoc1', 'sh', '-c', 'printf %s "$GREETING"'])
    expect(seen.stdout).toBe(env.GREETING)
    expect(await pingFrom('host1', 'tdoc1', `${NET}.12`)).toMatchObject({ ok: true })
    expect((await run({ env })).hosts.host1).toMatchObject({ changed: 0, execs: 1 })

    // changed build inputs: the image is rebuilt, its containers replaced and re-attached, in one run
    const before = await imageId('host1')
    const b = await run({ env, buildArgs: { VXLAB_TEST_REV: '2' } })
    expect(errors(b)).toBe('')
    expect(changesOf(b, 'host1', `docker.image[${IMAGE}]`)).toEqual(['replace'])
    expect(await imageId('host1')).not.toBe(before)
    expect(changesOf(b, 'host1', 'docker.container[tdoc1]')).toEqual(['replace'])
    expect(changesOf(b, 'host1', 'docker.container[tdoc2]')).toEqual(['replace'])
    expect(changesOf(b, 'host2', 'docker.container[tdoc3]')).toEqual(['replace'])
    expect(statuses(b, 'host1')['docker.containerPort[tdoc2:eth0]']).toBe('changed')
    expect(await pingFrom('host1', 'tdoc2', `${NET}.11`)).toMatchObject({ ok: true })
    expect((await run({ env, buildArgs: { VXLAB_TEST_REV: '2' } })).hosts.host1).toMatchObject({ changed: 0, execs: 1 })
  })

  it('builds from a tar sent over stdin and from a host context with a rendered Dockerfile, each once', async () => {
    const tasks = (greeting: string): AnyTask[] => [
      dockerImage({ name: 'vxlab-test-tar', dockerfile: { template: { inline: 'FROM scratch\nCOPY {{file}} sub/ /\n' }, vars: { file: 'hello.txt' } }, files: { 'hello.txt': `${greeting}\n`, 'sub/x.bin': new Uint8Array([0, 255, 10]) } }),
      dockerImage({ name: 'vxlab-test-df', context, dockerfile: { template: { inline: 'FROM scratch\nADD rootfs.tar /\nLABEL greeting="{{greeting}}"\n' }, vars: { greeting } } }),
    ]
    try {
      const r = await runTasks({ host1: tasks('hello') })
      expect(errors(r)).toBe('')
      expect(r.hosts.host1).toMatchObject({ changed: 2 })
      expect((await runTasks({ host1: tasks('hello') })).hosts.host1).toMatchObject({ changed: 0, execs: 1 })
      const ids = (await hostExec('host1', ['docker', 'image', 'inspect', '-f', '{{.Id}} {{index .Config.Labels "greeting"}}', 'vxlab-test-tar', 'vxlab-test-df'])).stdout
      const c = await runTasks({ host1: tasks('bye') })
      expect(c.tasks.map((t) => t.changes[0]?.op)).toEqual(['replace', 'replace'])
      const after = (await hostExec('host1', ['docker', 'image', 'inspect', '-f', '{{.Id}} {{index .Config.Labels "greeting"}}', 'vxlab-test-tar', 'vxlab-test-df'])).stdout
      expect(after.split('\n')[0]).not.toBe(ids.split('\n')[0])
      expect(after.split('\n')[1]).toMatch(/ bye$/)
    } finally {
      await hostExec('host1', ['docker', 'image', 'rm', 'vxlab-test-tar', 'vxlab-test-df'])
    }
  })

  it('a host context\'s hash comes from the host\'s cache while the folder is unchanged, and a change no size or mtime shows rebuilds', async () => {
    // a context of its own beside the testbed's (a local file system the hosts share with this process)
    const ctx = join(dirname(context), 'ctxcache-test')
    const bin = join(dirname(context), 'ctxcache-bin')
    const name = 'vxlab-test-ctxcache'
    const entry = `/run/vxlab-cache/context-hash/${contextCacheName(ctx)}`
    const image = (): AnyTask[] => [dockerImage({ name, context: ctx })]
    rmSync(ctx, { recursive: true, force: true })
    mkdirSync(ctx, { recursive: true })
    mkdirSync(bin, { recursive: true })
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY note /note\n')
    writeFileSync(join(ctx, 'note'), 'version 1\n')
    // the host stores a hash only for files 60 s old: a `date` 100 s ahead, for this one read, stands in for the wait
    writeFileSync(join(bin, 'date'), '#!/bin/sh\necho $(( $(/bin/date +%s) + 100 ))\n')
    chmodSync(join(bin, 'date'), 0o755)
    try {
      const stored = await sh('host1', `PATH=${bin}:$PATH; export PATH; ${CONTEXT_HASH_SCRIPT}`, ctx, contextCacheName(ctx))
      expect(stored.code).toBe(0)
      const line = (await sh('host1', 'cat "$1"', entry)).stdout
      expect(line).toMatch(new RegExp(`^[0-9a-f]{64} ${stored.stdout.slice(0, 64)}\n$`))
      const built = await runTasks({ host1: image() })
      expect(errors(built)).toBe('')
      expect(changesOf(built, 'host1', `docker.image[${name}]`)).toEqual(['create'])
      expect((await runTasks({ host1: image() })).hosts.host1).toMatchObject({ changed: 0, execs: 1 })
      // the read on the host answers from the cache: a wrong hash there is believed (so the cache is what answers)
      await sh('host1', 'printf "%s %s\n" "${2%% *}" "$3" >"$1"', entry, line, '0'.repeat(64))
      expect(changesOf(await runTasks({ host1: image() }, { check: true }), 'host1', `docker.image[${name}]`)).toEqual(['replace'])
      await sh('host1', 'printf "%s" "$2" >"$1"', entry, line)
      expect((await runTasks({ host1: image() }, { check: true })).hosts.host1).toMatchObject({ changed: 0 })
      // new content of the same size under the same mtime: only the ctime changed, and check mode plans the rebuild
      const edit = await sh('host1', 'cd "$1" && touch -r note ../ctxcache-stamp && printf "version 2\n" >note && touch -r ../ctxcache-stamp note && rm ../ctxcache-stamp', ctx)
      expect(edit.code).toBe(0)
      expect(changesOf(await runTasks({ host1: image() }, { check: true }), 'host1', `docker.image[${name}]`)).toEqual(['replace'])
      const rebuilt = await runTasks({ host1: image() })
      expect(changesOf(rebuilt, 'host1', `docker.image[${name}]`)).toEqual(['replace'])
      const note = await sh('host1', 'c=$(docker create "$1" /none) && docker cp "$c:/note" - | tar -xO; docker rm "$c" >/dev/null', name)
      expect(note.stdout).toBe('version 2\n')
    } finally {
      await sh('host1', 'docker image rm "$1" >/dev/null 2>&1; rm -f "$2"; true', name, entry)
      rmSync(ctx, { recursive: true, force: true })
      rmSync(bin, { recursive: true, force: true })
    }
  })

  it('absent removes ports, veths, containers, the image and the bridge; a rerun changes nothing', async () => {
    const r = await run({ absent: true })
    expect(errors(r)).toBe('')
    expect(r.hosts.host1).toMatchObject({ changed: 6, failed: 0 })
    expect(r.hosts.host2).toMatchObject({ changed: 4, failed: 0 })
    const ends = ['tdoc1', 'tdoc2'].map((c) => vethNames(c, 'eth0').host)
    const left = await sh('host1', 'docker ps -a -q --filter name=tdoc; docker image ls -q vxlab-test-lab; ovs-vsctl --bare --columns=name find interface external_ids:container_id=tdoc1; ip -o link show dev "$1" 2>&1; ip -o link show dev "$2" 2>&1', ...ends)
    expect(left.stdout.trim()).toBe(ends.map((e) => `Device "${e}" does not exist.`).join('\n'))
    expect((await run({ absent: true })).hosts.host1).toMatchObject({ changed: 0, ok: 6, execs: 1 })
  })
})
