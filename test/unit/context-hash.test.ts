/**
 * Issue #6: the build-context hash reads file hashes from `openssl dgst -sha256 -r` when the host has it (much
 * faster than coreutils' sha256sum) and must give exactly the hash sha256sum gives, so a host that gains or
 * loses openssl never rebuilds its image for nothing.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CONTEXT_HASH_SCRIPT } from '../../lib/facts/docker.ts'

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
})
