import { randomBytes } from 'node:crypto'
import { readScript } from '../core/command.ts'
import type { Fact, FactGroup } from '../core/task.ts'
import { splitGroupOutput } from './group.ts'

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
 * chain?)". So when `-C` fails, the command lists the chain (`-S CHAIN`, output discarded): a missing chain
 * or table exits 3 with iptables' own message about the chain plus ours (not -C's misleading "Bad rule"),
 * which fails the read instead of reading as "absent".
 * Exit 0 = present; exit 1 with the no-match message = absent; anything else (exit 2 for an unknown match or
 * target, exit 4 for a lock timeout, exit 1 with another message) fails the read. A present rule costs one
 * `iptables` process, and the rule facts of a batch are read by one shell ({@link IPTABLES_GROUP_SCRIPT}).
 */
export function iptablesRuleFact(table: string, chain: string, rule: readonly string[]): Fact<boolean> {
  return {
    id: `iptables.rule:${table}/${chain} ${JSON.stringify(rule)}`,
    command: readScript(IPTABLES_RULE_SCRIPT, table, chain, ...rule),
    group: rulesGroup([table, chain, String(rule.length), ...rule]),
    okExitCodes: [0, 1],
    parse: (o) => {
      if (o.code === 0) return true
      if (o.stderr.includes(NO_MATCH_MESSAGE)) return false
      throw new Error(`iptables -t ${table} -C ${chain} exited 1: ${o.stderr.trim() || '(no message)'}`)
    },
  }
}

/** {@link iptablesRuleFact}'s command for one rule. Args: table, chain, the rule's arguments. */
export const IPTABLES_RULE_SCRIPT = [
  't=$1 c=$2; shift 2',
  `e=$(${IPTABLES.join(' ')} -t "$t" -C "$c" "$@" 2>&1 >/dev/null) && exit 0`,
  'rc=$?',
  `${IPTABLES.join(' ')} -t "$t" -S "$c" >/dev/null || { echo "vxlab: cannot list chain $c of table $t (no such chain?)" >&2; exit 3; }`,
  `printf '%s\\n' "$e" >&2`,
  'exit $rc',
].join('\n')

/**
 * {@link IPTABLES_RULE_SCRIPT} for every rule fact of a batch, in one shell, framed as lib/facts/group.ts says
 * (each member gets the exit code and stderr its own command gives; `-C` prints nothing on stdout). Args:
 * token, then per rule: table, chain, N, the rule's N arguments. The rule's arguments are passed to iptables
 * by `eval` of positional references (`"${1}" "${2}"`, built from numbers), so no argument is ever parsed
 * by the shell a second time.
 */
export const IPTABLES_GROUP_SCRIPT = `t=$1; shift
k=0
while [ $# -gt 0 ]; do
  tb=$1 c=$2 n=$3; shift 3
  refs= j=1
  while [ "$j" -le "$n" ]; do refs="$refs \\"\\\${$j}\\""; j=$((j+1)); done
  e=$(eval "exec ${IPTABLES.join(' ')} -t \\"\\$tb\\" -C \\"\\$c\\" $refs" 2>&1 >/dev/null); code=$?
  if [ "$code" -ne 0 ]; then
    s=$(${IPTABLES.join(' ')} -t "$tb" -S "$c" 2>&1 >/dev/null) || { code=3; e="$s\${s:+
}vxlab: cannot list chain $c of table $tb (no such chain?)"; }
  fi
  printf '%s %d\\n\\n%s %d err %d\\n%s\\n%s %d end\\n' "$t" "$k" "$t" "$k" "$code" "$e" "$t" "$k"
  shift "$n"
  k=$((k+1))
done`

function rulesGroup(args: readonly string[]): FactGroup {
  return {
    key: 'iptables.rules',
    args,
    read(members) {
      const token = `VXI${randomBytes(6).toString('hex')}`
      return {
        command: readScript(IPTABLES_GROUP_SCRIPT, token, ...members.flat()),
        split: (out) => splitGroupOutput(out.stdout, token, members.length),
      }
    },
  }
}
