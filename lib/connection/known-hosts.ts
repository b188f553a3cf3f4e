import { createHash, createHmac } from 'node:crypto'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'

/** SHA256 fingerprint of a public key blob, as OpenSSH prints it: `SHA256:base64-without-padding`. */
export function fingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`
}

/** The key type named inside an SSH public key blob (RFC 4253 section 6.6: string "ssh-ed25519", ...). */
export function keyType(keyBlob: Uint8Array): string {
  const b = Buffer.from(keyBlob)
  if (b.length < 4) return 'unknown'
  const n = b.readUInt32BE(0)
  return b.subarray(4, 4 + n).toString('latin1')
}

interface Entry {
  readonly patterns: readonly string[]
  readonly hashed?: { salt: Buffer; hash: Buffer }
  readonly type: string
  readonly blob: Buffer
  readonly revoked: boolean
}

/** The name a host is filed under in known_hosts: `host` on port 22, `[host]:port` otherwise (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function globMatch(pattern: string, name: string): boolean {
  // most entries name one host: no RegExp for them (a run verifies every host against every entry)
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern.toLowerCase() === name.toLowerCase()
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i')
  return re.test(name)
}

/** The verdict on a key a server offered. */
export type HostKeyVerdict =
  | { readonly status: 'match' }
  | { readonly status: 'unknown'; readonly offered: string }
  | { readonly status: 'changed'; readonly offered: string; readonly expected: readonly string[] }
  | { readonly status: 'revoked'; readonly offered: string }

/**
 * A parsed known_hosts file (OpenSSH format: plain and hashed `|1|salt|hash` host names, `[host]:port`,
 * wildcards, `!negation`, `@revoked`; `@cert-authority` lines are ignored).
 */
export class KnownHosts {
  readonly #entries: Entry[] = []

  constructor(readonly path: string) {
    if (!existsSync(path)) return
    for (const raw of readFileSync(path, 'utf8').split('\n')) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      let fields = line.split(/\s+/)
      let revoked = false
      if (fields[0]?.startsWith('@')) {
        if (fields[0] === '@revoked') revoked = true
        else continue
        fields = fields.slice(1)
      }
      const [hosts, type, b64] = fields
      if (hosts === undefined || type === undefined || b64 === undefined) continue
      const blob = Buffer.from(b64, 'base64')
      if (hosts.startsWith('|1|')) {
        const [, , salt, hash] = hosts.split('|')
        if (salt === undefined || hash === undefined) continue
        this.#entries.push({ patterns: [], hashed: { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') }, type, blob, revoked })
      } else {
        this.#entries.push({ patterns: hosts.split(','), type, blob, revoked })
      }
    }
  }

  #matches(e: Entry, name: string): boolean {
    if (e.hashed) {
      const h = createHmac('sha1', e.hashed.salt).update(name).digest()
      return h.equals(e.hashed.hash)
    }
    let ok = false
    for (const p of e.patterns) {
      if (p.startsWith('!')) {
        if (globMatch(p.slice(1), name)) return false
      } else if (globMatch(p, name)) ok = true
    }
    return ok
  }

  /** Check the key a server offered for `host:port`. */
  verify(host: string, port: number, offered: Uint8Array): HostKeyVerdict {
    const name = knownHostsName(host, port)
    const blob = Buffer.from(offered)
    const fp = fingerprint(blob)
    const mine = this.#entries.filter((e) => this.#matches(e, name))
    if (mine.some((e) => e.revoked && e.blob.equals(blob))) return { status: 'revoked', offered: fp }
    const valid = mine.filter((e) => !e.revoked)
    if (valid.some((e) => e.blob.equals(blob))) return { status: 'match' }
    if (valid.length === 0) return { status: 'unknown', offered: fp }
    return { status: 'changed', offered: fp, expected: valid.map((e) => fingerprint(e.blob)) }
  }

  /** Append a first-contact key (`accept-new`). */
  add(host: string, port: number, offered: Uint8Array): void {
    const blob = Buffer.from(offered)
    appendFileSync(this.path, `${knownHostsName(host, port)} ${keyType(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 })
    this.#entries.push({ patterns: [knownHostsName(host, port)], type: keyType(blob), blob, revoked: false })
  }
}
