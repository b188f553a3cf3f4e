/**
 * Issue #6: facts read together. In one batch, the facts of a FactGroup share one command (one `docker inspect`
 * for every container of a host), and each gets exactly the output its own command would have given.
 * The docker group runs here against a stand-in `docker` (first on PATH) and is compared, fact by fact,
 * with each fact's own command; test/integration/perf.test.ts does the same against the testbed's dockerd.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalConnection } from '../../lib/connection/local.ts'
import { script, type Command } from '../../lib/core/command.ts'
import { renderArgv } from '../../lib/connection/quote.ts'
import { playbook, runPlaybook } from '../../lib/core/playbook.ts'
import { readPlan } from '../../lib/core/runner.ts'
import type { AnyFact, Fact, FactGroup, Task } from '../../lib/core/task.ts'
import { DOCKER_API_SH, containerNetnsFact, dockerContainerFact, dockerImageFact, splitContainersGroup } from '../../lib/facts/docker.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { fileFact as hostFileFact } from '../../lib/facts/files.ts'

const dir = mkdtempSync(join(tmpdir(), 'vxlab-factgroup-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------------------------------
// a toy group: files read by one `cat`-like script

const FILES_SCRIPT = `t=$1; shift; k=0
for f in "$@"; do
  ( cat -- "$f" ) >"$TMPDIR_/o" 2>"$TMPDIR_/e"; c=$?
  printf '%s %d\\n' "$t" "$k"; cat "$TMPDIR_/o"; printf '\\n%s %d err %d\\n' "$t" "$k" "$c"; cat "$TMPDIR_/e"; printf '\\n%s %d end\\n' "$t" "$k"
  k=$((k+1))
done`
let reads = 0
const filesGroup = (path: string): FactGroup => ({
  key: 'files',
  args: [path],
  read(members) {
    reads++
    const token = `TOK${reads}x`
    return {
      command: script(`TMPDIR_=$(mktemp -d); ${FILES_SCRIPT}; rm -rf "$TMPDIR_"`, token, ...members.map((m) => m[0]!)),
      split: (out) => splitContainersGroup(out.stdout, token, members.length),
    }
  },
})
const fileFact = (path: string, grouped = true): Fact<string | undefined> => ({
  id: `f:${path}`,
  command: script('cat -- "$1"', path),
  ...(grouped ? { group: filesGroup(path) } : {}),
  okExitCodes: [0, 1],
  parse: (o) => (o.code === 1 ? undefined : o.stdout),
})

describe('readPlan', () => {
  const a = join(dir, 'a')
  const b = join(dir, 'b')
  beforeAll(() => {
    writeFileSync(a, 'alpha\n')
    writeFileSync(b, 'no newline')
  })
  it('reads a group\'s facts with one part, placed where its first member is, and gives each its own output', async () => {
    const facts: AnyFact[] = [fileFact(a), fileFact('/etc/hostname', false), fileFact(b), fileFact(join(dir, 'missing'))]
    const plan = readPlan(facts)
    expect(plan.parts).toHaveLength(2)
    expect(plan.parts[1]!.command).toBe(facts[1]!.command)
    const conn = new LocalConnection('l')
    const outs = plan.outputs(await conn.runBatch(plan.parts))
    const own = await conn.runBatch(facts.map((f) => ({ command: f.command })))
    expect(outs.map((o) => o && { code: o.code, stdout: o.stdout })).toEqual(own.map((o) => ({ code: o.code, stdout: o.stdout })))
    expect(outs[0]!.stdout).toBe('alpha\n')
    expect(outs[2]!.stdout).toBe('no newline')
    expect(outs[3]!.code).toBe(1)
    expect(outs[3]!.stderr).toMatch(/No such file/)
  })
  it('a group of one runs the fact\'s own command', () => {
    const f = fileFact(a)
    expect(readPlan([f]).parts.map((p) => p.command)).toEqual([f.command])
  })
  it('a grouped command that fails without output fails every member, saying so', async () => {
    const broken: FactGroup = { key: 'broken', args: [], read: () => ({ command: script('echo boom >&2; exit 2'), split: () => [] }) }
    const facts = [{ ...fileFact(a), id: 'x1', group: broken }, { ...fileFact(b), id: 'x2', group: broken }]
    const plan = readPlan(facts)
    const outs = plan.outputs(await new LocalConnection('l').runBatch(plan.parts))
    for (const o of outs) {
      expect(o!.code).toBeNull()
      expect(o!.stderr).toMatch(/the grouped read .*exit 2\) failed: no output for this fact: boom/)
    }
  })
  it('the runner reads grouped facts in its one exec and plans from each fact\'s own value', async () => {
    const seen: Record<string, unknown> = {}
    const t = (f: Fact<string | undefined>): Task<null, string | undefined> => ({
      kind: 't', key: `t[${f.id}]`, spec: null, facts: [f], current: (s) => s.get(f),
      plan: (cur) => {
        seen[f.id] = cur
        return []
      },
    })
    const inventory = Inventory.parse('all:\n  hosts:\n    l1: {ansible_connection: local}\n', 'inv.yml')
    const r = await runPlaybook(playbook({ name: 'g', plays: [{ name: 'p', hosts: 'all', tasks: () => [t(fileFact(a)), t(fileFact(b)), t(fileFact(join(dir, 'nope')))] }] }), { inventory, lock: false })
    expect(r.hosts.l1).toMatchObject({ ok: 3, failed: 0, execs: 1 })
    expect(seen).toEqual({ [`f:${a}`]: 'alpha\n', [`f:${b}`]: 'no newline', [`f:${join(dir, 'nope')}`]: undefined })
  })
})

describe('splitContainersGroup', () => {
  it('keeps each member\'s stdout untrimmed and cannot be fooled by a marker with another token', () => {
    const out = 'T 0\n\nT 0 err 0\n\nT 0 end\nT 1\nline\nX 1 err 0\nfake\n\nT 1 err 3\nwarn\n\nT 1 end\n'
    expect(splitContainersGroup(out, 'T', 2)).toEqual([
      { code: 0, stdout: '', stderr: '' },
      { code: 3, stdout: 'line\nX 1 err 0\nfake\n', stderr: 'warn\n' },
    ])
    expect(splitContainersGroup('T 0\ncut short', 'T', 2)).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------------------------------
// the docker containers group against a stand-in docker

const FAKE_DOCKER = `#!/bin/sh
# stand-in for the docker CLI: "inspect --type container [-f FORMAT] NAME..." for containers web1 (running) and
# old1 (exited); DOCKER_FAKE_DOWN=1: dockerd unreachable
if [ "$1 $2" = "image inspect" ]; then # one image, img1
  [ "$DOCKER_FAKE_DOWN" = 1 ] && { echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1; }
  [ "$3" = img1 ] || { echo '[]'; echo "Error response from daemon: No such image: $3:latest" >&2; exit 1; }
  echo '[{"Id":"sha256:1111","RepoTags":["img1:latest"],"Created":"2026-01-01T00:00:00Z","Config":{"Labels":{"vxlab.hash":"h"}}}]'
  exit 0
fi
[ "$1" = inspect ] || { echo "fake docker: $*" >&2; exit 2; }
shift 3 # inspect --type container
fmt=; if [ "$1" = -f ]; then fmt=$2; shift 2; fi
rc=0; first=1
[ -z "$fmt" ] && printf '['
for n in "$@"; do
  if [ "$DOCKER_FAKE_DOWN" = 1 ]; then echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; rc=1; continue; fi
  case $n in
    web1) st=running pid=0 ;;
    old1) st=exited pid=0 ;;
    *) echo "Error: No such container: $n" >&2; rc=1; continue ;;
  esac
  j='{"Id":"'$n'0000","Name":"/'$n'","Image":"sha256:abc","State":{"Status":"'$st'","Pid":'$pid'},"Config":{"Image":"img","Labels":{"k":"v w"},"Env":["A=1"],"Cmd":["httpd"]},"HostConfig":{"NetworkMode":"none","RestartPolicy":{"Name":""}}}'
  if [ -n "$fmt" ]; then echo "/$n $st $pid $j"; else [ $first = 1 ] || printf ','; printf '%s' "$j"; first=0; fi
done
[ -z "$fmt" ] && echo ']'
exit $rc
`

describe('docker containers group (stand-in docker)', () => {
  const saved = process.env.PATH
  beforeAll(() => {
    const bin = join(dir, 'bin')
    mkdirSync(bin, { recursive: true })
    writeFileSync(join(bin, 'docker'), FAKE_DOCKER)
    chmodSync(join(bin, 'docker'), 0o755)
    process.env.PATH = `${bin}:${saved ?? '/usr/bin:/bin'}`
  })
  afterAll(() => {
    process.env.PATH = saved
  })
  const facts: AnyFact[] = [
    dockerContainerFact('web1'), containerNetnsFact('web1', 'eth0', 'vxnoweb1'),
    dockerContainerFact('old1'), containerNetnsFact('old1', 'eth0', 'vxnoold1'),
    dockerContainerFact('gone'), containerNetnsFact('gone', 'eth0', 'vxnogone'),
    dockerImageFact('img1'), dockerImageFact('noimg'),
  ]
  const judge = (f: AnyFact, o: { code: number | null; stdout: string; stderr: string } | undefined): unknown => {
    if (o === undefined || o.code === null || !(f.okExitCodes ?? [0]).includes(o.code)) return { failed: o?.code, stderr: o?.stderr.trim() }
    try {
      return JSON.parse(JSON.stringify(f.parse({ stdout: o.stdout, stderr: o.stderr, code: o.code })))
    } catch (e) {
      return { parseError: String(e) }
    }
  }
  for (const down of [false, true]) {
    it(`one docker call reads every container fact, each as its own command would${down ? ' (dockerd down: every read fails naming it)' : ''}`, async () => {
      process.env.DOCKER_FAKE_DOWN = down ? '1' : '0'
      const conn = new LocalConnection('l')
      const plan = readPlan(facts)
      expect(plan.parts).toHaveLength(1)
      const grouped = plan.outputs(await conn.runBatch(plan.parts))
      const own = await conn.runBatch(facts.map((f) => ({ command: f.command })))
      const a = facts.map((f, i) => judge(f, grouped[i]))
      expect(a).toEqual(facts.map((f, i) => judge(f, own[i])))
      if (!down) {
        expect(a[0]).toMatchObject({ exists: true, status: 'running', labels: { k: 'v w' } })
        expect(a[2]).toMatchObject({ exists: true, status: 'exited' })
        expect(a[3]).toMatchObject({ container: 'stopped', status: 'exited' })
        expect(a[4]).toEqual({ exists: false })
        expect(a[5]).toMatchObject({ container: 'absent' })
        expect(a[6]).toMatchObject({ exists: true, repoTags: ['img1:latest'], labels: { 'vxlab.hash': 'h' } })
        expect(a[7]).toEqual({ exists: false })
      } else {
        // a daemon that is down never reads as "absent": every read fails
        for (const x of a) expect(Object.keys(x as object)).toEqual([expect.stringMatching(/^(parseError|failed)$/), ...(Object.keys(x as object).length > 1 ? ['stderr'] : [])])
        expect(a[0]).toEqual({ parseError: expect.stringMatching(/^DockerDaemonError: dockerd did not answer \(is it running\?\): Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?$/) })
      }
    })
  }
})

describe('docker group over the Engine API (stand-in curl and socket)', () => {
  // curl as DOCKER_API_SH runs it: each URL's body on one line, then the -w line with the HTTP code
  const FAKE_CURL = `#!/bin/sh
for a in "$@"; do
  case $a in
    http://docker/containers/web1/json) printf '%s\\n' '{"Id":"web10000","Name":"/web1","State":{"Status":"running","Pid":0},"Config":{"Image":"img","Labels":{}},"HostConfig":{"NetworkMode":"none"}}'; printf '\\n@@VXDK 200\\n' ;;
    http://docker/images/img1/json) printf '%s\\n' '{"Id":"sha256:1111","RepoTags":["img1:latest"],"Created":"2026-01-01T00:00:00Z","Config":{"Labels":{}}}'; printf '\\n@@VXDK 200\\n' ;;
    http://docker/images/nosuch/json) printf '%s\\n' '{"message":"No such image: nosuch:latest"}'; printf '\\n@@VXDK 404\\n' ;;
    http://docker/images/broken/json) printf '\\n@@VXDK 500\\n' ;;
    http://*) echo "fake curl: $a" >&2; exit 22 ;;
  esac
done
`
  it('each answer is its own: an empty body is never read as the body before it (a 404 then an empty 500)', async () => {
    const bin = join(dir, 'curl-bin')
    mkdirSync(bin, { recursive: true })
    writeFileSync(join(bin, 'curl'), FAKE_CURL, { mode: 0o755 })
    const sock = join(dir, 'docker.sock')
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(sock)})`])
    const facts: AnyFact[] = [dockerContainerFact('web1'), dockerImageFact('nosuch'), dockerImageFact('broken'), dockerImageFact('img1')]
    const plan = readPlan(facts)
    expect(plan.parts).toHaveLength(1)
    const env = ['env', `PATH=${bin}:/usr/bin:/bin`, `DOCKER_HOST=unix://${sock}`, `DOCKER_CONFIG=${join(dir, 'no-docker-config')}`]
    const conn = new LocalConnection('l')
    const grouped = plan.outputs(await conn.runBatch(plan.parts.map((p) => ({ command: { argv: [...env, ...p.command.argv] } }))))
    // each image's own command reads over the API too (a container's own command is the docker CLI)
    const own = await conn.runBatch(facts.slice(1).map((f) => ({ command: { argv: [...env, ...f.command.argv] } })))
    const judge = (f: AnyFact, o: { code: number | null; stdout: string; stderr: string } | undefined): unknown => {
      try {
        return JSON.parse(JSON.stringify(f.parse({ stdout: o!.stdout, stderr: o!.stderr, code: o!.code! })))
      } catch (e) {
        return { parseError: String(e) }
      }
    }
    const a = facts.map((f, i) => judge(f, grouped[i]))
    expect(a.slice(1)).toEqual(facts.slice(1).map((f, i) => judge(f, own[i])))
    expect(a[0]).toMatchObject({ exists: true, status: 'running' })
    expect(a[1]).toEqual({ exists: false })
    expect(a[2]).toEqual({ parseError: expect.stringMatching(/dockerd did not answer.*HTTP 500/) })
    expect(a[3]).toMatchObject({ exists: true, repoTags: ['img1:latest'] })
  })
  it('a name with a "." between slashes is not sent to the API (dockerd answers a path it cleans with a redirect)', () => {
    const safe = (name: string) => spawnSync('sh', ['-c', `${DOCKER_API_SH}\ndk_safe "$1"`, 'sh', name]).status
    for (const ok of ['con_img', 'con_img:latest', 'reg.example/team/app:v1.2', 'a.b/c', 'img@sha256:00']) expect(safe(ok), ok).toBe(0)
    for (const bad of ['con_img/.', './con_img', 'a/./b', '.', 'a/../b', 'a//b', 'a/', '', 'a b', 'a?b']) expect(safe(bad), bad).toBe(1)
  })
})

describe('file facts read together', () => {
  it('one stat for every file; each file\'s output and exit code exactly as its own command gives them', async () => {
    const d = join(dir, 'files')
    mkdirSync(join(d, 'dir'), { recursive: true })
    writeFileSync(join(d, 'a'), 'alpha\n')
    writeFileSync(join(d, 'sp ace'), 'no newline')
    writeFileSync(join(d, 'bin'), Buffer.from([0, 1, 2, 255, 10]))
    chmodSync(join(d, 'bin'), 0o600)
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling'))
    symlinkSync(join(d, 'a'), join(d, 'link'))
    execFileSync('mkfifo', [join(d, 'fifo')])
    symlinkSync('loop2', join(d, 'loop1'))
    symlinkSync('loop1', join(d, 'loop2'))
    const paths = ['a', 'missing', 'sp ace', 'bin', 'dangling', 'link', 'dir', 'x*', 'fifo', 'loop1'].map((n) => join(d, n)).concat('/dev/zero')
    const facts = paths.map((p) => hostFileFact(p))
    const plan = readPlan(facts)
    expect(plan.parts).toHaveLength(1)
    const conn = new LocalConnection('l')
    const grouped = plan.outputs(await conn.runBatch(plan.parts))
    expect(grouped).toEqual(await conn.runBatch(facts.map((f) => ({ command: f.command }))))
    // a dangling link is absent; a folder, a FIFO (cat would wait for a writer) and a device are errors, never read
    expect(grouped.map((o) => o!.code)).toEqual([0, 3, 0, 0, 3, 0, 1, 3, 1, 1, 1])
    expect(grouped[8]!.stderr).toMatch(/fifo is not a regular file/)
    expect(grouped[9]!.stderr).toMatch(/loop1 is a symbolic link that does not resolve \(a loop\?\)/)
    expect(hostFileFact('/tmp/new\nline').group).toBeUndefined() // read by its own command
  })

  // the group's command run by sh with `cat` logged (and, for the fallback, failing for more than one file)
  const d = join(dir, 'files-cat')
  const bin = join(dir, 'files-bin')
  const tmp = join(dir, 'files-tmp')
  beforeAll(() => {
    mkdirSync(d, { recursive: true })
    mkdirSync(bin, { recursive: true })
    mkdirSync(tmp, { recursive: true })
    writeFileSync(join(d, 'a'), 'alpha\n')
    writeFileSync(join(d, 'b'), 'no newline')
    writeFileSync(join(d, 'c'), '\n\n')
    writeFileSync(join(d, 'e'), '')
  })
  const paths = () => ['a', 'missing', 'b', 'c', 'e'].map((n) => join(d, n))
  const runWith = (c: Command, env: Record<string, string>) => spawnSync('sh', ['-c', renderArgv(c.argv)], { env: { PATH: `${bin}:/usr/bin:/bin`, TMPDIR: tmp, ...env }, encoding: 'utf8' })
  const groupOf = (ps: string[]) => {
    const facts = ps.map((p) => hostFileFact(p))
    return { facts, read: facts[0]!.group!.read(facts.map((f) => f.group!.args)) }
  }
  const own = (ps: string[]) => ps.map((p) => {
    const r = runWith(hostFileFact(p).command, { CALLS: '/dev/null' })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  })
  const fakeCat = (body: string) => {
    writeFileSync(join(bin, 'cat'), `#!/bin/sh\necho "$#" >> "$CALLS"\n${body}\nexec /bin/cat "$@"\n`)
    chmodSync(join(bin, 'cat'), 0o755)
  }

  it('every readable file in ONE cat (separated by a temp file it removes), the same outputs as each file\'s own command', () => {
    fakeCat('')
    const calls = join(dir, 'calls-1')
    writeFileSync(calls, '')
    const { read } = groupOf(paths())
    const r = runWith(read.command, { CALLS: calls })
    expect(r.status).toBe(0)
    expect(readFileSync(calls, 'utf8')).toBe('9\n') // one cat: -- and 4 files, each followed by the separator
    expect(readdirSync(tmp)).toEqual([])
    writeFileSync(calls, '')
    expect(read.split({ code: 0, stdout: r.stdout, stderr: r.stderr })).toEqual(own(paths()))
  })
  it('when the cat fails (a file gone meanwhile) or there is no writable temp folder, each file is read on its own', () => {
    fakeCat('[ "$#" -le 2 ] || { /bin/cat "$2" >/dev/null; echo "cat: something vanished" >&2; exit 1; }')
    const calls = join(dir, 'calls-2')
    writeFileSync(calls, '')
    const { read } = groupOf(paths())
    const r = runWith(read.command, { CALLS: calls })
    expect(readFileSync(calls, 'utf8').split('\n').filter(Boolean).map(Number)).toEqual([9, 2, 2, 2, 2])
    expect(read.split({ code: 0, stdout: r.stdout, stderr: r.stderr })).toEqual(own(paths()))
    const noTmp = groupOf(paths()).read
    const r2 = runWith(noTmp.command, { CALLS: calls, TMPDIR: join(dir, 'no-such-folder') })
    expect(noTmp.split({ code: 0, stdout: r2.stdout, stderr: r2.stderr })).toEqual(own(paths()))
  })
  it('a file takes a mode only from its own line of the stat: with lines out of order, files are read on their own, as exactly', () => {
    fakeCat('')
    // a stat(1) that prints its lines last first: the group matches each path against the next line in order
    writeFileSync(join(bin, 'stat'), '#!/bin/sh\n/usr/bin/stat "$@" | tac\n')
    chmodSync(join(bin, 'stat'), 0o755)
    chmodSync(join(d, 'b'), 0o600) // modes that differ, so a mode taken from another file's line shows
    chmodSync(join(d, 'c'), 0o750)
    try {
      const calls = join(dir, 'calls-3')
      writeFileSync(calls, '')
      const { read } = groupOf(paths())
      const r = runWith(read.command, { CALLS: calls })
      // e's line came first, so e alone is in the one cat (-- e separator); a, b and c are each read on their own
      expect(readFileSync(calls, 'utf8').split('\n').filter(Boolean).map(Number)).toEqual([3, 2, 2, 2])
      expect(read.split({ code: 0, stdout: r.stdout, stderr: r.stderr })).toEqual(own(paths()))
    } finally {
      rmSync(join(bin, 'stat'))
    }
  })
  it('a read cut short gives only the files it finished', () => {
    fakeCat('')
    const { read } = groupOf(paths())
    const r = runWith(read.command, { CALLS: '/dev/null' })
    const full = read.split({ code: 0, stdout: r.stdout, stderr: '' })
    expect(full).toHaveLength(5)
    const cut = r.stdout.slice(0, r.stdout.indexOf('no newline'))
    expect(read.split({ code: null as unknown as number, stdout: cut, stderr: '' })).toEqual([])
  })
})
