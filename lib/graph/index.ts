import { writeFileSync } from 'node:fs'
import { extname } from 'node:path'
import { UsageError } from '../core/errors.ts'
import { buildPlaybook, type PlaybookDef, type RunOptions, type TaskReport } from '../core/playbook.ts'
import { toMermaid } from './mermaid.ts'
import { toSvg } from './svg.ts'
import { markTopology, topologyOf, type Topology } from './topology.ts'

/**
 * Topology pictures of playbooks (`--graph FILE`): build the playbook (validating it, contacting no host),
 * derive the {@link Topology} from its tasks, optionally colour it from a run report, and render it as
 * Mermaid (`.mmd`) or SVG (`.svg`).
 */

export { topologyOf, markTopology } from './topology.ts'
export type {
  Topology, TopoHost, TopoBridge, TopoPort, TopoVxlanPort, TopoAttachment, TopoContainer, TopoNat, TopoRoute, TopoMtu, TopoTunnel, TunnelEnd, Verdict, VerdictCheck,
} from './topology.ts'
export { toMermaid, mermaidText } from './mermaid.ts'
export { toSvg, xmlEscape } from './svg.ts'

/** Picture formats, chosen by the output file's extension. */
export type GraphFormat = 'mermaid' | 'svg'

/** The format for a file name: `.mmd` / `.mermaid` -> mermaid, `.svg` -> svg. Throws {@link UsageError} naming `flag` (default `graph`) otherwise. */
export function graphFormatOf(file: string, flag: 'graph' | 'graph-after' = 'graph'): GraphFormat {
  const ext = extname(file).toLowerCase()
  if (ext === '.mmd' || ext === '.mermaid') return 'mermaid'
  if (ext === '.svg') return 'svg'
  throw new UsageError(`--${flag} ${file}: unknown picture format ${JSON.stringify(ext || '(no extension)')}; use .mmd (Mermaid) or .svg`)
}

/**
 * The planned topology of a playbook: builds it exactly as a run would (same inventory, `--limit`,
 * playbook flags), so validation errors surface the same way ({@link PlaybookValidationError}, exit 2),
 * and reads no host.
 */
export function graphPlaybook(pb: PlaybookDef, opts: Pick<RunOptions, 'inventory' | 'limit' | 'check' | 'flags'>): Topology {
  return topologyOf(buildPlaybook(pb, opts), opts.inventory, pb.name)
}

/** Render a topology in a format. */
export function renderTopology(topo: Topology, format: GraphFormat): string {
  return format === 'svg' ? toSvg(topo) : toMermaid(topo)
}

/**
 * Write a topology picture to `file` (format from its extension), coloured from `tasks` (a run report's
 * task list, with verify results) when given. Returns the topology drawn.
 */
export function writeTopology(file: string, topo: Topology, tasks?: readonly TaskReport[]): Topology {
  const format = graphFormatOf(file)
  const drawn = tasks !== undefined ? markTopology(topo, tasks) : topo
  writeFileSync(file, renderTopology(drawn, format))
  return drawn
}

/** One line about a written picture: `graph: wrote lab.svg (3 hosts, 2 tunnels, 4 containers)`. */
export function graphSummary(file: string, topo: Topology): string {
  const containers = topo.hosts.reduce((n, h) => n + h.containers.length, 0)
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`
  return `graph: wrote ${file} (${plural(topo.hosts.length, 'host')}, ${plural(topo.tunnels.length, 'tunnel')}, ${plural(containers, 'container')})`
}
