/**
 * Issue #6 on the testbed: the grouped docker read (one `docker inspect` for every container fact of a host)
 * gives each fact exactly what its own command gives (running, stopped and absent containers, attachments,
 * dockerd unreachable), and the converged lab's runs read each host in one exec.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../lib/cli.ts'
import type { Connection } from '../../lib/connection/types.ts'
import { readPlan } from '../../lib/core/runner.ts'
import type { AnyFact, FactOutput } from '../../lib/core/task.ts'
import { containerNetnsFact, dockerContainerFact, dockerImageFact } from '../../lib/facts/docker.ts'
import { OVSDB_SOCKET, ovsStateFact } from '../../lib/facts/ovs.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { SshConnection } from '../../lib/connection/ssh.ts'
import { vethNames } from '../../lib/tasks/docker.ts'
import { ensureTestbed, hostExec, testbedDir } from '../../lib/testbed/index.ts'
import { testbedConnection } from '../fixtures/recorder.ts'
import { lab } from '../../playbooks/lab.ts'

const STOPPED = 'vxperf-stopped'
let conn: Connection
const work = mkdtempSync(join(tmpdir(), 'vxlab-perf-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

beforeAll(async () => {
  await ensureTestbed({ hosts: 2 })
  const code = await runCli(lab, ['-i', join(testbedDir(), 'inventory.yml'), '--json', join(work, 'converge.json')], { out: () => undefined, err: () => undefined })
  expect(code).toBe(0)
  await hostExec('host1', ['docker', 'rm', '-f', STOPPED])
  const made = await hostExec('host1', ['docker', 'create', '--name', STOPPED, '--network', 'none', 'con_img'])
  expect(made.code, made.stderr).toBe(0)
  conn = await testbedConnection('host1')
})
afterAll(async () => {
  await conn?.close()
  await hostExec('host1', ['docker', 'rm', '-f', STOPPED])
})

function judge(f: AnyFact, o: { code: number | null; stdout: string; stderr: string } | undefined): unknown {
  if (o === undefined || o.code === null || !(f.okExitCodes ?? [0]).includes(o.code)) return { failed: o?.code, stderr: o?.stderr.trim() }
  try {
    return JSON.parse(JSON.stringify(f.parse(o as FactOutput)))
  } catch (e) {
    return { parseError: String(e) }
  }
}

describe('grouped docker reads on the testbed', () => {
  const facts: AnyFact[] = []
  for (const [c, iface] of [['doc1', 'eth0'], ['doc2', 'eth0'], [STOPPED, 'eth0'], ['vxperf-nosuch', 'eth0'], ['doc1', 'eth7']] as const) {
    facts.push(dockerContainerFact(c), containerNetnsFact(c, iface, vethNames(c, iface).host))
  }
  // images are read by the same curl (or, through the CLI, one docker image inspect each)
  facts.push(dockerImageFact('con_img'), dockerImageFact('vxperf-no-such-image'))
  const unique = [...new Map(facts.map((f) => [f.id, f])).values()]

  for (const down of [false, true]) {
    it(`one docker call, the same facts as one command each${down ? ', dockerd unreachable: every read fails' : ''}`, async () => {
      const env = down ? ['env', 'DOCKER_HOST=unix:///nonexistent/vxlab-docker.sock'] : []
      const wrap = (argv: readonly string[]) => ({ argv: [...env, ...argv] })
      const plan = readPlan(unique)
      expect(plan.parts).toHaveLength(1)
      const grouped = plan.outputs(await conn.runBatch(plan.parts.map((p) => ({ command: wrap(p.command.argv) }))))
      const own = await conn.runBatch(unique.map((f) => ({ command: wrap(f.command.argv) })))
      const a = unique.map((f, i) => judge(f, grouped[i]))
      expect(a).toEqual(unique.map((f, i) => judge(f, own[i])))
      if (!down) {
        const byId = Object.fromEntries(unique.map((f, i) => [f.id, a[i]]))
        expect(byId['docker.container:doc1']).toMatchObject({ exists: true, status: 'running' })
        expect(byId['docker.netns:doc1:eth0']).toMatchObject({ container: 'running', links: { eth0: { ipv4: [{ cidr: '10.0.1.10/24' }] } } })
        expect(byId[`docker.container:${STOPPED}`]).toMatchObject({ exists: true, status: 'created' })
        expect(byId[`docker.netns:${STOPPED}:eth0`]).toMatchObject({ container: 'stopped' })
        expect(byId['docker.container:vxperf-nosuch']).toEqual({ exists: false })
        expect(byId['docker.netns:vxperf-nosuch:eth0']).toMatchObject({ container: 'absent' })
        expect(byId['docker.image:con_img']).toMatchObject({ exists: true, repoTags: ['con_img:latest'] })
        expect(byId['docker.image:vxperf-no-such-image']).toEqual({ exists: false })
      } else {
        for (const x of a) expect(JSON.stringify(x)).toMatch(/Cannot connect to the Docker daemon/)
      }
    })
  }

  it('over the Engine API (curl) and through the docker CLI, the same facts; the API path runs no docker CLI', async () => {
    const plan = readPlan(unique)
    // a docker CLI that fails whenever it runs, first on PATH (the testbed hosts share this machine's files)
    const stub = join(work, 'nodocker')
    mkdirSync(stub, { recursive: true })
    writeFileSync(join(stub, 'docker'), '#!/bin/sh\necho "docker CLI ran" >&2\nexit 99\n', { mode: 0o755 })
    const read = async (env: string[]) => {
      const wrap = (argv: readonly string[]) => ({ argv: ['env', ...env, ...argv] })
      const grouped = plan.outputs(await conn.runBatch(plan.parts.map((p) => ({ command: wrap(p.command.argv) }))))
      return unique.map((f, i) => judge(f, grouped[i]))
    }
    const path = (await hostExec('host1', ['sh', '-c', 'printf %s "$PATH"'])).stdout
    const api = await read([`PATH=${stub}:${path}`])
    const cli = await read(['DOCKER_CONTEXT=default'])
    expect(api).toEqual(cli)
    // a user's ~/.curlrc does not change what the API path reads (curl -q)
    const home = join(work, 'home')
    mkdirSync(home, { recursive: true })
    writeFileSync(join(home, '.curlrc'), 'fail\noutput = /dev/null\n')
    expect(await read([`HOME=${home}`, `PATH=${stub}:${path}`])).toEqual(cli)
    expect(JSON.stringify(api)).not.toMatch(/docker CLI ran|failed/)
    expect(api.at(-2)).toMatchObject({ exists: true, repoTags: ['con_img:latest'] })
    expect(api.at(-1)).toEqual({ exists: false })
  })
  it('dockerd not answering on its socket (a stale socket file): over the API every read fails naming dockerd, never "absent"', async () => {
    const sock = join(work, 'stale.sock')
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(sock)})`])
    const wrap = (argv: readonly string[]) => ({ argv: ['env', `DOCKER_HOST=unix://${sock}`, ...argv] })
    const plan = readPlan(unique)
    const grouped = plan.outputs(await conn.runBatch(plan.parts.map((p) => ({ command: wrap(p.command.argv) }))))
    const own = await conn.runBatch(unique.map((f) => ({ command: wrap(f.command.argv) })))
    const all = [...unique.map((f, i) => judge(f, grouped[i])), ...unique.map((f, i) => judge(f, own[i]))]
    for (const x of all) expect(JSON.stringify(x)).toMatch(/Cannot connect to the Docker daemon at unix:\/\/.*stale\.sock/)
  })

  it('a no-op lab run as users run it (a process of its own, no terminal) loads no template engine, jsdiff or listr2', async () => {
    const loaded = join(work, 'loaded.json')
    const { execFileSync } = await import('node:child_process')
    const env: NodeJS.ProcessEnv = { ...process.env, VXLAB_LOADED_FILE: loaded }
    delete env.NODE_OPTIONS
    execFileSync(process.execPath, ['--require', fileURLToPath(new URL('../fixtures/loaded-packages.cjs', import.meta.url)), '--import', 'tsx', 'playbooks/lab.ts', '-i', join(testbedDir(), 'inventory.yml')], { env, stdio: 'pipe', timeout: 60_000 })
    const names = JSON.parse((await import('node:fs')).readFileSync(loaded, 'utf8')) as string[]
    // the probe sees the run's own dependencies, so an empty list cannot pass
    expect(names).toEqual(expect.arrayContaining(['node-ssh', 'ssh2', 'yaml']))
    for (const lean of ['handlebars', 'diff', 'listr2']) expect(names, lean).not.toContain(lean)
  })

  it('the converged lab: a no-op run and a check run read every host in one exec, with 0 changes, and OVS on its socket', async () => {
    for (const args of [[], ['--check']]) {
      const json = join(work, `r${args.length}.json`)
      let out = ''
      const code = await runCli(lab, ['-i', join(testbedDir(), 'inventory.yml'), '--json', json, '-v', ...args], { out: (s) => (out += s), err: (s) => (out += s) })
      expect(code, out).toBe(0)
      const r = JSON.parse((await import('node:fs')).readFileSync(json, 'utf8')) as { hosts: Record<string, { changed: number; execs: number }> }
      for (const h of ['gw', 'host1', 'host2']) {
        expect(r.hosts[h], `${args.join(' ')} ${h}`).toMatchObject({ changed: 0, execs: 1 })
        // the OVS state of the Docker hosts (the gateway has no OVS task) came from ovsdb-server's socket, with no
        // ovsdb-client process, and the command did not run as well
        expect(out.match(new RegExp(`^${h}\\s+socket: ${OVSDB_SOCKET}: transact `, 'gm')) ?? [], `${h}\n${out}`).toHaveLength(h === 'gw' ? 0 : 1)
        expect(out).not.toMatch(new RegExp(`^${h}\\s+(exec|socket): .*(ovsdb-client --timeout|running the command instead|not used)`, 'm'))
      }
    }
  })

  it('the OVS state read on ovsdb-server\'s socket over SSH is the fact `ovsdb-client transact` gives, with no ovsdb-client', async () => {
    const kinds: string[] = []
    const inv = Inventory.load(join(testbedDir(), 'inventory.yml'))
    const c = inv.host('host1').connection
    const ssh = await SshConnection.connect({
      name: 'host1', address: c.address, port: c.port, user: c.user, privateKeyFile: c.privateKeyFile!,
      knownHostsFile: c.knownHostsFile!, hostKeyPolicy: 'strict', connectTimeoutMs: 10_000,
    }, { log: (_h, line, kind) => kinds.push(`${kind ?? 'exec'} ${line}`) })
    try {
      const [viaSocket] = await ssh.runBatch([{ command: ovsStateFact.command }])
      // one exec: the check (builtins) that ovsdb-client would use that socket; no ovsdb-client ran
      expect(ssh.execCount).toBe(1)
      expect(kinds).toHaveLength(2)
      expect(kinds).toContainEqual(expect.stringMatching(new RegExp(`^socket ${OVSDB_SOCKET}: transact \\["Open_vSwitch"`)))
      expect(kinds.find((k) => k.startsWith('exec '))).toMatch(/OVS_RUNDIR/)
      expect(kinds.join('\n')).not.toMatch(/ovsdb-client --timeout|running the command instead/)
      // checked once per connection: a second read is the socket alone
      await ssh.runBatch([{ command: ovsStateFact.command }])
      expect(ssh.execCount).toBe(1)
      const [viaCommand] = await ssh.runBatch([{ command: { argv: ovsStateFact.command.argv } }])
      expect(ssh.execCount).toBe(2)
      expect(viaCommand!.code, viaCommand!.stderr).toBe(0)
      const a = judge(ovsStateFact, viaSocket)
      expect(a).toEqual(judge(ovsStateFact, viaCommand))
      expect(a).toMatchObject({ bridges: { br1: { datapathType: 'netdev' }, br2: {} }, interfaces: { vxlan1: { type: 'vxlan', options: { key: '5000' } } } })
    } finally {
      await ssh.close()
    }
  })
})
