import { describe, expect, it } from 'vitest'
import { buildPlaybook } from '../../lib/core/playbook.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { labRunArgs } from '../../lib/lab/args.ts'
import { lab } from '../../playbooks/lab.ts'

// `npm run lab` adds --verify (pings, NAT, iperf3: traffic and a server started in a container) to an apply run
// only: never in check mode, which sends nothing but reads
describe('npm run lab: the arguments it gives the lab playbook', () => {
  it('adds --verify to an apply run', () => {
    expect(labRunArgs(lab, [])).toEqual(['--verify'])
    expect(labRunArgs(lab, ['-l', 'host1', '-D'])).toEqual(['--verify', '-l', 'host1', '-D'])
    expect(labRunArgs(lab, ['--verify'])).toEqual(['--verify'])
  })
  it('not in check mode, however it is spelled', () => {
    for (const args of [['--check'], ['-C'], ['-CD'], ['-DC'], ['-vCD'], ['--check', '--diff'], ['-i', 'x.yml', '-C']]) {
      expect(labRunArgs(lab, args), args.join(' ')).toEqual(args)
    }
  })
  it('not with --state absent or --no-verify (which is not passed on)', () => {
    expect(labRunArgs(lab, ['--state', 'absent'])).toEqual(['--state', 'absent'])
    expect(labRunArgs(lab, ['--state=absent'])).toEqual(['--state=absent'])
    expect(labRunArgs(lab, ['--no-verify', '-D'])).toEqual(['-D'])
    expect(labRunArgs(lab, ['--state', 'present'])).toEqual(['--verify', '--state', 'present'])
  })
})

describe('--verify with --check or --limit', () => {
  const inventory = Inventory.load('test/fixtures/inventory/graph-2hosts.yml')
  const probes = (check: boolean, limit?: string): string[] =>
    buildPlaybook(lab, { inventory, check, flags: { verify: true }, ...(limit !== undefined ? { limit } : {}) }).flatMap((p) => p.hosts.flatMap((h) => h.tasks.map((t) => `${p.def.name}: ${h.host.name} ${t.key}`))).filter((k) => k.startsWith('verify'))
  it('runs the read-only probes but starts no iperf3 server and runs no iperf3 client', () => {
    const apply = probes(false)
    const check = probes(true)
    expect(apply.filter((k) => k.includes('iperf3'))).toEqual(['verify: servers: host2 verify[iperf3 server in doc3]', 'verify: host1 verify[iperf3 doc1 -> doc3]'])
    expect(check).toEqual(apply.filter((k) => !k.includes('iperf3')))
    expect(check.length).toBeGreaterThan(8)
  })
  it('with a --limit that leaves out either iperf3 host, no iperf3 task (the client could only fail; the server would wait for ever)', () => {
    expect(probes(false, 'host1').filter((k) => k.includes('iperf3'))).toEqual([])
    expect(probes(false, 'host1').length).toBeGreaterThan(3)
    expect(probes(false, 'host1,host2').filter((k) => k.includes('iperf3')).length).toBe(2)
    // and no server that no client would connect to
    expect(probes(false, 'host2').filter((k) => k.includes('iperf3'))).toEqual([])
  })
})
