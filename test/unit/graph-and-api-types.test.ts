import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { collectApiDocs, renderHtml } from '../../scripts/docs.ts'

/**
 * The type-level tests in test/types/api.ts, seen failing: a copy WITHOUT its `@ts-expect-error` lines is
 * compiled with the project's tsconfig (strict) and must fail with exactly one error on each line that
 * followed a directive, with the expected message. (`npm run typecheck` checks the file with the
 * directives: there, every directive must still meet an error.)
 */

const ROOT = resolve(import.meta.dirname, '..', '..')
const SOURCE = join(ROOT, 'test', 'types', 'api.ts')
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc')

/** The expected error for each marked line, by the start of the line's code. */
const EXPECTED: Array<[code: string, message: RegExp]> = [
  ["key: '5000',", /TS2322: Type 'string' is not assignable to type 'number'/],
  ["vxlanPort({ bridge: 'br1', name: 'vxlan1', key: 5000 })", /TS2741: Property 'remoteIp' is missing .* 'VxlanPortSpec'/],
  ['vni: 5000,', /TS2353: Object literal may only specify known properties, and 'vni' does not exist in type 'VxlanPortSpec'/],
  ["datapathType: 'kernel',", /TS2322: Type '"kernel"' is not assignable to type '"netdev" \| "system"'/],
  ["type: 'vxlan',", /TS2322: Type '"vxlan"' is not assignable to type '"internal" \| "system"'/],
  ["up: 'yes',", /TS2322: Type 'string' is not assignable to type 'boolean'/],
  ["state: 'paused',", /TS2322: Type '"paused"' is not assignable to type '"absent" \| "running" \| "stopped"'/],
  ["mtu: '1500',", /TS2322: Type 'string' is not assignable to type 'number'/],
  ["ensure: 'gone',", /TS2322: Type '"gone"' is not assignable to type '"absent" \| "present"'/],
  ['source: 10,', /TS2322: Type 'number' is not assignable to type 'string'/],
  ['value: true,', /TS2322: Type 'boolean' is not assignable to type 'string \| number'/],
  ["command({ name: 'nothing' })", /TS2345: Argument of type '\{ name: string; \}' is not assignable to parameter of type 'CommandSpec'/],
  ["command({ argv: ['true'], script: 'true' })", /TS2345: Argument of type '\{ argv: string\[\]; script: string; \}' is not assignable to parameter of type 'CommandSpec'/],
  ["command({ argv: ['echo'], args: ['x'] })", /TS2345: Argument of type '\{ argv: string\[\]; args: string\[\]; \}' is not assignable to parameter of type 'CommandSpec'/],
  ["dockerfile: { text: 'FROM scratch\\n', template:", /TS2322: Type 'string' is not assignable to type 'undefined'/],
  ["dockerfile: { text: 'FROM scratch\\n', vars:", /TS2322: Type '\{ base: string; \}' is not assignable to type 'undefined'/],
  ["tasks: () => ['ovs-vsctl add-br br1'],", /TS2322: Type 'string' is not assignable to type 'AnyTask'/],
  ["flags: { count: { type: 'number'", /TS2322: Type '"number"' is not assignable to type '"boolean" \| "string"'/],
  ['const key: string = vxlanPort(', /TS2322: Type 'number' is not assignable to type 'string'/],
  ["void runCli(pb, '--check')", /TS2345: Argument of type 'string' is not assignable to parameter of type 'readonly string\[\]'/],
  ["topo.hosts[0]!.name = 'renamed'", /TS2540: Cannot assign to 'name' because it is a read-only property/],
]

describe('typed API: wrong field types do not compile', () => {
  it('test/types/api.ts without its @ts-expect-error lines fails tsc with the expected message on each marked line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-types-'))
    const marked: Array<{ line: number; code: string }> = []
    const kept: string[] = []
    const lines = readFileSync(SOURCE, 'utf8').split('\n')
    lines.forEach((l, i) => {
      if (l.trim().startsWith('// @ts-expect-error')) marked.push({ line: kept.length + 1, code: (lines[i + 1] ?? '').trim() })
      else kept.push(l.replace(/'\.\.\/\.\.\/lib\//g, `'${ROOT}/lib/`))
    })
    expect(marked.length).toBe(EXPECTED.length)
    writeFileSync(join(dir, 'api.ts'), kept.join('\n'))
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { typeRoots: [join(ROOT, 'node_modules', '@types')] },
      include: [],
      files: ['./api.ts'],
    }))
    const r = await promisify(execFile)(TSC, ['--noEmit', '--pretty', 'false', '-p', join(dir, 'tsconfig.json')], { cwd: dir }).then(
      (ok) => ({ code: 0, out: ok.stdout + ok.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    )
    rmSync(dir, { recursive: true, force: true })
    expect(r.code, r.out).not.toBe(0)
    const errors = [...r.out.matchAll(/^api\.ts\((\d+),\d+\): error (TS\d+: .*)$/gm)].map((m) => ({ line: Number(m[1]), message: m[2]! }))
    // one error per marked line, and none elsewhere (the valid usage compiles)
    expect(errors.map((e) => e.line)).toEqual(marked.map((m) => m.line))
    for (const m of marked) {
      const want = EXPECTED.find(([code]) => m.code.startsWith(code))
      expect(want, `no expected message for marked line ${JSON.stringify(m.code)}`).toBeDefined()
      expect(errors.find((e) => e.line === m.line)!.message).toMatch(want![1])
    }
  })
})

describe('npm run docs: the API reference from the docstrings', () => {
  it('documents every export of lib/index.ts and lib/graph/index.ts with its signature, docstring and members', () => {
    const docs = collectApiDocs()
    const [main, graph] = docs.modules
    const source = readFileSync(join(ROOT, 'lib', 'index.ts'), 'utf8')
    // every name in lib/index.ts's export lists is documented
    const exported = [...source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((m) => m[1]!.split(',').map((x) => x.trim()).filter(Boolean))
    const names = new Set(main!.entries.map((e) => e.name))
    for (const n of exported) expect(names, n).toContain(n)
    const vx = main!.entries.find((e) => e.name === 'vxlanPort')!
    expect(vx).toMatchObject({ kind: 'function', source: 'lib/tasks/ovs.ts', signature: 'function vxlanPort(spec: VxlanPortSpec): Task<VxlanPortSpec, PortCurrent>' })
    expect(vx.doc).toContain('A VXLAN tunnel port')
    const spec = main!.entries.find((e) => e.name === 'VxlanPortSpec')!
    expect(spec.members.find((m) => m.name === 'key')).toMatchObject({ type: 'number', optional: false, doc: expect.stringContaining('0..16777215') })
    expect(spec.members.find((m) => m.name === 'dstPort')).toMatchObject({ optional: true })
    expect(main!.entries.find((e) => e.name === 'validate')!.members.map((m) => m.name)).toContain('ipv4Cidr')
    expect(main!.entries.find((e) => e.name === 'Inventory')!.members.find((m) => m.name === 'load')).toMatchObject({ static: true })
    expect(graph!.entries.find((e) => e.name === 'topologyOf')!.tags.map((t) => t.name)).toEqual(['param', 'param', 'param'])
    const html = renderHtml(docs)
    expect(html).toContain('<pre class="sig"><code>function vxlanPort(spec: VxlanPortSpec): Task&lt;VxlanPortSpec, PortCurrent&gt;</code></pre>')
    expect(html).toContain('Spec of <a href="#lib-index-ts--vxlanPort">vxlanPort</a>.')
  })
})
