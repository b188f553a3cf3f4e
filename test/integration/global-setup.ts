/**
 * Global setup of the `integration` vitest project: brings the default testbed (gw + 2 docker hosts +
 * inet, lib/testbed) up once before the integration files run, and down after them, unless it was up
 * before (a user's lab from `npm run lab`): then a testbed is left up (the lab may need `npm run lab` again,
 * tests change it). VXLAB_KEEP_TESTBED=1 always keeps it up.
 *
 * No silent skips:
 * - CI (CI=true): missing prerequisites or a testbed that cannot start throw, failing the run.
 * - elsewhere: when not root or packages are missing, a loud message is printed and
 *   VXLAB_TESTBED_UNAVAILABLE is set, so every test that calls `ensureTestbed` fails with that
 *   message (workers inherit the environment). A testbed that cannot start throws here too.
 */
import { checkPrerequisites, down, ensureTestbed, readState } from '../../lib/testbed/index.ts'

function banner(lines: string[]): string {
  const bar = '='.repeat(100)
  return `\n${bar}\n${lines.map((l) => `  ${l}`).join('\n')}\n${bar}\n`
}

export default async function setup(): Promise<() => Promise<void>> {
  const ci = process.env['CI'] === 'true'
  const pre = await checkPrerequisites()
  for (const w of pre.warnings) process.stderr.write(`testbed warning: ${w}\n`)
  if (!pre.ok) {
    const reason = pre.problems.join('; ')
    const msg = banner([
      'INTEGRATION TESTS CANNOT RUN: the testbed (lib/testbed) cannot start on this machine.',
      ...pre.problems,
      'Every integration test will FAIL with this message.',
    ])
    if (ci) throw new Error(msg)
    process.stderr.write(msg)
    process.env['VXLAB_TESTBED_UNAVAILABLE'] = reason
    return async () => {}
  }
  const t0 = Date.now()
  const wasUp = (await readState()) !== undefined
  let brought = false
  try {
    const tb = await ensureTestbed({ hosts: 2, log: (l) => process.stderr.write(`testbed: ${l}\n`) })
    brought = true
    process.stderr.write(`testbed ready in ${Date.now() - t0} ms (${tb.hosts} docker hosts, inventory ${tb.inventory})\n`)
  } catch (e) {
    const msg = banner(['INTEGRATION TESTS CANNOT RUN: the testbed did not start.', String((e as Error).message ?? e)])
    process.stderr.write(msg)
    throw e
  }
  return async () => {
    if (!brought || process.env['VXLAB_KEEP_TESTBED'] === '1') return
    if (wasUp) {
      await ensureTestbed({ hosts: 2, log: (l) => process.stderr.write(`testbed: ${l}\n`) })
      process.stderr.write('testbed left up (it was up before the tests); the tests changed it: run `npm run lab` to converge the lab again\n')
      return
    }
    await down()
  }
}
