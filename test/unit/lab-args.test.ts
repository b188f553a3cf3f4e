import { describe, expect, it } from 'vitest'
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
