/**
 * Issue #6: the build-context hash reads file hashes from `openssl dgst -sha256 -r` when the host has it (much
 * faster than coreutils' sha256sum) and must give exactly the hash sha256sum gives, so a host that gains or
 * loses openssl never rebuilds its image for nothing.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CONTEXT_HASH_SCRIPT, contextCacheName } from '../../lib/facts/docker.ts'

const dir = mkdtempSync(join(tmpdir(), 'vxlab-ctxhash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
/** A PATH with the script's tools but no openssl. */
const noOpenssl = join(dir, 'bin')
mkdirSync(noOpenssl)
for (const t of ['find', 'sha256sum', 'sort', 'sed', 'cat']) symlinkSync(execFileSync('sh', ['-c', `command -v ${t}`]).toString().trim(), join(noOpenssl, t))

const hash = (ctx: string, path = process.env.PATH ?? '/usr/bin:/bin'): string =>
  execFileSync('/bin/sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', ctx], { env: { PATH: path } }).toString()
/** The definition: sha256 of the sorted sha256sum lines of every regular file. */
const reference = (ctx: string): string => execFileSync('/bin/sh', ['-c', 'cd "$1" && find . -type f -exec sha256sum -- {} + | LC_ALL=C sort | sha256sum', 'sh', ctx]).toString()

describe('context hash', () => {
  const hasOpenssl = (() => {
    try {
      execFileSync('sh', ['-c', 'command -v openssl'])
      return true
    } catch {
      return false
    }
  })()
  it('is the same with openssl, without it, and by definition, for plain and odd file names', () => {
    const ctx = join(dir, 'ctx')
    mkdirSync(join(ctx, 'sub dir'), { recursive: true })
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\n')
    writeFileSync(join(ctx, 'sub dir', "it's *"), Buffer.alloc(300_000, 7))
    writeFileSync(join(ctx, '-dash'), '')
    expect(hasOpenssl).toBe(true) // the fast path is what this test is about
    const fast = hash(ctx)
    expect(fast).toMatch(/^[0-9a-f]{64} {2}-\n$/)
    expect(hash(ctx, noOpenssl)).toBe(fast)
    expect(reference(ctx)).toBe(fast)
    // names sha256sum escapes (backslash, newline) take the sha256sum path, so they agree too
    writeFileSync(join(ctx, 'back\\slash'), 'x')
    writeFileSync(join(ctx, 'new\nline'), 'y')
    const odd = hash(ctx)
    expect(odd).not.toBe(fast)
    expect(hash(ctx, noOpenssl)).toBe(odd)
    expect(reference(ctx)).toBe(odd)
  })
  it('a missing folder fails (exit 2), never hashes as empty', () => {
    expect(() => hash(join(dir, 'nonexistent'))).toThrow()
  })

  describe('the cache of the hash (/run/vxlab/context-hash; here a folder of the test, given as $3)', () => {
    const cacheDir = join(dir, 'cache', 'context-hash')
    /** A PATH whose openssl logs each run (so a test sees whether the files were hashed) and, with `later`, whose `date` is 10 s ahead (the files look old enough to cache). */
    const bin = join(dir, 'cache-bin')
    const log = join(dir, 'openssl.log')
    mkdirSync(join(bin, 'later'), { recursive: true })
    const real = (t: string): string => execFileSync('sh', ['-c', `command -v ${t}`]).toString().trim()
    writeFileSync(join(bin, 'openssl'), `#!/bin/sh\necho run >>'${log}'\nexec '${real('openssl')}' "$@"\n`)
    chmodSync(join(bin, 'openssl'), 0o755)
    writeFileSync(join(bin, 'later', 'date'), `#!/bin/sh\necho $(( $('${real('date')}' +%s) + 10 ))\n`)
    chmodSync(join(bin, 'later', 'date'), 0o755)
    const runs = (): number => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0)
    const cached = (ctx: string, opts: { later?: boolean; env?: Record<string, string> } = {}): string =>
      execFileSync('/bin/sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, contextCacheName(ctx), cacheDir], {
        env: { PATH: `${opts.later ? join(bin, 'later') + ':' : ''}${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...opts.env },
      }).toString()
    const fresh = (name: string): string => {
      rmSync(join(dir, 'cache'), { recursive: true, force: true })
      rmSync(log, { force: true })
      const ctx = join(dir, name)
      mkdirSync(join(ctx, 'sub'), { recursive: true })
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\n')
      writeFileSync(join(ctx, 'sub', 'data'), Buffer.alloc(200_000, 1))
      return ctx
    }

    it('answers from the cache while no file changes, and hashes again when content changes under the same size and mtime', async () => {
      const ctx = fresh('cache-a')
      const h = cached(ctx, { later: true })
      expect(h).toBe(reference(ctx))
      expect(runs()).toBe(1)
      expect(readdirSync(cacheDir)).toEqual([contextCacheName(ctx)])
      expect(readFileSync(join(cacheDir, contextCacheName(ctx)), 'utf8')).toMatch(new RegExp(`^[0-9a-f]{64} ${h.slice(0, 64)}\\n$`))
      expect(statSync(cacheDir).mode & 0o777).toBe(0o700)
      expect(cached(ctx)).toBe(h)
      expect(runs()).toBe(1) // read from the cache: nothing hashed
      // the same size and mtime, other bytes: only the ctime tells, and it does
      const data = join(ctx, 'sub', 'data')
      const stamp = join(dir, 'stamp')
      execFileSync('touch', ['-r', data, stamp])
      await new Promise((r) => setTimeout(r, 20))
      writeFileSync(data, Buffer.alloc(200_000, 2))
      execFileSync('touch', ['-r', stamp, data]) // the mtime to the nanosecond
      expect(statSync(data, { bigint: true }).mtimeNs).toBe(statSync(stamp, { bigint: true }).mtimeNs)
      const h2 = cached(ctx, { later: true })
      expect(h2).toBe(reference(ctx))
      expect(h2).not.toBe(h)
      expect(runs()).toBe(2)
      // a new file, and a removed one, change the listing too
      writeFileSync(join(ctx, 'new'), '')
      expect(cached(ctx, { later: true })).toBe(reference(ctx))
      expect(runs()).toBe(3)
      rmSync(join(ctx, 'new'))
      expect(cached(ctx)).toBe(h2)
      expect(runs()).toBe(4) // one entry per folder: the one for the listing with 'new' does not answer
    })

    it('stores nothing while a file is younger than 3 s (a second write in the same timestamp tick keeps the ctime)', () => {
      const ctx = fresh('cache-b')
      expect(cached(ctx)).toBe(reference(ctx))
      expect(existsSync(join(cacheDir, contextCacheName(ctx)))).toBe(false)
      expect(cached(ctx)).toBe(reference(ctx))
      expect(runs()).toBe(2)
    })

    it('is not used or written for a name with a backslash or a newline, or without a cache name', () => {
      const ctx = fresh('cache-c')
      writeFileSync(join(ctx, 'back\\slash'), 'x')
      expect(cached(ctx, { later: true })).toBe(reference(ctx))
      expect(existsSync(cacheDir)).toBe(false)
      rmSync(join(ctx, 'back\\slash'))
      writeFileSync(join(ctx, 'new\nline'), 'y')
      expect(cached(ctx, { later: true })).toBe(reference(ctx))
      expect(existsSync(cacheDir)).toBe(false)
      rmSync(join(ctx, 'new\nline'))
      expect(execFileSync('/bin/sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, '', cacheDir], { env: { PATH: `${join(bin, 'later')}:${process.env.PATH}` } }).toString()).toBe(reference(ctx))
      expect(existsSync(cacheDir)).toBe(false)
    })

    it.skipIf(process.getuid?.() !== 0)('another user than root keeps it in $XDG_RUNTIME_DIR/vxlab/context-hash, and has none without it', () => {
      const ctx = fresh('cache-e')
      const runtime = join(dir, 'runtime')
      mkdirSync(runtime, { recursive: true })
      for (const p of [dir, ctx, join(ctx, 'sub'), bin, join(bin, 'later')]) chmodSync(p, 0o755)
      for (const f of ['Dockerfile', 'sub/data']) chmodSync(join(ctx, f), 0o644)
      chownSync(runtime, 65534, 65534)
      const asNobody = (env: Record<string, string>): string =>
        execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, contextCacheName(ctx)], {
          env: { PATH: `${join(bin, 'later')}:${process.env.PATH}`, ...env },
        }).toString()
      expect(asNobody({})).toBe(reference(ctx))
      expect(readdirSync(runtime)).toEqual([])
      expect(asNobody({ XDG_RUNTIME_DIR: runtime })).toBe(reference(ctx))
      const file = join(runtime, 'vxlab', 'context-hash', contextCacheName(ctx))
      expect(statSync(file).uid).toBe(65534)
      expect(readFileSync(file, 'utf8').split(' ')[1]).toBe(`${reference(ctx).slice(0, 64)}\n`)
    })

    it.skipIf(process.getuid?.() !== 0)('ignores a cache file that another user owns (it could say anything)', () => {
      const ctx = fresh('cache-d')
      const h = cached(ctx, { later: true })
      const file = join(cacheDir, contextCacheName(ctx))
      const [sig] = readFileSync(file, 'utf8').split(' ')
      writeFileSync(file, `${sig} ${'0'.repeat(64)}\n`)
      chownSync(file, 65534, 65534)
      expect(cached(ctx)).toBe(h)
      expect(runs()).toBe(2)
    })
  })
})
