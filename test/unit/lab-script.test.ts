/**
 * `npm run lab` (scripts/lab.ts) reads its flags before it installs packages or touches the testbed: a typo or
 * `--help` answered at once (a second fresh-user trial: both brought the testbed up first).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const lab = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'lab.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })

describe('npm run lab', () => {
  it('a bad flag: exit 2, the error and a usage line naming `npm run lab --`, nothing about the testbed', () => {
    const r = lab('--bogus')
    expect(r.status).toBe(2)
    expect(r.stderr).toBe("error: Unknown option '--bogus'\nusage: npm run lab -- [options]; --help lists the options\n")
    expect(r.stdout).toBe('')
  })
  it('a bad value (--state nonsense, --forks 0): exit 2 naming the flag, before the testbed (a third fresh-user trial: it was rebuilt first)', () => {
    const r = lab('--state', 'nonsense')
    expect(r.status).toBe(2)
    expect(r.stderr).toBe('error: --state: expected present or absent, got "nonsense"\nusage: npm run lab -- [options]; --help lists the options\n')
    const f = lab('-f', '0')
    expect(f.status).toBe(2)
    expect(f.stderr).toMatch(/^error: --forks: expected a positive number, got "0"\nusage: npm run lab --/)
  })
  it('--help: exit 0, the lab\'s options and its own --no-verify, nothing about the testbed', () => {
    const r = lab('--help')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^usage: npm run lab -- \[options\]/)
    expect(r.stdout).toMatch(/--no-verify/)
    expect(r.stdout).toMatch(/--state present\|absent +present \(default\) builds the lab/)
    expect(r.stderr).toBe('')
  })
})
