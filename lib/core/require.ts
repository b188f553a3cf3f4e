import { readFileSync } from 'node:fs'
import Module, { createRequire } from 'node:module'

const load: NodeJS.Require = createRequire(import.meta.url)

/** The part of a CommonJS module object that compiles its source (Node's `Module.prototype._compile`). */
interface CompilingModule {
  _compile(source: string, filename: string): unknown
}

/** Node's CommonJS loaders by file extension (`require.extensions`, deprecated but kept by every Node release). */
const extensions = (Module as unknown as { _extensions?: Record<string, (module: CompilingModule, filename: string) => void> })._extensions

/** A `.js` file of a CommonJS package: read and compiled as Node's own loader does. */
function plainCommonJs(module: CompilingModule, filename: string): void {
  module._compile(readFileSync(filename, 'utf8'), filename)
}

/**
 * `require()` for vxlab's CommonJS dependencies (node-ssh with ssh2, yaml, handlebars, diff), so they load through
 * Node's CommonJS loader and not through `import`.
 *
 * Why: a playbook runs under tsx, which registers ESM loader hooks. On Node 20 the hooks run on a thread of
 * their own, and a CommonJS package reached by `import` sends each of its nested `require()` calls there and
 * waits for the answer: ssh2 and yaml are ~120 files between them, and loading them that way cost ~120 ms more
 * per run than `require` (measured in bench/RESULTS.md, "start-up"). Types still come from the packages
 * (`typeof import('yaml')`), so nothing is lost but the import syntax.
 *
 * While it loads, `.js` files are compiled as Node's own CommonJS loader compiles them: tsx's `.js` loader
 * scans every file for `import`/`export` first (to compile ES modules for `require`), ~0.5 ms per file, ~40 ms
 * for yaml's 73 files and ~30 ms for ssh2 and its helpers on every run (bench/RESULTS.md, eighth pass). These
 * packages are CommonJS throughout (test/unit/require.test.ts loads each one so).
 */
export function requireDependency(id: string): unknown {
  const tsxJs = extensions?.['.js']
  if (extensions === undefined || tsxJs === undefined) return load(id)
  extensions['.js'] = plainCommonJs
  try {
    return load(id)
  } finally {
    extensions['.js'] = tsxJs
  }
}

/** Where {@link requireDependency} finds `id` (`require.resolve`). */
export function resolveDependency(id: string): string {
  return load.resolve(id)
}
