import { script } from '../core/command.ts'
import { UsageError } from '../core/errors.ts'
import type { PlayDef, PlaybookDef, BuildContext } from '../core/playbook.ts'
import type { AnyTask, FactOutput } from '../core/task.ts'
import type { Inventory, InventoryHost } from '../inventory/inventory.ts'
import { containerPort, dockerContainer, dockerImage, vethNames } from '../tasks/docker.ts'
import { iptablesMasq } from '../tasks/iptables.ts'
import { ipAddress, route, setMtu } from '../tasks/net.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../tasks/ovs.ts'
import { packages } from '../tasks/packages.ts'
import { probe } from '../tasks/probe.ts'
import { sysctl } from '../tasks/sysctl.ts'
import { gatewayOf, prefixOf, tunnelsOf, validateLab, type LabSpec } from './spec.ts'

/**
 * The lab's plays, generated from a {@link LabSpec} and the inventory:
 * 1. `gateway router`: IPv4 forwarding (persisted), underlay MTU, routes to each container network via
 *    its gateway host (so the host network reaches containers directly, no port forwarding).
 * 2. `docker hosts`: lab image, OVS bridges, internal ports with gateway addresses, VXLAN tunnels, containers
 *    with `--net none`, their attachments, forwarding + NAT on gateway hosts, underlay MTU.
 * 3. `verify` (with `--verify`): read-only probes, the seed's "Testing & Troubleshooting", as a table.
 * With `--state absent` the same objects are removed in reverse order, and nothing else: a bridge that holds a
 * port the lab did not make, a container named like a lab container that the lab did not make (no `vxlab.spec`
 * label), and the lab image while a container the lab did not make uses it, are kept (those
 * tasks are skipped with the reason; the rest of the teardown runs on); forwarding and the underlay MTU go back to
 * the values recorded when the lab changed them (`sysctl` and `setMtu` `recordPrior`), and stay as they are when
 * none is recorded (forwarding that was on before the lab stays on); the lab's persisted sysctl file is deleted.
 */

/** Run-time options of the lab playbook (its CLI flags). */
export interface LabFlags {
  /** Run the verify plays. */
  readonly verify: boolean
  /** Leave the underlay MTU alone (reproduces the seed's MTU fault). */
  readonly skipMtu: boolean
  /** `present` (build) or `absent` (tear down). */
  readonly state: 'present' | 'absent'
}

const SYSCTL_FILE = '/etc/sysctl.d/90-vxlab-ip-forward.conf'
/** The testbed's outside web server (TEST-NET-3, inside the testbed only) answering with the caller's address. */
export const DEFAULT_NAT_PROBE_URL = 'http://203.0.113.10/cgi-bin/whoami'

function flagsOf(ctx: BuildContext): LabFlags {
  const state = ctx.flags.state ?? 'present'
  if (state !== 'present' && state !== 'absent') throw new UsageError(`--state must be present or absent, got ${JSON.stringify(state)}`)
  return { verify: ctx.flags.verify === true, skipMtu: ctx.flags['skip-mtu'] === true, state }
}

function dockerHostNames(inv: Inventory): string[] {
  return inv.groupHosts('docker_hosts').map((h) => h.name)
}

/** Tasks of the gateway router. */
export function gatewayTasks(lab: LabSpec, host: InventoryHost, ctx: BuildContext): AnyTask[] {
  const f = flagsOf(ctx)
  const underlay = host.vars.stringList('underlay_ifaces')
  const hubIp = (name: string): string => ctx.inventory.host(name).vars.ipv4('underlay_ip')
  if (f.state === 'absent') {
    return [
      ...lab.networks.map((n) => route({ destination: n.cidr, via: hubIp(n.gatewayHost), ensure: 'absent' })),
      ...(f.skipMtu ? [] : underlay.map((dev) => setMtu({ dev, mtu: lab.underlayMtu, ovs: false, ensure: 'absent' }))),
      sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: SYSCTL_FILE, ensure: 'absent', recordPrior: true }),
    ]
  }
  return [
    sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: SYSCTL_FILE, recordPrior: true }),
    ...(f.skipMtu ? [] : underlay.map((dev) => setMtu({ dev, mtu: lab.underlayMtu, ovs: false, recordPrior: true }))),
    ...lab.networks.map((n) => route({ destination: n.cidr, via: hubIp(n.gatewayHost) })),
  ]
}

/**
 * The lab image's Dockerfile (the seed's con_img). `'scratch'`: the testbed variant, built FROM scratch from the
 * root filesystem tar that `npm run testbed -- up` puts in the host's `lab_image_context` (no image registry is
 * reachable inside the testbed). Otherwise the name of a Debian base image, with the packages the seed installs
 * and an apache2 page (`index.html`, from the image task's files).
 *
 * Plain text built here rather than a Handlebars template: the lab renders it on every run, and compiling a
 * template costs ~30 ms of the controller's start-up before any host is contacted (bench/RESULTS.md).
 */
export function labDockerfile(base: 'scratch' | { readonly image: string }): string {
  if (base === 'scratch') {
    return [
      '# vxlab lab image, testbed variant: no image registry is reachable inside the testbed, so the image is',
      '# built FROM scratch from a root filesystem tar (busybox-static: sh, ping, ip, wget, httpd; iputils ping',
      '# for the don\'t-fragment probe; iperf3 with its libraries) that `npm run testbed -- up` prepares.',
      'FROM scratch',
      'ADD rootfs.tar /',
      'EXPOSE 80',
      'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]',
      '',
    ].join('\n')
  }
  return [
    '# vxlab lab image (the seed\'s con_img): Debian with ping, net-tools, iproute2, iperf and apache2 serving',
    '# a page that says where it runs.',
    `FROM ${base.image}`,
    'RUN apt-get update \\',
    ' && apt-get install -y --no-install-recommends iputils-ping net-tools iproute2 iperf iperf3 apache2 apache2-utils wget \\',
    ' && rm -rf /var/lib/apt/lists/*',
    'COPY index.html /var/www/html/index.html',
    'EXPOSE 80',
    'CMD ["apachectl", "-D", "FOREGROUND"]',
    '',
  ].join('\n')
}

function imageTask(lab: LabSpec, host: InventoryHost, absent: boolean): AnyTask {
  const context = host.vars.has('lab_image_context') ? host.vars.string('lab_image_context') : undefined
  // a container of the user's on the lab image keeps it (the task is skipped, saying so), and so does one named like
  // a lab container but not made by vxlab (no vxlab.spec label): the container task keeps it (keepForeign)
  if (absent) return dockerImage({ name: lab.image, ensure: 'absent', ownContainers: lab.containers.filter((c) => c.host === host.name).map((c) => c.name), ownContainersLabeled: true })
  if (context !== undefined) {
    // testbed: the FROM-scratch rootfs is already on the host (lab_image_context); the Dockerfile is ours
    return dockerImage({ name: lab.image, context, dockerfile: { text: labDockerfile('scratch') } })
  }
  return dockerImage({
    name: lab.image,
    dockerfile: { text: labDockerfile({ image: host.vars.string('lab_base_image', 'debian:bookworm-slim') }) },
    files: { 'index.html': `<!doctype html>\n<html><head><title>vxlab</title></head><body><h1>vxlab</h1><p>This container runs on the VXLAN-distributed network.</p></body></html>\n` },
  })
}

/** Tasks of one Docker host. */
export function dockerHostTasks(lab: LabSpec, host: InventoryHost, ctx: BuildContext): AnyTask[] {
  const f = flagsOf(ctx)
  const inv = ctx.inventory
  const dockerHosts = dockerHostNames(inv)
  const datapathType = host.vars.oneOf('ovs_datapath_type', ['system', 'netdev'] as const, 'system')
  const underlayIface = host.vars.ifname('underlay_iface')
  host.vars.ipv4('underlay_ip')
  const tunnels = tunnelsOf(lab, host.name, dockerHosts, (h) => inv.host(h).vars.ipv4('underlay_ip'))
  const hubNets = lab.networks.filter((n) => n.gatewayHost === host.name)
  const mine = lab.containers.filter((c) => c.host === host.name)
  const netOf = (name: string) => lab.networks.find((n) => n.name === name)!
  if (f.state === 'absent') {
    // the ports the lab makes on each bridge: a bridge that holds any other port (a user's) is kept
    const ownPorts = (bridge: string): string[] => [
      ...hubNets.filter((n) => n.bridge === bridge).map((n) => n.name),
      ...tunnels.filter((t) => t.network.bridge === bridge).map((t) => t.port),
      ...mine.filter((c) => netOf(c.network).bridge === bridge).map((c) => vethNames(c.name, 'eth0').host),
    ]
    // the reverse of the build order; nothing the user had is removed or forced: the MTU goes back to the one
    // recorded before the lab raised it (or stays), forwarding likewise (and the lab's persisted file goes), a
    // bridge with a user's port and an image a user's container runs are kept (skipped, saying so)
    return [
      ...(f.skipMtu ? [] : [setMtu({ dev: underlayIface, mtu: lab.underlayMtu, ensure: 'absent' })]),
      ...hubNets.map((n) => iptablesMasq({ iface: n.name, source: n.cidr, ensure: 'absent' })),
      ...(hubNets.length > 0 ? [sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: SYSCTL_FILE, ensure: 'absent', recordPrior: true })] : []),
      ...mine.map((c) => containerPort({ bridge: netOf(c.network).bridge, container: c.name, ensure: 'absent' })),
      // a container of the user's that merely has a lab container's name (no vxlab.spec label) is kept
      ...mine.map((c) => dockerContainer({ name: c.name, image: lab.image, network: 'none', state: 'absent', keepForeign: true })),
      ...tunnels.map((t) => vxlanPort({ bridge: t.network.bridge, name: t.port, remoteIp: t.remoteIp, key: t.network.vni, ensure: 'absent' })),
      ...hubNets.map((n) => ovsPort({ bridge: n.bridge, name: n.name, type: 'internal', ensure: 'absent' })),
      ...lab.networks.map((n) => ovsBridge({ name: n.bridge, ensure: 'absent', ownPorts: ownPorts(n.bridge) })),
      imageTask(lab, host, true),
    ]
  }
  const install = host.vars.has('lab_install_packages') && host.vars.bool('lab_install_packages')
  return [
    ...(install ? [packages({ names: ['openvswitch-switch', 'docker.io', 'iproute2', 'iptables', 'ethtool'] })] : []),
    imageTask(lab, host, false),
    ...lab.networks.map((n) => ovsBridge({ name: n.bridge, datapathType })),
    ...hubNets.flatMap((n) => [
      ovsPort({ bridge: n.bridge, name: n.name, type: 'internal' }),
      ipAddress({ dev: n.name, address: `${gatewayOf(n)}/${prefixOf(n)}` }),
    ]),
    ...tunnels.map((t) => vxlanPort({ bridge: t.network.bridge, name: t.port, remoteIp: t.remoteIp, key: t.network.vni })),
    ...mine.map((c) => dockerContainer({ name: c.name, image: lab.image, network: 'none', state: 'running' })),
    ...mine.map((c) => {
      const n = netOf(c.network)
      return containerPort({ bridge: n.bridge, container: c.name, address: `${c.address}/${prefixOf(n)}`, gateway: gatewayOf(n) })
    }),
    ...(hubNets.length > 0 ? [sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: SYSCTL_FILE, recordPrior: true })] : []),
    ...hubNets.map((n) => iptablesMasq({ iface: n.name, source: n.cidr })),
    ...(f.skipMtu ? [] : [setMtu({ dev: underlayIface, mtu: lab.underlayMtu, recordPrior: true })]),
  ]
}

// ---------------------------------------------------------------------------------------------------------------------
// verify

/** A bounded ping from inside a container: up to `tries` one-second attempts (the first packets through a new
 * userspace tunnel can be lost while OVS resolves the next hop). Extra ping args e.g. `-M do -s 1472`. */
function pingFrom(container: string, target: string, tries: number, extra: string[] = []) {
  return script(
    'n=0; max=$1; c=$2; t=$3; shift 3\n' +
      'while [ "$n" -lt "$max" ]; do\n' +
      '  if out=$(timeout 5 docker exec "$c" ping -c 1 -W 1 "$@" "$t" 2>&1); then echo "reply after $n lost"; exit 0; fi\n' +
      '  n=$((n+1)); sleep 0.5\ndone\n' +
      'echo "no reply in $max tries: $(printf %s "$out" | tail -n 2 | tr "\\n" " ")"; exit 1',
    String(tries), container, target, ...extra,
  )
}

const byExit = (o: FactOutput): { ok: boolean; detail: string } => ({ ok: o.code === 0, detail: (o.stdout + o.stderr).trim().split('\n').slice(-1)[0] ?? '' })

/**
 * Probes started before the others (iperf3 servers in the target containers); none when `--limit` leaves out the
 * client's host (a server that no client connects to would wait for ever).
 */
export function verifyServerTasks(lab: LabSpec, host: InventoryHost, ctx?: BuildContext): AnyTask[] {
  const pair = iperfPair(lab)
  const target = pair?.to
  if (!pair || !target || target.host !== host.name) return []
  if (ctx?.limit !== undefined && !ctx.limit.has(pair.from.host)) return []
  return [probe({
    name: `iperf3 server in ${target.name}`,
    command: script('docker exec -d "$1" iperf3 -s -1 && sleep 0.3 && echo started', target.name),
    judge: byExit,
  })]
}

function iperfPair(lab: LabSpec) {
  for (const n of lab.networks) {
    const from = lab.containers.find((c) => c.network === n.name && c.host === n.gatewayHost)
    const to = lab.containers.find((c) => c.network === n.name && c.host !== n.gatewayHost)
    if (from && to) return { from, to }
  }
  return undefined
}

/**
 * The seed's checks, as read-only probes run on each host. In check mode (`--check --verify`: is the lab as it
 * is now still working?) every probe runs but iperf3, whose server the `verify: servers` play would start; with a
 * `--limit` that leaves out the iperf3 target's host, iperf3 is left out too.
 */
export function verifyTasks(lab: LabSpec, host: InventoryHost, ctx: BuildContext): AnyTask[] {
  const inv = ctx.inventory
  if (host.groups.includes('gateway')) {
    // the container web page fetched from the gateway router by container IP: no port forwarding
    return lab.containers.map((c) => probe({
      name: `web ${c.name} (${c.address}) from ${host.name}`,
      // (busybox 1.35's `wget -T` crashes: the time limit comes from timeout(1) instead)
      command: script('if command -v curl >/dev/null 2>&1; then curl -fsS -m 5 "$1"; elif command -v wget >/dev/null 2>&1; then timeout 8 wget -q -O - "$1"; else timeout 8 busybox wget -q -O - "$1"; fi', `http://${c.address}/`),
      judge: (o) => ({ ok: o.code === 0 && /VXLAN/i.test(o.stdout), detail: o.code === 0 ? 'page served' : (o.stderr.trim().split('\n')[0] ?? `exit ${o.code}`) }),
    }))
  }
  const out: AnyTask[] = []
  const mine = lab.containers.filter((c) => c.host === host.name)
  for (const c of mine) {
    const net = lab.networks.find((n) => n.name === c.network)!
    // across hosts on the same network
    for (const d of lab.containers.filter((x) => x.network === c.network && x.host !== c.host)) {
      out.push(probe({ name: `ping ${c.name} -> ${d.name} (${d.address}, ${net.name} VNI ${net.vni})`, command: pingFrom(c.name, d.address, 10), judge: byExit }))
    }
    // routed to the other networks through the gateway host
    for (const d of lab.containers.filter((x) => x.network !== c.network && x.host !== c.host)) {
      out.push(probe({ name: `routed ${c.name} -> ${d.name} (${d.address})`, command: pingFrom(c.name, d.address, 10), judge: byExit }))
    }
  }
  // a full-size frame across the tunnel: 1472 bytes of ICMP payload + 28 = 1500, don't fragment
  const pair = iperfPair(lab)
  if (pair && pair.from.host === host.name) {
    out.push(probe({ name: `full-size ping ${pair.from.name} -> ${pair.to.name} (1472 B, DF)`, command: pingFrom(pair.from.name, pair.to.address, 4, ['-M', 'do', '-s', '1472']), judge: byExit }))
  }
  // the iperf3 server is started on the target's host by the `verify: servers` play: not in check mode, and not
  // when --limit leaves that host out (the client would then report a refused connection as a failure)
  if (pair && pair.from.host === host.name && !ctx.check && (ctx.limit === undefined || ctx.limit.has(pair.to.host))) {
    out.push(probe({
      name: `iperf3 ${pair.from.name} -> ${pair.to.name}`,
      command: script('timeout 25 docker exec "$1" iperf3 -c "$2" -t 2 -J --connect-timeout 3000', pair.from.name, pair.to.address),
      judge: (o) => {
        try {
          const j = JSON.parse(o.stdout) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string }
          const bps = j.end?.sum_received?.bits_per_second ?? 0
          return { ok: bps > 1e6, detail: j.error ?? `${(bps / 1e6).toFixed(0)} Mbit/s` }
        } catch {
          return { ok: false, detail: o.code === 124 ? 'timed out (no data moved)' : (o.stderr.trim() || `exit ${o.code}`) }
        }
      },
    }))
  }
  // NAT: a container reaches the outside; the outside sees the gateway host's underlay address
  const url = host.vars.string('nat_probe_url', DEFAULT_NAT_PROBE_URL)
  for (const net of lab.networks) {
    const c = mine.find((x) => x.network === net.name)
    if (!c || host.name !== net.gatewayHost) continue
    const want = inv.host(net.gatewayHost).vars.ipv4('underlay_ip')
    out.push(probe({
      name: `NAT ${c.name} -> ${url}`,
      command: script('timeout 10 docker exec "$1" timeout 8 wget -q -O - "$2"', c.name, url),
      judge: (o) => {
        const seen = o.stdout.trim()
        return { ok: o.code === 0 && seen === want, detail: o.code === 0 ? `outside sees ${seen} (want ${want})` : (o.stderr.trim() || `exit ${o.code}`) }
      },
    }))
  }
  return out
}

/** The lab playbook for a lab spec. Flags: `--verify`, `--skip-mtu`, `--state present|absent`. */
export function labPlaybook(lab: LabSpec, name = 'lab'): PlaybookDef {
  const plays: PlayDef[] = [
    { name: 'gateway router', hosts: 'gateway', tasks: (h, ctx) => gatewayTasks(lab, h, ctx) },
    { name: 'docker hosts', hosts: 'docker_hosts', tasks: (h, ctx) => dockerHostTasks(lab, h, ctx) },
    // check mode changes nothing: no iperf3 server is started (the read-only probes still run, see verifyTasks)
    { name: 'verify: servers', hosts: 'docker_hosts', when: (ctx) => flagsOf(ctx).verify && flagsOf(ctx).state === 'present' && !ctx.check, tasks: (h, ctx) => verifyServerTasks(lab, h, ctx) },
    { name: 'verify', hosts: 'gateway,docker_hosts', when: (ctx) => flagsOf(ctx).verify && flagsOf(ctx).state === 'present', tasks: (h, ctx) => verifyTasks(lab, h, ctx) },
  ]
  return {
    name,
    plays,
    validate: (ctx) => {
      flagsOf(ctx)
      validateLab(lab, ctx.inventory)
    },
    flags: {
      verify: { type: 'boolean', description: 'after converging, run the seed\'s checks (pings, full-size frame, NAT, web, iperf3) and print a table; with --check, all but iperf3 (it starts a server)' },
      'skip-mtu': { type: 'boolean', description: 'leave the underlay MTU alone (reproduces the seed\'s MTU fault); with --state absent, leave it as the lab set it' },
      state: { type: 'string', choices: ['present', 'absent'], description: 'present (default) builds the lab; absent removes what it created (a bridge with a port of yours, a container of yours with a lab container\'s name, or the image while a container of yours uses it, is kept and said so)' },
    },
  }
}
