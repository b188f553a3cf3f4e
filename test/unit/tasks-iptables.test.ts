import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import type { Command } from '../../lib/core/command.ts'
import type { Change, Task } from '../../lib/core/task.ts'
import { renderArgv } from '../../lib/connection/quote.ts'
import { iptablesRuleFact } from '../../lib/facts/iptables.ts'
import { deleteAllCopiesCommand, iptablesMasq, iptablesRule } from '../../lib/tasks/iptables.ts'

function plan<S, C>(t: Task<S, C>, cur: C): Change[] {
  return t.plan(cur, t.spec)
}
const argvs = (cs: readonly Change[]): string[][] => cs.flatMap((c) => c.commands.map((x) => [...x.argv]))
const IPT = ['iptables', '-w', '10']

describe('iptables.rule', () => {
  const t = iptablesRule({ chain: 'FORWARD', rule: ['-i', 'tnet1', '-j', 'ACCEPT'] })
  it('key, fact, watches', () => {
    expect(t.kind).toBe('iptables.rule')
    expect(t.key).toBe('iptables.rule[filter/FORWARD -i tnet1 -j ACCEPT]')
    expect(t.facts).toHaveLength(1)
    expect(t.facts[0]!.id).toBe('iptables.rule:filter/FORWARD ["-i","tnet1","-j","ACCEPT"]')
    expect(t.facts[0]!.command.argv.slice(3)).toEqual(['sh', 'filter', 'FORWARD', '-i', 'tnet1', '-j', 'ACCEPT'])
    expect(t.watches).toEqual(['iptables:filter/FORWARD'])
  })
  it('absent rule -> create with -A (or -I with position insert)', () => {
    const cs = plan(t, { exists: [false] })
    expect(cs).toHaveLength(1)
    expect(cs[0]).toMatchObject({ op: 'create', summary: 'append filter/FORWARD -i tnet1 -j ACCEPT', before: { rule: 'absent' }, after: { rule: 'present' }, touches: ['iptables:filter/FORWARD'] })
    expect(argvs(cs)).toEqual([[...IPT, '-t', 'filter', '-A', 'FORWARD', '-i', 'tnet1', '-j', 'ACCEPT']])
    const ins = iptablesRule({ table: 'nat', chain: 'PREROUTING', rule: ['-d', '10.99.0.1', '-j', 'RETURN'], position: 'insert' })
    expect(argvs(plan(ins, { exists: [false] }))).toEqual([[...IPT, '-t', 'nat', '-I', 'PREROUTING', '-d', '10.99.0.1', '-j', 'RETURN']])
  })
  it('present -> no change (never a duplicate)', () => {
    expect(plan(t, { exists: [true] })).toEqual([])
  })
  it('absent wanted -> delete with -D then the loop for copies; nothing when absent', () => {
    const gone = iptablesRule({ chain: 'FORWARD', rule: ['-i', 'tnet1', '-j', 'ACCEPT'], ensure: 'absent' })
    const cs = plan(gone, { exists: [true] })
    expect(cs.map((c) => c.op)).toEqual(['delete'])
    expect(cs[0]!.commands[0]!.argv).toEqual([...IPT, '-t', 'filter', '-D', 'FORWARD', '-i', 'tnet1', '-j', 'ACCEPT'])
    expect(cs[0]!.commands[1]).toEqual(deleteAllCopiesCommand({ table: 'filter', chain: 'FORWARD', rule: ['-i', 'tnet1', '-j', 'ACCEPT'] }))
    expect(plan(gone, { exists: [false] })).toEqual([])
  })
  it('quotes arguments with blanks in the key, passes them as one argv element', () => {
    const c = iptablesRule({ chain: 'INPUT', rule: ['-m', 'comment', '--comment', 'vxlab test', '-j', 'ACCEPT'] })
    expect(c.key).toBe('iptables.rule[filter/INPUT -m comment --comment "vxlab test" -j ACCEPT]')
    expect(argvs(plan(c, { exists: [false] }))[0]).toContain('vxlab test')
  })
  it.each([
    [{ table: 'filtr', chain: 'FORWARD', rule: ['-j', 'ACCEPT'] }, /^iptables\.rule\[filtr\/FORWARD -j ACCEPT\]\.table: expected one of "filter", "nat"/],
    [{ chain: 'FOR WARD', rule: ['-j', 'ACCEPT'] }, /\.chain: expected an iptables chain name/],
    [{ chain: '-FORWARD', rule: ['-j', 'ACCEPT'] }, /\.chain: expected an iptables chain name/],
    [{ chain: 'C'.repeat(29), rule: ['-j', 'ACCEPT'] }, /\.chain: expected an iptables chain name/],
    [{ chain: 'FORWARD', rule: [] }, /\.rule: expected a non-empty array/],
    [{ chain: 'FORWARD', rule: ['-i', 'net1\n', '-j', 'ACCEPT'] }, /\.rule\[1\]: must not contain NUL or newline/],
    [{ chain: 'FORWARD', rule: ['-i', 'net1', '', '-j', 'ACCEPT'] }, /\.rule\[2\]: is empty: iptables takes an empty argument only as the value of --comment/],
    [{ chain: 'FORWARD', rule: ['-j', 'LOG', '--log-prefix', ''] }, /\.rule\[3\]: is empty/], // iptables: "minimum length of 1"
    // a free-text option that may be another option's value opens no free text (found by a trial: -C printed the
    // version, exit 0, and the rule read as present)
    [{ chain: 'FORWARD', rule: ['-s', '--comment', '-V', '-j', 'ACCEPT'] }, /\.rule\[2\]: -V selects an iptables command/],
    [{ chain: 'FORWARD', rule: ['-j', 'LOG', '--log-prefix', '--name', '-h'] }, /\.rule\[4\]: -h selects an iptables command/],
    [{ chain: 'FORWARD', rule: ['-m', 'comment', '--comment', '--comment', '', '-j', 'RETURN'] }, /\.rule\[4\]: is empty/],
    [{ chain: 'FORWARD', rule: ['-m', 'recent', '--name', '', '--rcheck', '-j', 'DROP'] }, /\.rule\[3\]: is empty/],
    [{ chain: 'FORWARD', rule: ['-i', 'a\0b'] }, /\.rule\[1\]: must not contain NUL or newline/],
    [{ chain: 'FORWARD', rule: ['-t', 'nat', '-j', 'ACCEPT'] }, /\.rule\[0\]: -t selects an iptables command or table/],
    [{ chain: 'OUTPUT', rule: ['-tnat', '-j', 'RETURN'] }, /\.rule\[0\]: "-tnat" is iptables' -t, which selects an iptables command or table/],
    [{ chain: 'OUTPUT', rule: ['-vtnat', '-j', 'RETURN'] }, /\.rule\[0\]: "-vtnat" is iptables' -t/],
    [{ chain: 'OUTPUT', rule: ['--tabl', 'nat', '-j', 'RETURN'] }, /\.rule\[0\]: "--tabl" is iptables' --table/],
    [{ chain: 'OUTPUT', rule: ['--table=nat', '-j', 'RETURN'] }, /\.rule\[0\]: "--table=nat" is iptables' --table/],
    [{ chain: 'OUTPUT', rule: ['-j', 'RETURN', '--new', 'X'] }, /\.rule\[2\]: "--new" is iptables' --new-chain/],
    [{ chain: 'OUTPUT', rule: ['-j', 'RETURN', '--flu'] }, /\.rule\[2\]: "--flu" is iptables' --flush/],
    // after options that take no value, iptables still reads the next argument as an option
    [{ chain: 'INPUT', rule: ['-s', '10.99.99.0/24', '--verbose', '-tnat', '-j', 'ACCEPT'] }, /\.rule\[3\]: "-tnat" is iptables' -t/],
    [{ chain: 'INPUT', rule: ['-s', '10.99.99.1/32', '-w', '-tnat', '-j', 'ACCEPT'] }, /\.rule\[3\]: "-tnat" is iptables' -t/],
    [{ chain: 'INPUT', rule: ['-p', 'tcp', '--syn', '-tnat', '-j', 'ACCEPT'] }, /\.rule\[3\]: "-tnat" is iptables' -t/],
    [{ chain: 'INPUT', rule: ['-s', '10.99.99.2', '-j', 'ACCEPT', '-V'] }, /\.rule\[4\]: -V selects/],
    [{ chain: 'INPUT', rule: ['-j', 'ACCEPT', '--help'] }, /\.rule\[2\]: --help selects/],
    [{ chain: 'INPUT', rule: ['-j', 'ACCEPT', '--vers'] }, /\.rule\[2\]: "--vers" is iptables' --version/],
    [{ chain: 'INPUT', rule: ['-j', 'ACCEPT', '-h'] }, /\.rule\[2\]: -h selects/],
    [{ chain: 'FORWARD', rule: ['-j', 'ACCEPT', '-F'] }, /\.rule\[2\]: -F selects/],
    [{ chain: 'FORWARD', rule: ['-j', 'ACCEPT'], position: 'middle' }, /\.position: expected one of "append", "insert"/],
    [{ chain: 'FORWARD', rule: ['-j', 'ACCEPT'], ensure: 'maybe' }, /\.ensure: expected one of/],
  ])('rejects %j', (spec, re) => {
    expect(() => iptablesRule(spec as never)).toThrow(re)
  })
  it.each([
    [['-m', 'comment', '--comment', '-tnat --table', '-j', 'ACCEPT']], // values that look like options
    [['-s10.0.0.0/8', '-jACCEPT']], // short options with their values attached
    [['-m', 'comment', '--comment', '--table nat -V', '-j', 'LOG', '--log-prefix', '-tnat ']],
    [['--in-interface', 'net1', '-m', 'limit', '--limit', '5/min', '-j', 'ACCEPT']],
    [['-m', 'policy', '--pol', 'ipsec', '--dir', 'in', '-j', 'ACCEPT']],
    [['!', '-s', '10.0.0.0/8', '-p', 'tcp', '--dport', '80', '-j', 'REJECT', '--reject-with', 'tcp-reset']],
    [['-m', 'comment', '--comment', '', '-j', 'ACCEPT']], // an empty comment, as iptables takes it
  ])('accepts %j', (rule) => {
    expect(iptablesRule({ chain: 'FORWARD', rule }).spec.rule).toEqual(rule)
  })
})

describe('iptables.masq', () => {
  const t = iptablesMasq({ iface: 'net1', source: '10.0.1.0/24' })
  const all = [
    [...IPT, '-t', 'filter', '-A', 'FORWARD', '-i', 'net1', '-j', 'ACCEPT'],
    [...IPT, '-t', 'filter', '-A', 'FORWARD', '-o', 'net1', '-j', 'ACCEPT'],
    [...IPT, '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.0.1.0/24', '-j', 'MASQUERADE'],
  ]
  it('key, three facts, watches both chains', () => {
    expect(t.kind).toBe('iptables.masq')
    expect(t.key).toBe('iptables.masq[net1]')
    expect(t.facts.map((f) => f.id)).toEqual([
      'iptables.rule:filter/FORWARD ["-i","net1","-j","ACCEPT"]',
      'iptables.rule:filter/FORWARD ["-o","net1","-j","ACCEPT"]',
      'iptables.rule:nat/POSTROUTING ["-s","10.0.1.0/24","-j","MASQUERADE"]',
    ])
    expect(t.watches).toEqual(['iptables:filter/FORWARD', 'iptables:nat/POSTROUTING'])
  })
  it('nothing there -> three creates, the seed rules', () => {
    const cs = plan(t, { exists: [false, false, false] })
    expect(cs.map((c) => c.op)).toEqual(['create', 'create', 'create'])
    expect(argvs(cs)).toEqual(all)
    expect(cs[2]!.touches).toEqual(['iptables:nat/POSTROUTING'])
  })
  it('in sync -> []; one rule deleted by hand -> only that one', () => {
    expect(plan(t, { exists: [true, true, true] })).toEqual([])
    expect(argvs(plan(t, { exists: [true, false, true] }))).toEqual([all[1]])
  })
  it('absent -> delete exactly the present ones', () => {
    const gone = iptablesMasq({ iface: 'net1', source: '10.0.1.0/24', ensure: 'absent' })
    const cs = plan(gone, { exists: [true, false, true] })
    expect(cs.map((c) => c.op)).toEqual(['delete', 'delete'])
    expect(cs.map((c) => c.commands[0]!.argv)).toEqual([
      [...IPT, '-t', 'filter', '-D', 'FORWARD', '-i', 'net1', '-j', 'ACCEPT'],
      [...IPT, '-t', 'nat', '-D', 'POSTROUTING', '-s', '10.0.1.0/24', '-j', 'MASQUERADE'],
    ])
    expect(plan(gone, { exists: [false, false, false] })).toEqual([])
  })
  it.each([
    [{ iface: 'net1', source: '10.0.1.1/24' }, 'iptables.masq[net1].source: "10.0.1.1/24" has host bits set; did you mean 10.0.1.0/24?'],
    [{ iface: 'net1', source: '10.0.1.0' }, 'iptables.masq[net1].source: expected A.B.C.D/len, got "10.0.1.0"'],
    [{ iface: 'thisnameistoolong', source: '10.0.1.0/24' }, 'iptables.masq[thisnameistoolong].iface: interface name "thisnameistoolong" is longer than 15 characters'],
  ])('rejects %j', (spec, message) => {
    expect(() => iptablesMasq(spec as never)).toThrow(message)
  })
})

describe('iptables rule fact: error shapes', () => {
  const f = iptablesRuleFact('filter', 'FORWARD', ['-i', 'x', '-j', 'ACCEPT'])
  it('exit 1 with the no-match message is absent; exit 1 otherwise is an error; 2/3/4 are not accepted', () => {
    expect(f.okExitCodes).toEqual([0, 1])
    expect(f.parse({ code: 0, stdout: '', stderr: '' })).toBe(true)
    expect(f.parse({ code: 1, stdout: '', stderr: 'iptables: Bad rule (does a matching rule exist in that chain?).\n' })).toBe(false)
    expect(() => f.parse({ code: 1, stdout: '', stderr: 'iptables: Permission denied (you must be root).\n' })).toThrow(/Permission denied/)
  })
})

// The fact's and the delete loop's sh scripts, run through real sh against a fake iptables (a rules file).
describe('iptables scripts against a fake iptables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxlab-ipt-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const fake = join(dir, 'iptables')
  // also iptables-save(8) when called by that name (a multi-call binary, as xtables-nft-multi is): every table of
  // the chains file, its chains, its rules as -A lines, COMMIT
  writeFileSync(fake, `#!/bin/sh
if [ "\${0##*/}" = iptables-save ]; then
  echo save >> "$STATE/calls"
  for t in $(cut -d/ -f1 "$STATE/chains" | sort -u); do
    echo "# Generated by a stand-in"; echo "*$t"
    grep "^$t/" "$STATE/chains" | cut -d/ -f2 | sed 's/^/:/; s/$/ ACCEPT [0:0]/'
    grep "^$t/" "$STATE/rules" | sed "s|^$t/\\([^ ]*\\) |-A \\1 |"
    [ ! -e "$STATE/save-extra-$t" ] || cat "$STATE/save-extra-$t"
    echo COMMIT; echo "# Completed"
  done
  exit 0
fi
[ "$1" = -w ] && shift 2
[ "$1" = -t ] || exit 9
t=$2 op=$3 c=$4; shift 4
echo "$op" >> "$STATE/calls"
if ! grep -qxF "$t/$c" "$STATE/chains"; then
  [ "$op" = -S ] && { echo "iptables: No chain/target/match by that name." >&2; exit 1; }
  echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1
fi
line="$t/$c $*"
case $op in
  -S) exit 0 ;;
  -C) grep -qxF "$line" "$STATE/rules" && exit 0; echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1 ;;
  -D) n=$(grep -nxF "$line" "$STATE/rules" | head -n 1 | cut -d: -f1); [ -n "$n" ] || { echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1; }; sed -i "\${n}d" "$STATE/rules" ;;
  *) exit 9 ;;
esac
`)
  chmodSync(fake, 0o755)
  const save = join(dir, 'iptables-save')
  beforeEach(() => {
    writeFileSync(join(dir, 'chains'), 'filter/FORWARD\nnat/POSTROUTING\n')
    writeFileSync(join(dir, 'calls'), '')
    rmSync(save, { force: true })
    rmSync(join(dir, 'save-extra-filter'), { force: true })
  })
  const run = (c: Command) => spawnSync('sh', ['-c', renderArgv(c.argv)], { env: { PATH: `${dir}:/usr/bin:/bin`, STATE: dir }, encoding: 'utf8' })
  const rules = (lines: string[]) => writeFileSync(join(dir, 'rules'), lines.map((l) => `${l}\n`).join(''))
  const rule = ['-i', 'tnet1', '-j', 'ACCEPT']

  it('fact: present -> exit 0; missing rule -> exit 1 with the no-match message; missing chain -> exit 3 naming it', () => {
    rules(['filter/FORWARD -i tnet1 -j ACCEPT'])
    const f = iptablesRuleFact('filter', 'FORWARD', rule)
    expect(run(f.command).status).toBe(0)
    const absent = run(iptablesRuleFact('filter', 'FORWARD', ['-o', 'tnet1', '-j', 'ACCEPT']).command)
    expect(absent.status).toBe(1)
    expect(f.parse({ code: 1, stdout: absent.stdout, stderr: absent.stderr })).toBe(false)
    const noChain = run(iptablesRuleFact('filter', 'NOCHAIN', rule).command)
    expect(noChain.status).toBe(3)
    expect(noChain.stderr).toContain('vxlab: cannot list chain NOCHAIN of table filter')
  })
  it('fact: a present rule costs one iptables call (-C); -S only when -C fails', () => {
    rules(['filter/FORWARD -i tnet1 -j ACCEPT'])
    expect(run(iptablesRuleFact('filter', 'FORWARD', rule).command).status).toBe(0)
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toBe('-C\n')
    writeFileSync(join(dir, 'calls'), '')
    expect(run(iptablesRuleFact('filter', 'FORWARD', ['-o', 'tnet1', '-j', 'ACCEPT']).command).status).toBe(1)
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toBe('-C\n-S\n')
  })
  it('grouped read: one shell for every rule, each member split out with the exit code and stderr its own command gives', () => {
    const odd = ['-m', 'comment', '--comment', `it's "a b" $HOME \\ *`, '-j', 'ACCEPT']
    rules(['filter/FORWARD -i tnet1 -j ACCEPT', `nat/POSTROUTING ${odd.join(' ')}`])
    const facts = [
      iptablesRuleFact('filter', 'FORWARD', rule), // present
      iptablesRuleFact('filter', 'FORWARD', ['-o', 'tnet1', '-j', 'ACCEPT']), // absent
      iptablesRuleFact('filter', 'NOCHAIN', rule), // missing chain
      iptablesRuleFact('nat', 'POSTROUTING', odd), // present, arguments the shell must not touch
      iptablesRuleFact('nat', 'POSTROUTING', ['-j', 'ACCEPT']), // absent, after a member with 6 arguments
    ]
    expect(new Set(facts.map((f) => f.group!.key)).size).toBe(1)
    const g = facts[0]!.group!.read(facts.map((f) => f.group!.args))
    const r = run(g.command)
    expect(r.status).toBe(0)
    const split = g.split({ code: 0, stdout: r.stdout, stderr: r.stderr })
    const own = facts.map((f) => run(f.command))
    expect(split.map((o) => o.code)).toEqual([0, 1, 3, 0, 1])
    expect(split.map((o) => o.code)).toEqual(own.map((o) => o.status))
    split.forEach((o, i) => {
      expect(o.stdout).toBe('')
      expect(o.stderr.trim()).toBe(own[i]!.stderr.trim())
    })
    expect(facts[1]!.parse(split[1]!)).toBe(false)
    expect(split[2]!.stderr).toContain('vxlab: cannot list chain NOCHAIN of table filter')
    expect(facts[3]!.parse(split[3]!)).toBe(true)
  })
  it('grouped read: every rule is asked with -C, never looked up in an iptables-save listing (one can be forged)', () => {
    // iptables-save prints some names as they are (recent --name, -i/-o, physdev, IDLETIMER --label), newlines
    // included, so a listing can show a line that is no rule (found by a trial of a listing shortcut, since dropped)
    symlinkSync(fake, save)
    writeFileSync(join(dir, 'save-extra-filter'), '-A VXQ -m recent --name x\n-A FORWARD -o tnet1 -j ACCEPT\ny --rcheck -j RETURN\n')
    rules(['filter/FORWARD -i tnet1 -j ACCEPT', 'nat/POSTROUTING -s 10.0.1.0/24 -j MASQUERADE'])
    const facts = [
      iptablesRuleFact('filter', 'FORWARD', rule),
      iptablesRuleFact('nat', 'POSTROUTING', ['-s', '10.0.1.0/24', '-j', 'MASQUERADE']),
      iptablesRuleFact('filter', 'FORWARD', ['-o', 'tnet1', '-j', 'ACCEPT']), // absent, though the listing shows it
    ]
    const g = facts[0]!.group!.read(facts.map((f) => f.group!.args))
    const r = run(g.command)
    expect(readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter(Boolean)).toEqual(['-C', '-C', '-C', '-S'])
    expect(g.split({ code: 0, stdout: r.stdout, stderr: r.stderr }).map((o) => o.code)).toEqual([0, 0, 1])
  })
  it('delete loop removes every copy and stops at exit 1', () => {
    rules(['filter/FORWARD -i tnet1 -j ACCEPT', 'filter/FORWARD -i other -j ACCEPT', 'filter/FORWARD -i tnet1 -j ACCEPT', 'filter/FORWARD -i tnet1 -j ACCEPT'])
    const r = run(deleteAllCopiesCommand({ table: 'filter', chain: 'FORWARD', rule }))
    expect(r.status).toBe(0)
    expect(readFileSync(join(dir, 'rules'), 'utf8')).toBe('filter/FORWARD -i other -j ACCEPT\n')
    expect(readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter(Boolean)).toEqual(['-C', '-D', '-C', '-D', '-C', '-D', '-C'])
  })
  it('delete loop fails with iptables\' message on another error (never "no more copies")', () => {
    rules([])
    const broken = mkdtempSync(join(tmpdir(), 'vxlab-ipt-broken-'))
    writeFileSync(join(broken, 'iptables'), '#!/bin/sh\necho "Another app is currently holding the xtables lock." >&2\nexit 4\n')
    chmodSync(join(broken, 'iptables'), 0o755)
    const r = spawnSync('sh', ['-c', renderArgv(deleteAllCopiesCommand({ table: 'filter', chain: 'FORWARD', rule }).argv)], {
      env: { PATH: `${broken}:/usr/bin:/bin` }, encoding: 'utf8',
    })
    rmSync(broken, { recursive: true, force: true })
    expect(r.status).toBe(4)
    expect(r.stderr).toContain('holding the xtables lock')
})
})
