import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Command } from '../../lib/core/command.ts'
import type { Change, Task } from '../../lib/core/task.ts'
import { renderArgv } from '../../lib/connection/quote.ts'
import { normalizeSysctlValue, sysctlFact, sysctlName, sysctlPath } from '../../lib/facts/sysctl.ts'
import { LocalConnection } from '../../lib/connection/local.ts'
import { readPlan } from '../../lib/core/runner.ts'
import { fileFact } from '../../lib/facts/files.ts'
import { defaultSysctlFile, sysctl, sysctlFileContent, sysctlKeyInterface, sysctlRecordFile, sysctlVerifyCommand } from '../../lib/tasks/sysctl.ts'
import { recordOnceCommand } from '../../lib/tasks/file.ts'

function plan<S, C>(t: Task<S, C>, cur: C): Change[] {
  return t.plan(cur, t.spec)
}
const argvs = (cs: readonly Change[]): string[][] => cs.flatMap((c) => c.commands.map((x) => [...x.argv]))

const KEY = 'net.ipv4.ip_forward'
const FILE = '/etc/sysctl.d/90-vxlab-net.ipv4.ip_forward.conf'
const GOOD = sysctlFileContent(KEY, '1')
const fileOk = { exists: true as const, content: GOOD, mode: '644' }

describe('sysctl', () => {
  const t = sysctl({ key: KEY, value: 1 })
  it('key, default file, facts, watches', () => {
    expect(t.kind).toBe('sysctl')
    expect(t.key).toBe('sysctl[net.ipv4.ip_forward]')
    expect(defaultSysctlFile(KEY)).toBe(FILE)
    expect(defaultSysctlFile('net/ipv4/conf/eth0.100/rp_filter')).toBe('/etc/sysctl.d/90-vxlab-net.ipv4.conf.eth0.100.rp_filter.conf')
    expect(t.facts.map((f) => f.id)).toEqual([`sysctl:${KEY}`, `file:${FILE}`])
    expect(t.facts[0]!.command).toEqual(fileFact('/proc/sys/net/ipv4/ip_forward').command) // read with the batch's files
    expect(t.facts[0]!.group?.key).toBe('files')
    expect(t.watches).toEqual([`sysctl:${KEY}`, `file:${FILE}`])
    expect(sysctl({ key: 'net.ipv4.conf.tnet0.rp_filter', value: 2 }).watches).toContain('link:tnet0')
    expect(sysctl({ key: KEY, value: 1, persist: false }).facts.map((f) => f.id)).toEqual([`sysctl:${KEY}`])
  })
  it('file content is key = value with a header', () => {
    expect(GOOD).toBe('# Managed by vxlab (sysctl task): local edits are overwritten.\nnet.ipv4.ip_forward = 1\n')
  })
  it('nothing set -> runtime update (set + read-back) and file create', () => {
    const cs = plan(t, { runtime: { exists: true, value: '0' }, file: { exists: false } })
    expect(cs.map((c) => c.op)).toEqual(['update', 'create'])
    expect(cs[0]).toMatchObject({ before: { runtime: '0' }, after: { runtime: '1' }, touches: [`sysctl:${KEY}`] })
    expect(cs[0]!.commands[0]!.argv).toEqual(['sysctl', '-w', 'net.ipv4.ip_forward=1'])
    expect(cs[0]!.commands[1]).toEqual(sysctlVerifyCommand(KEY, '1'))
    expect(cs[1]!.commands[0]!.stdin).toBe(GOOD)
    expect(cs[1]!.commands[0]!.argv.slice(-2)).toEqual([FILE, '644'])
    expect(cs[1]!.diff).toContain('+net.ipv4.ip_forward = 1')
    expect(cs[1]!.touches).toEqual([`file:${FILE}`])
  })
  it('in sync -> no change', () => {
    expect(plan(t, { runtime: { exists: true, value: '1' }, file: fileOk })).toEqual([])
  })
  it('runtime changed by hand, file right -> only the runtime is updated', () => {
    const cs = plan(t, { runtime: { exists: true, value: '0' }, file: fileOk })
    expect(cs).toHaveLength(1)
    expect(argvs(cs)[0]).toEqual(['sysctl', '-w', 'net.ipv4.ip_forward=1'])
  })
  it('file edited by hand (content or mode), runtime right -> only the file is rewritten, with a diff', () => {
    const cs = plan(t, { runtime: { exists: true, value: '1' }, file: { exists: true, content: 'net.ipv4.ip_forward = 0\n', mode: '644' } })
    expect(cs.map((c) => c.op)).toEqual(['update'])
    expect(cs[0]!.diff).toContain('-net.ipv4.ip_forward = 0')
    expect(cs[0]!.commands[0]!.stdin).toBe(GOOD)
    const mode = plan(t, { runtime: { exists: true, value: '1' }, file: { ...fileOk, mode: '600' } })
    expect(mode[0]).toMatchObject({ op: 'update', before: { mode: '600' }, after: { mode: '644' } })
    expect(mode[0]!.diff).toBeUndefined()
  })
  it('persist: false never looks at a file', () => {
    expect(plan(sysctl({ key: KEY, value: 1, persist: false }), { runtime: { exists: true, value: '1' } })).toEqual([])
  })
  it('multi-value keys compare with blanks normalized', () => {
    const r = sysctl({ key: 'net.ipv4.ip_local_port_range', value: '32768   60999' })
    expect(normalizeSysctlValue('32768\t60999\n')).toBe('32768 60999')
    expect(plan(r, { runtime: { exists: true, value: '32768 60999' }, file: { exists: true, mode: '644', content: sysctlFileContent('net.ipv4.ip_local_port_range', '32768 60999') } })).toEqual([])
  })
  it('a key that does not exist fails the plan; a per-interface key whose link is not there yet plans the write', () => {
    expect(() => plan(t, { runtime: { exists: false }, file: fileOk })).toThrow(/sysctl key net\.ipv4\.ip_forward does not exist on this host/)
    const i = sysctl({ key: 'net.ipv4.conf.net1.forwarding', value: 1, persist: false })
    const cs = plan(i, { runtime: { exists: false } })
    expect(cs[0]!.summary).toMatch(/link net1 must be created by an earlier task/)
    expect(argvs(cs)[0]).toEqual(['sysctl', '-w', 'net.ipv4.conf.net1.forwarding=1'])
    expect(sysctlKeyInterface('net.ipv4.conf.all.forwarding')).toBeUndefined()
    expect(sysctlKeyInterface('net/ipv4/conf/eth0.100/rp_filter')).toBe('eth0.100')
    // the dot form writes a dot in a link name as a slash (sysctl(8)); conf/eth0/100/rp_filter is no per-link key
    expect(sysctlKeyInterface('net.ipv4.conf.vx/7.rp_filter')).toBe('vx.7')
    expect(sysctl({ key: 'net.ipv4.conf.vx/7.rp_filter', value: 0 }).watches).toContain('link:vx.7')
    expect(sysctlKeyInterface('net.ipv4.conf.eth0.100.rp_filter')).toBeUndefined()
    expect(() => plan(sysctl({ key: 'net.ipv4.conf.eth0.100.rp_filter', value: 0 }), { runtime: { exists: false }, file: { exists: false } }))
      .toThrow(/does not exist on this host \(no \/proc\/sys entry\); for link eth0\.100 write net\.ipv4\.conf\.eth0\/100\.rp_filter \(a dot in a link name is a slash in the dot form\) or net\/ipv4\/conf\/eth0\.100\/rp_filter$/)
    expect(() => plan(sysctl({ key: 'net.ipv4.nope', value: 0 }), { runtime: { exists: false }, file: { exists: false } })).toThrow(/\(no \/proc\/sys entry\)$/)
  })
  it('one key however it is spelled: one task key, one fact, one name in touches (a second spelling is a duplicate)', () => {
    expect(sysctlName('net/ipv4/ip_forward')).toBe('net.ipv4.ip_forward')
    expect(sysctlName('net/ipv4/conf/eth0.100/rp_filter')).toBe('net.ipv4.conf.eth0/100.rp_filter')
    expect(sysctlName('net.ipv4.conf.eth0/100.rp_filter')).toBe('net.ipv4.conf.eth0/100.rp_filter')
    const a = sysctl({ key: 'net.ipv4.ip_forward', value: 1 })
    const b = sysctl({ key: 'net/ipv4/ip_forward', value: 0 })
    expect(b.key).toBe(a.key)
    expect(b.facts[0]!.id).toBe(a.facts[0]!.id)
    // the persisted line names the key as sysctl(8) does, so both spellings plan the same changes
    const changes = (key: string) => plan(sysctl({ key, value: 1 }), { runtime: { exists: true, value: '5' }, file: fileOk })
    expect(changes('net/ipv4/ip_forward')).toEqual(changes('net.ipv4.ip_forward'))
    expect(changes('net/ipv4/ip_forward').flatMap((c) => c.touches ?? [])).toEqual(['sysctl:net.ipv4.ip_forward'])
  })
  it('absent -> delete the persisted file (runtime untouched), or nothing', () => {
    const gone = sysctl({ key: KEY, ensure: 'absent' })
    expect(gone.facts.map((f) => f.id)).toEqual([`file:${FILE}`])
    const cs = plan(gone, { file: fileOk })
    expect(cs.map((c) => c.op)).toEqual(['delete'])
    expect(argvs(cs)).toEqual([['rm', '-f', '--', FILE]])
    expect(plan(gone, { file: { exists: false } })).toEqual([])
  })
  it('values: integers (negative too, up to 2^53 - 1) in decimal; strings as written, blanks collapsed', () => {
    expect(sysctl({ key: KEY, value: -1 }).spec.value).toBe('-1')
    expect(sysctl({ key: KEY, value: -0 }).spec.value).toBe('0')
    expect(sysctl({ key: KEY, value: 2 ** 53 - 1 }).spec.value).toBe('9007199254740991')
    expect(sysctl({ key: KEY, value: '18446744073709551615' }).spec.value).toBe('18446744073709551615')
    expect(sysctl({ key: 'net.ipv4.tcp_rmem', value: ' 4096\t87380  6291456 ' }).spec.value).toBe('4096 87380 6291456')
    expect(sysctl({ key: 'net.ipv4.tcp_congestion_control', value: 'bbr' }).spec.value).toBe('bbr')
  })
  it.each([
    [{ key: 'net.ipv4.ip_forward;reboot', value: 1 }, /^sysctl\[net\.ipv4\.ip_forward;reboot\]\.key: expected a sysctl key/],
    [{ key: KEY }, /^sysctl\[net\.ipv4\.ip_forward\]\.value: required with ensure: 'present'/],
    [{ key: KEY, value: NaN }, /\.value: expected a string or number without newlines, got NaN$/],
    [{ key: KEY, value: 1.5 }, /^sysctl\[net\.ipv4\.ip_forward\]\.value: expected an integer, got 1\.5: numeric sysctls take integers \(give text or several fields as a string, e\.g\. '4096 87380 6291456'\)$/],
    [{ key: KEY, value: -0.5 }, /\.value: expected an integer, got -0\.5/],
    [{ key: KEY, value: 1e21 }, /\.value: 1e\+21 is beyond 2\^53 - 1, where a JavaScript number is no longer exact: give it as a string of digits$/],
    [{ key: KEY, value: 2 ** 53 }, /\.value: 9007199254740992 is beyond 2\^53 - 1/],
    [{ key: KEY, value: '1\nkernel.panic = 1' }, /\.value: expected a string or number without newlines/],
    [{ key: KEY, value: '  ' }, /\.value: must not be empty/],
    [{ key: KEY, value: 1, file: 'sysctl.conf' }, /\.file: expected an absolute path/],
    [{ key: KEY, value: 1, persist: 'yes' }, /\.persist: expected true or false/],
    [{ key: KEY, ensure: 'absent', persist: false }, /\.ensure: 'absent' deletes the persisted file and needs persist: true/],
  ])('rejects %j', (spec, re) => {
    expect(() => sysctl(spec as never)).toThrow(re)
  })
})

describe('sysctl facts: /proc/sys files, read as sysctl -n reads them', () => {
  it('keys map to /proc/sys paths as sysctl(8) maps them (dots and slashes swap when the first separator is a dot)', () => {
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward')
    expect(sysctlPath('net/ipv4/conf/eth0.100/rp_filter')).toBe('/proc/sys/net/ipv4/conf/eth0.100/rp_filter')
    expect(sysctlPath('net.ipv4.conf.eth0/100.rp_filter')).toBe('/proc/sys/net/ipv4/conf/eth0.100/rp_filter')
  })
  it('on this machine: the values sysctl -n prints, absent for no such key, a failed read for a key that cannot be read; one group read', async () => {
    const keys = ['net.ipv4.ip_forward', 'net.ipv4.ip_local_port_range', 'kernel/ostype', 'net.ipv4.conf.lo.mtu_nope', 'net.ipv4.route.flush']
    const facts = keys.map((k) => sysctlFact(k))
    const plan = readPlan(facts)
    expect(plan.parts).toHaveLength(1)
    const outs = plan.outputs(await new LocalConnection('l').runBatch(plan.parts)).map((o) => ({ ...o!, code: o!.code ?? -1 }))
    for (const i of [0, 1, 2]) {
      expect(outs[i]!.code).toBe(0)
      expect(facts[i]!.parse(outs[i]!)).toEqual({ exists: true, value: normalizeSysctlValue(execFileSync('sysctl', ['-n', keys[i]!], { encoding: 'utf8' })) })
    }
    expect(facts[1]!.parse(outs[1]!)).toMatchObject({ value: expect.stringMatching(/^\d+ \d+$/) }) // tab-separated fields, normalized
    expect(facts[3]!.okExitCodes).toContain(outs[3]!.code)
    expect(facts[3]!.parse(outs[3]!)).toEqual({ exists: false })
    // write-only (mode 200): sysctl -n says "permission denied"; the read fails, it is never "absent"
    expect(facts[4]!.okExitCodes).not.toContain(outs[4]!.code)
    expect(outs[4]!.stderr).toMatch(/Permission denied/)
  })
})

// The read-back check runs through real sh with a fake sysctl on PATH that prints what the "kernel" holds.
describe('sysctl read-back command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxlab-sysctl-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  function runWithKernelValue(c: Command, printed: string): { code: number | null; stderr: string } {
    const fake = join(dir, 'sysctl')
    writeFileSync(fake, `#!/bin/sh\n[ "$1" = -n ] || exit 9\nprintf '${printed}\\n'\n`)
    chmodSync(fake, 0o755)
    const r = spawnSync('sh', ['-c', renderArgv(c.argv)], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' })
    return { code: r.status, stderr: r.stderr }
  }
  it('exits 0 when the value reads back (blanks normalized) and 1 with a message when it does not', () => {
    expect(runWithKernelValue(sysctlVerifyCommand(KEY, '1'), '1').code).toBe(0)
    expect(runWithKernelValue(sysctlVerifyCommand('net.ipv4.ip_local_port_range', '32768 60999'), '32768\\t60999').code).toBe(0)
    const bad = runWithKernelValue(sysctlVerifyCommand(KEY, '1'), '0')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe('sysctl net.ipv4.ip_forward: wrote "1" but it reads back "0"\n')
    // values are data: a glob or $(...) in the wanted value is compared literally
    expect(runWithKernelValue(sysctlVerifyCommand(KEY, '*'), '1').code).toBe(1)
    expect(runWithKernelValue(sysctlVerifyCommand(KEY, '$(echo 1)'), '1').code).toBe(1)
  }, 10_000)
  it('fails when sysctl itself fails', () => {
    const fake = join(dir, 'sysctl')
    writeFileSync(fake, '#!/bin/sh\necho "sysctl: cannot stat" >&2; exit 1\n')
    chmodSync(fake, 0o755)
    const r = spawnSync('sh', ['-c', renderArgv(sysctlVerifyCommand(KEY, '1').argv)], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('cannot stat')
  })
})

it('the file fact the task reads is the shared file fact', () => {
  const f = sysctl({ key: KEY, value: 1 }).facts[1]!
  expect([f.id, f.command, f.okExitCodes]).toEqual([fileFact(FILE).id, fileFact(FILE).command, fileFact(FILE).okExitCodes])
})

describe('sysctl recordPrior: the runtime value from before the first change goes back on absent (a second fresh-user trial: teardown left a router forwarding)', () => {
  const REC = '/run/vxlab/sysctl/net.ipv4.ip_forward'
  const rt = (value: string) => ({ exists: true as const, value })
  const rec = (content: string) => ({ exists: true as const, content, mode: '644' })
  const none = { exists: false as const }
  const RM = ['sh', '-c', 'rm -f -- "$1" && { rmdir -- "${1%/*}" "${1%/*/*}" 2>/dev/null || true; }', 'sh', REC]
  it('present: a runtime change first records the value it replaces, once; no change, no record', () => {
    expect(sysctlRecordFile(KEY)).toBe(REC)
    expect(sysctlRecordFile('net/ipv4/conf/eth0.100/rp_filter')).toBe('/run/vxlab/sysctl/net.ipv4.conf.eth0.100.rp_filter')
    const p = sysctl({ key: KEY, value: 1, recordPrior: true })
    expect(p.facts.map((f) => f.id)).toEqual([`sysctl:${KEY}`, `file:${FILE}`]) // present reads no record
    const cs = plan(p, { runtime: rt('0'), file: fileOk })
    expect(cs.map((c) => c.summary)).toEqual([`set ${KEY} = 1 at runtime (0 recorded in ${REC}, unless it holds one from before already)`])
    expect(cs[0]!.commands[0]).toEqual(recordOnceCommand(REC, '0'))
    expect(cs[0]!.touches).toEqual([`sysctl:${KEY}`, `file:${REC}`])
    expect(plan(p, { runtime: rt('1'), file: fileOk })).toEqual([])
    // without recordPrior, nothing is recorded
    expect(argvs(plan(sysctl({ key: KEY, value: 1 }), { runtime: rt('0'), file: fileOk }))[0]).toEqual(['sysctl', '-w', `${KEY}=1`])
  })
  it('absent: the recorded value back while the key still has the one set; changed since: left, record kept (a skip); no record: left as it is', () => {
    const a = sysctl({ key: KEY, value: 1, ensure: 'absent', recordPrior: true })
    expect(a.facts.map((f) => f.id)).toEqual([`sysctl:${KEY}`, `file:${FILE}`, `file:${REC}`])
    const back = plan(a, { runtime: rt('1'), file: fileOk, record: rec('0\n') })
    expect(back.map((c) => c.summary)).toEqual([`set ${KEY} back to 0 (recorded in ${REC} before it was set to 1)`, `delete ${FILE}`])
    expect(argvs(back)).toEqual([['sysctl', '-w', `${KEY}=0`], [...sysctlVerifyCommand(KEY, '0').argv], RM, ['rm', '-f', '--', FILE]])
    const already = plan(a, { runtime: rt('0'), file: fileOk, record: rec('0\n') })
    expect(already.map((c) => c.summary)).toEqual([`delete ${REC} (${KEY} is back at the 0 it records)`, `delete ${FILE} (the runtime value of ${KEY} is left as is)`])
    const same = plan(a, { runtime: rt('1'), file: none, record: rec('1\n') })
    expect(same.map((c) => c.summary)).toEqual([`delete ${REC} (it records 1, the value ${KEY} has)`])
    expect(() => plan(sysctl({ key: 'net.ipv4.conf.all.rp_filter', value: 0, ensure: 'absent', recordPrior: true }), { runtime: rt('2'), file: none, record: rec('1\n') }))
      .toThrow('left net.ipv4.conf.all.rp_filter at 2: not the 0 this playbook sets (changed since, or set by another version of the playbook); the value from before vxlab, 1, stays recorded in /run/vxlab/sysctl/net.ipv4.conf.all.rp_filter for an absent run whose value the key has')
    expect(plan(a, { runtime: rt('1'), file: fileOk, record: none }).map((c) => c.summary)).toEqual([`delete ${FILE} (the runtime value of ${KEY} is left as is)`])
    // without recordPrior, absent reads no runtime value and only deletes the file
    expect(sysctl({ key: KEY, ensure: 'absent' }).facts.map((f) => f.id)).toEqual([`file:${FILE}`])
  })
  it('absent with recordPrior needs the value set, and recordPrior is a boolean', () => {
    expect(() => sysctl({ key: KEY, ensure: 'absent', recordPrior: true })).toThrow(/^sysctl\[net\.ipv4\.ip_forward\]\.value: required with ensure: 'absent' and recordPrior/)
    expect(() => sysctl({ key: KEY, value: 1, recordPrior: 'yes' as never })).toThrow(/\.recordPrior: expected true or false, got "yes"$/)
  })
})
