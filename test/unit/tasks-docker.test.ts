import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeCommand } from '../../lib/core/command.ts'
import { secret } from '../../lib/core/secrets.ts'
import { SkipTask, type AnyFact, type Change, type Task } from '../../lib/core/task.ts'
import {
  CONTAINER_NETNS_SCRIPT, CONTEXT_HASH_SCRIPT, DockerDaemonError, contextCacheName, IMAGE_USERS_SCRIPT, containerNetnsFact, dockerContainerFact, dockerImageFact, dockerImageUsersFact, parseContainerNetns,
  type ContainerNetns, type DockerContainerState, type DockerImageState, type NetnsLink,
} from '../../lib/facts/docker.ts'
import type { Link } from '../../lib/facts/ip.ts'
import type { OvsState } from '../../lib/facts/ovs.ts'
import {
  NETNS_CONFIG_SCRIPT, containerPort, containerSpecHash, contextInputHash, dockerContainer, dockerImage, tarArchive, vethNames,
} from '../../lib/tasks/docker.ts'

/** Plan a task from fact values given by fact id (a missing id is a test bug). */
function planWith<S, C>(t: Task<S, C>, values: Record<string, unknown>): Change[] {
  const snap = {
    get: <T>(f: AnyFact | { id: string }): T => {
      if (!(f.id in values)) throw new Error(`test gave no value for fact ${f.id}`)
      return values[f.id] as T
    },
  }
  return t.plan(t.current(snap as never), t.spec)
}
const argv = (cs: Change[]) => cs.flatMap((c) => c.commands.map((x) => x.argv))
const ops = (cs: Change[]) => cs.map((c) => c.op)

// ---------------------------------------------------------------------------------------------------------------------
describe('dockerImage', () => {
  const ctx = '/srv/ctx'
  const img = (labels: Record<string, string>): DockerImageState => ({ exists: true, id: 'sha256:aaaa', repoTags: ['vxlab-test-img:latest'], labels, created: '2026-01-01T00:00:00Z' })
  const hash = 'a'.repeat(64)
  const want = contextInputHash(hash, {})

  it('reads the image and the host context hash, and plans a build when the image is absent', () => {
    const t = dockerImage({ name: 'vxlab-test-img', context: ctx })
    expect(t.facts.map((f) => f.id)).toEqual(['docker.image:vxlab-test-img', `docker.contextHash:${ctx}`])
    expect(t.facts[1]!.command.argv).toEqual(['sh', '-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, contextCacheName(ctx)])
    expect(t.watches).toEqual(['*']) // an earlier task of the play may write into the context
    expect(dockerImage({ name: 'x', dockerfile: { template: { inline: 'FROM scratch' } } }).watches).toEqual(['docker.image:x'])
    const cs = planWith(t, { 'docker.image:vxlab-test-img': { exists: false }, [`docker.contextHash:${ctx}`]: hash })
    expect(ops(cs)).toEqual(['create'])
    expect(argv(cs)).toEqual([['docker', 'build', '-q', '-t', 'vxlab-test-img', '--label', `vxlab.hash=${want}`, ctx]])
    expect(cs[0]!.commands[0]!.timeoutMs).toBe(300_000)
    expect(cs[0]!.touches).toEqual(['docker.image:vxlab-test-img'])
  })
  it('same inputs -> nothing; changed context or build args -> rebuild (replace)', () => {
    const t = dockerImage({ name: 'vxlab-test-img', context: ctx })
    expect(planWith(t, { 'docker.image:vxlab-test-img': img({ 'vxlab.hash': want }), [`docker.contextHash:${ctx}`]: hash })).toEqual([])
    const changed = planWith(t, { 'docker.image:vxlab-test-img': img({ 'vxlab.hash': want }), [`docker.contextHash:${ctx}`]: 'b'.repeat(64) })
    expect(ops(changed)).toEqual(['replace'])
    expect(changed[0]!.summary).toMatch(/build inputs changed/)
    const withArg = dockerImage({ name: 'vxlab-test-img', context: ctx, buildArgs: { V: '2' } })
    const cs = planWith(withArg, { 'docker.image:vxlab-test-img': img({ 'vxlab.hash': want }), [`docker.contextHash:${ctx}`]: hash })
    expect(argv(cs)[0]).toEqual(['docker', 'build', '-q', '-t', 'vxlab-test-img', '--label', `vxlab.hash=${contextInputHash(hash, { V: '2' })}`, '--build-arg', 'V=2', ctx])
  })
  it('an image not built by vxlab (no label) is rebuilt', () => {
    const cs = planWith(dockerImage({ name: 'vxlab-test-img', context: ctx }), { 'docker.image:vxlab-test-img': img({}), [`docker.contextHash:${ctx}`]: hash })
    expect(cs[0]).toMatchObject({ op: 'replace', summary: expect.stringMatching(/no vxlab.hash label/) })
  })
  it('absent wanted -> docker image rm, or nothing (and no context read)', () => {
    const t = dockerImage({ name: 'vxlab-test-img', ensure: 'absent' })
    expect(t.facts.map((f) => f.id)).toEqual(['docker.image:vxlab-test-img'])
    expect(argv(planWith(t, { 'docker.image:vxlab-test-img': img({}) }))).toEqual([['docker', 'image', 'rm', 'vxlab-test-img']])
    expect(planWith(t, { 'docker.image:vxlab-test-img': { exists: false } })).toEqual([])
    // with ownContainers, the containers using it are read too
    const own = dockerImage({ name: 'vxlab-test-img', ensure: 'absent', ownContainers: [] })
    expect(own.facts.map((f) => f.id)).toEqual(['docker.image:vxlab-test-img', 'docker.imageUsers:vxlab-test-img'])
    expect(own.facts[1]!.command.argv).toEqual(['sh', '-c', IMAGE_USERS_SCRIPT, 'sh', 'vxlab-test-img'])
    expect(argv(planWith(own, { 'docker.image:vxlab-test-img': img({}), 'docker.imageUsers:vxlab-test-img': [] }))).toEqual([['docker', 'image', 'rm', 'vxlab-test-img']])
  })
  it('absent with ownContainers: a container the playbook did not create keeps the image (a skip naming it); its own do not', () => {
    const users = [
      { name: 'doc1', imageId: 'sha256:aaaa' },
      { name: 'usercont', imageId: 'sha256:aaaa' },
      { name: 'derived', imageId: 'sha256:bbbb' }, // created from an image built on this one: docker removes the tag
    ]
    const facts = { 'docker.image:vxlab-test-img': img({}), 'docker.imageUsers:vxlab-test-img': users }
    const lab = dockerImage({ name: 'vxlab-test-img', ensure: 'absent', ownContainers: ['doc1', 'doc2'] })
    let err: unknown
    try {
      planWith(lab, facts)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SkipTask)
    expect((err as SkipTask).reason).toBe('kept image vxlab-test-img (aaaa): in use by container usercont, which this playbook did not create; remove it and run again to delete the image')
    // the playbook's own containers (removed by earlier tasks, or still there in check mode) do not keep it
    expect(argv(planWith(lab, { ...facts, 'docker.imageUsers:vxlab-test-img': users.filter((u) => u.name !== 'usercont') }))).toEqual([['docker', 'image', 'rm', 'vxlab-test-img']])
    // ownContainers: [] -> every container keeps it
    expect(() => planWith(dockerImage({ name: 'vxlab-test-img', ensure: 'absent', ownContainers: [] }), facts)).toThrow('in use by containers doc1, usercont')
    expect(() => dockerImage({ name: 'x', context: ctx, ownContainers: ['doc1'] })).toThrow("docker.image[x].ownContainers: only with ensure: 'absent'")
    expect(() => dockerImage({ name: 'x', ensure: 'absent', ownContainers: ['bad name'] })).toThrow('docker.image[x].ownContainers[0]')
  })
  it('absent with ownContainersLabeled: a listed container counts as the playbook\'s only with the vxlab.spec label', () => {
    const users = [
      { name: 'doc3', imageId: 'sha256:aaaa' }, // a user's container that merely has a lab name
      { name: 'doc4', imageId: 'sha256:aaaa', specLabel: true as const },
    ]
    const facts = { 'docker.image:vxlab-test-img': img({}), 'docker.imageUsers:vxlab-test-img': users }
    const t = dockerImage({ name: 'vxlab-test-img', ensure: 'absent', ownContainers: ['doc3', 'doc4'], ownContainersLabeled: true })
    expect(() => planWith(t, facts)).toThrow(SkipTask)
    expect(() => planWith(t, facts)).toThrow('kept image vxlab-test-img (aaaa): in use by container doc3 (no vxlab.spec label), which this playbook did not create; remove it and run again to delete the image')
    // labeled: the playbook's, removed before the image (apply) or not yet (check mode): no skip
    expect(argv(planWith(t, { ...facts, 'docker.imageUsers:vxlab-test-img': [users[1]!, { ...users[0]!, specLabel: true as const }] }))).toEqual([['docker', 'image', 'rm', 'vxlab-test-img']])
    // without the option: listed by name alone, as before
    expect(argv(planWith(dockerImage({ name: 'vxlab-test-img', ensure: 'absent', ownContainers: ['doc3', 'doc4'] }), facts))).toEqual([['docker', 'image', 'rm', 'vxlab-test-img']])
    expect(() => dockerImage({ name: 'x', ensure: 'absent', ownContainersLabeled: true })).toThrow('docker.image[x].ownContainersLabeled: only with ownContainers')
    expect(() => dockerImage({ name: 'x', ensure: 'absent', ownContainers: [], ownContainersLabeled: 'yes' as unknown as boolean })).toThrow('docker.image[x].ownContainersLabeled: expected true or false')
  })
  it('a rendered Dockerfile goes as a tar on stdin; the hash covers Dockerfile, files and build args', () => {
    const spec = { name: 'vxlab-test-tpl', dockerfile: { template: { inline: 'FROM {{base}}\nCOPY index.html /www/\n' }, vars: { base: 'scratch' } }, files: { 'index.html': 'hi\n', 'sub/dir/x.bin': new Uint8Array([0, 1, 2]) } }
    const t = dockerImage(spec)
    const cs = planWith(t, { 'docker.image:vxlab-test-tpl': { exists: false } })
    const c = cs[0]!.commands[0]!
    expect(c.argv.slice(0, 6)).toEqual(['docker', 'build', '-q', '-t', 'vxlab-test-tpl', '--label'])
    expect(c.argv.at(-1)).toBe('-')
    expect(c.stdin).toBeInstanceOf(Uint8Array)
    // the archive is a valid tar that GNU tar lists with the files and their parent folders
    const listing = execFileSync('tar', ['-tvf', '-'], { input: c.stdin as Uint8Array }).toString()
    expect(listing.split('\n').filter(Boolean).map((l) => l.split(/\s+/).at(-1))).toEqual(['Dockerfile', 'index.html', 'sub/', 'sub/dir/', 'sub/dir/x.bin'])
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-tar-'))
    try {
      execFileSync('tar', ['-xf', '-', '-C', dir], { input: c.stdin as Uint8Array })
      expect(execFileSync('cat', [join(dir, 'Dockerfile')]).toString()).toBe('FROM scratch\nCOPY index.html /www/\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // same inputs: same label; another file content: another label
    const label = (s: typeof spec) => planWith(dockerImage(s), { [`docker.image:${s.name}`]: { exists: false } })[0]!.commands[0]!.argv[6]
    expect(label(spec)).toBe(c.argv[6])
    expect(label({ ...spec, files: { ...spec.files, 'index.html': 'bye\n' } })).not.toBe(c.argv[6])
    expect(label({ ...spec, dockerfile: { ...spec.dockerfile, vars: { base: 'busybox' } } })).not.toBe(c.argv[6])
    expect(planWith(t, { 'docker.image:vxlab-test-tpl': img({ 'vxlab.hash': c.argv[6]!.slice('vxlab.hash='.length) }) })).toEqual([])
  })
  it('a host context with a Dockerfile rendered on the controller: -f - with the Dockerfile on stdin, both in the hash', () => {
    const t = dockerImage({ name: 'vxlab-test-img', context: ctx, dockerfile: { template: { inline: 'FROM scratch\nADD rootfs.tar /\n' } } })
    const f = { 'docker.image:vxlab-test-img': { exists: false }, [`docker.contextHash:${ctx}`]: hash }
    const cs = planWith(t, f)
    const h = contextInputHash(hash, {}, 'FROM scratch\nADD rootfs.tar /\n')
    expect(h).not.toBe(want)
    expect(cs[0]!.commands).toEqual([{ argv: ['docker', 'build', '-q', '-t', 'vxlab-test-img', '--label', `vxlab.hash=${h}`, '-f', '-', ctx], stdin: 'FROM scratch\nADD rootfs.tar /\n', timeoutMs: 300_000 }])
    expect(planWith(t, { ...f, 'docker.image:vxlab-test-img': img({ 'vxlab.hash': h }) })).toEqual([])
  })
  it('dockerfile.text is used as it is (no template engine): the same build and hash as a template that renders to it', () => {
    const text = 'FROM scratch\nADD rootfs.tar /\nLABEL x="{{not a template}}"\n'
    const f = { 'docker.image:vxlab-test-img': { exists: false }, [`docker.contextHash:${ctx}`]: hash }
    const cs = planWith(dockerImage({ name: 'vxlab-test-img', context: ctx, dockerfile: { text } }), f)
    expect(cs[0]!.commands[0]!.stdin).toBe(text)
    expect(cs[0]!.commands[0]!.argv[6]).toBe(`vxlab.hash=${contextInputHash(hash, {}, text)}`)
    const plain = 'FROM scratch\nADD rootfs.tar /\n'
    const viaText = planWith(dockerImage({ name: 'vxlab-test-img', context: ctx, dockerfile: { text: plain } }), f)
    const viaTemplate = planWith(dockerImage({ name: 'vxlab-test-img', context: ctx, dockerfile: { template: { inline: plain } } }), f)
    expect(viaText[0]!.commands).toEqual(viaTemplate[0]!.commands)
    // without a context: Dockerfile and files in a tar, as with a template
    const tar = planWith(dockerImage({ name: 'vxlab-test-tpl', dockerfile: { text: plain }, files: { a: 'x' } }), { 'docker.image:vxlab-test-tpl': { exists: false } })[0]!.commands[0]!
    expect(execFileSync('tar', ['-tf', '-'], { input: tar.stdin as Uint8Array }).toString().trim().split('\n')).toEqual(['Dockerfile', 'a'])
  })
  it('tar archives of long paths use the ustar prefix field', () => {
    const long = `${'d'.repeat(90)}/${'f'.repeat(90)}`
    const listing = execFileSync('tar', ['-tf', '-'], { input: tarArchive([{ path: long, content: 'x' }]) }).toString()
    expect(listing.trim().split('\n')).toEqual([`${'d'.repeat(90)}/`, long])
  })
  it('validation names the field', () => {
    expect(() => dockerImage({ name: 'Bad;Name', context: ctx })).toThrow(/^docker\.image\[Bad;Name\]\.name: "Bad;Name" is not a valid image name/)
    // docker's reference grammar: a registry with a port, localhost (found refused by a trial); what docker refuses
    // stays refused, and nothing can start with "-" (a second trial found "-e.x/y" taken, then read by docker run as -e)
    for (const ok of ['reg.example:5000/team/app:v1', 'localhost:5000/app', 'localhost/app:1.0', 'reg:5000/app', 'docker.io/library/con_img', 'a__b', 'a--b.c']) {
      expect(dockerImage({ name: ok, context: ctx }).spec.name, ok).toBe(ok)
    }
    for (const bad of ['Bad/name', 'reg:port/app', 'reg.example:5000/Team/app', 'app@sha256:abc', 'app:', '/app', '-e.x/y', '-reg.example:5000/x', 'x/', 'a___b', 'a-/b', 'a.-b', 'x/../y', 'x/./y', 'reg-.example/x']) {
      expect(() => dockerImage({ name: bad, context: ctx }), bad).toThrow(/is not a valid image name \(\[REGISTRY\[:PORT\]\/\]PATH/)
    }
    // a digest names an image to run, never one to build (docker build: "build tag cannot contain a digest")
    const digest = `reg.example:5000/team/app@sha256:${'a'.repeat(64)}`
    expect(() => dockerImage({ name: digest, context: ctx })).toThrow(/docker\.image\[.*\]\.name: .* holds a digest: an image that vxlab builds is named by a name and a tag/)
    expect(dockerContainer({ name: 'c1', image: digest, network: 'none' }).spec.image).toBe(digest)
    // nor an image ID (docker refuses to tag one so, a trial found it planned and failing at apply); removing is fine
    for (const id of ['a'.repeat(64), `sha256:${'a'.repeat(64)}`]) {
      expect(() => dockerImage({ name: id, dockerfile: { text: 'FROM con_img\n' } }), id).toThrow(/is an image ID: an image that vxlab builds is named by a name and a tag/)
      expect(dockerImage({ name: id, ensure: 'absent' }).spec.name).toBe(id)
    }
    expect(dockerImage({ name: digest, ensure: 'absent' }).spec.name).toBe(digest)
    expect(() => dockerImage({ name: 'img' })).toThrow('docker.image[img].context: give context (a folder on the host), dockerfile, or both')
    expect(() => dockerImage({ name: 'img', context: ctx, files: { a: 'x' } })).toThrow(/docker\.image\[img\]\.files: files are only used with dockerfile/)
    expect(() => dockerImage({ name: 'img', context: 'relative/dir' })).toThrow(/docker\.image\[img\]\.context: expected an absolute path/)
    expect(() => dockerImage({ name: 'img', dockerfile: { template: { inline: 'FROM x' } }, files: { '../etc/passwd': 'x' } })).toThrow(/files\.\.\.\/etc\/passwd: path "\.\.\/etc\/passwd" must not contain/)
    expect(() => dockerImage({ name: 'img', dockerfile: { template: { inline: 'FROM {{base}}' } } })).toThrow(/docker\.image\[img\]\.dockerfile\.vars: .*base/)
    expect(() => dockerImage({ name: 'img', context: ctx, buildArgs: { 'A B': 'x' } })).toThrow(/buildArgs\.A B: keys must be/)
    // a limit past Node's timers (2^31 - 1 ms) fired at once: the build timed out as it started
    expect(() => dockerImage({ name: 'img', context: ctx, timeoutMs: 3e9 })).toThrow('docker.image[img].timeoutMs: 3000000000 ms is out of range 1..2000000000 (~23 days)')
    expect(() => dockerImage({ name: 'img', context: ctx, timeoutMs: 0 })).toThrow('docker.image[img].timeoutMs: 0 ms is out of range 1..2000000000 (~23 days)')
    expect(() => dockerImage({ name: 'img', context: ctx, timeoutMs: '60000' as never })).toThrow('docker.image[img].timeoutMs: expected a time limit in ms (an integer 1..2000000000), got "60000"')
    expect(dockerImage({ name: 'img', context: ctx, timeoutMs: 2_000_000_000 }).key).toBe('docker.image[img]')
    expect(() => dockerImage({ name: 'img', dockerfile: { text: 42 } as unknown as { text: string } })).toThrow('docker.image[img].dockerfile.text: expected a string, got number')
    expect(() => dockerImage({ name: 'img', dockerfile: { text: 'FROM x', template: 'y' } as unknown as { text: string } })).toThrow('docker.image[img].dockerfile: give template (with vars) or text, not both')
    expect(() => dockerImage({ name: 'img', dockerfile: null as unknown as { text: string } })).toThrow('docker.image[img].dockerfile: expected {template, vars} or {text}, got null')
    expect(() => dockerImage({ name: 'img', dockerfile: {} as unknown as { text: string } })).toThrow('docker.image[img].dockerfile: expected {template, vars} or {text}, got neither')
    expect(() => dockerImage({ name: 'img', dockerfile: ['FROM x'] as unknown as { text: string } })).toThrow('docker.image[img].dockerfile: expected {template, vars} or {text}, got an array')
    expect(() => dockerImage({ name: 'img', dockerfile: { text: null } as unknown as { text: string } })).toThrow('docker.image[img].dockerfile.text: expected a string, got null')
    expect(() => dockerImage({ name: 'img', dockerfile: { text: 'FROM x', vars: { a: 1 } } as unknown as { text: string } })).toThrow('docker.image[img].dockerfile.vars: vars are for a template; text is used as it is')
    // a key given as undefined is not given
    expect(dockerImage({ name: 'img', dockerfile: { text: 'FROM x\n', template: undefined } as unknown as { text: string } }).key).toBe('docker.image[img]')
    // no instruction: docker refuses it at build time; vxlab says so before any host is contacted
    for (const text of ['', '  \n\n', '# only a comment\n  # another\n']) {
      expect(() => dockerImage({ name: 'img', dockerfile: { text } }), JSON.stringify(text)).toThrow('docker.image[img].dockerfile.text: has a Dockerfile with no instruction (only blank lines or comments): docker build would refuse it')
    }
    expect(() => dockerImage({ name: 'img', dockerfile: { template: { inline: '{{#if x}}FROM a{{/if}}\n' }, vars: { x: false } } })).toThrow('docker.image[img].dockerfile.template: renders to a Dockerfile with no instruction')
    // a byte order mark before FROM is dropped by docker, so it is a Dockerfile with an instruction
    expect(dockerImage({ name: 'img', dockerfile: { text: '\uFEFFFROM alpine\n' } }).key).toBe('docker.image[img]')
    expect(() => dockerImage({ name: 'img', dockerfile: { text: 1n } as unknown as { text: string } })).toThrow('docker.image[img].dockerfile.text: expected a string, got a bigint')
    expect(() => dockerImage({ name: 'img', dockerfile: Symbol('x') as unknown as { text: string } })).toThrow('docker.image[img].dockerfile: expected {template, vars} or {text}, got a symbol')
    expect(() => dockerImage({ name: 'img', dockerfile: { template: { inline: 'FROM x' }, vars: 'abc' as unknown as Record<string, unknown> } })).toThrow('docker.image[img].dockerfile.vars: expected a mapping of template variables, got string "abc"')
    expect(() => dockerImage({ name: 'img', dockerfile: { template: { inline: 'FROM {{#if}}' } } })).toThrow(/^docker\.image\[img\]\.dockerfile\.template: template \(inline\): /)
    expect(() => dockerImage({ name: 'img', dockerfile: { text: 'FROM x' }, files: { Dockerfile: 'y' } })).toThrow('docker.image[img].files.Dockerfile: the Dockerfile comes from dockerfile')
  })
})

// ---------------------------------------------------------------------------------------------------------------------
describe('dockerContainer', () => {
  const imageOk: DockerImageState = { exists: true, id: 'sha256:1111', repoTags: ['vxlab-test-img:latest'], labels: {}, created: '' }
  const spec = { name: 'tdoc1', image: 'vxlab-test-img', network: 'none', env: { A: '1' } } as const
  const hash = containerSpecHash({ image: 'vxlab-test-img', network: 'none', env: { A: '1' } })
  const running = (over: Partial<Extract<DockerContainerState, { exists: true }>> = {}): DockerContainerState => ({
    exists: true, id: 'c'.repeat(64), name: 'tdoc1', status: 'running', pid: 4242, imageId: 'sha256:1111', image: 'vxlab-test-img',
    networkMode: 'none', restart: 'no', labels: { 'vxlab.spec': hash }, env: ['PATH=/bin', 'A=1'], cmd: ['httpd', '-f'], ...over,
  })
  const facts = (c: DockerContainerState, i: DockerImageState = imageOk) => ({ 'docker.container:tdoc1': c, 'docker.image:vxlab-test-img': i })
  const runArgv = ['docker', 'run', '-d', '--name', 'tdoc1', '--network', 'none', '--label', `vxlab.spec=${hash}`, '--restart', 'no', '-e', 'A=1', 'vxlab-test-img']

  it('absent -> docker run with exact argv (and create, not an error, when the image is not built yet)', () => {
    const t = dockerContainer(spec)
    expect(t.watches).toEqual(['docker.container:tdoc1', 'docker.image:vxlab-test-img'])
    const cs = planWith(t, facts({ exists: false }))
    expect(ops(cs)).toEqual(['create'])
    expect(argv(cs)).toEqual([runArgv])
    expect(cs[0]!.touches).toEqual(['docker.container:tdoc1'])
    expect(argv(planWith(t, facts({ exists: false }, { exists: false })))).toEqual([runArgv])
  })
  it('state stopped creates without starting; command goes after the image as argv', () => {
    const cs = planWith(dockerContainer({ ...spec, state: 'stopped', command: ['sh', '-c', 'echo "$HOME"; sleep 1'] }), facts({ exists: false }))
    const h = containerSpecHash({ image: 'vxlab-test-img', network: 'none', env: { A: '1' }, command: ['sh', '-c', 'echo "$HOME"; sleep 1'] })
    expect(argv(cs)).toEqual([['docker', 'create', '--name', 'tdoc1', '--network', 'none', '--label', `vxlab.spec=${h}`, '--restart', 'no', '-e', 'A=1', 'vxlab-test-img', 'sh', '-c', 'echo "$HOME"; sleep 1']])
  })
  it('in sync -> nothing', () => {
    expect(planWith(dockerContainer(spec), facts(running()))).toEqual([])
    expect(planWith(dockerContainer({ ...spec, state: 'stopped' }), facts(running({ status: 'exited', pid: 0 })))).toEqual([])
  })
  it('changed env -> replace (rm -f + run), with the readable difference, secrets masked', () => {
    const pw = secret('s3cr3t-pw')
    const cs = planWith(dockerContainer({ ...spec, env: { A: '1', PW: pw } }), facts(running()))
    expect(ops(cs)).toEqual(['replace'])
    expect(cs[0]!.summary).toBe('replace container tdoc1: env.PW changed')
    expect(cs[0]!.after).toEqual({ 'env.PW': '***' })
    expect(argv(cs)[0]).toEqual(['docker', 'rm', '-f', 'tdoc1'])
    expect(argv(cs)[1]).toContain(`PW=${pw}`) // the value itself travels as data
    const created = planWith(dockerContainer({ ...spec, env: { PW: pw } }), facts({ exists: false }))
    expect(created[0]!.summary).toContain('env PW=***')
    expect(created[0]!.summary).not.toContain(pw)
  })
  it('env values with shell metacharacters travel as one literal argv element', () => {
    const v = `a'b"; $(rm -rf /) \`x\``
    const cs = planWith(dockerContainer({ ...spec, env: { A: v } }), facts({ exists: false }))
    expect(argv(cs)[0]).toContain(`A=${v}`)
  })
  it('a rebuilt image, another network or a container not made by vxlab -> replace', () => {
    const rebuilt = planWith(dockerContainer(spec), facts(running(), { ...imageOk, id: 'sha256:2222' }))
    expect(rebuilt[0]).toMatchObject({ op: 'replace', summary: 'replace container tdoc1: image vxlab-test-img was rebuilt (1111 -> 2222)' })
    // a container of the same name run from another image (committed from the lab's, say) is not a rebuild
    const other = planWith(dockerContainer(spec), facts(running({ image: 'snap1', imageId: 'sha256:3333' }), { ...imageOk, id: 'sha256:2222' }))
    expect(other[0]!.summary).toContain('it runs image snap1 (3333), not vxlab-test-img (2222)')
    const net = planWith(dockerContainer(spec), facts(running({ networkMode: 'host' })))
    expect(net[0]).toMatchObject({ op: 'replace', before: { network: 'host' }, after: { network: 'none' } })
    const foreign = planWith(dockerContainer(spec), facts(running({ labels: {} })))
    expect(foreign[0]!.summary).toMatch(/not created by vxlab/)
    // image missing (removed by hand): not compared, no replace loop
    expect(planWith(dockerContainer(spec), facts(running(), { exists: false }))).toEqual([])
  })
  it('restart policy and state drift -> update in place', () => {
    const cs = planWith(dockerContainer({ ...spec, restart: 'always' }), facts(running({ status: 'exited', pid: 0 })))
    expect(ops(cs)).toEqual(['update'])
    expect(argv(cs)).toEqual([['docker', 'update', '--restart', 'always', 'tdoc1'], ['docker', 'start', 'tdoc1']])
    expect(cs[0]!.summary).toBe('update container tdoc1: restart no -> always, status exited -> running')
    expect(argv(planWith(dockerContainer({ ...spec, state: 'stopped' }), facts(running())))).toEqual([['docker', 'stop', 'tdoc1']])
    expect(argv(planWith(dockerContainer(spec), facts(running({ status: 'paused' }))))).toEqual([['docker', 'unpause', 'tdoc1']])
  })
  it('absent wanted -> rm -f, or nothing', () => {
    expect(argv(planWith(dockerContainer({ ...spec, state: 'absent' }), facts(running())))).toEqual([['docker', 'rm', '-f', 'tdoc1']])
    expect(planWith(dockerContainer({ ...spec, state: 'absent' }), facts({ exists: false }))).toEqual([])
  })
  it('absent with keepForeign: a same-named container without the vxlab.spec label is kept (a skip saying why); vxlab\'s is removed', () => {
    // a user's container inherits the image's vxlab.hash label, but not vxlab.spec (set by docker run --label)
    const users = running({ labels: { 'vxlab.hash': 'f'.repeat(64), mine: 'yes' }, restart: 'no' })
    const t = dockerContainer({ ...spec, state: 'absent', keepForeign: true })
    let err: unknown
    try {
      planWith(t, facts(users))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SkipTask)
    expect((err as SkipTask).reason).toBe('kept container tdoc1: not made by vxlab (no vxlab.spec label); remove or rename it (docker rm -f tdoc1 / docker rename tdoc1 NEW) and run again if it should go')
    expect(() => planWith(t, facts(running({ labels: { 'vxlab.spec': '' } })))).toThrow(SkipTask)
    // made by vxlab (any spec hash: an older spec is still vxlab's), stopped or not: removed; gone: nothing
    expect(argv(planWith(t, facts(running({ labels: { 'vxlab.spec': 'e'.repeat(64) }, status: 'exited', pid: 0 }))))).toEqual([['docker', 'rm', '-f', 'tdoc1']])
    expect(planWith(t, facts({ exists: false }))).toEqual([])
    // without the option: removed by name, whoever made it
    expect(argv(planWith(dockerContainer({ ...spec, state: 'absent' }), facts(users)))).toEqual([['docker', 'rm', '-f', 'tdoc1']])
    expect(() => dockerContainer({ ...spec, keepForeign: true })).toThrow("docker.container[tdoc1].keepForeign: only with state: 'absent'")
    expect(() => dockerContainer({ ...spec, state: 'absent', keepForeign: 1 as unknown as boolean })).toThrow('docker.container[tdoc1].keepForeign: expected true or false')
  })
  it('validation names the field', () => {
    expect(() => dockerContainer({ ...spec, name: 'doc1;rm -rf /' })).toThrow(/^docker\.container\[doc1;rm -rf \/\]\.name: .*is not a valid container name/)
    expect(() => dockerContainer({ ...spec, name: '-doc' })).toThrow(/\.name: /)
    expect(() => dockerContainer({ ...spec, image: 'Img$(x)' })).toThrow(/\.image: .*is not a valid image name/)
    expect(() => dockerContainer({ ...spec, network: 'none; reboot' })).toThrow(/\.network: expected none/)
    expect(() => dockerContainer({ ...spec, env: { 'A-B': 'x' } })).toThrow(/\.env\.A-B: keys must be/)
    expect(() => dockerContainer({ ...spec, restart: 'sometimes' as 'no' })).toThrow(/\.restart: expected one of/)
    expect(() => dockerContainer({ ...spec, command: [] })).toThrow(/\.command: expected a non-empty argv array/)
  })
})

// ---------------------------------------------------------------------------------------------------------------------
describe('containerPort', () => {
  const { host: H, peer: P } = vethNames('tdoc1', 'eth0')
  const netdev = (extra: Partial<OvsState> = {}): OvsState => ({
    bridges: { tdbr1: { name: 'tdbr1', uuid: 'b', datapathType: 'netdev', externalIds: {}, ports: ['tdbr1', H] } },
    ports: { [H]: { name: H, uuid: 'p', bridge: 'tdbr1', interfaces: [H], externalIds: {} } },
    interfaces: { [H]: { name: H, uuid: 'i', type: '', options: {}, externalIds: { container_id: 'tdoc1', container_iface: 'eth0' }, ofport: 3 } },
    ...extra,
  })
  const noOvs: OvsState = { bridges: { tdbr1: { name: 'tdbr1', uuid: 'b', datapathType: 'netdev', externalIds: {}, ports: [] } }, ports: {}, interfaces: {} }
  const hostLink: Link = { name: H, ifindex: 17, mtu: 1500, up: true, operstate: 'UP', mac: '02:00:00:00:00:01', kind: 'veth', ipv4: [] }
  const eth0 = (over: Partial<NetnsLink> = {}): NetnsLink => ({
    name: 'eth0', ifindex: 2, mtu: 1500, up: true, operstate: 'UP', mac: '02:00:00:00:00:02', kind: 'veth', peerIfindex: 17,
    ipv4: [{ address: '10.9.1.10', prefixlen: 24, cidr: '10.9.1.10/24' }], ...over,
  })
  /** A healthy attachment with fields overridden; a field set to undefined is removed. */
  const healthy = (over: { [K in keyof ContainerNetns]?: ContainerNetns[K] | undefined } = {}): ContainerNetns => {
    const o: Record<string, unknown> = {
      container: 'running', status: 'running', pid: 4242,
      links: { lo: { name: 'lo', ifindex: 1, mtu: 65536, up: true, operstate: 'UNKNOWN', ipv4: [{ address: '127.0.0.1', prefixlen: 8, cidr: '127.0.0.1/8' }] }, eth0: eth0() },
      routes: [{ destination: 'default', via: '10.9.1.1', dev: 'eth0' }, { destination: '10.9.1.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link' }],
      txOffload: 'off', hostLink, hostTxOffload: 'off', ...over,
    }
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]
    return o as unknown as ContainerNetns
  }
  const spec = { bridge: 'tdbr1', container: 'tdoc1', address: '10.9.1.10/24', gateway: '10.9.1.1' }
  const facts = (ns: ContainerNetns, ovs: OvsState) => ({ 'docker.netns:tdoc1:eth0': ns, 'ovs.state': ovs })
  const netnsScript = (...steps: string[]) => ['sh', '-c', NETNS_CONFIG_SCRIPT, 'sh', 'tdoc1', 'eth0', ...steps]
  const createArgv = (dpSteps: 'netdev' | 'auto' | 'system', extra: { mtu?: number; mac?: string } = {}) => {
    const mtu = extra.mtu !== undefined ? ['mtu', String(extra.mtu)] : []
    return [
      ['ip', 'link', 'add', 'name', H, ...mtu, 'type', 'veth', 'peer', 'name', P, ...mtu],
      ['ovs-vsctl', '--timeout=10', '--may-exist', 'add-port', 'tdbr1', H, '--', 'set', 'interface', H, 'external_ids:container_id="tdoc1"', 'external_ids:container_iface="eth0"'],
      ...(dpSteps === 'netdev' ? [['ethtool', '-K', H, 'tx', 'off']] : dpSteps === 'auto' ? [expect.arrayContaining(['tdbr1', H])] : []),
      ['ip', 'link', 'set', 'dev', H, 'up'],
      netnsScript('--move', P, ...(extra.mac ? ['--mac', extra.mac] : []), '--addr', '10.9.1.10/24', '--up', '--route', '10.9.1.1',
        ...(dpSteps === 'netdev' ? ['--tx-off'] : dpSteps === 'auto' ? ['--tx-off-if-netdev', 'tdbr1'] : []), '--verify-addr', '10.9.1.10/24', '--verify-gw', '10.9.1.1'),
    ]
  }

  it('names the host end deterministically within IFNAMSIZ, like ovs-docker _l/_c', () => {
    expect(H).toMatch(/^vx[0-9a-f]{8}_l$/)
    expect(P).toBe(H.replace(/_l$/, '_c'))
    expect(vethNames('tdoc1', 'eth1').host).not.toBe(H)
    expect(vethNames('tdoc1', 'eth0').host).toBe(H)
  })
  it('container not running yet (check mode, created earlier in the run) -> create, not an error', () => {
    const t = containerPort(spec)
    expect(t.key).toBe('docker.containerPort[tdoc1:eth0]')
    expect(t.watches).toEqual(['docker.container:tdoc1', 'ovs.bridge:tdbr1', `ovs.port:${H}`])
    const cs = planWith(t, facts({ container: 'absent', hostTxOffload: 'absent' }, noOvs))
    expect(ops(cs)).toEqual(['create'])
    expect(cs[0]!.summary).toMatch(/container does not exist yet/)
    expect(argv(cs)).toEqual(createArgv('netdev'))
  })
  it('absent -> create on a running container: veth, OVS port with ovs-docker external_ids, offload off on netdev, verify', () => {
    const cs = planWith(containerPort({ ...spec, mtu: 1450, mac: '02:AA:bb:cc:dd:ee' }), facts(healthy({ links: { lo: healthy().links!.lo! }, hostLink: undefined, hostTxOffload: 'absent', txOffload: 'absent' }), noOvs))
    expect(ops(cs)).toEqual(['create'])
    expect(argv(cs)).toEqual(createArgv('netdev', { mtu: 1450, mac: '02:aa:bb:cc:dd:ee' }))
  })
  it('kernel datapath: no ethtool; unknown bridge (made earlier in the run): offload decided at apply time', () => {
    const sys: OvsState = { ...noOvs, bridges: { tdbr1: { ...noOvs.bridges.tdbr1!, datapathType: 'system' } } }
    const ns: ContainerNetns = { container: 'absent', hostTxOffload: 'absent' }
    expect(argv(planWith(containerPort(spec), facts(ns, sys)))).toEqual(createArgv('system'))
    expect(argv(planWith(containerPort(spec), facts(ns, { bridges: {}, ports: {}, interfaces: {} })))).toEqual(createArgv('auto'))
  })
  it('in sync -> nothing', () => {
    expect(planWith(containerPort(spec), facts(healthy(), netdev()))).toEqual([])
  })
  it('container restarted (its end gone, OVS row stale) -> replace: delete port, re-create', () => {
    const stale = netdev({ interfaces: { [H]: { ...netdev().interfaces[H]!, ofport: -1, error: `could not open network device ${H} (No such device)` } } })
    const ns = healthy({ links: { lo: healthy().links!.lo! }, routes: [], hostLink: undefined, hostTxOffload: 'absent', txOffload: 'absent' })
    const cs = planWith(containerPort(spec), facts(ns, stale))
    expect(ops(cs)).toEqual(['replace'])
    expect(cs[0]!.summary).toBe(`re-attach tdoc1:eth0 to tdbr1: host end ${H} is missing; eth0 is missing in the container (restarted?); OVS port ${H}: could not open network device ${H} (No such device)`)
    expect(argv(cs)).toEqual([['ovs-vsctl', '--timeout=10', '--if-exists', 'del-port', H], ...createArgv('netdev')])
  })
  it('an ovs-docker attachment of the same container/iface is replaced (its port and veth deleted)', () => {
    const ovs: OvsState = {
      bridges: { tdbr1: { name: 'tdbr1', uuid: 'b', datapathType: 'netdev', externalIds: {}, ports: ['0123456789abc_l'] } },
      ports: { '0123456789abc_l': { name: '0123456789abc_l', uuid: 'p', bridge: 'tdbr1', interfaces: ['0123456789abc_l'], externalIds: {} } },
      interfaces: { '0123456789abc_l': { name: '0123456789abc_l', uuid: 'i', type: '', options: {}, externalIds: { container_id: 'tdoc1', container_iface: 'eth0' }, ofport: 5 } },
    }
    const cs = planWith(containerPort(spec), facts(healthy({ hostLink: undefined, hostTxOffload: 'absent', links: { eth0: eth0({ peerIfindex: 99 }) } }), ovs))
    expect(cs[0]!.op).toBe('replace')
    expect(argv(cs).slice(0, 2)).toEqual([['ovs-vsctl', '--timeout=10', '--if-exists', 'del-port', '0123456789abc_l'], ['sh', '-c', expect.any(String), 'sh', '0123456789abc_l']])
  })
  it('an iface in the container that nobody attached is a clear error, not silently deleted', () => {
    expect(() => planWith(containerPort(spec), facts(healthy({ hostLink: undefined, hostTxOffload: 'absent', links: { eth0: eth0({ peerIfindex: 99 }) } }), noOvs)))
      .toThrow('container tdoc1 already has an interface eth0 (veth) that is not attached by vxlab or ovs-docker: remove it or choose another iface')
  })
  it('address drift inside the container -> update in place: flush, add, route again, verify', () => {
    const ns = healthy({ links: { eth0: eth0({ ipv4: [{ address: '10.9.1.99', prefixlen: 24, cidr: '10.9.1.99/24' }] }) }, routes: [] })
    const cs = planWith(containerPort(spec), facts(ns, netdev()))
    expect(ops(cs)).toEqual(['update'])
    expect(cs[0]!.before).toEqual({ address: '10.9.1.99/24', gateway: null })
    expect(argv(cs)).toEqual([netnsScript('--flush', '--addr', '10.9.1.10/24', '--route', '10.9.1.1', '--verify-addr', '10.9.1.10/24', '--verify-gw', '10.9.1.1')])
  })
  it('gateway, mtu, mac, link state and tx offload drift -> update of exactly those', () => {
    const ns = healthy({ routes: [{ destination: 'default', via: '10.9.1.254', dev: 'eth0' }], txOffload: 'on', hostTxOffload: 'on', hostLink: { ...hostLink, up: false, mtu: 1500 } })
    const cs = planWith(containerPort({ ...spec, mtu: 1450, mac: '02:00:00:00:00:02' }), facts(ns, netdev()))
    expect(cs[0]!.before).toEqual({ mtu: 1500, hostUp: false, gateway: '10.9.1.254 dev eth0', hostTxChecksum: 'on', txChecksum: 'on' })
    expect(argv(cs)).toEqual([
      ['ip', 'link', 'set', 'dev', H, 'mtu', '1450'],
      ['ip', 'link', 'set', 'dev', H, 'up'],
      ['ethtool', '-K', H, 'tx', 'off'],
      netnsScript('--mtu', '1450', '--route', '10.9.1.1', '--tx-off', '--verify-addr', '10.9.1.10/24', '--verify-gw', '10.9.1.1'),
    ])
  })
  it('port removed from OVS by hand (veth intact) -> re-added in place', () => {
    const cs = planWith(containerPort(spec), facts(healthy(), noOvs))
    expect(ops(cs)).toEqual(['update'])
    expect(argv(cs)).toEqual([['ovs-vsctl', '--timeout=10', '--if-exists', 'del-port', H, '--', 'add-port', 'tdbr1', H, '--', 'set', 'interface', H, 'external_ids:container_id="tdoc1"', 'external_ids:container_iface="eth0"']])
  })
  it('absent wanted -> delete port and veth, or nothing', () => {
    const t = containerPort({ bridge: 'tdbr1', container: 'tdoc1', ensure: 'absent' })
    expect(argv(planWith(t, facts(healthy(), netdev())))).toEqual([['ovs-vsctl', '--timeout=10', '--if-exists', 'del-port', H], ['ip', 'link', 'delete', 'dev', H]])
    expect(planWith(t, facts({ container: 'absent', hostTxOffload: 'absent' }, noOvs))).toEqual([])
  })
  it('validation names the field', () => {
    expect(() => containerPort({ ...spec, bridge: 'br;reboot' })).toThrow(/^docker\.containerPort\[tdoc1:eth0\]\.bridge: interface name "br;reboot" may only contain/)
    expect(() => containerPort({ ...spec, container: 'doc1$(id)' })).toThrow(/\.container: "doc1\$\(id\)" is not a valid container name/)
    expect(() => containerPort({ ...spec, iface: 'eth0-much-too-long' })).toThrow(/\.iface: .*longer than 15/)
    expect(() => containerPort({ ...spec, address: '10.9.1.10' })).toThrow(/\.address: expected A.B.C.D\/len/)
    expect(() => containerPort({ bridge: 'tdbr1', container: 'tdoc1' })).toThrow(/\.address: required/)
    expect(() => containerPort({ ...spec, gateway: '10.9.2.1' })).toThrow(/\.gateway: 10.9.2.1 is not in 10.9.1.10\/24's network/)
    expect(() => containerPort({ ...spec, mtu: 40 })).toThrow(/\.mtu: 40 is out of range/)
    expect(() => containerPort({ ...spec, mac: 'zz' })).toThrow(/\.mac: expected a MAC/)
    // a gateway Linux refuses at apply ("Nexthop has invalid gateway"), after the veth was made and attached
    expect(() => containerPort({ ...spec, gateway: '10.9.1.255' })).toThrow("docker.containerPort[tdoc1:eth0].gateway: 10.9.1.255 is the broadcast address of 10.9.1.10/24's network (Linux refuses it as a gateway: \"Nexthop has invalid gateway\")")
    expect(() => containerPort({ ...spec, address: '127.0.0.5/8', gateway: '127.0.0.1' })).toThrow(/\.gateway: 127\.0\.0\.1 is a loopback address/)
    expect(containerPort({ ...spec, address: '10.9.1.10/31', gateway: '10.9.1.11' }).key).toBe('docker.containerPort[tdoc1:eth0]')
    expect(containerPort({ ...spec, gateway: '10.9.1.0' }).key).toBe('docker.containerPort[tdoc1:eth0]')
    // with ensure absent and no address, a gateway given is still checked (it was accepted whatever it was)
    expect(() => containerPort({ bridge: 'tdbr1', container: 'tdoc1', ensure: 'absent', gateway: '10.9.1.1/24' })).toThrow('docker.containerPort[tdoc1:eth0].gateway: expected an IPv4 address, got "10.9.1.1/24"')
    expect(() => containerPort({ bridge: 'tdbr1', container: 'tdoc1', ensure: 'absent', gateway: 5 as never })).toThrow('docker.containerPort[tdoc1:eth0].gateway: expected an IPv4 address, got 5')
    expect(containerPort({ bridge: 'tdbr1', container: 'tdoc1', ensure: 'absent', gateway: '10.9.1.1' }).key).toBe('docker.containerPort[tdoc1:eth0]')
  })
})

// ---------------------------------------------------------------------------------------------------------------------
describe('docker facts and scripts', () => {
  it('"No such" is absence; any other docker failure (daemon down) throws naming dockerd', () => {
    const f = dockerContainerFact('tdoc1')
    expect(f.okExitCodes).toEqual([0, 1])
    expect(f.parse({ stdout: '[]\n', stderr: 'Error: No such container: tdoc1\n', code: 1 })).toEqual({ exists: false })
    expect(() => f.parse({ stdout: '', stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n', code: 1 })).toThrow(DockerDaemonError)
    expect(() => dockerImageFact('x').parse({ stdout: '', stderr: 'permission denied while trying to connect to the Docker daemon socket', code: 1 })).toThrow(/dockerd did not answer/)
    expect(dockerImageFact('x').parse({ stdout: '[]\n', stderr: 'Error response from daemon: No such image: x:latest\n', code: 1 })).toEqual({ exists: false })
  })
  it('the containers using an image: parsed from docker inspect lines; "No such" is none; daemon down throws', () => {
    const f = dockerImageUsersFact('con_img')
    expect(f.okExitCodes).toEqual([0, 1])
    expect(f.parse({ stdout: 'sha256:aaaa /usercont\nsha256:bbbb /doc1\n', stderr: '', code: 0 })).toEqual([{ imageId: 'sha256:aaaa', name: 'usercont' }, { imageId: 'sha256:bbbb', name: 'doc1' }])
    expect(f.parse({ stdout: '', stderr: '', code: 0 })).toEqual([])
    // a container dockerContainer made carries the vxlab.spec label (the script's --format marks it)
    expect(IMAGE_USERS_SCRIPT).toContain('{{with .Config.Labels}}{{if index . "vxlab.spec"}} vxlab.spec{{end}}{{end}}')
    expect(f.parse({ stdout: 'sha256:aaaa /doc3\nsha256:aaaa /doc4 vxlab.spec\n', stderr: '', code: 0 })).toEqual([{ imageId: 'sha256:aaaa', name: 'doc3' }, { imageId: 'sha256:aaaa', name: 'doc4', specLabel: true }])
    // a daemon that answers "no such image" for the filter, or a container removed between ps and inspect
    expect(f.parse({ stdout: '', stderr: 'Error response from daemon: No such image: con_img:latest\n', code: 1 })).toEqual([])
    expect(f.parse({ stdout: 'sha256:aaaa /usercont\n', stderr: 'Error: No such container: 5745022336e5\n', code: 1 })).toEqual([{ imageId: 'sha256:aaaa', name: 'usercont' }])
    expect(() => f.parse({ stdout: '', stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n', code: 1 })).toThrow(DockerDaemonError)
    expect(() => f.parse({ stdout: '', stderr: '', code: 1 })).toThrow(DockerDaemonError)
  })
  it('a container found by ID prefix is not the named one', () => {
    const j = [{ Id: 'ab', Name: '/other', Image: 'sha256:1', State: { Status: 'running', Pid: 1 }, Config: { Image: 'x' }, HostConfig: { NetworkMode: 'none' } }]
    expect(dockerContainerFact('ab').parse({ stdout: JSON.stringify(j), stderr: '', code: 0 })).toEqual({ exists: false })
  })
  it('the netns fact parses a stopped container and a missing host end', () => {
    expect(parseContainerNetns('container exited 0\n@@host\n\n@@hosttx\nabsent\n')).toEqual({ container: 'stopped', status: 'exited', pid: 0, hostTxOffload: 'absent' })
  })
  it('the shell scripts parse in sh and dash', () => {
    for (const sh of ['sh', 'dash']) {
      for (const body of [NETNS_CONFIG_SCRIPT, CONTAINER_NETNS_SCRIPT, CONTEXT_HASH_SCRIPT]) execFileSync(sh, ['-n', '-c', body])
    }
  })
  it('the context hash script hashes names and contents, and fails on a missing folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-ctx-'))
    try {
      writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n')
      const h1 = execFileSync('sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', dir]).toString()
      expect(execFileSync('sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', dir]).toString()).toBe(h1)
      writeFileSync(join(dir, 'x'), '')
      expect(execFileSync('sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', dir]).toString()).not.toBe(h1)
      expect(() => execFileSync('sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', join(dir, 'nope')], { stdio: 'pipe' })).toThrow()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// ---------------------------------------------------------------------------------------------------------------------
describe('recorded from the testbed (test/fixtures/record-docker.ts)', () => {
  const fixtures = join(import.meta.dirname, '..', 'fixtures')
  const fact = (name: string) => JSON.parse(readFileSync(join(fixtures, 'facts', 'docker', `${name}.json`), 'utf8')) as { expected: unknown }
  const spec = { bridge: 'tdbrfx', container: 'tdocfx', address: '10.98.0.10/24', gateway: '10.98.0.1', mtu: 1450 }

  it('dockerd unreachable: the real CLI output fails every docker read, naming dockerd', () => {
    const dir = join(fixtures, 'docker-daemon-down')
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'))
    expect(files.sort()).toEqual(['container.json', 'image.json', 'netns.json'])
    const facts = { image: dockerImageFact('vxlab-test-fx'), container: dockerContainerFact('tdocfx'), netns: containerNetnsFact('tdocfx', 'eth0', vethNames('tdocfx', 'eth0').host) }
    for (const f of files) {
      const fx = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { case: keyof typeof facts; factId: string; stdout: string; stderr: string; code: number }
      const real = facts[fx.case]
      expect(real.id).toBe(fx.factId)
      expect(fx.stderr).toMatch(/Cannot connect to the Docker daemon/)
      if ((real.okExitCodes ?? [0]).includes(fx.code)) {
        expect(() => real.parse(fx)).toThrow(/dockerd did not answer \(is it running\?\): Cannot connect to the Docker daemon/)
      } else {
        // not an accepted code: the runner fails the read and names the service
        expect(real.service).toBe('dockerd')
      }
    }
  })
  it('an attached container as read on the testbed is in sync; after docker restart it is re-attached', () => {
    const ovs = fact('ovs-state-stale-after-restart').expected as OvsState
    const attached = fact('netns-attached').expected as ContainerNetns
    const restarted = fact('netns-after-restart').expected as ContainerNetns
    expect(planWith(containerPort(spec), { 'docker.netns:tdocfx:eth0': attached, 'ovs.state': ovs })).toEqual([])
    const cs = planWith(containerPort(spec), { 'docker.netns:tdocfx:eth0': restarted, 'ovs.state': ovs })
    expect(ops(cs)).toEqual(['replace'])
    expect(cs[0]!.summary).toMatch(/host end vx[0-9a-f]{8}_l is missing; eth0 is missing in the container/)
    // drift: another address -> update in place
    expect(ops(planWith(containerPort({ ...spec, address: '10.98.0.11/24' }), { 'docker.netns:tdocfx:eth0': attached, 'ovs.state': ovs }))).toEqual(['update'])
  })
  it('a container as read on the testbed is in sync with its spec; another env value replaces it', () => {
    const c = fact('container-running').expected as DockerContainerState
    const i = fact('image-present').expected as DockerImageState
    const t = (env: Record<string, string>) => dockerContainer({ name: 'tdocfx', image: 'vxlab-test-fx', network: 'none', env, restart: 'unless-stopped' })
    expect(planWith(t({ GREETING: 'hi there' }), { 'docker.container:tdocfx': c, 'docker.image:vxlab-test-fx': i })).toEqual([])
    expect(ops(planWith(t({ GREETING: 'bye' }), { 'docker.container:tdocfx': c, 'docker.image:vxlab-test-fx': i }))).toEqual(['replace'])
    const stopped = fact('container-created-stopped').expected as DockerContainerState
    expect(argv(planWith(dockerContainer({ name: 'tdocfx2', image: 'vxlab-test-fx', network: 'none' }), { 'docker.container:tdocfx2': stopped, 'docker.image:vxlab-test-fx': i }))).toEqual([['docker', 'start', 'tdocfx2']])
  })
})
