import { script } from '../core/command.ts'
import type { Fact } from '../core/task.ts'

/**
 * Reading iptables rules by asking iptables itself whether a rule exists (`iptables -C`, iptables(8)),
 * so vxlab never has to re-implement iptables' normalization of rule text (`--in-interface` vs `-i`,
 * implicit `-m tcp`, ...). Works with both the nf_tables and the legacy flavour of iptables 1.8.
 */

/**
 * iptables with a bounded wait for the xtables lock (`-w 10`, seconds): the legacy flavour fails at once
 * when another process (dockerd, a firewall) holds the lock; the nft flavour accepts and ignores it.
 */
export const IPTABLES = ['iptables', '-w', '10'] as const

/** The message of `iptables -C` (exit 1) when no rule matches (both flavours, 1.8.x). */
export const NO_MATCH_MESSAGE = 'does a matching rule exist'

/**
 * Whether a rule exists in TABLE/CHAIN. `iptables -C` alone cannot tell a missing rule from a missing
 * chain: on iptables 1.8 (nft and legacy) both exit 1 with "Bad rule (does a matching rule exist in that
 * chain?)". So the command first lists the chain (`-S CHAIN`, output discarded): a missing chain or table
 * exits 3 with iptables' own message plus ours, which fails the read instead of reading as "absent".
 * Then `-C`: exit 0 = present; exit 1 with the no-match message = absent; anything else (exit 2 for an
 * unknown match or target, exit 4 for a lock timeout, exit 1 with another message) fails the read.
 */
export function iptablesRuleFact(table: string, chain: string, rule: readonly string[]): Fact<boolean> {
  return {
    id: `iptables.rule:${table}/${chain} ${JSON.stringify(rule)}`,
    command: script(
      [
        't=$1 c=$2; shift 2',
        `${IPTABLES.join(' ')} -t "$t" -S "$c" >/dev/null || { echo "vxlab: cannot list chain $c of table $t (no such chain?)" >&2; exit 3; }`,
        `exec ${IPTABLES.join(' ')} -t "$t" -C "$c" "$@"`,
      ].join('\n'),
      table, chain, ...rule,
    ),
    okExitCodes: [0, 1],
    parse: (o) => {
      if (o.code === 0) return true
      if (o.stderr.includes(NO_MATCH_MESSAGE)) return false
      throw new Error(`iptables -t ${table} -C ${chain} exited 1: ${o.stderr.trim() || '(no message)'}`)
    },
  }
}
