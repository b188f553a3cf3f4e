/**
 * `npm run testbed -- <command>`:
 *   up [--hosts N] [--light]   rebuild the testbed from scratch (default 2 docker hosts; max 150)
 *   down                       tear everything down (idempotent)
 *   status                     hosts, addresses, whether each service answers (exit 1 if one does not)
 *   install-deps               apt-get install the Debian packages the testbed needs
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { parseArgs } from 'node:util'
import { checkPrerequisites, down, installDeps, MAX_HOSTS, readState, status, up, type HostStatus } from './index.ts'

const USAGE = `usage: npm run testbed -- <command> [options]

commands:
  up [--hosts N] [--light]  tear down any earlier testbed, then start gw, N docker hosts (default 2,
                            max ${MAX_HOSTS}) and the external host 203.0.113.10; --light: sshd and OVS
                            but no dockerd on the hosts (scale benchmarks)
  down                      stop every testbed process, remove namespaces, links and host state
  status                    list hosts and whether sshd / ovsdb / docker / httpd answer (exit 1 if not)
  install-deps              apt-get update && apt-get install -y the Debian packages needed
  help                      this text
`

function usage(msg?: string): never {
  if (msg) process.stderr.write(`testbed: ${msg}\n\n`)
  process.stderr.write(USAGE)
  process.exit(2)
}

function fmtStatus(hosts: HostStatus[]): string {
  const rows = hosts.map((h) => [
    h.name,
    h.ns,
    h.mgmtIp ? `mgmt ${h.mgmtIp}` : 'mgmt -',
    `${h.role === 'docker' ? 'underlay' : h.role === 'gateway' ? 'wan' : 'ip'} ${h.underlayIp}`,
    h.services.map((s) => `${s.name} ${s.ok ? 'ok' : 'DOWN'}`).join('  '),
  ])
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), [])
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
  for (const h of hosts) for (const s of h.services) if (!s.ok) lines.push(`  ${h.name} ${s.name}: ${s.detail}`)
  return lines.join('\n')
}

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        hosts: { type: 'string' },
        light: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    usage((e as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const [cmd, ...extra] = positionals
  if (!cmd) usage('missing command')
  if (extra.length > 0) usage(`unexpected argument: ${extra.join(' ')}`)
  if (cmd !== 'up' && (values.hosts !== undefined || values.light !== undefined)) usage(`--hosts and --light are options of up, not ${cmd}`)
  const log = (l: string) => process.stdout.write(`${l}\n`)

  switch (cmd) {
    case 'help':
      process.stdout.write(USAGE)
      return 0
    case 'up': {
      let hosts: number | undefined
      if (values.hosts !== undefined) {
        if (!/^[0-9]+$/.test(values.hosts)) usage(`--hosts needs a positive integer, got ${JSON.stringify(values.hosts)}`)
        hosts = Number(values.hosts)
        if (hosts < 1 || hosts > MAX_HOSTS) usage(`--hosts must be 1..${MAX_HOSTS} (got ${hosts})`)
      }
      const opts: { hosts?: number; light?: boolean; log: (l: string) => void } = { log }
      if (hosts !== undefined) opts.hosts = hosts
      if (values.light) opts.light = true
      const info = await up(opts)
      const shown = info.hostsList.length <= 4 ? info.hostsList : [info.hostsList[0], info.hostsList[1], undefined, info.hostsList.at(-1)]
      const hostsText = shown.map((h) => (h ? `${h.name} ${h.mgmtIp} (underlay ${h.underlayIp})` : '...')).join('; ')
      log(`gw ${info.gateway.mgmtIp}; ${hostsText}; inet ${info.external.ip}`)
      log(`ssh: ssh -o UserKnownHostsFile=${info.knownHosts} -i ${info.privateKey} root@${info.hostsList[0]?.mgmtIp ?? info.gateway.mgmtIp}`)
      return 0
    }
    case 'down': {
      const t0 = Date.now()
      await down({ log })
      log(`testbed is down (${Date.now() - t0} ms)`)
      return 0
    }
    case 'status': {
      const st = await readState()
      if (!st) {
        log('no testbed (no state.json); start one with: npm run testbed -- up')
        return 1
      }
      const hosts = await status()
      log(`testbed ${st.id}: ${st.hosts} ${st.light ? 'light ' : ''}docker hosts, up since ${st.createdAt}`)
      log(fmtStatus(hosts))
      log(`ssh: ssh -o UserKnownHostsFile=${st.knownHosts} -i ${st.privateKey} root@MGMT (a host's mgmt address above)`)
      return hosts.every((h) => h.ok) ? 0 : 1
    }
    case 'install-deps':
      await installDeps(log)
      {
        const pre = await checkPrerequisites()
        for (const w of pre.warnings) log(`warning: ${w}`)
        for (const p of pre.problems) log(`problem: ${p}`)
      }
      return 0
    default:
      usage(`unknown command: ${cmd}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`testbed: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  },
)
