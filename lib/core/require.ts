import { createRequire } from 'node:module'

/**
 * `require()` for vxlab's CommonJS dependencies (node-ssh with ssh2, yaml, handlebars, diff), so they load through
 * Node's CommonJS loader and not through `import`.
 *
 * Why: a playbook runs under tsx, which registers ESM loader hooks. On Node 20 the hooks run on a thread of
 * their own, and a CommonJS package reached by `import` sends each of its nested `require()` calls there and
 * waits for the answer: ssh2 and yaml are ~120 files between them, and loading them that way cost ~120 ms more
 * per run than `require` (measured in bench/RESULTS.md, "start-up"). Types still come from the packages
 * (`typeof import('yaml')`), so nothing is lost but the import syntax.
 */
export const requireDependency: NodeJS.Require = createRequire(import.meta.url)
