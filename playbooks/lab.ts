/**
 * The seed's lab, end to end: two container networks stretched over two Docker hosts with VXLAN, behind a
 * gateway router. Edit LAB to change the lab; the plays are generated from it (lib/lab/plays.ts).
 *
 *   npx tsx playbooks/lab.ts                   converge (inventory: .testbed/inventory.yml, or -i FILE)
 *   npx tsx playbooks/lab.ts --check --diff    dry run: the whole plan, nothing changed
 *   npx tsx playbooks/lab.ts --verify          converge, then the seed's checks as a table
 *   npx tsx playbooks/lab.ts --state absent    remove everything the lab created
 */
import { runIfMain } from '../lib/cli.ts'
import { labPlaybook } from '../lib/lab/plays.ts'
import type { LabSpec } from '../lib/lab/spec.ts'

export const LAB: LabSpec = {
  networks: [
    { name: 'net1', cidr: '10.0.1.0/24', vni: 5000, bridge: 'br1', gatewayHost: 'host1' },
    { name: 'net2', cidr: '10.0.2.0/24', vni: 6000, bridge: 'br2', gatewayHost: 'host1' },
  ],
  containers: [
    { name: 'doc1', host: 'host1', network: 'net1', address: '10.0.1.10' },
    { name: 'doc2', host: 'host1', network: 'net2', address: '10.0.2.10' },
    { name: 'doc3', host: 'host2', network: 'net1', address: '10.0.1.20' },
    { name: 'doc4', host: 'host2', network: 'net2', address: '10.0.2.20' },
  ],
  underlayMtu: 1554,
  image: 'con_img',
}

export const lab = labPlaybook(LAB)

await runIfMain(import.meta.url, lab)
