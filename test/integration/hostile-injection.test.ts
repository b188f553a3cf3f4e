/**
 * Issue #7, injection and secrets, on the testbed:
 * - values that reach commands (template variables, command arguments and stdin, a file path, container env and
 *   command) full of `;`, `$(...)`, backticks, quotes, newlines arrive as literal data: read back byte for byte,
 *   and the marker files their shell fragments would create do not exist;
 * - a secret (a `secret()` value in a command's arguments and a container's env, an SSH password) never appears
 *   in the output, the `-v` exec log, the JSON report or an error message, in check mode, apply or failure.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { playbook } from '../../lib/core/playbook.ts'
import { secret } from '../../lib/core/secrets.ts'
import { command } from '../../lib/tasks/command.ts'
import { dockerContainer } from '../../lib/tasks/docker.ts'
import { template } from '../../lib/tasks/file.ts'
import { ensureTestbed, hostExec, testbedDir } from '../../lib/testbed/index.ts'
import { cli, failures, labImage, work } from './hostile-helpers.ts'

/** A shell fragment for every way a value could escape into a shell; each would create MARK. */
const MARK = '/tmp/vxlab-pwned'
const NASTY = [
  `; touch ${MARK};`,
  `$(touch ${MARK})`,
  `\`touch ${MARK}\``,
  `'; touch ${MARK}; '`,
  `"; touch ${MARK}; "`,
  `\ntouch ${MARK}\n`,
  `| touch ${MARK} || touch ${MARK} && touch ${MARK} &`,
  `$((6*7)) \${HOME} ~ * ? [a] !x \\' \\" \\\\ \t%s %n {{x}}`,
].join(' ')
/** A file name with the same tricks (no slash: it is one path component); cwd-relative markers. */
const NASTY_NAME = `vxlab inj;touch pwned-name $(touch pwned-name) \`touch pwned-name\` 'q' "d" x`
const DIR = '/tmp/vxlab-injection'
const SECRET = 'Hunter2-s3cret-VALUE'
const SSH_PASSWORD = 'ssh-Pa55word-never-shown'
const HOST_PASSWORD = 'inventory-Pa55word-never-shown'

const book = (failing: boolean) => playbook({
  name: 'injection',
  plays: [{
    name: 'injection',
    hosts: 'host1',
    tasks: (host) => [
      labImage(host),
      command({ name: 'dir', argv: ['mkdir', '-p', DIR], creates: DIR }),
      template({ dest: `${DIR}/template.conf`, src: { inline: 'v={{v}}\nlist={{#each l}}[{{this}}]{{/each}}\n' }, vars: { v: NASTY, l: [NASTY, 'plain'] } }),
      template({ dest: `${DIR}/${NASTY_NAME}`, src: { inline: 'named\n' } }),
      command({ name: 'argv', argv: ['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', NASTY, `${DIR}/argv.out`], creates: `${DIR}/argv.out` }),
      command({ name: 'script', script: 'printf "%s|%s" "$1" "$2" > "$3"', args: [NASTY, NASTY_NAME, `${DIR}/script.out`], creates: `${DIR}/script.out` }),
      command({ name: 'stdin', argv: ['sh', '-c', 'cat > "$1"', 'sh', `${DIR}/stdin.out`], stdin: NASTY, creates: `${DIR}/stdin.out` }),
      command({ name: 'unless', argv: ['touch', `${DIR}/${NASTY_NAME}.ran`], unless: ['test', '-e', `${DIR}/${NASTY_NAME}.ran`] }),
      dockerContainer({
        name: 'hxinj',
        image: 'con_img',
        network: 'none',
        env: { NASTY, API_TOKEN: secret(SECRET) },
        command: ['sh', '-c', 'printf "%s" "$NASTY" > /env.out; printf "%s" "$1" > /arg.out; exec sleep 3600', 'sh', NASTY],
      }),
      command({ name: 'secret arg', argv: ['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', SECRET, `${DIR}/secret.out`], creates: `${DIR}/secret.out` }),
      ...(failing ? [command({ name: 'leaky failure', argv: ['sh', '-c', 'echo "the token is $1" >&2; exit 3', 'sh', SECRET] })] : []),
    ],
  }],
})

beforeAll(async () => {
  await ensureTestbed({ hosts: 2 })
  await hostExec('host1', ['sh', '-c', `rm -rf ${DIR} ${MARK} /root/pwned-name /pwned-name; docker rm -f hxinj >/dev/null 2>&1; true`])
})
afterAll(async () => {
  await hostExec('host1', ['sh', '-c', `rm -rf ${DIR} ${MARK}; docker rm -f hxinj >/dev/null 2>&1; true`])
})

async function noMarkers(): Promise<void> {
  const r = await hostExec('host1', ['sh', '-c', `ls -d ${MARK} /root/pwned-name /pwned-name ${DIR}/pwned-name 2>/dev/null; docker exec hxinj ls -d ${MARK} 2>/dev/null; true`])
  expect(r.stdout.trim(), 'a shell ran a fragment of a value').toBe('')
}

describe('values travel as literal data', () => {
  let check: Awaited<ReturnType<typeof cli>>
  let apply: Awaited<ReturnType<typeof cli>>
  it('check mode (-v --diff) shows the plan with the values, runs none of them, and masks the secret', async () => {
    check = await cli(book(false), ['--check', '--diff', '-v'])
    expect(failures(check.report)).toEqual([])
    expect(check.code).toBe(0)
    expect(check.out).toContain('+v=; touch /tmp/vxlab-pwned;') // the template diff, literally
    await noMarkers()
  })

  it('apply: every value arrives byte for byte; no fragment ran anywhere', async () => {
    apply = await cli(book(false), ['-v'])
    expect(failures(apply.report)).toEqual([])
    expect(apply.code).toBe(0)
    const cat = async (p: string) => (await hostExec('host1', ['cat', p])).stdout
    expect(await cat(`${DIR}/template.conf`)).toBe(`v=${NASTY}\nlist=[${NASTY}][plain]\n`)
    expect(await cat(`${DIR}/${NASTY_NAME}`)).toBe('named\n')
    expect(await cat(`${DIR}/argv.out`)).toBe(NASTY)
    expect(await cat(`${DIR}/script.out`)).toBe(`${NASTY}|${NASTY_NAME}`)
    expect(await cat(`${DIR}/stdin.out`)).toBe(NASTY)
    expect((await hostExec('host1', ['test', '-e', `${DIR}/${NASTY_NAME}.ran`])).code).toBe(0) // the guard and the command saw one literal path
    const env = JSON.parse((await hostExec('host1', ['docker', 'inspect', '-f', '{{json .Config.Env}}', 'hxinj'])).stdout) as string[]
    expect(env).toContain(`NASTY=${NASTY}`)
    expect((await hostExec('host1', ['docker', 'exec', 'hxinj', 'cat', '/env.out'])).stdout).toBe(NASTY)
    expect((await hostExec('host1', ['docker', 'exec', 'hxinj', 'cat', '/arg.out'])).stdout).toBe(NASTY)
    await noMarkers()
    // and it converged: a rerun changes nothing (the values compare equal to what the host holds)
    const again = await cli(book(false))
    expect(again.report.hosts.host1).toMatchObject({ changed: 0, failed: 0 })
  })

  it('the secret reached the host, yet appears nowhere in output, -v log or report (check, apply, failure)', async () => {
    expect((await hostExec('host1', ['cat', `${DIR}/secret.out`])).stdout).toBe(SECRET)
    expect(JSON.parse((await hostExec('host1', ['docker', 'inspect', '-f', '{{json .Config.Env}}', 'hxinj'])).stdout)).toContain(`API_TOKEN=${SECRET}`)
    const failed = await cli(book(true), ['-v', '--diff'])
    expect(failed.code).toBe(1)
    const leaky = failed.report.tasks.find((t) => t.key === 'command[leaky failure]')!
    expect(leaky.status).toBe('failed')
    expect(leaky.error).toMatch(/command failed \(exit 3\): .*: the token is \*\*\*/)
    for (const r of [check, apply, failed]) {
      const json = JSON.stringify(r.report)
      expect(r.out + json).not.toContain(SECRET)
      expect(r.out).toMatch(/ exec: /) // the -v log is there
    }
    expect(check.out).toMatch(/\*\*\*/) // masked, not missing: the plan shows where the secret goes
    expect(JSON.stringify(failed.report)).toMatch(/\*\*\*/)
  })

  it('a secret in a value that fails validation is masked in the error (exit 2)', async () => {
    const pb = playbook({ name: 'bad', plays: [{ name: 'p', hosts: 'host1', tasks: () => [command({ name: 'x', argv: ['true'], creates: `relative/${secret(SECRET)}` })] }] })
    const r = await cli(pb).catch((e: Error) => ({ code: 2, out: e.message, report: undefined }))
    expect(r.code).toBe(2)
    expect(r.out).toMatch(/command\[x\]\.creates: expected an absolute path, got "relative\/\*\*\*"/)
    expect(r.out).not.toContain(SECRET)
  })
})

describe('SSH passwords', () => {
  it('a password the host rejects (key-only sshd) is never shown: env var and inventory variable, with -v', async () => {
    const inv = parse(readFileSync(join(testbedDir(), 'inventory.yml'), 'utf8')) as { all: { vars: Record<string, unknown>; children: Record<string, { hosts: Record<string, Record<string, unknown>> }> } }
    delete inv.all.vars.ansible_ssh_private_key_file // password authentication only
    inv.all.children.docker_hosts!.hosts.host2!.ansible_password = HOST_PASSWORD
    const file = join(work, 'password.yml')
    writeFileSync(file, stringify(inv))
    const pb = playbook({ name: 'pw', plays: [{ name: 'p', hosts: 'host1,host2', tasks: () => [command({ name: 'noop', argv: ['true'], unless: ['true'] })] }] })
    const agent = process.env.SSH_AUTH_SOCK
    delete process.env.SSH_AUTH_SOCK
    process.env.VXLAB_SSH_PASSWORD = SSH_PASSWORD
    let r: Awaited<ReturnType<typeof cli>>
    try {
      r = await cli(pb, ['-v', '--connect-timeout', '5'], { inventory: file })
    } finally {
      delete process.env.VXLAB_SSH_PASSWORD
      if (agent !== undefined) process.env.SSH_AUTH_SOCK = agent
    }
    expect(r.code).toBe(1)
    expect(r.report.hosts.host1).toMatchObject({ unreachable: 1 })
    expect(r.report.hosts.host2).toMatchObject({ unreachable: 1 })
    expect(r.out).toMatch(/host1: unreachable: root@172\.16\.99\.101:22: All configured authentication methods failed/)
    const all = r.out + JSON.stringify(r.report)
    expect(all).not.toContain(SSH_PASSWORD)
    expect(all).not.toContain(HOST_PASSWORD)
  })
})
