/**
 * Example playbook: add a third overlay network to the lab, using only the public API.
 *
 * net3 is 10.0.3.0/24 with VNI (VXLAN key) 7000 on bridge br3 of every Docker host. host1 is its hub: it
 * holds the internal port net3 with the gateway address 10.0.3.1/24 and one VXLAN port to every other
 * Docker host; every other host has one VXLAN port back to host1 (hub and spoke, as the lab does, so OVS
 * flooding cannot loop). Tunnel endpoints come from the inventory's `underlay_ip`, the bridges' datapath
 * from `ovs_datapath_type` (`system` unless set).
 *
 *   npx tsx examples/net3.ts --check --diff        what would change
 *   npx tsx examples/net3.ts                       converge (inventory: .testbed/inventory.yml, or -i FILE)
 *   npx tsx examples/net3.ts --graph net3.svg      the picture, no host contacted
 *   npx tsx examples/net3.ts --state absent        remove what it added
 */
import {
  ipAddress, ovsBridge, ovsPort, playbook, runIfMain, UsageError, vxlanPort,
  type AnyTask, type BuildContext, type Ensure, type InventoryHost, type PlaybookDef,
} from '../lib/index.ts'

/** The third network: CIDR, VNI, bridge, the hub's internal port and gateway address, and the hub host. */
export const NET3 = {
  cidr: '10.0.3.0/24',
  key: 7000,
  bridge: 'br3',
  port: 'net3',
  gateway: '10.0.3.1/24',
  hub: 'host1',
} as const

/** `--state present|absent` (default present). */
function ensureOf(ctx: BuildContext): Ensure {
  const state = ctx.flags.state ?? 'present'
  if (state !== 'present' && state !== 'absent') throw new UsageError(`--state must be present or absent, got ${JSON.stringify(state)}`)
  return state
}

/** The tasks of one Docker host: bridge, VXLAN ports (hub and spoke), and on the hub the gateway port. */
export function net3Tasks(host: InventoryHost, ctx: BuildContext): AnyTask[] {
  const ensure = ensureOf(ctx)
  const isHub = host.name === NET3.hub
  const others = ctx.inventory.groupHosts('docker_hosts').map((h) => h.name).filter((name) => name !== NET3.hub)
  const peers = isHub ? others : [NET3.hub]
  const tunnels = peers.map((peer, i) => vxlanPort({
    bridge: NET3.bridge,
    name: i === 0 ? 'vxlan3' : `vxlan3-${i + 1}`,
    remoteIp: ctx.inventory.host(peer).vars.ipv4('underlay_ip'),
    key: NET3.key,
    ensure,
  }))
  if (ensure === 'absent') {
    return [...tunnels, ...(isHub ? [ovsPort({ bridge: NET3.bridge, name: NET3.port, type: 'internal', ensure })] : []), ovsBridge({ name: NET3.bridge, ensure })]
  }
  return [
    ovsBridge({ name: NET3.bridge, datapathType: host.vars.oneOf('ovs_datapath_type', ['system', 'netdev'] as const, 'system') }),
    ...(isHub ? [ovsPort({ bridge: NET3.bridge, name: NET3.port, type: 'internal' }), ipAddress({ dev: NET3.port, address: NET3.gateway })] : []),
    ...tunnels,
  ]
}

/** The playbook: one play on the Docker hosts. */
export const net3: PlaybookDef = playbook({
  name: 'net3',
  plays: [{ name: 'net3 on the docker hosts', hosts: 'docker_hosts', tasks: net3Tasks }],
  flags: { state: { type: 'string', description: 'present (default) adds net3; absent removes it' } },
})

await runIfMain(import.meta.url, net3)
