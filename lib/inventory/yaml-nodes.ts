import type { Alias, Document, Node, Pair } from 'yaml'
import { requireDependency } from '../core/require.ts'

const { isAlias, isMap, isScalar, isSeq, visit } = requireDependency('yaml') as typeof import('yaml')

/**
 * Nodes an inventory's aliases may add while it is read: each time an alias is followed, the nodes of what it
 * refers to (not counting the aliases inside). Nodes written out in the file cost nothing. 1200 hosts that each
 * merge a mapping of 10 variables add ~25000; a document whose aliases expand without end (a "billion laughs")
 * reaches the limit in well under a second.
 */
export const MAX_EXPANSION = 1_000_000

/** One key of a mapping: its name (the key as text) and the pair's key and value nodes. */
export interface Entry {
  readonly name: string
  readonly key: unknown
  readonly value: unknown
}

/** Reports a problem at a node: `fail(node, 'all.hosts.h1', 'expected ...')`; never returns. */
export type NodeFail = (node: Node | null | undefined, path: string, msg: string) => never

/**
 * The YAML of an inventory read as Ansible (PyYAML) reads it: anchors and aliases (`&x`, `*x`, in keys too), and
 * merge keys (`<<: *common`, `<<: [*a, *b]`; the YAML 1.1 merge-key type, https://yaml.org/type/merge.html: the
 * mapping's own keys win, then the merged mappings in the order given). Aliases are resolved in one pass over the
 * document (yaml's `Alias.resolve` walks the document for every alias, which made a large inventory quadratic).
 * Errors, through `fail`: an alias without an anchor before it, a value that contains itself (named at the alias that
 * lies inside what it refers to: the path where that alias is read), a key that is not a scalar, a key twice in one
 * mapping (checked here with a set: yaml's own `uniqueKeys` check is quadratic), a merge of something that is not a
 * mapping, two merge keys in one mapping, a merge cycle, and more than {@link MAX_EXPANSION} steps of expansion.
 */
export class YamlNodes {
  readonly #doc: Document
  readonly #fail: NodeFail
  /** Each alias's node, found in one pass over the document the first time an alias is followed. */
  #targets: Map<Alias, Node | undefined> | undefined
  /**
   * Aliases that lie inside the node they refer to (found in the same pass). A value that contains itself always has
   * one: an alias can only refer to a node anchored before it, so a chain of aliases that never points into an
   * enclosing node only ever points back in the document and cannot close a loop.
   */
  readonly #recursive = new Set<unknown>()
  #spent = 0

  readonly #max: number

  /** `maxExpansion`: the budget of nodes that aliases may add (default {@link MAX_EXPANSION}). */
  constructor(doc: Document, fail: NodeFail, maxExpansion = MAX_EXPANSION) {
    this.#doc = doc
    this.#fail = fail
    this.#max = maxExpansion
  }

  #targetsOf(): Map<Alias, Node | undefined> {
    if (this.#targets !== undefined) return this.#targets
    // an alias refers to the last node anchored with its name before it, in document order (YAML 1.2, 7.1);
    // visit() calls a node before its children, so `&x [1, *x]` refers to itself, as YAML says
    const targets = new Map<Alias, Node | undefined>()
    const anchors = new Map<string, Node>()
    visit(this.#doc, {
      Node: (_key, node, path) => {
        if (isAlias(node)) {
          const target = anchors.get(node.source)
          targets.set(node, target)
          if (target !== undefined && path.includes(target)) this.#recursive.add(node)
        } else if (node.anchor !== undefined) anchors.set(node.anchor, node)
      },
    })
    this.#targets = targets
    return targets
  }

  /** Nodes of each anchored subtree, not following the aliases in it (what one use of the alias adds). */
  readonly #sizes = new WeakMap<object, number>()

  #sizeOf(node: Node): number {
    const known = this.#sizes.get(node)
    if (known !== undefined) return known
    let n = 0
    visit(node, { Node: () => void n++ })
    this.#sizes.set(node, n)
    return n
  }

  /** Charges what following an alias to `target` adds to the document; nothing else is charged. */
  #spend(target: Node, alias: Node, path: string): void {
    this.#spent += this.#sizeOf(target)
    if (this.#spent > this.#max) this.#fail(alias, path, `expands to more than ${this.#max} nodes through its aliases (an alias bomb?)`)
  }

  /**
   * The node itself, or what an alias refers to. An alias inside what it refers to (a value that contains itself) is
   * an error at the alias, with `path`: the path where the alias is read.
   */
  deref(node: unknown, path: string): unknown {
    return this.#deref(node, path, false)
  }

  /** `loopOk`: an alias inside its own target is returned (a merge key's source: #entriesOf names that cycle itself). */
  #deref(node: unknown, path: string, loopOk: boolean): unknown {
    if (!isAlias(node)) return node
    const target = this.#targetsOf().get(node)
    if (target === undefined) return this.#fail(node, path, `alias *${node.source} has no anchor before it`)
    if (!loopOk && this.#recursive.has(node)) return this.#fail(node, path, RECURSIVE)
    this.#spend(target, node, path)
    return target
  }

  /** A key as a name: a scalar, or an alias of one; a mapping or a list as a key is an error. */
  keyOf(key: unknown, path: string): string {
    const k = this.deref(key, path)
    if (!isScalar(k)) return this.#fail(key as Node, path, 'a key must be a name (a scalar), not a mapping or a list')
    if (k.value === null || k.value === undefined) return this.#fail(key as Node, path, 'a key must be a name, not empty (null)')
    return String(k.value)
  }

  /**
   * The entries of a mapping (each key's name with the pair's key and value nodes), with its merge keys expanded in
   * PyYAML's order (what Ansible reads): the merged mappings' keys first, in the order merged (the first mapping to
   * give a key wins), then the mapping's own keys; an own key that a merged mapping also has keeps the merged key's
   * place and takes its own value.
   */
  entriesOf(map: unknown, path: string): Entry[] {
    return this.#entriesOf(map, path, new Set())
  }

  /** `merging`: the mappings whose merge keys led here (a stack, as in #toValue). */
  #entriesOf(map: unknown, path: string, merging: Set<unknown>): Entry[] {
    const mine = new Map<string, Entry>()
    let m: Pair | undefined
    for (const p of (map as { items: Pair[] }).items) {
      if (isMergeKey(p.key)) {
        if (m !== undefined) this.#fail(p.key as Node, `${path}.<<`, 'more than one merge key (<<) in a mapping: give one, with a list: <<: [*a, *b]')
        m = p
        continue
      }
      const name = this.keyOf(p.key, path)
      if (mine.has(name)) this.#fail(p.key as Node, `${path}.${name}`, `duplicate key "${name}" (YAML mapping keys must be unique)`)
      mine.set(name, { name, key: p.key, value: p.value })
    }
    if (m === undefined) return [...mine.values()]
    const out: Entry[] = []
    const seen = new Set<string>()
    const v = this.#deref(m.value, `${path}.<<`, true)
    const sources: Array<[unknown, unknown]> = isSeq(v) ? v.items.map((x) => [x, this.#deref(x, `${path}.<<`, true)]) : [[m.value, v]]
    for (const [ref, src] of sources) {
      if (!isMap(src)) this.#fail((src ?? m.key) as Node, `${path}.<<`, 'a merge key (<<) takes a mapping or a list of mappings')
      if (src === map || merging.has(src)) this.#fail(m.key as Node, `${path}.<<`, 'a merge key (<<) refers to a mapping that merges it (a cycle)')
      for (const r of [m.value, ref]) {
        if (this.#recursive.has(r)) this.#fail(r as Node, `${path}.<<`, 'a merge key (<<) refers to a value that contains it (a cycle)')
      }
      merging.add(map)
      const merged = this.#entriesOf(src, path, merging)
      merging.delete(map)
      for (const e of merged) {
        if (!seen.has(e.name)) {
          seen.add(e.name)
          out.push(mine.get(e.name) ?? e)
        }
      }
    }
    for (const [name, e] of mine) if (!seen.has(name)) out.push(e)
    return out
  }

  /**
   * A value as plain data: scalars as the YAML 1.2 core schema types them, mappings as objects (merge keys
   * expanded; every key an own property, `__proto__` too), lists as arrays, aliases followed.
   */
  toValue(node: unknown, path: string): unknown {
    return this.#toValue(node, path, new Set())
  }

  /** `within`: the values being converted around this one (a stack: added on the way in, removed on the way out). */
  #toValue(node: unknown, path: string, within: Set<unknown>): unknown {
    const n = this.deref(node, path)
    // deref refuses every alias inside its own target already: this is a second guard
    if (within.has(n)) this.#fail(node as Node, path, RECURSIVE)
    if (n === null || n === undefined) return null
    if (isScalar(n)) return n.value
    within.add(n)
    try {
      if (isSeq(n)) return n.items.map((x, i) => this.#toValue(x, `${path}[${i}]`, within))
      if (isMap(n)) {
        const o: Record<string, unknown> = {}
        for (const e of this.entriesOf(n, path)) {
          Object.defineProperty(o, e.name, { value: this.#toValue(e.value, `${path}.${e.name}`, within), enumerable: true, writable: true, configurable: true })
        }
        return o
      }
      return this.#fail(node as Node, path, `unsupported YAML type${(n as { tag?: string }).tag !== undefined ? ` ${(n as { tag?: string }).tag}` : ''} (vxlab reads mappings, lists and scalars)`)
    } finally {
      within.delete(n)
    }
  }
}

const RECURSIVE = 'an alias refers to a value that contains it (a recursive value)'

/** A plain `<<` key: a YAML merge key, which yaml (with `merge: true`) reads as a symbol; `'<<'` or `!!str <<` is an ordinary key. */
export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<'
}
