/**
 * The floor of a run: one SSH connect and one small exec (`true`) to every host of an inventory, at most
 * `--forks` hosts at a time, with node-ssh through vxlab's own connection layer (host keys verified), timed
 * in-process (like a run's durationMs). Prints one JSON line: {hosts, forks, ms, failed}.
 *
 *   npx tsx bench/floor.ts -i .testbed/inventory.yml [-f 10] [-l docker_hosts]
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pLimit from 'p-limit'
import { SshConnection } from '../lib/connection/ssh.ts'
import { Inventory } from '../lib/inventory/inventory.ts'

const { values } = parseArgs({ options: { inventory: { type: 'string', short: 'i' }, forks: { type: 'string', short: 'f' }, limit: { type: 'string', short: 'l' } } })
const inv = Inventory.load(values.inventory ?? '.testbed/inventory.yml')
const names = values.limit !== undefined ? inv.match(values.limit).hosts : inv.match('all').hosts
const forks = Number(values.forks ?? 10)
const limit = pLimit(forks)
let failed = 0
const t0 = performance.now()
await Promise.all(names.map((name) => limit(async () => {
  const c = inv.host(name).connection
  try {
    const conn = await SshConnection.connect({
      name, address: c.address, port: c.port, user: c.user,
      ...(c.privateKeyFile !== undefined ? { privateKeyFile: c.privateKeyFile } : {}),
      knownHostsFile: c.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts'), hostKeyPolicy: 'strict', connectTimeoutMs: 30_000,
    })
    const r = await conn.run({ argv: ['true'] })
    if (r.code !== 0) failed++
    await conn.close()
  } catch {
    failed++
  }
})))
const ms = performance.now() - t0
process.stdout.write(`${JSON.stringify({ hosts: names.length, forks, ms: Math.round(ms), failed })}\n`)
