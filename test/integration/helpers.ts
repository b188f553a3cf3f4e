import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { runCli } from '../../lib/cli.ts'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { runPlaybook, type PlaybookDef, type RunReport } from '../../lib/core/playbook.ts'
import type { AnyTask } from '../../lib/core/task.ts'
import { testbedDir } from '../../lib/testbed/index.ts'

/** The testbed's inventory (.testbed/inventory.yml). */
export function testbedInventory(): Inventory {
  return Inventory.load(join(testbedDir(), 'inventory.yml'))
}

/**
 * Run tasks on testbed hosts over real SSH, as a one-play playbook: `{host1: [ovsBridge(...)], host2: [...]}`.
 * Returns the run report (statuses, changes, execs per host, without the run lock's exec).
 */
export async function runTasks(tasks: Record<string, readonly AnyTask[] | ((inv: Inventory) => readonly AnyTask[])>, opts: { check?: boolean } = {}): Promise<RunReport> {
  const inventory = testbedInventory()
  const hosts = Object.keys(tasks)
  return runPlaybook({
    name: 'test',
    plays: [{
      name: 'tasks',
      hosts: hosts.join(','),
      tasks: (h) => {
        const t = tasks[h.name]!
        return typeof t === 'function' ? t(inventory) : t
      },
    }],
    // task tests count the tasks' own round trips: the run lock (one more exec) is tested through the CLI
  }, { inventory, check: opts.check ?? false, lock: false })
}

/** Statuses by task key for one host: `{ 'ovs.bridge[br1]': 'changed', ... }`. */
export function statuses(r: RunReport, host: string): Record<string, string> {
  return Object.fromEntries(r.tasks.filter((t) => t.host === host).map((t) => [t.key, t.status]))
}

/** Errors of failed tasks, for assertion messages. */
export function errors(r: RunReport): string {
  return r.tasks.filter((t) => t.error !== undefined && t.status === 'failed').map((t) => `${t.host} ${t.key}: ${t.error}`).join('\n')
}

/**
 * A runner of `playbook` through the CLI on the testbed, as users run `npx tsx playbooks/lab.ts ARGS`, with a
 * `--json` report in a temp folder that is removed after the calling file's tests (call it at a file's top level).
 * Each call returns the exit code, the text output (stdout and stderr) and the report; no report is an error.
 */
export function cliRunner(playbook: PlaybookDef, prefix: string): (...args: string[]) => Promise<{ code: number; out: string; report: RunReport }> {
  const work = mkdtempSync(join(tmpdir(), prefix))
  afterAll(() => rmSync(work, { recursive: true, force: true }))
  let n = 0
  return async (...args) => {
    let out = ''
    const json = join(work, `r${n++}.json`)
    const code = await runCli(playbook, ['-i', join(testbedDir(), 'inventory.yml'), '--json', json, ...args], { out: (x) => (out += x), err: (x) => (out += x) })
    if (!existsSync(json)) throw new Error(`no report (exit ${code}):\n${out}`)
    return { code, out, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport }
  }
}
