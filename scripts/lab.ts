/**
 * `npm run lab [-- flags]`: the one command that builds the seed's lab on this machine and proves it works.
 * As root on Debian/Ubuntu: installs the missing packages, brings the built-in testbed up when it is not
 * (network namespaces: gateway router, two Docker hosts, an outside host), then runs playbooks/lab.ts
 * against it with --verify (flags are passed through: `npm run lab -- --check --diff`; not in check mode, not
 * with `--state absent`, not with `--no-verify`).
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { checkOptions, cliOptions, runCli, tuneV8ForShortRun, usageErrorText } from '../lib/cli.ts'
import { labRunArgs } from '../lib/lab/args.ts'
import { checkPrerequisites, ensureTestbed, installDeps, testbedDir } from '../lib/testbed/index.ts'
import { lab } from '../playbooks/lab.ts'

const args = process.argv.slice(2)
const say = (s: string): void => {
  process.stderr.write(`${s}\n`)
}
const io = { out: (s: string) => process.stdout.write(s), err: (s: string) => process.stderr.write(s), argv0: 'npm run lab --' }
// the flags first: a typo or --help must not install packages or build a testbed
let help = false
try {
  const { values } = parseArgs({ args, options: { ...cliOptions(lab), 'no-verify': { type: 'boolean' } }, strict: true, allowPositionals: false })
  help = (values as Record<string, unknown>).help === true
  // the values too (--forks 0, --state nonsense, --json into a missing folder): all that needs no inventory
  if (!help) checkOptions(lab, values as Record<string, string | boolean | undefined>)
} catch (e) {
  io.err(usageErrorText(e, io.argv0))
  process.exit(2)
}
if (help) {
  await runCli(lab, ['--help'], io)
  io.out('npm run lab: installs what is missing, brings the testbed up, then runs the lab with --verify (not in check mode or\n'
    + 'with --state absent); its own flag: --no-verify  run without the verify play\n')
  process.exit(0)
}
let pre = await checkPrerequisites()
if (!pre.ok && process.getuid?.() === 0 && process.platform === 'linux') {
  say(`lab: installing missing packages (${pre.problems.join('; ')})`)
  await installDeps(say)
  pre = await checkPrerequisites()
}
if (!pre.ok) {
  say(`lab: cannot build the testbed here:\n  ${pre.problems.join('\n  ')}`)
  process.exit(2)
}
const t0 = Date.now()
const tb = await ensureTestbed({ hosts: 2, log: (l) => say(l.startsWith('testbed') ? l : `testbed: ${l}`) })
say(`lab: testbed ready (${tb.hosts} docker hosts) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
tuneV8ForShortRun()
process.exitCode = await runCli(lab, ['-i', join(testbedDir(), 'inventory.yml'), ...labRunArgs(lab, args)], io)
