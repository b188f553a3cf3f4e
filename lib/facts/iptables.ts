import { randomBytes } from 'node:crypto'
import { readScript } from '../core/command.ts'
import type { Fact, FactGroup } from '../core/task.ts'
import { splitGroupOutput } from './group.ts'

/**
 * Reading iptables rules by asking iptables itself whether a rule exists (`iptables -C`, iptables(8)),
 * so vxlab never has to re-implement iptables' normalization of rule text (`--in-interface` vs `-i`,
 * implicit `-m tcp`, ...); a batch of rules may first be looked up word for word in iptables-save's own
 * listing ({@link IPTABLES_GROUP_SCRIPT}). Works with both the nf_tables and the legacy flavour of iptables 1.8.
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
 * `iptables` process, and the rule facts of a batch are read by one shell ({@link IPTABLES_GROUP_SCRIPT}), where
 * the rules found in one iptables-save listing cost none.
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
 * token, `1` to list the tables once (else `0`), the wanted lines (`TABLE -A CHAIN ARGS`, one per line between
 * newlines), then per rule: table, chain, the rule as a line of iptables-save(8) (`-A CHAIN ARGS`, empty when it
 * cannot be compared as text: {@link saveLine}), N, the rule's N arguments. The rule's arguments are passed to iptables by `eval` of positional references (`"${1}" "${2}"`,
 * built from numbers), so no argument is ever parsed by the shell a second time.
 *
 * With `1`, one `iptables-save` lists every table first, and a rule whose line is in its table's part of that
 * listing, word for word, is present without a `-C` (one process for every rule instead of one per rule).
 * iptables-save prints each rule in the form iptables-restore reads back into that same rule, so a rule given
 * in exactly that form is that rule; any other form (`--in-interface`, `1.2.3.4` for `1.2.3.4/32`, another
 * order) is not found as text and is asked with `-C` as before, so a rule is never found that `-C` would not
 * find. Only when `iptables-save` is the same program as `iptables` (`test -ef`: the one multi-call
 * binary, xtables-nft-multi or xtables-legacy-multi, so the same flavour's tables); a failed listing is ignored,
 * and so is a listing with a `"` anywhere: iptables-save quotes every word that is not plain
 * (`xtables_save_string`), and a quoted word (a `--comment`) may hold a newline, which it prints as is, so such a
 * listing could show a line that is no rule (found by a trial). Names iptables prints unquoted (chains,
 * interfaces) cannot hold a blank or a newline (iptables refuses such a chain name, the kernel such a link name).
 * The listing is read once, line by line (field splitting and `case`: dash takes `\${x#*PATTERN}` apart in time
 * quadratic in the length, seconds for a 30 KB listing), and only up to 64 KB, past which one `-C` per rule is
 * cheaper.
 */
export const IPTABLES_GROUP_SCRIPT = `t=$1 once=$2 want=$3; shift 3
nl='
'
found=
if [ "$once" = 1 ]; then
  ipt= ips=
  IFS=:; set -f
  for d in $PATH; do
    [ -n "$ipt" ] || [ ! -f "\${d:-.}/iptables" ] || [ ! -x "\${d:-.}/iptables" ] || ipt=\${d:-.}/iptables
    [ -n "$ips" ] || [ ! -f "\${d:-.}/iptables-save" ] || [ ! -x "\${d:-.}/iptables-save" ] || ips=\${d:-.}/iptables-save
  done
  unset IFS; set +f
  sv=
  if [ -n "$ipt" ] && [ "$ipt" -ef "$ips" ]; then sv=$("$ips" 2>/dev/null) || sv=; fi
  # a quoted word (a --comment) may hold a newline, which iptables-save prints as is: such a listing is not
  # trusted; nor a long one (read line by line, it would cost more than a -C per rule)
  case $sv in *'"'*) sv= ;; esac
  [ "\${#sv}" -le 65536 ] || sv=
  # each -A line of the listing that is a wanted "TABLE LINE", under its table's *TABLE header, before COMMIT
  tb0=
  IFS=$nl; set -f
  for l in $sv; do
    case $l in
      '*'*) tb0=\${l#?} ;;
      COMMIT) tb0= ;;
      '-A '*) [ -z "$tb0" ] || case $want in *"$nl$tb0 $l$nl"*) found="$found$tb0 $l$nl" ;; esac ;;
    esac
  done
  unset IFS; set +f
fi
found="$nl$found"
k=0
while [ $# -gt 0 ]; do
  tb=$1 c=$2 ln=$3 n=$4; shift 4
  code=
  if [ -n "$ln" ]; then case $found in *"$nl$tb $ln$nl"*) code=0 e= ;; esac; fi
  if [ -z "$code" ]; then
    refs= j=1
    while [ "$j" -le "$n" ]; do refs="$refs \\"\\\${$j}\\""; j=$((j+1)); done
    e=$(eval "exec ${IPTABLES.join(' ')} -t \\"\\$tb\\" -C \\"\\$c\\" $refs" 2>&1 >/dev/null); code=$?
    if [ "$code" -ne 0 ]; then
      s=$(${IPTABLES.join(' ')} -t "$tb" -S "$c" 2>&1 >/dev/null) || { code=3; e="$s\${s:+
}vxlab: cannot list chain $c of table $tb (no such chain?)"; }
    fi
  fi
  printf '%s %d\\n\\n%s %d err %d\\n%s\\n%s %d end\\n' "$t" "$k" "$t" "$k" "$code" "$e" "$t" "$k"
  shift "$n"
  k=$((k+1))
done`

/**
 * A rule as iptables-save(8) prints it, `-A CHAIN ARG ...`, when every word is plain (letters, digits and
 * `_ . : / , = ! + @ % -`, none empty): then the line splits back into exactly these words. Otherwise
 * undefined (iptables-save quotes a word with blanks or quotes, so such a rule is never compared as text).
 */
export function saveLine(chain: string, rule: readonly string[]): string | undefined {
  const plain = /^[A-Za-z0-9_.:/,=!+@%-]+$/
  return [chain, ...rule].every((w) => plain.test(w)) ? ['-A', chain, ...rule].join(' ') : undefined
}

function rulesGroup(args: readonly string[]): FactGroup {
  return {
    key: 'iptables.rules',
    args,
    read(members) {
      const token = `VXI${randomBytes(6).toString('hex')}`
      // members: table, chain, N, the rule's N arguments (iptablesRuleFact)
      const withLines = members.map(([table = '', chain = '', n = '0', ...rule]) => [table, chain, saveLine(chain, rule) ?? '', n, ...rule])
      const wanted = withLines.filter((m) => m[2] !== '').map((m) => `${m[0]} ${m[2]}`)
      const once = wanted.length >= 2 ? '1' : '0'
      return {
        command: readScript(IPTABLES_GROUP_SCRIPT, token, once, `\n${wanted.join('\n')}\n`, ...withLines.flat()),
        split: (out) => splitGroupOutput(out.stdout, token, members.length),
      }
    },
  }
}
