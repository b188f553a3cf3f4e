/**
 * Host key verification against a known_hosts file (lib/connection/known-hosts.ts; format: sshd(8)
 * "SSH_KNOWN_HOSTS FILE FORMAT"): plain names (matched case-insensitively), wildcards, negations, hashed names,
 * `[host]:port`, @revoked, and the verdicts a connection turns into "refuse" or "accept".
 */
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fingerprint, KnownHosts } from '../../lib/connection/known-hosts.ts'

const dir = mkdtempSync(join(tmpdir(), 'vxlab-knownhosts-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A key blob of type ssh-ed25519 (the verifier compares blobs; it does not parse the key). */
function blob(): Buffer {
  const type = Buffer.from('ssh-ed25519')
  const len = Buffer.alloc(4)
  len.writeUInt32BE(type.length)
  const klen = Buffer.alloc(4)
  klen.writeUInt32BE(32)
  return Buffer.concat([len, type, klen, randomBytes(32)])
}
const line = (names: string, b: Buffer): string => `${names} ssh-ed25519 ${b.toString('base64')}`
function hashed(name: string): string {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

describe('KnownHosts.verify', () => {
  const [a, b, c, d, e, old] = [blob(), blob(), blob(), blob(), blob(), blob()]
  const file = join(dir, 'known_hosts')
  writeFileSync(file, [
    '# comment',
    line('gw,172.16.99.254', a),
    line('Host1.Example.ORG', b),
    line('*.lab.example,!evil.lab.example', c),
    line('[172.16.99.101]:2222', d),
    line(hashed('172.16.99.102'), e),
    `@revoked ${line('172.16.99.103', old)}`,
    '',
  ].join('\n'))
  const kh = new KnownHosts(file)

  it('matches a plain name, case-insensitively, and a second name on the same line', () => {
    expect(kh.verify('gw', 22, a)).toEqual({ status: 'match' })
    expect(kh.verify('172.16.99.254', 22, a)).toEqual({ status: 'match' })
    expect(kh.verify('host1.example.org', 22, b)).toEqual({ status: 'match' })
    expect(kh.verify('gw2', 22, a)).toEqual({ status: 'unknown', offered: fingerprint(a) })
  })
  it('a known name offering another key is "changed", naming the expected fingerprint', () => {
    expect(kh.verify('gw', 22, b)).toEqual({ status: 'changed', offered: fingerprint(b), expected: [fingerprint(a)] })
  })
  it('wildcards match, a negated pattern excludes', () => {
    expect(kh.verify('web.lab.example', 22, c)).toEqual({ status: 'match' })
    expect(kh.verify('evil.lab.example', 22, c).status).toBe('unknown')
    expect(kh.verify('lab.example', 22, c).status).toBe('unknown')
  })
  it('a non-default port is its own name: [host]:port', () => {
    expect(kh.verify('172.16.99.101', 2222, d)).toEqual({ status: 'match' })
    expect(kh.verify('172.16.99.101', 22, d).status).toBe('unknown')
  })
  it('hashed names match their host only', () => {
    expect(kh.verify('172.16.99.102', 22, e)).toEqual({ status: 'match' })
    expect(kh.verify('172.16.99.112', 22, e).status).toBe('unknown')
  })
  it('@revoked keys are refused even when nothing else is known', () => {
    expect(kh.verify('172.16.99.103', 22, old)).toEqual({ status: 'revoked', offered: fingerprint(old) })
  })
  it('add() records a key (accept-new) and matches it from then on', () => {
    const f2 = join(dir, 'kh2')
    const k2 = new KnownHosts(f2)
    expect(k2.verify('10.0.0.1', 22, a).status).toBe('unknown')
    k2.add('10.0.0.1', 22, a)
    expect(k2.verify('10.0.0.1', 22, a)).toEqual({ status: 'match' })
    expect(new KnownHosts(f2).verify('10.0.0.1', 22, a)).toEqual({ status: 'match' })
    expect(readFileSync(f2, 'utf8')).toBe(`${line('10.0.0.1', a)}\n`)
  })
})
