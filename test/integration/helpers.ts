import { join } from 'node:path'
import { Inventory } from '../../lib/inventory/inventory.ts'
import { runPlaybook, type RunReport } from '../../lib/core/playbook.ts'
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
