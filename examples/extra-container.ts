/**
 * Example playbook: attach one more container to the lab's net1, using only the public API.
 *
 * doc5 runs on host2 from the lab image (con_img) with `--net none` and is attached to bridge br1 with
 * 10.0.1.30/24 and the default route via net1's gateway 10.0.1.1, the way the lab attaches doc1..doc4.
 * It needs the lab in place (`npm run lab`): the image and br1 must exist by apply time.
 *
 *   npx tsx examples/extra-container.ts --check     what would change
 *   npx tsx examples/extra-container.ts --verify    converge, then ping doc1 and the gateway from doc5
 *   npx tsx examples/extra-container.ts --state absent
 */
import {
  containerPort, dockerContainer, playbook, probe, runIfMain, script, UsageError,
  type AnyTask, type BuildContext, type PlaybookDef,
} from '../lib/index.ts'

/** The extra container: name, Docker host, bridge, address with prefix length, gateway, image. */
export const EXTRA = {
  name: 'doc5',
  host: 'host2',
  bridge: 'br1',
  address: '10.0.1.30/24',
  gateway: '10.0.1.1',
  image: 'con_img',
} as const

/** Addresses doc5 pings with `--verify`: doc1 on host1 (across the VXLAN tunnel) and net1's gateway. */
export const PING_TARGETS = [{ name: 'doc1', address: '10.0.1.10' }, { name: 'net1 gateway', address: EXTRA.gateway }] as const

function present(ctx: BuildContext): boolean {
  const state = ctx.flags.state ?? 'present'
  if (state !== 'present' && state !== 'absent') throw new UsageError(`--state must be present or absent, got ${JSON.stringify(state)}`)
  return state === 'present'
}

/** Create and attach (or detach and remove, in that order) the container. */
export function extraContainerTasks(ctx: BuildContext): AnyTask[] {
  if (!present(ctx)) {
    return [
      containerPort({ bridge: EXTRA.bridge, container: EXTRA.name, ensure: 'absent' }),
      dockerContainer({ name: EXTRA.name, image: EXTRA.image, network: 'none', state: 'absent' }),
    ]
  }
  return [
    dockerContainer({ name: EXTRA.name, image: EXTRA.image, network: 'none' }),
    containerPort({ bridge: EXTRA.bridge, container: EXTRA.name, address: EXTRA.address, gateway: EXTRA.gateway }),
  ]
}

/** Read-only checks: a bounded ping (up to 10 one-second tries) from doc5 to each target. */
export function verifyTasks(): AnyTask[] {
  return PING_TARGETS.map((t) => probe({
    name: `ping ${EXTRA.name} -> ${t.name} (${t.address})`,
    command: script(
      'i=0; while [ "$i" -lt 10 ]; do timeout 5 docker exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && { echo "reply after $i lost"; exit 0; }; i=$((i+1)); sleep 0.5; done; echo "no reply in 10 tries"; exit 1',
      EXTRA.name, t.address,
    ),
    judge: (o) => ({ ok: o.code === 0, detail: o.stdout.trim() || o.stderr.trim() }),
  }))
}

/** The playbook: the container on its host, then (with `--verify`) the pings. */
export const extraContainer: PlaybookDef = playbook({
  name: 'extra-container',
  plays: [
    { name: `${EXTRA.name} on ${EXTRA.host}`, hosts: EXTRA.host, tasks: (_host, ctx) => extraContainerTasks(ctx) },
    { name: 'verify', hosts: EXTRA.host, when: (ctx) => ctx.flags.verify === true && present(ctx), tasks: () => verifyTasks() },
  ],
  flags: {
    state: { type: 'string', description: 'present (default) adds the container; absent removes it' },
    verify: { type: 'boolean', description: `after converging, ping from ${EXTRA.name} to doc1 and the gateway` },
  },
})

await runIfMain(import.meta.url, extraContainer)
