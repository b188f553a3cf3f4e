import { cmd, script, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import type { Change, Claim, Task } from '../core/task.ts'
import { ifname, ipv4Cidr, oneOf, validateSpec, knownFields, specFields } from '../core/validate.ts'
import { IPTABLES, iptablesRuleFact } from '../facts/iptables.ts'

/**
 * iptables rules (iptables(8), iptables-extensions(8)), one rule per fact, existence checked with
 * `iptables -C` so a rerun never adds a duplicate. Object key for touches / watches: `iptables:TABLE/CHAIN`.
 */

const ENSURE = ['present', 'absent'] as const

/** The tables of iptables(8). */
export const IPTABLES_TABLES = ['filter', 'nat', 'mangle', 'raw', 'security'] as const
/** An iptables table name (iptables(8) `-t`): `filter` (default), `nat`, `mangle`, `raw`, `security`. */
export type IptablesTable = (typeof IPTABLES_TABLES)[number]

/**
 * Options that select an iptables command or table: a rule's argv must not contain them (they would turn
 * `-C` / `-A` / `-D` into another command, or another table), nor -h / -V (iptables prints and exits 0, so a
 * check would read "present" and a delete loop would never end). iptables parses its own options with
 * getopt_long(3) (iptables(8), xtables' optstring), so each also counts in the spellings getopt accepts: a long
 * option by any prefix (`--tab nat`, `--new X`) or with `=` (`--table=nat`), a short one bundled or with its value
 * attached (`-tnat`, `-vt`).
 */
const COMMAND_LONG = ['--append', '--check', '--delete', '--insert', '--replace', '--list', '--list-rules', '--flush', '--zero',
  '--new-chain', '--delete-chain', '--rename-chain', '--table', '--help', '--version'] // not --policy: the policy match has --pol
/** Commands, the table, and -h / -V (which print help or the version and exit 0 without doing anything). */
const COMMAND_SHORT = new Set(['A', 'C', 'D', 'I', 'R', 'L', 'S', 'F', 'Z', 'N', 'X', 'P', 'E', 't', 'h', 'V'])
/** iptables' short options that take a value (in the same argument or the next one). */
const SHORT_WITH_VALUE = new Set(['o', 'p', 's', 'd', 'j', 'i', 'm', 'c', 'g'])
/**
 * Options whose value is free text (a comment, a log prefix, a string to match): the argument after them is
 * not checked, when the option follows a word that is no option (`-m comment --comment X`, `-j LOG --log-prefix X`).
 * Every other argument is, whatever comes before it: iptables reads an option wherever it is.
 */
const FREE_TEXT = new Set(['--comment', '--log-prefix', '--nflog-prefix', '--string', '--hex-string', '--name'])

/** The command or table option `arg` spells (`--tab` -> `--table`, `-vtnat` -> `-t`), if any. */
function commandOption(arg: string): string | undefined {
  if (arg.startsWith('--') && arg.length > 2) {
    const name = arg.split('=')[0]!
    if (name === '--policy') return '--policy'
    return COMMAND_LONG.find((o) => o.startsWith(name))
  }
  if (arg.startsWith('-') && !arg.startsWith('--')) {
    for (const l of arg.slice(1)) {
      if (COMMAND_SHORT.has(l)) return `-${l}`
      if (SHORT_WITH_VALUE.has(l)) return undefined // the rest of the argument is the value
    }
  }
  return undefined
}

/**
 * A chain name: built-in (`FORWARD`) or user-defined (`DOCKER-USER`): 1..28 characters (iptables'
 * XT_EXTENSION_MAXNAMELEN 29 with the NUL), letters, digits and `_ . : + -`, not starting with `-` or `!`.
 */
export function iptablesChain(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,27}$/.test(value)) {
    throw new ValidationError(field, `expected an iptables chain name (1..28 of A-Z a-z 0-9 _ . : + -, not starting with - or !), got ${JSON.stringify(value)}`)
  }
  return value
}

/** A rule's match/target argv: non-empty, each argument without NUL or newline, not empty (but the value of `--comment`), and no command or table option. */
export function iptablesRuleArgs(field: string, value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) throw new ValidationError(field, `expected a non-empty array of arguments like ['-i', 'net1', '-j', 'ACCEPT'], got ${JSON.stringify(value)}`)
  value.forEach((a: unknown, i) => {
    if (typeof a !== 'string') throw new ValidationError(`${field}[${i}]`, `expected a string, got ${JSON.stringify(a)}`)
    if (/[\0\n\r]/.test(a)) throw new ValidationError(`${field}[${i}]`, `must not contain NUL or newline: ${JSON.stringify(a)}`)
    // the free-text value of `--comment` and the like (`--comment "-t or not"`) is not an option; but `--comment`
    // opens free text only where it is an option itself: after an option (`-s --comment -V`), it may be that
    // option's value, and what follows it an option (a trial found -V passed so: -C printed the version and exited 0)
    const prev = i > 0 ? (value[i - 1] as string) : ''
    const beforePrev = i > 1 ? (value[i - 2] as string) : ''
    const freeText = FREE_TEXT.has(prev) && !beforePrev.startsWith('-')
    // iptables refuses an empty argument ("Bad argument"), and an empty --log-prefix, --string or --name; it takes
    // an empty --comment
    if (a === '' && !(freeText && prev === '--comment')) throw new ValidationError(`${field}[${i}]`, 'is empty: iptables takes an empty argument only as the value of --comment')
    const opt = freeText ? undefined : commandOption(a)
    if (opt !== undefined) {
      const what = opt === a ? a : `${JSON.stringify(a)} is iptables' ${opt}, which`
      throw new ValidationError(`${field}[${i}]`, `${what} selects an iptables command or table; give the table and chain as fields, the rule as matches and a target`)
    }
  })
  return [...(value as string[])]
}

/** A rule as shown in summaries and keys: `TABLE/CHAIN -i net1 -j ACCEPT` (arguments with blanks JSON-quoted). */
export function describeRule(table: string, chain: string, rule: readonly string[]): string {
  return `${table}/${chain} ${rule.map((a) => (/^[\w@%+=:,./!-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`
}

/** A rule task's claim on its rule: present or absent ({@link Task.claims}). */
function ruleClaim(r: IptablesRuleRef, ensure: 'present' | 'absent'): Claim {
  return { object: `iptables.rule:${describeRule(r.table, r.chain, r.rule)}`, value: ensure }
}

/** One rule: where it lives and its argv. */
export interface IptablesRuleRef {
  readonly table: IptablesTable
  readonly chain: string
  readonly rule: readonly string[]
}

/**
 * Delete every copy of a rule (duplicates made by hand, e.g. the seed's `--append` run twice): `-D` while
 * `-C` finds one. `-C` exit 1 ends the loop; another exit code is an error, shown with iptables' message.
 */
export function deleteAllCopiesCommand(r: IptablesRuleRef): Command {
  return script(
    [
      't=$1 c=$2; shift 2',
      'while :; do',
      `  err=$(${IPTABLES.join(' ')} -t "$t" -C "$c" "$@" 2>&1); rc=$?`,
      '  case $rc in',
      `    0) ${IPTABLES.join(' ')} -t "$t" -D "$c" "$@" || exit $? ;;`,
      '    1) exit 0 ;;',
      '    *) printf \'%s\\n\' "$err" >&2; exit "$rc" ;;',
      '  esac',
      'done',
    ].join('\n'),
    r.table, r.chain, ...r.rule,
  )
}

/** The changes that make one rule present or absent, given whether it exists now. */
function ruleChanges(r: IptablesRuleRef, exists: boolean, ensure: 'present' | 'absent', position: 'append' | 'insert'): Change[] {
  const what = describeRule(r.table, r.chain, r.rule)
  const touches = [`iptables:${r.table}/${r.chain}`]
  if (ensure === 'present') {
    if (exists) return []
    const flag = position === 'insert' ? '-I' : '-A'
    return [{
      op: 'create', summary: `${position} ${what}`, before: { rule: 'absent' }, after: { rule: 'present' },
      commands: [cmd(...IPTABLES, '-t', r.table, flag, r.chain, ...r.rule)], touches,
    }]
  }
  if (!exists) return []
  return [{
    op: 'delete', summary: `delete ${what}`, before: { rule: 'present' }, after: { rule: 'absent' },
    // the first -D shows in check mode what goes; the loop removes copies added by hand
    commands: [cmd(...IPTABLES, '-t', r.table, '-D', r.chain, ...r.rule), deleteAllCopiesCommand(r)], touches,
  }]
}

// ---------------------------------------------------------------------------------------------------------
// iptables.rule

/** Spec of {@link iptablesRule}. */
export interface IptablesRuleSpec {
  /** Table (default `filter`): filter, nat, mangle, raw, security. */
  readonly table?: IptablesTable
  /** Chain, built-in or user-defined (it must exist: a missing chain fails the read). */
  readonly chain: string
  /** Matches and target as argv, exactly as after `iptables -A CHAIN`: `['-i', 'net1', '-j', 'ACCEPT']`. */
  readonly rule: readonly string[]
  /** Where a missing rule goes (default `append`): end of chain (`-A`) or first (`-I`). An existing rule is never moved. */
  readonly position?: 'append' | 'insert'
  /** `present` (default) or `absent` (delete every copy of exactly this rule). */
  readonly ensure?: 'present' | 'absent'
}

interface IptablesRuleNorm {
  readonly table: IptablesTable
  readonly chain: string
  readonly rule: readonly string[]
  readonly position: 'append' | 'insert'
  readonly ensure: 'present' | 'absent'
}

/** What the iptables tasks read: whether each of their rules exists, in order. */
export interface IptablesCurrent {
  readonly exists: readonly boolean[]
}

/** The fields of IptablesRuleSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const IPTABLES_RULE_FIELDS = specFields<IptablesRuleSpec>()('table', 'chain', 'rule', 'position', 'ensure')

/**
 * Ensure one iptables rule. Existence via `iptables -t TABLE -C CHAIN RULE...` ({@link iptablesRuleFact});
 * present: missing -> create (`-A`, or `-I` with position insert); absent: present -> delete (`-D`, repeated
 * until `-C` finds no copy). The rule's position is not compared (an existing rule anywhere in the chain counts).
 * Key: `iptables.rule[TABLE/CHAIN RULE...]`. Touches and watches `iptables:TABLE/CHAIN`. Claims ({@link Task.claims})
 * `iptables.rule:TABLE/CHAIN RULE...` as present or absent (as {@link iptablesMasq} claims its rules).
 * Errors: {@link ValidationError} for an unknown table, a bad chain name, an empty rule, an argument with NUL
 * or newline or that selects a command/table (`-A`, `-t`, ...); at read time, a missing chain or an unknown
 * match/target (iptables' own message).
 */
export function iptablesRule(spec: IptablesRuleSpec): Task<IptablesRuleNorm, IptablesCurrent> {
  const rawKey = `iptables.rule[${String(spec?.table ?? 'filter')}/${String(spec?.chain)} ${Array.isArray(spec?.rule) ? spec?.rule.join(' ') : String(spec?.rule)}]`
  validateSpec(rawKey, () => knownFields(spec, IPTABLES_RULE_FIELDS))
  const norm = validateSpec(rawKey, (): IptablesRuleNorm => ({
    table: oneOf('table', spec.table ?? 'filter', IPTABLES_TABLES),
    chain: iptablesChain('chain', spec.chain),
    rule: iptablesRuleArgs('rule', spec.rule),
    position: oneOf('position', spec.position ?? 'append', ['append', 'insert'] as const),
    ensure: oneOf('ensure', spec.ensure ?? 'present', ENSURE),
  }))
  const fact = iptablesRuleFact(norm.table, norm.chain, norm.rule)
  return {
    kind: 'iptables.rule',
    key: `iptables.rule[${describeRule(norm.table, norm.chain, norm.rule)}]`,
    spec: norm,
    facts: [fact],
    watches: [`iptables:${norm.table}/${norm.chain}`],
    claims: [ruleClaim(norm, norm.ensure)],
    current: (f) => ({ exists: [f.get(fact)] }),
    plan: (cur, s) => ruleChanges(s, cur.exists[0] ?? false, s.ensure, s.position),
  }
}

// ---------------------------------------------------------------------------------------------------------
// iptables.masq

/** Spec of {@link iptablesMasq}. */
export interface IptablesMasqSpec {
  /** The container network's gateway link (the seed's OVS internal port `net1`). */
  readonly iface: string
  /** The container network, CIDR with no host bits (`10.0.1.0/24`): masqueraded when it leaves the host. */
  readonly source: string
  /** `present` (default) or `absent` (delete the three rules, every copy). */
  readonly ensure?: 'present' | 'absent'
}

interface IptablesMasqNorm {
  readonly iface: string
  readonly source: string
  readonly ensure: 'present' | 'absent'
}

/** The seed's three rules for internet access from a container network, in order. */
export function masqRules(iface: string, source: string): readonly IptablesRuleRef[] {
  return [
    { table: 'filter', chain: 'FORWARD', rule: ['-i', iface, '-j', 'ACCEPT'] },
    { table: 'filter', chain: 'FORWARD', rule: ['-o', iface, '-j', 'ACCEPT'] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-s', source, '-j', 'MASQUERADE'] },
  ]
}

/** The fields of IptablesMasqSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const IPTABLES_MASQ_FIELDS = specFields<IptablesMasqSpec>()('iface', 'source', 'ensure')

/**
 * NAT for a container network, the seed's three rules (appended, as the seed does):
 * `filter FORWARD -i IFACE -j ACCEPT`, `filter FORWARD -o IFACE -j ACCEPT`,
 * `nat POSTROUTING -s SOURCE -j MASQUERADE` (iptables-extensions(8) MASQUERADE). One task, one change per
 * rule that is missing (present) or present (absent); each rule is checked with `iptables -C`, so any
 * number of reruns leaves exactly one of each. IP forwarding is a separate `sysctl` task
 * (`net.ipv4.ip_forward = 1`).
 * Key: `iptables.masq[IFACE]`. Touches and watches `iptables:filter/FORWARD`, `iptables:nat/POSTROUTING`.
 * Claims ({@link Task.claims}) each of its rules as `iptables.rule:TABLE/CHAIN RULE...`, present or absent.
 * Errors: {@link ValidationError} for a bad iface, a source that is not a network (`10.0.1.5/24`), a bad ensure.
 */
export function iptablesMasq(spec: IptablesMasqSpec): Task<IptablesMasqNorm, IptablesCurrent> {
  const specKey = `iptables.masq[${String(spec?.iface)}]`
  validateSpec(specKey, () => knownFields(spec, IPTABLES_MASQ_FIELDS))
  const norm = validateSpec(specKey, (): IptablesMasqNorm => ({
    iface: ifname('iface', spec.iface),
    source: ipv4Cidr('source', spec.source),
    ensure: oneOf('ensure', spec.ensure ?? 'present', ENSURE),
  }))
  const rules = masqRules(norm.iface, norm.source)
  const facts = rules.map((r) => iptablesRuleFact(r.table, r.chain, r.rule))
  return {
    kind: 'iptables.masq',
    key: `iptables.masq[${norm.iface}]`,
    spec: norm,
    facts,
    watches: ['iptables:filter/FORWARD', 'iptables:nat/POSTROUTING'],
    claims: rules.map((r) => ruleClaim(r, norm.ensure)),
    current: (f) => ({ exists: facts.map((fact) => f.get(fact)) }),
    plan: (cur, s) => masqRules(s.iface, s.source).flatMap((r, i) => ruleChanges(r, cur.exists[i] ?? false, s.ensure, 'append')),
  }
}
