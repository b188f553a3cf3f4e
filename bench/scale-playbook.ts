/**
 * The scale benchmark's playbook: 20 tasks on every host of `docker_hosts`, made of what the testbed's light
 * hosts have (sshd and Open vSwitch, no Docker): 3 OVS bridges, each with an internal port and its address
 * and a VXLAN port to the next host (a ring), forwarding and rp_filter (persisted sysctl), 3 config files,
 * 2 iptables rules, a marker command. Run it on `npm run testbed -- up --light --hosts N`:
 *
 *   npx tsx bench/scale-playbook.ts [-f FORKS] [--check]        converge, then rerun = the no-op measured
 */
import { runIfMain } from '../lib/cli.ts'
import { playbook } from '../lib/core/playbook.ts'
import type { AnyTask } from '../lib/core/task.ts'
import { command } from '../lib/tasks/command.ts'
import { template } from '../lib/tasks/file.ts'
import { iptablesRule } from '../lib/tasks/iptables.ts'
import { ipAddress } from '../lib/tasks/net.ts'
import { ovsBridge, ovsPort, vxlanPort } from '../lib/tasks/ovs.ts'
import { sysctl } from '../lib/tasks/sysctl.ts'

const NETS = ['a', 'b', 'c'] as const

export const scale = playbook({
  name: 'scale',
  plays: [{
    name: 'light hosts',
    hosts: 'docker_hosts',
    tasks: (host, { inventory }) => {
      const all = inventory.groupHosts('docker_hosts').map((h) => h.name)
      const next = inventory.host(all[(all.indexOf(host.name) + 1) % all.length]!)
      const datapathType = host.vars.oneOf('ovs_datapath_type', ['system', 'netdev'] as const, 'system')
      const tasks: AnyTask[] = []
      NETS.forEach((n, i) => {
        tasks.push(
          ovsBridge({ name: `bs${n}`, datapathType }),
          ovsPort({ bridge: `bs${n}`, name: `ps${n}`, type: 'internal' }),
          ipAddress({ dev: `ps${n}`, address: `10.${200 + i}.0.1/24` }),
          vxlanPort({ bridge: `bs${n}`, name: `vs${n}`, remoteIp: next.vars.ipv4('underlay_ip'), key: 9000 + i }),
        )
      })
      tasks.push(
        sysctl({ key: 'net.ipv4.ip_forward', value: 1, file: '/etc/sysctl.d/91-vxlab-bench.conf' }),
        sysctl({ key: 'net.ipv4.conf.all.rp_filter', value: 0, file: '/etc/sysctl.d/92-vxlab-bench.conf' }),
        ...NETS.map((n) => template({ dest: `/etc/vxlab-bench/${n}.conf`, src: { inline: 'net {{n}} on {{host}}\nvni={{vni}}\n' }, vars: { n, host: host.name, vni: 9000 + NETS.indexOf(n) } })),
        iptablesRule({ chain: 'FORWARD', rule: ['-i', 'psa', '-j', 'ACCEPT'] }),
        iptablesRule({ table: 'nat', chain: 'POSTROUTING', rule: ['-s', '10.200.0.0/24', '-j', 'MASQUERADE'] }),
        command({ name: 'bench marker', argv: ['touch', '/etc/vxlab-bench/marker'], creates: '/etc/vxlab-bench/marker' }),
      )
      return tasks
    },
  }],
})

await runIfMain(import.meta.url, scale)
