/**
 * Secrets in plans, diffs, `-v` logs, errors and the JSON report (a fresh-user trial: a changed secret showed its
 * OLD value, short secrets were shown or garbled text). The registry is process-wide: this file registers its own
 * secrets, and each test uses values no other test here shows.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { playbook, runPlaybook, type RunReport } from '../../lib/core/playbook.ts'
import type { TaskOutcome } from '../../lib/core/runner.ts'
import { mask, maskDeep, secret } from '../../lib/core/secrets.ts'
import type { AnyFact, Change, Fact, Task } from '../../lib/core/task.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import type { DockerContainerState, DockerImageState } from '../../lib/facts/docker.ts'
import { writeJsonReport } from '../../lib/report/json.ts'
import { commandText, plainReporter, taskLines, type TextOptions } from '../../lib/report/text.ts'
import { containerSpecHash, dockerContainer, dockerImage } from '../../lib/tasks/docker.ts'
import { template } from '../../lib/tasks/file.ts'
import { command } from '../../lib/tasks/command.ts'
import { describeCommand, summarizeCommand } from '../../lib/core/command.ts'
import { LocalConnection } from '../../lib/connection/local.ts'
import { FakeHost } from './fake-connection.ts'

/** Everything a run can show: check mode, --diff and -v. */
const ALL: TextOptions = { check: true, diff: true, verbose: true, color: false }

/** Plan a task from fact values given by fact id. */
function planWith<S, C>(t: Task<S, C>, values: Record<string, unknown>): Change[] {
  const snap = { get: <T>(f: AnyFact): T => values[f.id] as T }
  return t.plan(t.current(snap as never), t.spec)
}
const changed = (key: string, changes: Change[]): TaskOutcome => ({ key, kind: key.split('[')[0]!, status: 'changed', changes })

/** A key/value task on a {@link FakeHost}: `before: {value}`, `after: {value}` as most tasks report fields. */
function kv(key: string, value: string): Task<{ key: string; value: string }, string | undefined> {
  const f: Fact<string | undefined> = { id: `kv:${key}`, command: { argv: ['kv-get', key] }, okExitCodes: [0, 1], parse: (o) => (o.code === 1 ? undefined : o.stdout) }
  return {
    kind: 'kv', key: `kv[${key}]`, spec: { key, value }, facts: [f], watches: [`kv:${key}`],
    current: (s) => s.get(f),
    plan: (cur, spec) => (cur === spec.value ? [] : [{
      op: cur === undefined ? 'create' : 'update', summary: `set ${spec.key}`, before: { value: cur ?? null }, after: { value: spec.value },
      commands: [{ argv: ['kv-set', spec.key, spec.value] }],
    }]),
  }
}

function jsonReportText(report: RunReport): string {
  const d = mkdtempSync(join(tmpdir(), 'vxlab-secrets-'))
  try {
    writeJsonReport(join(d, 'r.json'), report)
    return readFileSync(join(d, 'r.json'), 'utf8')
  } finally {
    rmSync(d, { recursive: true, force: true })
  }
}

describe('the JSON report', () => {
  it('masks a secret that JSON escapes (a quote, a backslash, a newline) and keeps the document valid', () => {
    const pw = secret('pa"ss\\w\nord')
    const report: RunReport = {
      playbook: 'p', check: true, durationMs: 1, hosts: {},
      tasks: [{ play: 'p', host: 'h', key: 'k', status: 'changed', changes: [{ op: 'update', summary: `set ${pw}`, before: { v: pw }, after: { [`k${pw}`]: [pw] }, commands: [`echo ${pw}`] }], error: `failed: ${pw}` }],
    }
    const text = jsonReportText(report)
    expect(text).not.toContain(JSON.stringify(pw).slice(1, -1))
    expect(text).not.toContain('pa\\"ss')
    const back = JSON.parse(text) as RunReport
    expect(back.tasks[0]!.changes[0]).toEqual({ op: 'update', summary: 'set ***', before: { v: '***' }, after: { 'k***': ['***'] }, commands: ['echo ***'] })
    expect(back.tasks[0]!.error).toBe('failed: ***')
  })
  it('a secret that looks like JSON syntax does not break the document', () => {
    secret('", "x": ')
    const v = { a: 'plain', b: ['", "x": 1'] }
    expect(maskDeep(v)).toEqual({ a: 'plain', b: ['***1'] })
    expect(mask('a", "x": b')).toBe('a***b')
  })
})

describe('a field that holds a secret is hidden on both sides (the old value is likely an old secret)', () => {
  it('docker env: run 1 with one token, run 2 with another shows neither, in plans, -v and the change itself', () => {
    const OLD = 's3cretTOKEN'
    const NEW = secret('NEWt0ken99')
    const image: DockerImageState = { exists: true, id: 'sha256:1111', repoTags: ['con_img:latest'], labels: {}, created: '' }
    const container: DockerContainerState = {
      exists: true, id: 'c'.repeat(64), name: 'doc9', status: 'running', pid: 42, imageId: 'sha256:1111', image: 'con_img', networkMode: 'none',
      restart: 'no', labels: { 'vxlab.spec': containerSpecHash({ image: 'con_img', network: 'none', env: { API_TOKEN: OLD } }) }, env: ['PATH=/bin', `API_TOKEN=${OLD}`], cmd: [],
    }
    const cs = planWith(dockerContainer({ name: 'doc9', image: 'con_img', network: 'none', env: { API_TOKEN: NEW } }), { 'docker.container:doc9': container, 'docker.image:con_img': image })
    expect(cs[0]).toMatchObject({ op: 'replace', summary: 'replace container doc9: env.API_TOKEN changed', before: { 'env.API_TOKEN': '***' }, after: { 'env.API_TOKEN': '***' }, secretFields: ['env.API_TOKEN'] })
    const text = taskLines(changed('docker.container[doc9]', cs), ALL).join('\n')
    expect(text).toContain('env.API_TOKEN: *** -> *** (secret)')
    expect(text).not.toContain(OLD)
    expect(text).not.toContain(NEW)
    // a new variable: nothing to hide on the old side
    const added = planWith(dockerContainer({ name: 'doc9', image: 'con_img', network: 'none', env: { API_TOKEN: OLD, KEY2: NEW } }), { 'docker.container:doc9': container, 'docker.image:con_img': image })
    expect(taskLines(changed('docker.container[doc9]', added), ALL)).toContain('      env.KEY2: null -> ***')
  })
  it('docker command: an element that holds a secret hides the old and new command', () => {
    const NEW = secret('cmd-secret-2')
    const image: DockerImageState = { exists: true, id: 'sha256:1111', repoTags: [], labels: {}, created: '' }
    const container: DockerContainerState = {
      exists: true, id: 'c'.repeat(64), name: 'd', status: 'running', pid: 42, imageId: 'sha256:1111', image: 'img', networkMode: 'none',
      restart: 'no', labels: { 'vxlab.spec': 'x' }, env: [], cmd: ['app', '--token', 'cmd-old-1'],
    }
    const cs = planWith(dockerContainer({ name: 'd', image: 'img', network: 'none', command: ['app', '--token', NEW] }), { 'docker.container:d': container, 'docker.image:img': image })
    expect(cs[0]).toMatchObject({ before: { command: '***' }, after: { command: '***' }, secretFields: ['command'] })
    expect(taskLines(changed('docker.container[d]', cs), ALL).join('\n')).not.toContain('cmd-old-1')
  })
  it('any task: a field whose new value is a secret hides the old one in the text report, -v and the JSON report', async () => {
    const OLD = 'old-secret-value'
    const NEW = secret('new-secret-value')
    const host = new FakeHost('a')
    host.state.set('token', OLD)
    const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n', 'fake.yml')
    const pb = playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [kv('token', NEW)] }] })
    let out = ''
    const report = await runPlaybook(pb, { inventory, check: true, events: plainReporter(ALL, (s) => (out += s)), connect: async () => host })
    expect(out).toContain('value: *** -> *** (secret)')
    expect(out).not.toContain(OLD)
    expect(out).not.toContain(NEW)
    const json = jsonReportText(report)
    expect(json).not.toContain(OLD)
    expect(JSON.parse(json).tasks[0].changes[0]).toMatchObject({ before: { value: '***' }, after: { value: '***' }, secretFields: ['value'] })
  })
})

describe('a file rendered from a secret shows no diff (its current content may hold an old secret)', () => {
  const src = { inline: 'net={{net}}\nkey={{key}}\ntoken={{token}}\n' }
  it('a check run with --diff and -v says the content changes and why its diff is hidden; the JSON report too', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vxlab-secret-template-'))
    try {
      const dest = join(d, 'mine-net4.conf')
      const OLD = 's3cretTOKEN-file'
      writeFileSync(dest, `net=10.0.4.0/24\nkey=8000\ntoken=${OLD}\n`, { mode: 0o600 })
      const NEW = secret('NEWt0ken99-file')
      const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n', 'fake.yml')
      const pb = playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [
        template({ dest, src, vars: { net: '10.0.4.0/24', key: 8000, token: NEW }, mode: '600' }),
        template({ dest: join(d, 'new.conf'), src, vars: { net: '10.0.4.0/24', key: 8000, token: NEW } }),
      ] }] })
      let out = ''
      const report = await runPlaybook(pb, {
        inventory, check: true, lock: false, events: plainReporter(ALL, (s) => (out += s)), connect: async () => new LocalConnection('a', { log: (_h, l) => (out += `exec: ${l}\n`) }),
      })
      expect(out).toContain('exec: ') // -v
      expect(out).toContain(`~ file.template[${dest}]: update ${dest}`)
      expect(out).toContain('content changes; diff hidden: it holds secret values')
      expect(out).toContain(`+ file.template[${join(d, 'new.conf')}]: write ${join(d, 'new.conf')}`)
      expect(out).not.toContain('token=')
      expect(out).not.toContain(OLD)
      expect(out).not.toContain(NEW)
      expect(statuses(report)).toEqual(['changed', 'changed'])
      const json = jsonReportText(report)
      expect(json).not.toContain(OLD)
      expect(json).not.toContain('token=')
      const changes = (JSON.parse(json) as RunReport).tasks.map((t) => t.changes[0])
      expect(changes.map((c) => [c?.op, c?.diffHidden, c?.diff])).toEqual([['update', 'it holds secret values', undefined], ['create', 'it holds secret values', undefined]])
    } finally {
      rmSync(d, { recursive: true, force: true })
    }
  })
  it('a template without secrets keeps its diff; a secret var at any depth hides it; a content change alone still plans', () => {
    const plan = (vars: Record<string, unknown>, content: string) => planWith(template({ dest: '/etc/t.conf', src, vars }), { 'file:/etc/t.conf': { exists: true, mode: '644', content } })
    const plain = plan({ net: 'n', key: 1, token: 'not-a-secret' }, 'x\n')
    expect(plain[0]!.diff).toContain('+token=not-a-secret')
    expect(plain[0]!.diffHidden).toBeUndefined()
    const nested = plan({ net: 'n', key: 1, token: 't', deep: { list: [secret('deep-secret-1')] } }, 'x\n')
    expect(nested[0]).toMatchObject({ op: 'update', diffHidden: 'it holds secret values' })
    expect(nested[0]!.diff).toBeUndefined()
    expect(nested[0]!.commands).toHaveLength(1)
  })
})

function statuses(r: RunReport): string[] {
  return r.tasks.map((t) => t.status)
}

describe('an argv element that holds a secret is *** wherever the command is shown', () => {
  it('describeCommand and summarizeCommand show Command.secretArgs as *** (NAME=*** for NAME=VALUE)', () => {
    const c = { argv: ['app', '-e', 'API_TOKEN=x1', '--pw=x2', 'x3', 'plain'], secretArgs: [2, 3, 4] }
    expect(describeCommand(c)).toBe('app -e API_TOKEN=*** --pw=*** *** plain')
    expect(summarizeCommand({ argv: ['sh', '-c', 'a\nb', 'sh', 'x', 'y'], secretArgs: [4] })).toBe('sh -c "a …" (2-line script) sh *** y')
    expect(summarizeCommand({ argv: ['sh', '-c', 'a\nb', 'sh'], secretArgs: [2] })).toBe('sh -c *** sh')
  })
  it('a secret found by text is masked before quoting, which would change one with a quote in it', () => {
    secret("it's-long-secret")
    expect(commandText({ argv: ['echo', "pre-it's-long-secret", 'x y'] }, false)).toBe("echo pre-*** 'x y'")
    expect(commandText({ argv: ['sh', '-c', "echo \"it's-long-secret\"\nexit 0"] }, false)).toBe('sh -c "echo \\"***\\" …" (2-line script)')
  })
  it('docker run -e, docker build --build-arg and a docker command element', () => {
    const tok = secret('docker-arg-secret')
    const run = planWith(dockerContainer({ name: 'd', image: 'img', network: 'none', env: { A: '1', TOKEN: tok }, command: ['app', tok] }), { 'docker.container:d': { exists: false }, 'docker.image:img': { exists: false } })
    const shown = describeCommand(run[0]!.commands[0]!)
    expect(shown).toMatch(/ -e A=1 -e TOKEN=\*\*\* img app \*\*\*$/)
    expect(run[0]!.summary).toContain('env A=1 TOKEN=***, command ["app","***"]')
    const build = planWith(dockerImage({ name: 'img', dockerfile: { text: 'FROM x' }, buildArgs: { TOKEN: tok, B: '2' } }), { 'docker.image:img': { exists: false } })
    expect(describeCommand(build[0]!.commands[0]!)).toContain('--build-arg B=2 --build-arg TOKEN=*** -')
  })
  it('a secret that the shell quoting changes (a quote in it) is hidden in plans, -v logs and errors', async () => {
    const tok = secret("o'brien-pass")
    const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n', 'fake.yml')
    const pb = playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [
      command({ name: 'ok', argv: ['printf', '%s', tok] }),
      command({ name: 'fails', script: 'echo no >&2; exit 3', args: [tok] }),
    ] }] })
    let out = ''
    const report = await runPlaybook(pb, {
      inventory, lock: false, events: plainReporter({ ...ALL, check: false }, (s) => (out += s)), connect: async () => new LocalConnection('a', { log: (_h, l) => (out += `exec: ${l}\n`) }),
    })
    expect(report.tasks.map((t) => t.status)).toEqual(['changed', 'failed'])
    expect(out).toContain("exec: batch of 2: printf %s *** ; sh -c 'echo no >&2; exit 3' sh ***")
    expect(out).toContain("command failed (exit 3): sh -c 'echo no >&2; exit 3' sh ***: no")
    expect(out).not.toContain('brien')
    expect(jsonReportText(report)).not.toContain('brien')
  })
  it('an unless guard that holds a secret: its read, its fact id and its failure do not show it', async () => {
    const tok = secret("guard'secret")
    const t = command({ name: 'g', argv: ['true'], unless: ['sh', '-c', 'exit 200', 'sh', tok] })
    expect(t.facts[0]!.id).toBe('command.unless:["sh","-c","exit 200","sh","***"]#1')
    expect(command({ name: 'g2', argv: ['true'], unless: ['sh', '-c', 'exit 200', 'sh', tok] }).facts[0]!.id).toBe(t.facts[0]!.id)
    const inventory = Inventory.parse('all:\n  hosts:\n    a: {}\n', 'fake.yml')
    let out = ''
    const report = await runPlaybook(playbook({ name: 't', plays: [{ name: 'p', hosts: 'all', tasks: () => [t] }] }), {
      inventory, check: true, lock: false, events: plainReporter(ALL, (s) => (out += s)), connect: async () => new LocalConnection('a', { log: (_h, l) => (out += `exec: ${l}\n`) }),
    })
    expect(report.tasks[0]!.status).toBe('failed')
    expect(out).toContain("exited 200")
    expect(out).not.toContain('secret')
  })
})

describe('what is a secret: the connection passwords of the inventory, and what the playbook marks', () => {
  it('ansible_password / ansible_become_pass are secrets; db_password is a plain variable until the playbook marks it', () => {
    const inv = Inventory.parse('all:\n  hosts:\n    h:\n      ansible_password: conn-pass-1234\n      ansible_become_pass: become-pass-5678\n      db_password: db-pass-9012\n', 'i.yml')
    expect(inv.host('h').connection.password).toBe('conn-pass-1234')
    expect(mask('a conn-pass-1234 b become-pass-5678 c db-pass-9012')).toBe('a *** b *** c db-pass-9012')
    secret(inv.host('h').vars.string('db_password'))
    expect(mask('c db-pass-9012')).toBe('c ***')
  })
  it('a !vault value is an inventory error that says how to give a secret instead', () => {
    expect(() => Inventory.parse('all:\n  vars:\n    db_password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n', 't.yml')).toThrow(/Ansible Vault values are not decrypted: .*other secrets to the playbook .* through secret\(\)/)
  })
})
