/**
 * Short secrets (a fresh-user trial: `--token 10` was shown in clear, `--token net` garbled unrelated text as
 * `update /tmp/mine-***4.conf`). A secret is hidden by value at any length; inside other text only from
 * SECRET_TEXT_MIN_LENGTH characters on. A file of its own: the registry is process-wide, and these secrets are
 * short enough to match text of other tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeCommand } from '../../lib/core/command.ts'
import { playbook, runPlaybook } from '../../lib/core/playbook.ts'
import { mask, secret, SECRET_TEXT_MIN_LENGTH } from '../../lib/core/secrets.ts'
import type { AnyFact, Change, Task } from '../../lib/core/task.ts'
import { LocalConnection } from '../../lib/connection/local.ts'
import type { DockerContainerState } from '../../lib/facts/docker.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { plainReporter, taskLines } from '../../lib/report/text.ts'
import { command } from '../../lib/tasks/command.ts'
import { containerSpecHash, dockerContainer } from '../../lib/tasks/docker.ts'
import { template } from '../../lib/tasks/file.ts'

const ALL = { check: true, diff: true, verbose: true, color: false }
function planWith<S, C>(t: Task<S, C>, values: Record<string, unknown>): Change[] {
  return t.plan(t.current({ get: <T>(f: AnyFact): T => values[f.id] as T } as never), t.spec)
}

describe('a short secret', () => {
  it('is hidden by value at any length: a docker env value, old and new, in the plan and its command', () => {
    const tok = secret('10')
    const image = { exists: true, id: 'sha256:1', repoTags: [], labels: {}, created: '' }
    const t = dockerContainer({ name: 'doc9', image: 'con_img', network: 'none', env: { API_TOKEN: tok } })
    const created = planWith(t, { 'docker.container:doc9': { exists: false }, 'docker.image:con_img': image })
    expect(created[0]!.summary).toBe('run container doc9 from con_img (network none, restart no, env API_TOKEN=***)')
    expect(describeCommand(created[0]!.commands[0]!)).toMatch(/ -e API_TOKEN=\*\*\* con_img$/)
    const old: DockerContainerState = {
      exists: true, id: 'c'.repeat(64), name: 'doc9', status: 'running', pid: 1, imageId: 'sha256:1', image: 'con_img', networkMode: 'none', restart: 'no',
      labels: { 'vxlab.spec': containerSpecHash({ image: 'con_img', network: 'none', env: { API_TOKEN: '7' } }) }, env: ['API_TOKEN=7'], cmd: [],
    }
    const replaced = planWith(t, { 'docker.container:doc9': old, 'docker.image:con_img': image })
    const lines = taskLines({ key: 'docker.container[doc9]', kind: 'docker.container', status: 'changed', changes: replaced }, ALL)
    expect(lines).toContain('      env.API_TOKEN: *** -> *** (secret)')
    expect(lines.join('\n')).not.toMatch(/API_TOKEN=(7|10)\b/)
  })
  it('is an argv element of its own: *** in a command task', () => {
    const run = planWith(command({ name: 'c', argv: ['app', '--token', secret('k9')] }), {})
    expect(describeCommand(run[0]!.commands[0]!)).toBe('app --token ***')
  })
  it('is not searched for in text: unrelated text is not garbled (a token `net` and the file mine-net4.conf)', () => {
    secret('net')
    expect(SECRET_TEXT_MIN_LENGTH).toBe(6)
    expect(mask('update /tmp/mine-net4.conf; ip addr replace 10.0.4.1/24 dev net4')).toBe('update /tmp/mine-net4.conf; ip addr replace 10.0.4.1/24 dev net4')
    expect(describeCommand({ argv: ['ip', 'link', 'set', 'net4', 'up'] })).toBe('ip link set net4 up')
  })
  it('the trial playbook\'s template with `--token net`: path and summary intact, the diff hidden', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vxlab-short-secret-'))
    try {
      const dest = join(d, 'mine-net4.conf')
      writeFileSync(dest, 'net=10.0.4.0/24\nkey=8000\ntoken=old\n', { mode: 0o600 })
      const tok = secret('net')
      const pb = playbook({ name: 'mine', plays: [{ name: 'net4', hosts: 'all', tasks: () => [
        template({ dest, src: { inline: 'net={{net}}\nkey={{key}}\ntoken={{token}}\n' }, vars: { net: '10.0.4.0/24', key: 8000, token: tok }, mode: '600' }),
      ] }] })
      let out = ''
      await runPlaybook(pb, { inventory: Inventory.parse('all:\n  hosts:\n    host1: {}\n', 'fake.yml'), check: true, lock: false, events: plainReporter(ALL, (s) => (out += s)), connect: async () => new LocalConnection('host1') })
      expect(out).toContain(`~ file.template[${dest}]: update ${dest}\n      content changes; diff hidden: it holds secret values\n`)
      expect(out).not.toContain('***4')
      expect(out).not.toContain('token=')
    } finally {
      rmSync(d, { recursive: true, force: true })
    }
  })
  it('a longer secret is found in text, the longest first (one that holds another is replaced whole)', () => {
    secret('abcdef')
    secret('abcdefgh')
    expect(mask('x abcdefgh y abcdef z')).toBe('x *** y *** z')
  })
})

describe('a secret in a validation error (a second fresh-user trial)', () => {
  const problem = (f: () => unknown): string => {
    try {
      f()
    } catch (e) {
      return e instanceof Error ? e.message : String(e)
    }
    throw new Error('no validation error')
  }
  it('is *** also where the message shows it JSON-escaped (a quote, a backslash, a newline, a control character)', async () => {
    const { ovsBridge, vxlanPort } = await import('../../lib/tasks/ovs.ts')
    const withNewline = secret('line1\nline2-secret')
    const withQuote = secret('pa"ss\\word-secret')
    const withCtl = secret('nul\x01ctl-secret')
    const m1 = problem(() => ovsBridge({ name: 'brs', externalIds: { token: withNewline } }))
    expect(m1).toMatch(/externalIds\.token/)
    const m2 = problem(() => vxlanPort({ bridge: 'br1', name: 'vx9', remoteIp: withQuote, key: 1 }))
    expect(m2).toMatch(/remoteIp/)
    const m3 = problem(() => template({ dest: withCtl, src: { inline: 'x' } }))
    expect(m3).toMatch(/dest/)
    for (const m of [m1, m2, m3].map(mask)) {
      expect(m).not.toMatch(/secret/)
      expect(m).toContain('***')
    }
  })
  it('is *** whole when the value itself is a short secret', async () => {
    const { vxlanPort } = await import('../../lib/tasks/ovs.ts')
    const tok = secret('q#1')
    const m = mask(problem(() => vxlanPort({ bridge: 'br1', name: 'vx9', remoteIp: tok, key: 1 })))
    expect(m).toMatch(/remoteIp/)
    expect(m).not.toContain('q#1')
    expect(m).toContain('"***"')
  })
})
