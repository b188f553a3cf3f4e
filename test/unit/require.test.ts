/**
 * requireDependency (lib/core/require.ts): vxlab's CommonJS dependencies load with Node's plain `.js` compile
 * (not tsx's, which scans each file for ES module syntax first), and whatever `.js` loader was in place before
 * is back afterwards, also after a failed require.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import Module from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { requireDependency, resolveDependency } from '../../lib/core/require.ts'

type JsLoader = (module: unknown, filename: string) => void
const extensions = (Module as unknown as { _extensions: Record<string, JsLoader> })._extensions

describe('requireDependency', () => {
  it('loads every CommonJS dependency vxlab requires, with the exports it uses', () => {
    expect(typeof (requireDependency('node-ssh') as { NodeSSH: unknown }).NodeSSH).toBe('function')
    expect(typeof (requireDependency('yaml') as { parseDocument: unknown }).parseDocument).toBe('function')
    expect(typeof (requireDependency('handlebars/dist/handlebars.min.js') as { compile: unknown }).compile).toBe('function')
    expect(typeof (requireDependency('diff') as { createTwoFilesPatch: unknown }).createTwoFilesPatch).toBe('function')
    expect(resolveDependency('node-ssh')).toMatch(/node_modules\/node-ssh\//)
  })

  it('compiles the files it loads without the `.js` loader in place, and puts that loader back (also after a failure)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxlab-require-'))
    writeFileSync(join(dir, 'a.js'), "module.exports = { b: require('./b.js'), name: 'a' }\n")
    writeFileSync(join(dir, 'b.js'), "module.exports = 'b'\n")
    const seen: string[] = []
    const before = extensions['.js']!
    const spy: JsLoader = (module, filename) => {
      seen.push(filename)
      before(module, filename)
    }
    extensions['.js'] = spy
    try {
      expect(requireDependency(join(dir, 'a.js'))).toEqual({ b: 'b', name: 'a' })
      expect(seen).toEqual([])
      expect(extensions['.js']).toBe(spy)
      expect(() => requireDependency(join(dir, 'missing.js'))).toThrow(/Cannot find module/)
      expect(extensions['.js']).toBe(spy)
      writeFileSync(join(dir, 'c.js'), "module.exports = 'c'\n")
      // an ordinary require goes through the loader in place
      expect(Module.createRequire(import.meta.url)(join(dir, 'c.js'))).toBe('c')
      expect(seen).toEqual([join(dir, 'c.js')])
    } finally {
      extensions['.js'] = before
    }
  })
})
