/**
 * The lab image's build context (`.testbed/image/`): a `FROM scratch` Dockerfile and `rootfs.tar`
 * made from the machine's own binaries, because no image registry is reachable (pitfall 6):
 * busybox-static (sh, ping, ip, ifconfig, route, nc, wget, httpd, ...), iputils `ping` when present
 * (busybox ping has no `-M do`, which the MTU/DF probe needs) and iperf3, each with its shared
 * libraries from `ldd`. The folder holds nothing else (the legacy builder refuses unreadable files in
 * a context), and it is rebuilt only when its inputs changed (stamp file beside it, outside the context).
 */
import { createHash } from 'node:crypto'
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runOk } from './exec.ts'
import { which } from './prereq.ts'

/** Bump when the image layout below changes, to invalidate cached contexts. */
const IMAGE_VERSION = 3

/** busybox applets linked into /bin (the brief's list plus a few tools for debugging). */
export const IMAGE_APPLETS = [
  'sh', 'ping', 'ip', 'ifconfig', 'route', 'sleep', 'cat', 'ls', 'nc', 'wget', 'httpd', 'ps', 'hostname',
  'echo', 'grep', 'timeout', 'netstat', 'traceroute', 'arp', 'mkdir', 'rm', 'kill', 'env', 'true', 'false',
  'uname', 'head', 'tail', 'sed', 'awk', 'printf', 'test', '[', 'id', 'top', 'ping6',
] as const

export const IMAGE_INDEX_HTML = `<!doctype html>
<html><head><title>vxlab container</title></head>
<body><h1>vxlab</h1><p>This container runs on the VXLAN-distributed network (Open vSwitch overlay).</p></body></html>
`

export const IMAGE_DOCKERFILE = `FROM scratch
ADD rootfs.tar /
EXPOSE 80
CMD ["httpd","-f","-p","80","-h","/www"]
`

export interface ImageResult {
  context: string
  rebuilt: boolean
  /** true when iputils ping is in the image as /bin/ping (else busybox ping) */
  iputilsPing: boolean
}

/** Shared libraries (and the ELF interpreter) of a dynamically linked program, by `ldd`. */
async function sharedLibs(binary: string): Promise<string[]> {
  const out = await runOk(['ldd', binary], { timeoutMs: 20_000 }).catch((e: unknown) => {
    // static binaries: "not a dynamic executable" (exit 1)
    if (e instanceof Error && /not a dynamic executable/.test(e.message)) return ''
    throw e
  })
  const libs: string[] = []
  for (const line of out.split('\n')) {
    if (/=>\s*not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`)
    const m = /(\/[^\s]+)/.exec(line)
    if (m?.[1]) libs.push(m[1])
  }
  return libs
}

async function fingerprint(files: string[]): Promise<string> {
  const h = createHash('sha256')
  h.update(JSON.stringify({ IMAGE_VERSION, IMAGE_APPLETS, IMAGE_INDEX_HTML, IMAGE_DOCKERFILE }))
  for (const f of files) {
    const s = await stat(f)
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\0`)
  }
  return h.digest('hex')
}

/**
 * Makes sure `contextDir` holds `Dockerfile` and `rootfs.tar` for the current binaries.
 * `stampFile` (outside the context) records the inputs' fingerprint; a match skips the build.
 */
export async function ensureImageContext(contextDir: string, stampFile: string): Promise<ImageResult> {
  const busybox = await which('busybox')
  if (!busybox) throw new Error('busybox is missing (Debian package busybox-static)')
  const iperf3 = await which('iperf3')
  const ping = await isIputilsPing()
  const bins: { src: string; dest: string }[] = [{ src: busybox, dest: 'bin/busybox' }]
  if (iperf3) bins.push({ src: iperf3, dest: 'bin/iperf3' })
  if (ping) bins.push({ src: ping, dest: 'bin/ping' })
  const libs = new Set<string>()
  for (const b of bins) for (const l of await sharedLibs(b.src)) libs.add(l)
  const inputs = [...bins.map((b) => b.src), ...[...libs].sort()]
  const fp = await fingerprint(inputs)

  const tar = path.join(contextDir, 'rootfs.tar')
  const dockerfile = path.join(contextDir, 'Dockerfile')
  const cached = await readFile(stampFile, 'utf8').catch(() => '')
  const haveFiles = await Promise.all([stat(tar), stat(dockerfile)]).then(() => true, () => false)
  if (cached.trim() === fp && haveFiles) return { context: contextDir, rebuilt: false, iputilsPing: ping !== undefined }

  const work = `${contextDir}.build-${process.pid}`
  const root = path.join(work, 'rootfs')
  await rm(work, { recursive: true, force: true })
  for (const d of ['bin', 'etc', 'www', 'tmp', 'proc', 'sys', 'dev', 'root', 'run']) await mkdir(path.join(root, d), { recursive: true })
  await chmod(path.join(root, 'tmp'), 0o1777)
  for (const b of bins) {
    await copyFile(b.src, path.join(root, b.dest))
    await chmod(path.join(root, b.dest), 0o755)
  }
  for (const l of libs) {
    const dest = path.join(root, l)
    await mkdir(path.dirname(dest), { recursive: true })
    await copyFile(l, dest) // follows symlinks: the file lands at the path the loader asks for
    await chmod(dest, 0o755)
  }
  for (const a of IMAGE_APPLETS) {
    if (a === 'ping' && ping) continue
    await symlink('busybox', path.join(root, 'bin', a))
  }
  await writeFile(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n')
  await writeFile(path.join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n')
  await writeFile(path.join(root, 'etc', 'hosts'), '127.0.0.1 localhost\n')
  await writeFile(path.join(root, 'www', 'index.html'), IMAGE_INDEX_HTML)

  await mkdir(path.join(work, 'context'), { recursive: true })
  // Deterministic tar (sorted, fixed owner and mtime): the same inputs give the same docker layer.
  await runOk(
    ['tar', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf',
      path.join(work, 'context', 'rootfs.tar'), '.'],
    { timeoutMs: 60_000 },
  )
  await writeFile(path.join(work, 'context', 'Dockerfile'), IMAGE_DOCKERFILE)
  await chmod(path.join(work, 'context', 'rootfs.tar'), 0o644)
  await rm(contextDir, { recursive: true, force: true })
  await mkdir(path.dirname(contextDir), { recursive: true })
  await rename(path.join(work, 'context'), contextDir)
  await rm(work, { recursive: true, force: true })
  await writeFile(stampFile, `${fp}\n`)
  return { context: contextDir, rebuilt: true, iputilsPing: ping !== undefined }
}

/** Path of iputils ping (not a busybox link), if the machine has it. */
async function isIputilsPing(): Promise<string | undefined> {
  const p = await which('ping')
  if (!p) return undefined
  const out = await runOk([p, '-V'], { timeoutMs: 5_000 }).catch(() => '')
  return /iputils/i.test(out) ? p : undefined
}
