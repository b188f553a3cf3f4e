/**
 * `npm run docs [-- --out DIR] [--strict]`: the API reference, generated from the docstrings of the public
 * API (every export of lib/index.ts, and of lib/graph/index.ts, the topology pictures) into
 * `docs/api/index.html` (one self-contained page) and `docs/api/api.json` (the same data, for tools).
 * Exports without a docstring are listed on stderr; `--strict` makes them an error (exit 1).
 *
 * Why not TypeDoc: TypeDoc (0.28, the latest) declares `typescript` 5.0-6.0 as its peer dependency and
 * calls the JavaScript compiler API (`ts.SyntaxKind`, `ts.createProgram`). This project compiles with
 * TypeScript 7, the native compiler, whose package no longer has that API: `npm install typedoc` fails to
 * resolve, and forced in, TypeDoc crashes at import (`Cannot read properties of undefined (reading
 * 'PropertyDeclaration')`). TypeScript 7 ships its own compiler API instead (`typescript/unstable/sync`: the
 * real checker, over a pipe to the compiler process), and this script reads the exports, their types and
 * their docstrings with it. When TypeDoc supports TypeScript 7, it can replace this file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SyntaxKind } from 'typescript/unstable/ast'
import { API, SignatureKind, SymbolFlags, type Checker, type Project, type Symbol as TsSymbol } from 'typescript/unstable/sync'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The entry points documented, in order: file (relative to the repository) and section title. */
export const ENTRY_POINTS: ReadonlyArray<{ file: string; title: string }> = [
  { file: 'lib/index.ts', title: 'vxlab' },
  { file: 'lib/graph/index.ts', title: 'vxlab/graph (topology pictures)' },
]

/** One documented tag (`@param spec ...`, `@returns ...`, `@throws ...`). */
export interface DocTag {
  readonly name: string
  readonly text: string
}

/** A property or method of an interface or class, or a function of a namespace. */
export interface DocMember {
  readonly name: string
  readonly optional: boolean
  /** The member's type (`string`, `(name: string) => InventoryHost`). */
  readonly type: string
  readonly doc: string
  readonly tags: readonly DocTag[]
  readonly static?: boolean
}

/** One export of an entry point. */
export interface DocEntry {
  readonly name: string
  readonly kind: 'function' | 'class' | 'interface' | 'type' | 'const' | 'namespace' | 'enum' | 'other'
  /** Source file of the declaration, relative to the repository. */
  readonly source: string
  /** Declaration as code: `function vxlanPort(spec: VxlanPortSpec): Task<VxlanPortSpec, PortCurrent>`. */
  readonly signature: string
  readonly doc: string
  readonly tags: readonly DocTag[]
  readonly members: readonly DocMember[]
}

/** The whole reference: per entry point, its leading docstring and its exports in export order. */
export interface ApiDocs {
  readonly generatedFrom: readonly string[]
  readonly modules: ReadonlyArray<{ readonly file: string; readonly title: string; readonly doc: string; readonly entries: readonly DocEntry[] }>
}

function kindOf(flags: number): DocEntry['kind'] {
  if (flags & SymbolFlags.Function) return 'function'
  if (flags & SymbolFlags.Class) return 'class'
  if (flags & SymbolFlags.Interface) return 'interface'
  if (flags & SymbolFlags.TypeAlias) return 'type'
  if (flags & SymbolFlags.Enum) return 'enum'
  if (flags & SymbolFlags.ValueModule) return 'namespace'
  if (flags & SymbolFlags.Variable) return 'const'
  return 'other'
}

/** The leading `/** ... *\/` comment of a file, as plain text. */
function fileDoc(path: string): string {
  const m = /^\s*\/\*\*([\s\S]*?)\*\//.exec(readFileSync(path, 'utf8'))
  return m ? m[1]!.split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim() : ''
}

/** Source text of a declaration without its leading comments (for type aliases). */
function declarationText(project: Project, sym: TsSymbol): string | undefined {
  const handle = sym.declarations[0]
  const node = handle?.resolve(project)
  if (!handle || !node) return undefined
  const text = readFileSync(handle.path, 'utf8').slice(node.pos, node.end)
  return text.replace(/^(\s*(\/\*[\s\S]*?\*\/|\/\/[^\n]*))*\s*/, '').trim()
}

function signaturesOf(project: Project, checker: Checker, sym: TsSymbol, name: string): string[] {
  const type = checker.getTypeOfSymbol(sym)
  if (!type) return []
  return checker.getSignaturesOfType(type, SignatureKind.Call).map((sig) => {
    const decl = checker.signatureToSignatureDeclaration(sig, SyntaxKind.FunctionDeclaration)
    const printed = decl ? project.emitter.printNode(decl) : `function (${checker.typeToString(type)})`
    return printed.replace(/^function\s*/, `function ${name}`).replace(/;\s*$/, '')
  })
}

function tagsOf(checker: Checker, sym: TsSymbol): DocTag[] {
  return checker.getJsDocTagsOfSymbol(sym).map((t) => ({ name: t.name, text: t.text ?? '' }))
}

function membersOf(checker: Checker, sym: TsSymbol): DocMember[] {
  const out: DocMember[] = []
  const add = (p: TsSymbol, isStatic: boolean): void => {
    if (p.name.startsWith('__#') || p.name === 'prototype' || p.name.startsWith('#')) return
    const t = checker.getTypeOfSymbol(p)
    out.push({
      name: p.name,
      optional: (p.flags & SymbolFlags.Optional) !== 0,
      type: t ? checker.typeToString(t) : '',
      doc: checker.getDocumentationCommentOfSymbol(p),
      tags: tagsOf(checker, p),
      ...(isStatic ? { static: true } : {}),
    })
  }
  if (sym.flags & SymbolFlags.Class) for (const p of sym.getExports().values()) add(p, true)
  for (const p of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym))) add(p, false)
  return out
}

function entryOf(project: Project, checker: Checker, exported: TsSymbol): DocEntry {
  const sym = exported.flags & SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
  const name = exported.name
  const kind = kindOf(sym.flags)
  const source = sym.declarations[0] ? relative(ROOT, sym.declarations[0].path) : ''
  const type = checker.getTypeOfSymbol(sym)
  let signature = name
  let members: DocMember[] = []
  switch (kind) {
    case 'function':
      signature = signaturesOf(project, checker, sym, name).join('\n')
      break
    case 'interface':
      signature = `interface ${name}`
      members = membersOf(checker, sym)
      break
    case 'class':
      signature = `class ${name}`
      members = membersOf(checker, sym)
      break
    case 'type':
      signature = declarationText(project, sym) ?? `type ${name}`
      break
    case 'const':
      signature = `const ${name}: ${type ? checker.typeToString(type) : 'unknown'}`
      break
    case 'namespace':
      signature = `namespace ${name}`
      members = checker.getExportsOfModule(sym).map((f) => ({
        name: f.name,
        optional: false,
        type: signaturesOf(project, checker, f, f.name).join('\n') || checker.typeToString(checker.getTypeOfSymbol(f)!),
        doc: checker.getDocumentationCommentOfSymbol(f),
        tags: tagsOf(checker, f),
      }))
      break
    default:
      break
  }
  return { name, kind, source, signature, doc: checker.getDocumentationCommentOfSymbol(sym), tags: tagsOf(checker, sym), members }
}

/** Read the public API's exports and docstrings with the TypeScript 7 API. */
export function collectApiDocs(tsconfig = join(ROOT, 'tsconfig.json')): ApiDocs {
  const api = new API({ cwd: ROOT })
  try {
    const snapshot = api.updateSnapshot({ openProjects: [tsconfig] })
    const project = snapshot.getProject(tsconfig) ?? snapshot.getProjects()[0]
    if (!project) throw new Error(`no TypeScript project for ${tsconfig}`)
    const checker = project.checker
    const modules = ENTRY_POINTS.map(({ file, title }) => {
      const path = join(ROOT, file)
      const sf = project.program.getSourceFile(path)
      if (!sf) throw new Error(`${file} is not part of the project ${tsconfig}`)
      const mod = checker.getSymbolAtLocation(sf)
      if (!mod) throw new Error(`${file} has no exports`)
      return { file, title, doc: fileDoc(path), entries: checker.getExportsOfModule(mod).map((e) => entryOf(project, checker, e)) }
    })
    return { generatedFrom: ENTRY_POINTS.map((e) => e.file), modules }
  } finally {
    api.close()
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// HTML

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const anchor = (module: string, name: string): string => `${module.replace(/[^A-Za-z0-9]+/g, '-')}--${name}`

/**
 * Docstring text to HTML: paragraphs, `- ` / `1. ` lists, ``` fences, `code` spans and `{@link Name}`
 * (linked when Name is documented on the page).
 */
function docHtml(text: string, links: ReadonlyMap<string, string>): string {
  // names with an inner capital (vxlanPort, ValidationError) that are documented here become links; the
  // checker renders {@link X} as plain X, and plain words (playbook, probe) are too common to link
  const autolink = (s: string): string => s.replace(/\b([A-Za-z_]\w*[A-Z]\w*)\b/g, (w: string) => {
    const href = links.get(w)
    return href ? `<a href="#${href}">${w}</a>` : w
  })
  const inline = (s: string): string => esc(s)
    .replace(/\{@link\s+([\w.]+)(?:\s*\|?\s*([^}]*))?\}/g, (_m, target: string, label: string | undefined) => `\`${label && label.trim() ? label.trim() : target}\``)
    .split(/(`[^`]+`)/)
    .map((part) => {
      if (!part.startsWith('`') || part.length < 2) return autolink(part)
      const code = part.slice(1, -1)
      const href = links.get(code)
      return href ? `<a href="#${href}"><code>${code}</code></a>` : `<code>${code}</code>`
    })
    .join('')
  const out: string[] = []
  const lines = text.split('\n')
  let para: string[] = []
  let list: { tag: 'ul' | 'ol'; items: string[] } | undefined
  const flush = (): void => {
    if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`)
    para = []
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join('')}</${list.tag}>`)
    list = undefined
  }
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!
    if (l.trim().startsWith('```')) {
      flush()
      const code: string[] = []
      for (i++; i < lines.length && !lines[i]!.trim().startsWith('```'); i++) code.push(lines[i]!)
      out.push(`<pre><code>${esc(code.join('\n'))}</code></pre>`)
      continue
    }
    const item = /^\s*(-|\d+\.)\s+(.*)$/.exec(l)
    if (item) {
      const tag = item[1] === '-' ? 'ul' : 'ol'
      if (para.length || (list && list.tag !== tag)) flush()
      list ??= { tag, items: [] }
      list.items.push(item[2]!)
    } else if (l.trim() === '') {
      flush()
    } else if (list && /^\s+/.test(l)) {
      list.items[list.items.length - 1] += ` ${l.trim()}`
    } else {
      if (list) flush()
      para.push(l.trim())
    }
  }
  flush()
  return out.join('\n')
}

function tagsHtml(tags: readonly DocTag[], links: ReadonlyMap<string, string>): string {
  if (tags.length === 0) return ''
  return `<dl class="tags">${tags.map((t) => `<dt>@${esc(t.name)}</dt><dd>${docHtml(t.text, links)}</dd>`).join('')}</dl>`
}

/** The reference as one self-contained HTML page. */
export function renderHtml(docs: ApiDocs): string {
  const links = new Map<string, string>()
  for (const m of docs.modules) for (const e of m.entries) if (!links.has(e.name)) links.set(e.name, anchor(m.file, e.name))
  const toc = docs.modules.map((m) => {
    const bySource = new Map<string, DocEntry[]>()
    for (const e of m.entries) bySource.set(e.source, [...(bySource.get(e.source) ?? []), e])
    return `<h2><a href="#${anchor(m.file, '')}">${esc(m.title)}</a></h2>${[...bySource].map(([src, list]) => `<h3>${esc(src)}</h3><ul>${list.map((e) => `<li><a href="#${anchor(m.file, e.name)}">${esc(e.name)}</a> <span class="k">${e.kind}</span></li>`).join('')}</ul>`).join('')}`
  }).join('')
  const body = docs.modules.map((m) => [
    `<section><h1 id="${anchor(m.file, '')}">${esc(m.title)} <small>${esc(m.file)}</small></h1>${docHtml(m.doc, links)}`,
    ...m.entries.map((e) => [
      `<article id="${anchor(m.file, e.name)}"><h2>${esc(e.name)} <span class="k">${e.kind}</span> <small>${esc(e.source)}</small></h2>`,
      `<pre class="sig"><code>${esc(e.signature)}</code></pre>`,
      e.doc ? docHtml(e.doc, links) : '<p class="missing">(no docstring)</p>',
      tagsHtml(e.tags, links),
      e.members.length > 0
        ? `<table><thead><tr><th>${e.kind === 'namespace' ? 'function' : 'member'}</th><th>type</th><th>description</th></tr></thead><tbody>${e.members.map((x) => `<tr><td><code>${x.static ? 'static ' : ''}${esc(x.name)}${x.optional ? '?' : ''}</code></td><td><code>${esc(x.type)}</code></td><td>${docHtml(x.doc, links)}${tagsHtml(x.tags, links)}</td></tr>`).join('')}</tbody></table>`
        : '',
      '</article>',
    ].join('\n')),
    '</section>',
  ].join('\n')).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vxlab API reference</title>
<style>
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;display:flex}
nav{width:300px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;padding:12px 16px;box-sizing:border-box;background:#f6f7f9;border-right:1px solid #ddd;font-size:13px}
nav h2{font-size:15px;margin:12px 0 4px}nav h3{font-size:12px;color:#666;margin:10px 0 2px;font-weight:normal}nav ul{list-style:none;margin:0;padding:0}
main{flex:1;min-width:0;padding:16px 32px;max-width:1000px}
a{color:#1f5fa8;text-decoration:none}a:hover{text-decoration:underline}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f3f4f6;padding:8px 10px;border-radius:4px;overflow:auto}pre.sig{background:#eef3fc}
article{border-top:1px solid #e3e3e3;padding-top:4px;margin-top:20px}h1 small,h2 small{font-weight:normal;color:#888;font-size:12px}
.k{font-size:11px;color:#fff;background:#6b7a90;border-radius:3px;padding:1px 5px;font-weight:normal;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #eee;text-align:left;vertical-align:top;padding:4px 6px}td p{margin:0 0 4px}
dl.tags dt{font-weight:bold;font-size:13px}dl.tags dd{margin:0 0 6px 16px}.missing{color:#a00}
</style></head>
<body><nav><strong>vxlab API</strong><p>Generated by <code>npm run docs</code> from the docstrings of ${docs.generatedFrom.map((f) => `<code>${esc(f)}</code>`).join(' and ')}.</p>${toc}</nav>
<main>${body}</main></body></html>
`
}

// ---------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'docs', 'api') }, strict: { type: 'boolean' } }, strict: true })
  const out = resolve(values.out ?? join(ROOT, 'docs', 'api'))
  const t0 = Date.now()
  const docs = collectApiDocs()
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'index.html'), renderHtml(docs))
  writeFileSync(join(out, 'api.json'), `${JSON.stringify(docs, null, 2)}\n`)
  const entries = docs.modules.flatMap((m) => m.entries)
  const missing = entries.filter((e) => e.doc.trim() === '' && e.kind !== 'namespace')
  for (const e of missing) process.stderr.write(`docs: ${e.source}: ${e.name} (${e.kind}) has no docstring\n`)
  process.stdout.write(`docs: ${entries.length} exports documented in ${relative(process.cwd(), join(out, 'index.html')) || 'index.html'} (and api.json) in ${Date.now() - t0} ms${missing.length ? `; ${missing.length} without a docstring` : ''}\n`)
  if (values.strict === true && missing.length > 0) process.exitCode = 1
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
