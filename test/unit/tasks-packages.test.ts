import { describe, expect, it } from 'vitest'
import type { Change, Task } from '../../lib/core/task.ts'
import { packageStatesFact, parsePackageStates } from '../../lib/facts/packages.ts'
import { APT_TIMEOUT_MS, packages } from '../../lib/tasks/packages.ts'

function plan<S, C>(t: Task<S, C>, cur: C): Change[] {
  return t.plan(cur, t.spec)
}
const APT = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get']

describe('packages.apt', () => {
  const t = packages({ names: ['openvswitch-switch', 'iperf3', 'openvswitch-switch'] })
  it('key, fact (dpkg-query with status format), watches; duplicates dropped', () => {
    expect(t.kind).toBe('packages.apt')
    expect(t.key).toBe('packages.apt[openvswitch-switch,iperf3]')
    expect(t.facts[0]!.command.argv).toEqual(['dpkg-query', '-W', '-f', '${Package}\t${db:Status-Status}\n', 'openvswitch-switch', 'iperf3'])
    expect(t.watches).toEqual(['package:openvswitch-switch', 'package:iperf3'])
  })
  it('missing (unknown to dpkg, removed with config files left) -> create installing only those', () => {
    const cs = plan(t, { states: { 'openvswitch-switch': 'installed', iperf3: 'config-files' } })
    expect(cs).toHaveLength(1)
    expect(cs[0]).toMatchObject({ op: 'create', summary: 'install iperf3', before: { iperf3: 'config-files' }, after: { iperf3: 'installed' }, touches: ['*'] })
    expect(cs[0]!.commands).toEqual([{ argv: [...APT, 'install', '-y', '--no-install-recommends', 'iperf3'], timeoutMs: APT_TIMEOUT_MS }])
    const both = plan(t, { states: {} })
    expect(both[0]!.summary).toBe('install openvswitch-switch iperf3')
    expect(both[0]!.before).toEqual({ 'openvswitch-switch': 'unknown', iperf3: 'unknown' })
  })
  it('all installed (or only triggers pending) -> no change; half-installed -> install again', () => {
    expect(plan(t, { states: { 'openvswitch-switch': 'installed', iperf3: 'triggers-pending' } })).toEqual([])
    expect(plan(t, { states: { 'openvswitch-switch': 'half-installed', iperf3: 'installed' } })[0]!.summary).toBe('install openvswitch-switch')
  })
  it('absent wanted -> apt-get remove what is installed, nothing otherwise', () => {
    const gone = packages({ names: ['iperf3', 'curl'], ensure: 'absent' })
    const cs = plan(gone, { states: { iperf3: 'installed', curl: 'config-files' } })
    expect(cs.map((c) => c.op)).toEqual(['delete'])
    expect(cs[0]!.commands[0]!.argv).toEqual([...APT, 'remove', '-y', 'iperf3'])
    expect(plan(gone, { states: { curl: 'not-installed' } })).toEqual([])
  })
  it.each([
    [{ names: [] }, /^packages\.apt\[\]\.names: expected a non-empty list/],
    [{ names: ['-y'] }, /^packages\.apt\[-y\]\.names\[0\]: expected a Debian package name/],
    [{ names: ['curl', 'Curl'] }, /\.names\[1\]: expected a Debian package name/],
    [{ names: ['curl; reboot'] }, /\.names\[0\]: expected a Debian package name/],
    [{ names: ['c'] }, /\.names\[0\]: expected a Debian package name/],
    [{ names: ['curl'], ensure: 'latest' }, /\.ensure: expected one of "present", "absent"/],
  ])('rejects %j', (spec, re) => {
    expect(() => packages(spec as never)).toThrow(re)
  })
})

describe('dpkg-query parsing', () => {
  const f = packageStatesFact(['bash', 'nosuchpkg'])
  it('exit 1 for unknown names is accepted; any other message fails', () => {
    expect(f.parse({ code: 1, stdout: 'bash\tinstalled\n', stderr: 'dpkg-query: no packages found matching nosuchpkg\n' })).toEqual({ bash: 'installed' })
    expect(() => f.parse({ code: 1, stdout: '', stderr: 'dpkg-query: error: cannot access archive\n' })).toThrow(/cannot access archive/)
  })
  it('multi-arch lines: installed wins', () => {
    expect(parsePackageStates('libc6\tnot-installed\nlibc6\tinstalled\nzlib1g\tconfig-files\nx\t\n')).toEqual({ libc6: 'installed', zlib1g: 'config-files', x: 'not-installed' })
  })
})
