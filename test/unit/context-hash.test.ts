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
    // names sha256sum escapes (backslash, newline, carriage return), in a file's or a folder's name, take the
    // sha256sum path, so they agree too
    writeFileSync(join(ctx, 'back\\slash'), 'x')
    writeFileSync(join(ctx, 'new\nline'), 'y')
    writeFileSync(join(ctx, 'carriage\rreturn'), 'z')
    mkdirSync(join(ctx, 'dir\nname'))
    writeFileSync(join(ctx, 'dir\nname', 'file'), 'w')
    const odd = hash(ctx)
    expect(odd).not.toBe(fast)
    expect(hash(ctx, noOpenssl)).toBe(odd)
    expect(reference(ctx)).toBe(odd)
  })
  it('a folder with no regular file hashes nothing, as the definition does', () => {
    const empty = join(dir, 'empty')
    mkdirSync(join(empty, 'sub'), { recursive: true })
    expect(hash(empty)).toBe(reference(empty))
    expect(hash(empty, noOpenssl)).toBe(reference(empty))
  })
  it('a missing folder fails (exit 2), never hashes as empty', () => {
    expect(() => hash(join(dir, 'nonexistent'))).toThrow()
  })

  describe('the cache of the hash (/run/vxlab-cache/context-hash; here a folder of the test, given as $3)', () => {
    // the cache is kept only for folders on a local file system with the kernel's ctime (not tmpfs, which /tmp
    // may be): the folders of these tests are made beside the project's dependencies
    const base = join(process.cwd(), 'node_modules', '.cache')
    mkdirSync(base, { recursive: true })
    const cdir = mkdtempSync(join(base, 'vxlab-ctxcache-'))
    afterAll(() => rmSync(cdir, { recursive: true, force: true }))
    const fsType = execFileSync('find', [cdir, '-maxdepth', '0', '-printf', '%F']).toString()
    if (!/^(ext2|ext3|ext4|ext2\/ext3|xfs|btrfs|zfs)$/.test(fsType)) throw new Error(`these tests need ${base} on ext4, xfs, btrfs or zfs, not ${fsType}`)
    const cacheDir = join(cdir, 'cache', 'context-hash')
    /**
     * A PATH whose openssl logs each run (so a test sees whether the files were hashed) and, with `later`, whose
     * `date` is 100 s ahead (the files look old enough to cache) and runs the hook file `$cdir/on-date` if any
     * (`date` runs once, between the listing and the hashing); `sort` (after the hashing) runs `$cdir/on-sort`.
     */
    const bin = join(cdir, 'bin')
    const log = join(cdir, 'openssl.log')
    mkdirSync(join(bin, 'later'), { recursive: true })
    const real = (t: string): string => execFileSync('sh', ['-c', `command -v ${t}`]).toString().trim()
    const tool = (path: string, body: string): void => {
      writeFileSync(path, `#!/bin/sh\n${body}\n`)
      chmodSync(path, 0o755)
    }
    tool(join(bin, 'openssl'), `echo run >>'${log}'\nexec '${real('openssl')}' "$@"`)
    tool(join(bin, 'sort'), `[ ! -f '${cdir}/on-sort' ] || sh '${cdir}/on-sort'\nexec '${real('sort')}' "$@"`)
    tool(join(bin, 'later', 'date'), `[ ! -f '${cdir}/on-date' ] || sh '${cdir}/on-date'\necho $(( $('${real('date')}' +%s) + 100 ))`)
    const runs = (): number => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0)
    const cached = (ctx: string, opts: { later?: boolean } = {}): string =>
      execFileSync('/bin/sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, contextCacheName(ctx), cacheDir], {
        env: { PATH: `${opts.later ? join(bin, 'later') + ':' : ''}${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      }).toString()
    const stored = (ctx: string): boolean => existsSync(join(cacheDir, contextCacheName(ctx)))
    const fresh = (name: string, where = cdir): string => {
      rmSync(join(cdir, 'cache'), { recursive: true, force: true })
      for (const f of [log, join(cdir, 'on-date'), join(cdir, 'on-sort')]) rmSync(f, { force: true })
      const ctx = join(where, name)
      mkdirSync(join(ctx, 'sub'), { recursive: true })
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\n')
      writeFileSync(join(ctx, 'sub', 'data'), Buffer.alloc(200_000, 1))
      return ctx
    }

    it('answers from the cache while nothing changes, and hashes again when content changes under the same size and mtime', async () => {
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
      const stamp = join(cdir, 'stamp')
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

    it('stores nothing while an entry changed within 60 s (a second write in the same tick, or through a shared mmap, could keep its ctime)', () => {
      const ctx = fresh('cache-b')
      expect(cached(ctx)).toBe(reference(ctx))
      expect(stored(ctx)).toBe(false)
      expect(cached(ctx)).toBe(reference(ctx))
      expect(runs()).toBe(2)
    })

    it('stores nothing when the folder changed while it was hashed: a file that came and went leaves its folder\'s ctime changed', () => {
      const ctx = fresh('cache-f')
      // a file appears after the listing and before the hashing (an editor's swap file) and goes after it
      writeFileSync(join(cdir, 'on-date'), `echo swap >'${ctx}/sub/.swp'`)
      writeFileSync(join(cdir, 'on-sort'), `rm -f '${ctx}/sub/.swp'`)
      const during = cached(ctx, { later: true })
      expect(existsSync(join(ctx, 'sub', '.swp'))).toBe(false)
      expect(during).not.toBe(reference(ctx)) // the hash of that moment, with the swap file
      expect(stored(ctx)).toBe(false)
      rmSync(join(cdir, 'on-date'))
      rmSync(join(cdir, 'on-sort'))
      expect(cached(ctx)).toBe(reference(ctx))
      // a folder moved out during the hashing and back after it: its files keep their ctime, its parent does not
      writeFileSync(join(cdir, 'on-sort'), `mv '${ctx}/sub' '${cdir}/sub-away' && mv '${cdir}/sub-away' '${ctx}/sub'`)
      expect(cached(ctx, { later: true })).toBe(reference(ctx))
      expect(stored(ctx)).toBe(false)
    })

    it.skipIf(process.getuid?.() !== 0)('stores nothing when a mount came and went while the folder was hashed (mounting changes no time)', () => {
      const ctx = fresh('cache-h')
      const other = join(cdir, 'other')
      mkdirSync(other, { recursive: true })
      writeFileSync(join(other, 'data'), 'FAKE')
      writeFileSync(join(cdir, 'on-date'), `mount --bind '${other}' '${ctx}/sub'`)
      writeFileSync(join(cdir, 'on-sort'), `umount '${ctx}/sub'`)
      const env = { PATH: `${join(bin, 'later')}:${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }
      const inOwnMounts = (): string => execFileSync('unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, contextCacheName(ctx), cacheDir], { env }).toString()
      expect(inOwnMounts()).not.toBe(reference(ctx)) // the hash of that moment, with the mount
      expect(stored(ctx)).toBe(false)
      rmSync(join(cdir, 'on-date'))
      rmSync(join(cdir, 'on-sort'))
      expect(cached(ctx)).toBe(reference(ctx))
    })

    it('is kept only on a local file system with the kernel\'s ctime: not on tmpfs', () => {
      const shm = '/dev/shm'
      expect(execFileSync('find', [shm, '-maxdepth', '0', '-printf', '%F']).toString()).toBe('tmpfs')
      const where = mkdtempSync(join(shm, 'vxlab-ctxcache-'))
      try {
        const ctx = fresh('cache-g', where)
        expect(cached(ctx, { later: true })).toBe(reference(ctx))
        expect(stored(ctx)).toBe(false)
      } finally {
        rmSync(where, { recursive: true, force: true })
      }
    })

    it('is not used or written for a path with a backslash or a newline, a folder\'s included, or without a cache name', () => {
      const ctx = fresh('cache-c')
      for (const odd of ['back\\slash', 'new\nline', 'dir\nname/file', 'dir\\name/file']) {
        mkdirSync(join(ctx, odd, '..'), { recursive: true })
        writeFileSync(join(ctx, odd), 'x')
        expect(cached(ctx, { later: true })).toBe(reference(ctx))
        expect(existsSync(cacheDir)).toBe(false)
        rmSync(join(ctx, odd.includes('/') ? odd.split('/')[0]! : odd), { recursive: true })
      }
      expect(execFileSync('/bin/sh', ['-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, '', cacheDir], { env: { PATH: `${join(bin, 'later')}:${process.env.PATH}` } }).toString()).toBe(reference(ctx))
      expect(existsSync(cacheDir)).toBe(false)
    })

    const root = process.getuid?.() === 0
    it.skipIf(!root)('ignores a cache file that another user owns (it could say anything)', () => {
      const ctx = fresh('cache-d')
      const h = cached(ctx, { later: true })
      const file = join(cacheDir, contextCacheName(ctx))
      const [sig] = readFileSync(file, 'utf8').split(' ')
      writeFileSync(file, `${sig} ${'0'.repeat(64)}\n`)
      chownSync(file, 65534, 65534)
      expect(cached(ctx)).toBe(h)
      expect(runs()).toBe(2)
    })

    it.skipIf(!root)('another user than root: $XDG_RUNTIME_DIR/vxlab-cache/context-hash if that folder is theirs, else none; a file they can no longer read fails the read', () => {
      const ctx = fresh('cache-e')
      const runtime = join(cdir, 'runtime')
      mkdirSync(runtime, { recursive: true })
      for (const p of [cdir, ctx, join(ctx, 'sub'), bin, join(bin, 'later')]) chmodSync(p, 0o755)
      chmodSync(join(ctx, 'Dockerfile'), 0o644)
      // data: readable by group 4242 only, of which nobody is a member in the first runs
      chownSync(join(ctx, 'sub', 'data'), 0, 4242)
      chmodSync(join(ctx, 'sub', 'data'), 0o640)
      const asNobody = (env: Record<string, string>, groups: string): Buffer =>
        execFileSync('setpriv', ['--reuid=65534', '--regid=65534', ...(groups ? [`--groups=${groups}`] : ['--clear-groups']), '/bin/sh', '-c', CONTEXT_HASH_SCRIPT, 'sh', ctx, contextCacheName(ctx)], {
          env: { PATH: `${join(bin, 'later')}:${process.env.PATH}`, ...env }, stdio: 'pipe',
        })
      expect(asNobody({}, '4242').toString()).toBe(reference(ctx))
      // a folder anyone may write in (as /tmp): neither it, nor a folder it lacks, is a runtime folder of nobody's
      const pub = join(cdir, 'pub')
      mkdirSync(pub)
      chmodSync(pub, 0o1777)
      expect(asNobody({ XDG_RUNTIME_DIR: join(pub, 'nonexistent') }, '4242').toString()).toBe(reference(ctx))
      expect(asNobody({ XDG_RUNTIME_DIR: pub }, '4242').toString()).toBe(reference(ctx))
      expect(readdirSync(pub)).toEqual([])
      chownSync(runtime, 65534, 65534)
      expect(asNobody({ XDG_RUNTIME_DIR: runtime }, '4242').toString()).toBe(reference(ctx))
      const file = join(runtime, 'vxlab-cache', 'context-hash', contextCacheName(ctx))
      expect(statSync(file).uid).toBe(65534)
      expect(readFileSync(file, 'utf8').split(' ')[1]).toBe(`${reference(ctx).slice(0, 64)}\n`)
      // out of the group, the file cannot be read (its ctime did not change): the read fails as without a cache
      expect(() => asNobody({ XDG_RUNTIME_DIR: runtime }, '')).toThrow(/cannot hash every file/)
    })
  })
})
