import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import ipaddr from 'ipaddr.js'
import { cmd, script, secretFlagValues, withSecretArgs, type Command } from '../core/command.ts'
import { ValidationError } from '../core/errors.ts'
import { holdsSecret, mask, MASKED } from '../core/secrets.ts'
import { SkipTask, type Change, type Claim, type Task } from '../core/task.ts'
import { absPath, boolean, dockerName, gatewayIpv4, ifname, ipv4Interface, listOf, mac as macAddr, mtu as mtuValue, oneOf, timeoutMs as timeLimit, validateSpec, knownFields, specFields } from '../core/validate.ts'
import {
  containerNetnsFact, dockerContainerFact, dockerContextHashFact, dockerImageFact, dockerImageUsersFact,
  type ContainerNetns, type DockerContainerState, type DockerImageState, type ImageUser, type NetnsLink,
} from '../facts/docker.ts'
import { OVS_VSCTL, ovsStateFact, type OvsState } from '../facts/ovs.ts'
import { bridgeNeeded } from './ovs.ts'
import { renderTemplate, templateError } from './file.ts'

/**
 * Docker tasks: images built with a content hash of their inputs (rebuilt only when inputs change),
 * containers with a spec hash (a changed spec or a rebuilt image replaces them), and containerPort, which
 * attaches a container to an OVS bridge the way `ovs-docker add-port` does, but idempotently and with drift
 * repair. Reads: `docker inspect` / `docker image inspect` JSON, OVSDB JSON, `ip -j` inside the container's
 * network namespace.
 */

/** Whether a resource should exist. */
export type Ensure = 'present' | 'absent'

/** Image label holding the sha256 of the build inputs. */
export const IMAGE_HASH_LABEL = 'vxlab.hash'
/** Container label holding the sha256 of the container's immutable spec (image name, network, command, env). */
export const CONTAINER_SPEC_LABEL = 'vxlab.spec'
/** Default time limit of `docker build`, in ms. */
export const BUILD_TIMEOUT_MS = 300_000

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex')
const short = (h: string | undefined): string => (h === undefined ? '(none)' : h.replace(/^sha256:/, '').slice(0, 12))

function ensureOf(field: string, v: unknown): Ensure {
  return v === undefined ? 'present' : oneOf(field, v, ['present', 'absent'] as const)
}

function stringMap(field: string, v: unknown, keyRe: RegExp, keyDesc: string): Record<string, string> {
  if (v === undefined) return {}
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError(field, 'expected a map of strings')
  for (const [k, x] of Object.entries(v)) {
    if (!keyRe.test(k)) throw new ValidationError(`${field}.${k}`, `keys must be ${keyDesc}`)
    if (typeof x !== 'string' || x.includes('\0')) throw new ValidationError(`${field}.${k}`, `expected a string without NUL, got ${typeof x === 'string' ? 'a NUL byte' : JSON.stringify(x)}`)
  }
  return v as Record<string, string>
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

// ---------------------------------------------------------------------------------------------------------------------
// Build contexts as tar (POSIX ustar, IEEE Std 1003.1-2001 pax "ustar" format)

/** One regular file of a tar archive: path relative to the archive root, content, mode (default 0644). */
export interface TarEntry {
  readonly path: string
  readonly content: string | Uint8Array
  readonly mode?: number
}

function splitUstarName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' }
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i)
    const name = path.slice(i + 1)
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix }
  }
  throw new Error(`path too long for a ustar archive: ${path}`)
}

function ustarHeader(path: string, size: number, mode: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512, 0)
  const { name, prefix } = splitUstarName(path)
  const octal = (v: number, width: number): string => v.toString(8).padStart(width - 1, '0') + '\0'
  h.write(name, 0, 100, 'utf8')
  h.write(octal(mode, 8), 100, 8, 'ascii')
  h.write(octal(0, 8), 108, 8, 'ascii') // uid
  h.write(octal(0, 8), 116, 8, 'ascii') // gid
  h.write(octal(size, 12), 124, 12, 'ascii')
  h.write(octal(0, 12), 136, 12, 'ascii') // mtime: the epoch, so archives of equal inputs are equal
  h.write('        ', 148, 8, 'ascii') // checksum placeholder: spaces
  h.write(type, 156, 1, 'ascii')
  h.write('ustar\0', 257, 6, 'ascii')
  h.write('00', 263, 2, 'ascii')
  h.write(prefix, 345, 155, 'utf8')
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii')
  return h
}

/**
 * A tar archive (ustar) of regular files, with a directory entry for every parent folder, uid/gid 0 and
 * mtime 0: equal inputs give byte-identical archives. Paths must be relative (see {@link relPath}).
 */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = []
  const dirs = new Set<string>()
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (const e of sorted) {
    const segs = e.path.split('/')
    for (let i = 1; i < segs.length; i++) {
      const d = `${segs.slice(0, i).join('/')}/`
      if (!dirs.has(d)) {
        dirs.add(d)
        parts.push(ustarHeader(d, 0, 0o755, '5'))
      }
    }
    const body = typeof e.content === 'string' ? Buffer.from(e.content, 'utf8') : Buffer.from(e.content)
    parts.push(ustarHeader(e.path, body.length, e.mode ?? 0o644, '0'), body)
    const pad = (512 - (body.length % 512)) % 512
    if (pad > 0) parts.push(Buffer.alloc(pad, 0))
  }
  parts.push(Buffer.alloc(1024, 0))
  return Buffer.concat(parts)
}

/** A relative path inside a build context: no leading `/`, no empty, `.` or `..` segment, no NUL or newline. */
export function relPath(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.startsWith('/') || /[\0\n\\]/.test(value)) {
    throw new ValidationError(field, `expected a relative path, got ${JSON.stringify(value)}`)
  }
  if (value.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new ValidationError(field, `path ${JSON.stringify(value)} must not contain empty, "." or ".." segments`)
  return value
}

// ---------------------------------------------------------------------------------------------------------------------
// dockerImage

/**
 * Spec of {@link dockerImage}. Give `context`, `dockerfile`, or both (unless `ensure: 'absent'`):
 * - `context` alone: a folder on the host with its own Dockerfile;
 * - `dockerfile` (+ `files`): everything from the controller, sent as a tar;
 * - both: the folder on the host as the context, the Dockerfile rendered on the controller (`docker build -f -`).
 */
export interface DockerImageSpec {
  /** Image name, optionally with a tag (`con_img`, `vxlab-lab:1`); lower case, as docker requires. */
  readonly name: string
  /**
   * Absolute path of a build context folder ON THE HOST (with its Dockerfile), e.g. the testbed's
   * `lab_image_context`. Its content hash is computed on the host by a fact (sha256 of every regular file's
   * name and content), so the controller never needs to see the folder.
   */
  readonly context?: string
  /**
   * A Dockerfile from the controller, either rendered (Handlebars, noEscape + strict: `template` is a path on
   * the controller or `{inline: '...'}`, with `vars`) or given as it is (`text`: a string the playbook built,
   * used verbatim; no template engine is loaded). Without `context`, the build context (Dockerfile + `files`) is
   * sent to `docker build -` as a tar on standard input; with `context`, the Dockerfile alone goes on standard
   * input (`docker build -f - CONTEXT`) and the context's own Dockerfile is ignored.
   */
  readonly dockerfile?: DockerfileSource
  /** Extra context files for `dockerfile` builds: relative path -> content (text or bytes). */
  readonly files?: Readonly<Record<string, string | Uint8Array>>
  /** `--build-arg K=V` values (part of the input hash); a value that holds a secret (`secret()`) is shown as `K=***`. */
  readonly buildArgs?: Readonly<Record<string, string>>
  /**
   * Default `present`; `absent` removes the image (`docker image rm NAME`, which docker refuses while a container
   * uses it), or, with `ownContainers`, keeps it while another container uses it.
   */
  readonly ensure?: Ensure
  /**
   * With `ensure: 'absent'`: the containers the playbook made from this image (and removes before it; `[]` for
   * none). Given, a container that uses the image and is not listed (a user's) keeps it: the task is skipped naming
   * those containers, not failed, so the host's later tasks run on. Listed containers do not keep it, whether an
   * earlier task has removed them yet (apply) or not (check mode): both plan the same. Unset: the image is removed
   * as before, and `docker image rm` fails while any container uses it ("must force").
   */
  readonly ownContainers?: readonly string[]
  /**
   * With `ownContainers`: a listed container counts as the playbook's only while it carries the `vxlab.spec` label
   * that {@link dockerContainer} sets (a container inherits its image's labels, such as `vxlab.hash`, but not that
   * one). A same-named container without it (a user's) keeps the image like any other, and the skip says it has no
   * label. Set it when the containers' own absent tasks use {@link DockerContainerSpec.keepForeign}, which keeps
   * such a container: check mode and apply then plan the same. Default false: listed by name alone.
   */
  readonly ownContainersLabeled?: boolean
  /** Time limit of the build in ms, an integer 1..2000000000 (~23 days: Node's timers hold at most 2^31 - 1 ms); default {@link BUILD_TIMEOUT_MS}, 300000. */
  readonly timeoutMs?: number
}

/**
 * Where {@link DockerImageSpec.dockerfile} comes from: a Handlebars template (a path on the controller or
 * `{inline}`) with its `vars`, or the Dockerfile's `text` as it is.
 */
export type DockerfileSource =
  | { readonly template: string | { readonly inline: string }; readonly vars?: Readonly<Record<string, unknown>>; readonly text?: never }
  | { readonly text: string; readonly template?: never; readonly vars?: never }

/** What {@link dockerImage} reads: the image and, for a host context, the context's content hash. */
export interface DockerImageCurrent {
  readonly image: DockerImageState
  /** sha256 of the host context folder (context builds only). */
  readonly contextHash?: string
  /** `ensure: 'absent'` only: the containers created from the image or one built on it. */
  readonly users?: readonly ImageUser[]
}

/** The hash stored as `vxlab.hash` for a host-context build: context content (+ the Dockerfile from the controller, if any) + build args. */
export function contextInputHash(contextHash: string, buildArgs: Readonly<Record<string, string>>, dockerfile?: string): string {
  return sha256(JSON.stringify({ v: 1, kind: 'context', context: contextHash, ...(dockerfile !== undefined ? { dockerfile: sha256(dockerfile) } : {}), buildArgs: Object.entries(buildArgs).sort() }))
}

/** The hash stored as `vxlab.hash` for a rendered-Dockerfile build: Dockerfile text, files (name + sha256), build args. */
export function dockerfileInputHash(dockerfile: string, files: Readonly<Record<string, string | Uint8Array>>, buildArgs: Readonly<Record<string, string>>): string {
  const f = Object.entries(files).map(([p, c]) => [p, sha256(c)]).sort()
  return sha256(JSON.stringify({ v: 1, kind: 'dockerfile', dockerfile: sha256(dockerfile), files: f, buildArgs: Object.entries(buildArgs).sort() }))
}

/**
 * The Dockerfile a {@link DockerfileSource} gives: `text` as it is, or the template rendered with its vars. Either
 * must hold an instruction: docker refuses an empty Dockerfile, or one of comments only, but only at build time.
 */
function dockerfileOf(src: DockerfileSource): string {
  if (src === null || typeof src !== 'object' || Array.isArray(src)) throw new ValidationError('dockerfile', `expected {template, vars} or {text}, got ${describeValue(src)}`)
  const has = (k: string): boolean => (src as Record<string, unknown>)[k] !== undefined
  if (has('text') && has('template')) throw new ValidationError('dockerfile', 'give template (with vars) or text, not both')
  if (has('text')) {
    if (has('vars')) throw new ValidationError('dockerfile.vars', 'vars are for a template; text is used as it is')
    const text = (src as { text: unknown }).text
    if (typeof text !== 'string') throw new ValidationError('dockerfile.text', `expected a string, got ${describeValue(text)}`)
    return withInstructions('dockerfile.text', text, 'has')
  }
  if (!has('template')) throw new ValidationError('dockerfile', 'expected {template, vars} or {text}, got neither')
  const t = src.template
  let source: string
  if (typeof t === 'string') {
    try {
      source = readFileSync(t, 'utf8')
    } catch (e) {
      throw new ValidationError('dockerfile.template', `cannot read template ${t}: ${e instanceof Error ? e.message : String(e)}`)
    }
  } else if (t !== null && typeof t === 'object' && typeof t.inline === 'string') source = t.inline
  else throw new ValidationError('dockerfile.template', 'expected a path or {inline: string}')
  const vars: unknown = src.vars ?? {}
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) throw new ValidationError('dockerfile.vars', `expected a mapping of template variables, got ${describeValue(vars)}`)
  let rendered: string
  try {
    rendered = renderTemplate(source, vars as Record<string, unknown>)
  } catch (e) {
    // a variable the template uses and vars lack is the vars' fault; anything else is the template's
    const msg = templateError(e)
    throw new ValidationError(/^variable ".*" is not defined/.test(msg) ? 'dockerfile.vars' : 'dockerfile.template', `template ${typeof t === 'string' ? t : '(inline)'}: ${msg}`)
  }
  return withInstructions('dockerfile.template', rendered, 'renders to')
}

/** `text` if it holds a Dockerfile instruction: a line that is neither blank nor a comment. */
function withInstructions(field: string, text: string, verb: string): string {
  // a UTF-8 byte order mark before the first line is dropped by docker's parser (BuildKit: frontend/dockerfile/parser)
  if (!/^[ \t]*[^#\s]/m.test(text.replace(/^\uFEFF/, ''))) throw new ValidationError(field, `${verb} a Dockerfile with no instruction (only blank lines or comments): docker build would refuse it`)
  return text
}

/** A value in an error message: `null`, `an array`, `a number (42)`, ... */
function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${JSON.stringify(v)}`
  return `a ${typeof v}`
}

/** The fields of DockerImageSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const DOCKER_IMAGE_FIELDS = specFields<DockerImageSpec>()('name', 'context', 'dockerfile', 'files', 'buildArgs', 'ensure', 'ownContainers', 'ownContainersLabeled', 'timeoutMs')

/**
 * A Docker image built on the host, rebuilt only when its build inputs change. The inputs' sha256 is stored
 * as the image label `vxlab.hash` and compared with `docker image inspect` on every run:
 * - `context` (a folder on the host): hash of the folder's files, read on the host, plus `buildArgs`;
 *   build = `docker build -q -t NAME --label vxlab.hash=H [--build-arg K=V]... CONTEXT`.
 * - `dockerfile` (+ `files`): rendered and hashed on the controller when the playbook is built; build =
 *   `docker build -q -t NAME --label vxlab.hash=H [--build-arg K=V]... -` with a tar context on stdin.
 * - both: `docker build ... -f - CONTEXT` with the Dockerfile from the controller on stdin; the hash covers both.
 * Plan: absent -> create (build); hash differs -> replace (rebuild; containers on the old image are then
 * replaced by dockerContainer, which watches `docker.image:NAME`); same -> nothing. Touches `docker.image:NAME`.
 * `ensure: 'absent'`: `docker image rm NAME`; with `ownContainers`, while a container not in it was created from
 * the image (`docker ps -a --filter ancestor`, then each one's image ID), the task is skipped: the image is kept;
 * with `ownContainersLabeled` too, a listed container without the `vxlab.spec` label counts as not in it.
 * A host context is hashed when read: after any earlier change in the play it is read again (watches `*`),
 * since an earlier task may have written into it; a context folder that does not exist fails the read (also
 * in check mode). The image replaced by a rebuild stays as a dangling image (`docker image prune` removes it).
 * Claims ({@link Task.claims}) `docker.image:NAME`: `absent`, or where it is built from with a sha256 of the inputs
 * known when the playbook is built (a host context's content is read later): two tasks building one image from
 * other inputs would rebuild it, and replace its containers, on every run.
 * Key `docker.image[NAME]`. Errors: ValidationError (name, paths, no source, template variables);
 * a missing context folder or dockerd down fails the read.
 */
export function dockerImage(spec: DockerImageSpec): Task<DockerImageSpec, DockerImageCurrent> {
  const key = `docker.image[${String(spec?.name)}]`
  validateSpec(key, () => knownFields(spec, DOCKER_IMAGE_FIELDS))
  return validateSpec(key, () => {
    const name = dockerName('name', spec.name, true)
    const ensure = ensureOf('ensure', spec.ensure)
    if (ensure === 'present') {
      // docker build -t takes a name and a tag: no digest ("build tag cannot contain a digest"), no image ID ("cannot
      // specify 64-byte hexadecimal strings", "refusing to create an ambiguous tag using digest algorithm as name");
      // removing an image by any of these is fine
      if (name.includes('@')) throw new ValidationError('name', `${JSON.stringify(name)} holds a digest: an image that vxlab builds is named by a name and a tag`)
      if (/^sha256:|^[a-f0-9]{64}(:|$)/.test(name)) throw new ValidationError('name', `${JSON.stringify(name)} is an image ID: an image that vxlab builds is named by a name and a tag`)
    }
    const buildArgs = stringMap('buildArgs', spec.buildArgs, ENV_KEY, 'build-arg names like HTTP_PROXY')
    const timeoutMs = timeLimit('timeoutMs', spec.timeoutMs ?? BUILD_TIMEOUT_MS)
    if (ensure === 'present' && spec.context === undefined && spec.dockerfile === undefined) throw new ValidationError('context', 'give context (a folder on the host), dockerfile, or both')
    if (spec.context !== undefined && spec.files !== undefined) throw new ValidationError('files', 'files are only used with dockerfile (a host context already holds its files)')
    const context = spec.context === undefined ? undefined : absPath('context', spec.context)
    let own: ReadonlySet<string> | undefined
    if (spec.ownContainers !== undefined) {
      if (ensure !== 'absent') throw new ValidationError('ownContainers', "only with ensure: 'absent' (the containers that do not keep the image)")
      own = new Set(listOf('ownContainers', spec.ownContainers, 'container names', (f, c) => dockerName(f, c)))
    }
    if (spec.ownContainersLabeled !== undefined) {
      boolean('ownContainersLabeled', spec.ownContainersLabeled, false)
      if (own === undefined) throw new ValidationError('ownContainersLabeled', 'only with ownContainers (whose containers must then carry the vxlab.spec label)')
    }
    const ownLabeled = spec.ownContainersLabeled === true

    // a Dockerfile from the controller (text or rendered template): known now
    let stdin: Buffer | string | undefined
    let fixedHash: string | undefined
    let dockerfile: string | undefined
    if (spec.dockerfile !== undefined && ensure === 'present') {
      dockerfile = dockerfileOf(spec.dockerfile)
      const files = spec.files ?? {}
      if (files === null || typeof files !== 'object' || Array.isArray(files)) throw new ValidationError('files', 'expected a map of path -> content')
      for (const [p, c] of Object.entries(files)) {
        relPath(`files.${p}`, p)
        if (p === 'Dockerfile') throw new ValidationError('files.Dockerfile', 'the Dockerfile comes from dockerfile')
        if (typeof c !== 'string' && !(c instanceof Uint8Array)) throw new ValidationError(`files.${p}`, 'expected a string or bytes')
      }
      if (context === undefined) {
        fixedHash = dockerfileInputHash(dockerfile, files, buildArgs)
        stdin = tarArchive([{ path: 'Dockerfile', content: dockerfile }, ...Object.entries(files).map(([path, content]) => ({ path, content }))])
      } else stdin = dockerfile
    }

    const imageFact = dockerImageFact(name)
    const ctxFact = context !== undefined && ensure === 'present' ? dockerContextHashFact(context) : undefined
    const usersFact = ensure === 'absent' && own !== undefined ? dockerImageUsersFact(name) : undefined
    const touches = [`docker.image:${name}`]
    const buildArgv = (hash: string): string[] => [
      'docker', 'build', '-q', '-t', name, '--label', `${IMAGE_HASH_LABEL}=${hash}`,
      ...Object.entries(buildArgs).sort().flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      ...(context !== undefined && dockerfile !== undefined ? ['-f', '-'] : []),
      context ?? '-',
    ]
    // build args that hold a secret are *** wherever the command is shown
    const buildCommand = (hash: string): Command => {
      const argv = buildArgv(hash)
      const secretArgs = secretFlagValues(argv, '--build-arg')
      return { argv, ...(stdin !== undefined ? { stdin } : {}), timeoutMs, ...(secretArgs.length > 0 ? { secretArgs } : {}) }
    }
    const source = context !== undefined
      ? `context ${context}${dockerfile !== undefined ? ' with a Dockerfile from the controller' : ''}`
      : `a Dockerfile from the controller (${Object.keys(spec.files ?? {}).length} extra files, ${stdin?.length ?? 0} bytes tar)`

    const inputs = fixedHash ?? sha256(JSON.stringify({ context, dockerfile: dockerfile === undefined ? null : sha256(dockerfile), buildArgs: Object.entries(buildArgs).sort() }))
    return {
      kind: 'docker.image',
      key,
      spec,
      claims: [{ object: `docker.image:${name}`, value: ensure === 'absent' ? 'absent' : `built from ${source} (inputs ${short(inputs)})` }],
      facts: [imageFact, ...(ctxFact ? [ctxFact] : []), ...(usersFact ? [usersFact] : [])],
      // a host context may be written by an earlier task of the play (a template into the folder): re-read it
      // after any earlier change, or the build would be planned from the old content and not converge
      watches: ctxFact ? ['*'] : [`docker.image:${name}`],
      current: (f) => ({ image: f.get(imageFact), ...(ctxFact ? { contextHash: f.get(ctxFact) } : {}), ...(usersFact ? { users: f.get(usersFact) } : {}) }),
      plan: (cur): Change[] => {
        if (ensure === 'absent') {
          if (!cur.image.exists) return []
          const id = cur.image.id
          // exactly the containers docker names when it refuses: created from this image ID (not from one built on it)
          // with ownContainersLabeled, a listed name without the vxlab.spec label is a user's container of that name
          const isOwn = (u: ImageUser): boolean => own?.has(u.name) === true && (!ownLabeled || u.specLabel === true)
          const others = (cur.users ?? []).filter((u) => u.imageId === id && !isOwn(u)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
            .map((u) => (own?.has(u.name) === true ? `${u.name} (no ${CONTAINER_SPEC_LABEL} label)` : u.name))
          if (others.length > 0) {
            const one = others.length === 1
            throw new SkipTask(`kept image ${name} (${short(id)}): in use by ${one ? 'container' : 'containers'} ${others.join(', ')}, which this playbook did not create; ` +
              `remove ${one ? 'it' : 'them'} and run again to delete the image`)
          }
          return [{ op: 'delete', summary: `remove image ${name} (${short(id)})`, before: { id }, commands: [cmd('docker', 'image', 'rm', name)], touches }]
        }
        const want = fixedHash ?? contextInputHash(cur.contextHash!, buildArgs, dockerfile)
        if (!cur.image.exists) {
          return [{ op: 'create', summary: `build image ${name} from ${source}`, after: { [IMAGE_HASH_LABEL]: want }, commands: [buildCommand(want)], touches }]
        }
        const have = cur.image.labels[IMAGE_HASH_LABEL]
        if (have === want) return []
        return [{
          op: 'replace',
          summary: `rebuild image ${name}: ${have === undefined ? 'not built by vxlab (no vxlab.hash label)' : `build inputs changed (${short(have)} -> ${short(want)})`}`,
          before: { [IMAGE_HASH_LABEL]: have ?? null, id: cur.image.id }, after: { [IMAGE_HASH_LABEL]: want },
          commands: [buildCommand(want)], touches,
        }]
      },
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------------
// dockerContainer

/** Docker restart policies (docker-run(1) `--restart`). */
export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure'

/** Spec of {@link dockerContainer}. */
export interface DockerContainerSpec {
  /** Container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`). */
  readonly name: string
  /** Image name[:tag]; `docker run` pulls it when missing, so build it first (dockerImage) where no registry is reachable. */
  readonly image: string
  /** `none` (the seed's `--net none`; interfaces come from containerPort), or a docker network / mode name. */
  readonly network: 'none' | (string & {})
  /** Command and arguments (argv, replacing the image's CMD); default: the image's CMD. */
  readonly command?: readonly string[]
  /** Environment variables; values travel as argv elements (literally). Mark secrets with `secret()` to mask them. */
  readonly env?: Readonly<Record<string, string>>
  /** Restart policy, default `no`; updated in place (`docker update --restart`). */
  readonly restart?: RestartPolicy
  /** Default `running`. `stopped` creates without starting (or stops); `absent` removes (`docker rm -f`). */
  readonly state?: 'running' | 'stopped' | 'absent'
  /**
   * With `state: 'absent'`: remove the container only if vxlab made it, i.e. it carries the `vxlab.spec` label
   * (see {@link CONTAINER_SPEC_LABEL}; a container inherits its image's labels such as `vxlab.hash`, but not that
   * one, unless its image was made by `docker commit` of a vxlab container, which copies it: such a container counts
   * as vxlab's). A container of that name without it (a user's) is kept: the task is skipped, in check mode and apply
   * alike, with the reason `kept container NAME: not made by vxlab (no vxlab.spec label); ...`, not failed, so the
   * host's later tasks run on. An image task that lists this container in `ownContainers` should then set
   * `ownContainersLabeled`, so that the kept container keeps the image too. Default false: removed by name.
   */
  readonly keepForeign?: boolean
}

/** What {@link dockerContainer} reads: the container and its image (whose current ID a rebuild changes). */
export interface DockerContainerCurrent {
  readonly container: DockerContainerState
  readonly image: DockerImageState
}

/** The sha256 stored as `vxlab.spec`: image name, network, command, env (state and restart are mutable, not in it). */
export function containerSpecHash(s: { image: string; network: string; command?: readonly string[] | undefined; env?: Readonly<Record<string, string>> | undefined }): string {
  return sha256(JSON.stringify({ v: 1, image: s.image, network: s.network, command: s.command ?? null, env: Object.entries(s.env ?? {}).sort() }))
}

const RUNNING_STATUSES = new Set(['running', 'restarting'])

/** The fields of DockerContainerSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const DOCKER_CONTAINER_FIELDS = specFields<DockerContainerSpec>()('name', 'image', 'network', 'command', 'env', 'restart', 'state', 'keepForeign')

/**
 * A Docker container. Created with `docker run -d --name N --network NET --label vxlab.spec=H --restart R
 * [-e K=V]... IMAGE [command...]` (`docker create` with the same arguments for `state: 'stopped'`).
 * Drift: a changed spec (the `vxlab.spec` label is a sha256 of image name, network, command and env), a
 * container whose image ID is not the image's current ID (rebuilt image), or another network mode ->
 * replace (`docker rm -f` + run). Restart policy -> update in place (`docker update --restart`); state ->
 * `docker start` / `docker unpause` / `docker stop`. An env value or command element that holds a secret (`secret()`)
 * is shown as `***`, and a changed one as `***` on both sides (`env.API_TOKEN: *** -> ***`): the old value is hidden too.
 * `state: 'absent'` removes the container (`docker rm -f NAME`), whoever made it; with `keepForeign`, only one that
 * carries the `vxlab.spec` label: a same-named container without it (a user's) is kept, and the task skipped saying
 * so (`kept container NAME: not made by vxlab (no vxlab.spec label); remove or rename it ...`).
 * A missing image (built by an earlier task of the same run, e.g. in check mode) plans create, not an error.
 * Check mode cannot know the ID an image rebuilt in the same run will get, so it shows only the rebuild; the
 * replacement of its containers (and their re-attachment) appears in the apply run.
 * Watches `docker.container:NAME` and `docker.image:IMAGE`; touches `docker.container:NAME`.
 * Claims ({@link Task.claims}) `docker.container:NAME` (`absent`, or its image, network and spec hash, see
 * {@link containerSpecHash}), and when not absent `docker.container:NAME state` and `docker.container:NAME restart`.
 * Key `docker.container[NAME]`. Errors: ValidationError naming the field; dockerd down fails the read.
 */
export function dockerContainer(spec: DockerContainerSpec): Task<DockerContainerSpec, DockerContainerCurrent> {
  const key = `docker.container[${String(spec?.name)}]`
  validateSpec(key, () => knownFields(spec, DOCKER_CONTAINER_FIELDS))
  return validateSpec(key, () => {
    const name = dockerName('name', spec.name)
    const image = dockerName('image', spec.image, true)
    if (typeof spec.network !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*(:[a-zA-Z0-9][a-zA-Z0-9_.-]*)?$/.test(spec.network)) {
      throw new ValidationError('network', `expected none, host, bridge, a network name or container:NAME, got ${JSON.stringify(spec.network)}`)
    }
    const network = spec.network
    if (spec.command !== undefined) {
      if (!Array.isArray(spec.command) || spec.command.length === 0) throw new ValidationError('command', 'expected a non-empty argv array')
      spec.command.forEach((a, i) => {
        if (typeof a !== 'string' || a.includes('\0')) throw new ValidationError(`command[${i}]`, `expected a string without NUL, got ${JSON.stringify(a)}`)
      })
    }
    const env = stringMap('env', spec.env, ENV_KEY, 'variable names like FOO_BAR')
    const restart = spec.restart === undefined ? 'no' : oneOf('restart', spec.restart, ['no', 'always', 'unless-stopped', 'on-failure'] as const)
    const state = spec.state === undefined ? 'running' : oneOf('state', spec.state, ['running', 'stopped', 'absent'] as const)
    if (spec.keepForeign !== undefined) {
      boolean('keepForeign', spec.keepForeign, false)
      if (state !== 'absent') throw new ValidationError('keepForeign', "only with state: 'absent' (a container without the vxlab.spec label is then kept)")
    }
    const hash = containerSpecHash({ image, network, command: spec.command, env })
    const envList = Object.entries(env).sort()
    const createArgs = [
      '--name', name, '--network', network, '--label', `${CONTAINER_SPEC_LABEL}=${hash}`, '--restart', restart,
      ...envList.flatMap(([k, v]) => ['-e', `${k}=${v}`]), image, ...(spec.command ?? []),
    ]
    // env values and command elements that hold a secret are *** wherever the command is shown
    const createArgv = state === 'stopped' ? ['docker', 'create', ...createArgs] : ['docker', 'run', '-d', ...createArgs]
    const commandAt = createArgv.length - (spec.command?.length ?? 0)
    const secretArgs = secretFlagValues(createArgv, '-e', commandAt)
    const createCmd: Command = withSecretArgs({ argv: createArgv, timeoutMs: 120_000, ...(secretArgs.length > 0 ? { secretArgs } : {}) }, commandAt)
    // a value that holds a secret is shown as *** (any length; masking by text finds only long ones)
    const shown = (v: string): string => (holdsSecret(v) ? MASKED : v)
    const envShown = envList.map(([k, v]) => `${k}=${shown(v)}`).join(' ')
    const commandShown = spec.command === undefined ? undefined : JSON.stringify(spec.command.map(shown))
    const describe = `${name} from ${image} (network ${network}, restart ${restart}${envShown ? `, env ${envShown}` : ''}${commandShown !== undefined ? `, command ${commandShown}` : ''})`
    const containerFact = dockerContainerFact(name)
    const imageFact = dockerImageFact(image)
    const touches = [`docker.container:${name}`]

    return {
      kind: 'docker.container',
      key,
      spec,
      facts: [containerFact, imageFact],
      watches: [`docker.container:${name}`, `docker.image:${image}`],
      claims: state === 'absent' ? [{ object: `docker.container:${name}`, value: 'absent' }] : [
        { object: `docker.container:${name}`, value: `image ${image}, network ${network} (spec ${short(hash)})` },
        { object: `docker.container:${name} state`, value: state },
        { object: `docker.container:${name} restart`, value: restart },
      ],
      current: (f) => ({ container: f.get(containerFact), image: f.get(imageFact) }),
      plan: (cur): Change[] => {
        const c = cur.container
        if (state === 'absent') {
          if (c.exists && spec.keepForeign === true && !c.labels[CONTAINER_SPEC_LABEL]) {
            throw new SkipTask(`kept container ${name}: not made by vxlab (no ${CONTAINER_SPEC_LABEL} label); remove or rename it ` +
              `(docker rm -f ${name} / docker rename ${name} NEW) and run again if it should go`)
          }
          return c.exists ? [{ op: 'delete', summary: `remove container ${name} (${c.status})`, before: { status: c.status }, commands: [cmd('docker', 'rm', '-f', name)], touches }] : []
        }
        if (!c.exists) {
          return [{ op: 'create', summary: `${state === 'stopped' ? 'create (stopped)' : 'run'} container ${describe}`, after: { image, network, restart, state }, commands: [createCmd], touches }]
        }
        // immutable fields: replace
        const reasons: string[] = []
        const before: Record<string, unknown> = {}
        const after: Record<string, unknown> = {}
        // fields whose wanted value holds a secret: *** on both sides, since the old value is likely an old secret
        const secretFields: string[] = []
        const label = c.labels[CONTAINER_SPEC_LABEL]
        if (label !== hash) {
          if (c.image !== image) {
            before.image = c.image
            after.image = image
          }
          if (c.networkMode !== network) {
            before.network = c.networkMode
            after.network = network
          }
          if (spec.command !== undefined && JSON.stringify(c.cmd) !== JSON.stringify(spec.command)) {
            const hidden = spec.command.some(holdsSecret)
            before.command = hidden ? MASKED : mask(JSON.stringify(c.cmd))
            after.command = hidden ? MASKED : commandShown
            if (hidden) secretFields.push('command')
          }
          const haveEnv = new Map(c.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
          for (const [k, v] of envList) {
            if (haveEnv.get(k) !== v) {
              const hidden = holdsSecret(v)
              before[`env.${k}`] = !haveEnv.has(k) ? null : hidden ? MASKED : mask(haveEnv.get(k)!)
              after[`env.${k}`] = hidden ? MASKED : v
              if (hidden) secretFields.push(`env.${k}`)
            }
          }
          reasons.push(label === undefined ? 'not created by vxlab (no vxlab.spec label)'
            : Object.keys(after).length > 0 ? `${Object.keys(after).join(', ')} changed` : `spec changed (${short(label)} -> ${short(hash)})`)
        } else if (c.networkMode !== network) {
          before.network = c.networkMode
          after.network = network
          reasons.push('network changed')
        }
        if (cur.image.exists && c.imageId !== cur.image.id) {
          before.imageId = c.imageId
          after.imageId = cur.image.id
          // a container run from another image (one committed from it, say) was not created from a rebuild of this one
          const sameRef = c.image === image || c.image === `${image}:latest` || `${c.image}:latest` === image
          reasons.push(sameRef ? `image ${image} was rebuilt (${short(c.imageId)} -> ${short(cur.image.id)})` : `it runs image ${c.image} (${short(c.imageId)}), not ${image} (${short(cur.image.id)})`)
        }
        if (reasons.length > 0) {
          return [{ op: 'replace', summary: `replace container ${name}: ${reasons.join('; ')}`, before, after, ...(secretFields.length > 0 ? { secretFields } : {}), commands: [cmd('docker', 'rm', '-f', name), createCmd], touches }]
        }
        // mutable fields: update in place
        const cmds: Command[] = []
        const ub: Record<string, unknown> = {}
        const ua: Record<string, unknown> = {}
        if (c.restart !== restart) {
          ub.restart = c.restart
          ua.restart = restart
          cmds.push(cmd('docker', 'update', '--restart', restart, name))
        }
        const running = RUNNING_STATUSES.has(c.status)
        let stateCmd: Command | undefined
        if (state === 'running' && c.status === 'paused') stateCmd = cmd('docker', 'unpause', name)
        else if (state === 'running' && !running) stateCmd = { argv: ['docker', 'start', name], timeoutMs: 120_000 }
        else if (state === 'stopped' && (running || c.status === 'paused')) stateCmd = { argv: ['docker', 'stop', name], timeoutMs: 120_000 }
        if (stateCmd !== undefined) {
          cmds.push(stateCmd)
          ub.status = c.status
          ua.status = state
        }
        if (cmds.length === 0) return []
        return [{ op: 'update', summary: `update container ${name}: ${Object.keys(ua).map((k) => `${k} ${String(ub[k])} -> ${String(ua[k])}`).join(', ')}`, before: ub, after: ua, commands: cmds, touches }]
      },
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------------
// containerPort

/** Spec of {@link containerPort}. */
export interface ContainerPortSpec {
  /** OVS bridge to attach to (it must exist by apply time, e.g. made by ovsBridge earlier in the play). */
  readonly bridge: string
  /** Container name; it must be running by apply time. */
  readonly container: string
  /** Interface name inside the container, default `eth0`. */
  readonly iface?: string
  /** IPv4 address with prefix length inside the container, `A.B.C.D/len`; required unless `ensure: 'absent'`. */
  readonly address?: string
  /**
   * Default gateway inside the container: a unicast address ({@link gatewayIpv4}) in `address`'s network, not the
   * container's own address nor the network's broadcast address; unset = routes left alone.
   */
  readonly gateway?: string
  /** MTU in bytes (68..65535) on both veth ends; unset = left as is (1500 on create). */
  readonly mtu?: number
  /**
   * MAC address of the container end (`aa:bb:cc:dd:ee:ff`), a unicast address (I/G bit 0, not all zeros: see
   * {@link mac}); unset = kernel-chosen, left alone.
   */
  readonly mac?: string
  /** Default `present`; `absent` deletes the OVS port and the veth pair. */
  readonly ensure?: Ensure
}

/** What {@link containerPort} reads: the container's namespace and host end (one script), and OVS state. */
export interface ContainerPortCurrent {
  readonly netns: ContainerNetns
  /** The target bridge's datapath type (`system` / `netdev`); undefined when the bridge does not exist. */
  readonly datapathType?: string
  /** OVS interfaces attached for this container and interface (external_ids container_id / container_iface), plus the deterministic port. */
  readonly attachments: ReadonlyArray<{ readonly port: string; readonly bridge?: string; readonly ofport?: number; readonly error?: string; readonly containerId?: string; readonly containerIface?: string }>
}

/** Host end name of a container interface's veth pair: `vx` + 8 hex of sha256(container NUL iface) + `_l` (peer: `_c`). */
export function vethNames(container: string, iface: string): { host: string; peer: string } {
  const id = `vx${sha256(`${container}\0${iface}`).slice(0, 8)}`
  return { host: `${id}_l`, peer: `${id}_c` }
}

/**
 * The script that configures the container end inside its network namespace, resolving the container's PID
 * at apply time (so it works for a container created earlier in the same run). Arguments: container,
 * interface, then steps: `--move TMPNAME` (move the peer in and rename it), `--mtu M`, `--mac X`, `--flush`
 * (IPv4 addresses), `--addr A/L`, `--up`, `--route GW` (default route), `--tx-off`, `--tx-off-if-netdev BR`,
 * `--verify-addr A/L`, `--verify-gw GW` (fail with a message when the result is not there).
 */
export const NETNS_CONFIG_SCRIPT = `set -e
c=$1 i=$2; shift 2
pid=$(docker inspect --type container -f '{{.State.Pid}}' "$c")
case $pid in ''|0|*[!0-9]*) echo "vxlab: container $c is not running" >&2; exit 1 ;; esac
n() { nsenter -t "$pid" -n "$@"; }
while [ $# -gt 0 ]; do
  case $1 in
    --move) ip link set dev "$2" netns "$pid"; n ip link set dev "$2" name "$i"; shift ;;
    --mtu) n ip link set dev "$i" mtu "$2"; shift ;;
    --mac) n ip link set dev "$i" address "$2"; shift ;;
    --flush) n ip -4 addr flush dev "$i" ;;
    --addr) n ip addr add "$2" dev "$i"; shift ;;
    --up) n ip link set dev "$i" up ;;
    --route) n ip route replace default via "$2" dev "$i"; shift ;;
    --tx-off) n ethtool -K "$i" tx off >/dev/null ;;
    --tx-off-if-netdev) case $(ovs-vsctl --timeout=10 get bridge "$2" datapath_type) in *netdev*) n ethtool -K "$i" tx off >/dev/null ;; esac; shift ;;
    --verify-addr) a=$(n ip -o -4 addr show dev "$i")
      case "$a " in *" inet $2 "*) ;; *) echo "vxlab: $i in container $c does not have $2 after apply (has: \${a:-no address})" >&2; exit 1 ;; esac; shift ;;
    --verify-gw) r=$(n ip -4 route show default)
      case "$r" in *"default via $2 dev $i"*) ;; *) echo "vxlab: container $c has no default route via $2 dev $i after apply (default routes: \${r:-none})" >&2; exit 1 ;; esac; shift ;;
    *) echo "vxlab: unknown step $1" >&2; exit 2 ;;
  esac
  shift
done`

/** Host-end tx offload off only when the bridge turns out to be netdev (bridge unknown at plan time). */
const HOST_TX_OFF_IF_NETDEV = 'case $(ovs-vsctl --timeout=10 get bridge "$1" datapath_type) in *netdev*) ethtool -K "$2" tx off >/dev/null ;; esac'
/** Delete a link when it exists (ports of other attachments, whose link may be gone already). */
const DELETE_LINK_IF_EXISTS = 'if ip link show dev "$1" >/dev/null 2>&1; then ip link delete dev "$1"; fi'

const vsctl = (...args: string[]): Command => ({ argv: [...OVS_VSCTL, ...args] })

/** OVS attachments of (container, iface), by external_ids, plus the deterministic port if it exists at all. */
function attachmentsOf(ovs: OvsState, container: string, iface: string, hostName: string): ContainerPortCurrent['attachments'] {
  const out: Array<ContainerPortCurrent['attachments'][number]> = []
  for (const i of Object.values(ovs.interfaces)) {
    const mine = i.externalIds['container_id'] === container && i.externalIds['container_iface'] === iface
    if (!mine && i.name !== hostName) continue
    const port = Object.values(ovs.ports).find((p) => p.interfaces.includes(i.name))
    out.push({
      port: port?.name ?? i.name,
      ...(port?.bridge !== undefined ? { bridge: port.bridge } : {}),
      ...(i.ofport !== undefined ? { ofport: i.ofport } : {}),
      ...(i.error !== undefined ? { error: i.error } : {}),
      ...(i.externalIds['container_id'] !== undefined ? { containerId: i.externalIds['container_id'] } : {}),
      ...(i.externalIds['container_iface'] !== undefined ? { containerIface: i.externalIds['container_iface'] } : {}),
    })
  }
  return out.sort((a, b) => (a.port < b.port ? -1 : 1))
}

/** The fields of ContainerPortSpec (a key of a spec that is not one of these is refused: {@link knownFields}). */
const CONTAINER_PORT_FIELDS = specFields<ContainerPortSpec>()('bridge', 'container', 'iface', 'address', 'gateway', 'mtu', 'mac', 'ensure')

/**
 * Attach a container to an OVS bridge with a veth pair: what `ovs-docker add-port BRIDGE IFACE CONTAINER
 * --ipaddress=.. --gateway=.. --mtu=.. --macaddress=..` does, natively and idempotently.
 * - Host end `vx<8 hex>_l` (deterministic, see {@link vethNames}) is an OVS port on `bridge` with
 *   external_ids container_id=<container> and container_iface=<iface>, the keys ovs-docker uses (so
 *   `ovs-docker del-port` still works, and attachments made by ovs-docker are found and replaced).
 * - The peer is moved into the container's namespace (PID resolved at apply time), renamed to `iface`,
 *   given the MTU, MAC and address, set up, and the default route via `gateway` is set; the result is
 *   verified inside the namespace (a missing address or route fails the task).
 * - On a `netdev` (userspace datapath) bridge, tx checksum offload is turned off on both ends
 *   (`ethtool -K <if> tx off`): without it TCP through a VXLAN tunnel fails while ping works.
 * Plan: nothing there -> create; a stale attachment (container restarted: its end is gone, the OVS row has
 * an error / ofport -1 / no link; an ovs-docker port; the port on another bridge with a broken link) ->
 * replace (delete port and veth, re-create); address, gateway, MTU, MAC, link state or offload drift ->
 * update in place; `ensure: 'absent'` -> delete OVS port(s) and veth. A container that is not running
 * plans create (it may be started earlier in the same run) and fails at apply if it still is not.
 * Key `docker.containerPort[CONTAINER:IFACE]`. Watches `docker.container:C`, `ovs.bridge:BR`, `ovs.port:<host end>`;
 * touches `ovs.port:<host end>`, `link:<host end>`. Claims ({@link Task.claims}) `ovs.port:<host end>` (`port of
 * container C iface I on BR`, or `absent`) and, when present, `ovs.bridge:BR` (present), `container.addr:C I` (the
 * address: the iface's other addresses are flushed), `link.mtu:<host end>` with `mtu`, `container.mac:C I` with
 * `mac`, and `container.route:C default` with `gateway` (one default route per container: two attachments of one
 * container with different gateways would replace each other's).
 * Errors: ValidationError naming the field.
 */
export function containerPort(spec: ContainerPortSpec): Task<ContainerPortSpec, ContainerPortCurrent> {
  const key = `docker.containerPort[${String(spec?.container)}:${String(spec?.iface ?? 'eth0')}]`
  validateSpec(key, () => knownFields(spec, CONTAINER_PORT_FIELDS))
  return validateSpec(key, () => {
    const bridge = ifname('bridge', spec.bridge)
    const container = dockerName('container', spec.container)
    const iface = ifname('iface', spec.iface ?? 'eth0')
    const ensure = ensureOf('ensure', spec.ensure)
    let address: string | undefined
    let gateway: string | undefined
    if (ensure === 'present' || spec.address !== undefined) {
      if (spec.address === undefined) throw new ValidationError('address', 'required (A.B.C.D/len) unless ensure is absent')
      address = ipv4Interface('address', spec.address)
      if (spec.gateway !== undefined) {
        gateway = gatewayIpv4('gateway', spec.gateway)
        const [ip, len] = ipaddr.IPv4.parseCIDR(address)
        if (!ipaddr.IPv4.parse(gateway).match(ip, len)) throw new ValidationError('gateway', `${gateway} is not in ${address}'s network (the route would be rejected)`)
        if (gateway === ip.toString()) throw new ValidationError('gateway', `${gateway} is the container's own address`)
        // a /31 (RFC 3021) has no broadcast address, and in a /32 the gateway is the address itself (refused above)
        if (len <= 30 && gateway === ipaddr.IPv4.broadcastAddressFromCIDR(address).toString()) {
          throw new ValidationError('gateway', `${gateway} is the broadcast address of ${address}'s network (Linux refuses it as a gateway: "Nexthop has invalid gateway")`)
        }
      }
    } else if (spec.gateway !== undefined) gatewayIpv4('gateway', spec.gateway) // absent, no address: unused, but checked like every field given
    const mtu = spec.mtu === undefined ? undefined : mtuValue('mtu', spec.mtu)
    const mac = spec.mac === undefined ? undefined : macAddr('mac', spec.mac)
    const names = vethNames(container, iface)
    const H = names.host
    const netnsFact = containerNetnsFact(container, iface, H)
    const touches = [`ovs.port:${H}`, `link:${H}`]
    const extIds = [`external_ids:container_id=${JSON.stringify(container)}`, `external_ids:container_iface=${JSON.stringify(iface)}`]
    const netnsCmd = (steps: string[]): Command => script(NETNS_CONFIG_SCRIPT, container, iface, ...steps)
    const where = `${container}:${iface}`
    const claims: Claim[] = ensure === 'absent' ? [{ object: `ovs.port:${H}`, value: 'absent' }] : [
      { object: `ovs.port:${H}`, value: `port of container ${container} iface ${iface} on ${bridge}` },
      bridgeNeeded(bridge),
      { object: `container.addr:${container} ${iface}`, value: address! },
      ...(mtu !== undefined ? [{ object: `link.mtu:${H}`, value: String(mtu) }] : []),
      ...(mac !== undefined ? [{ object: `container.mac:${container} ${iface}`, value: mac }] : []),
      ...(gateway !== undefined ? [{ object: `container.route:${container} default`, value: `via ${gateway} dev ${iface}` }] : []),
    ]

    /** Delete every existing piece: OVS rows (ours and others' for this container/iface), the host link. */
    function cleanup(cur: ContainerPortCurrent): Command[] {
      const cmds: Command[] = []
      for (const a of cur.attachments) cmds.push(vsctl('--if-exists', 'del-port', a.port))
      if (cur.netns.hostLink !== undefined) cmds.push(cmd('ip', 'link', 'delete', 'dev', H))
      for (const a of cur.attachments) if (a.port !== H) cmds.push(script(DELETE_LINK_IF_EXISTS, a.port))
      return cmds
    }

    function createCommands(cur: ContainerPortCurrent): Command[] {
      const dp = cur.datapathType
      const mtuArgs = mtu !== undefined ? ['mtu', String(mtu)] : []
      const cmds: Command[] = [
        cmd('ip', 'link', 'add', 'name', H, ...mtuArgs, 'type', 'veth', 'peer', 'name', names.peer, ...mtuArgs),
        vsctl('--may-exist', 'add-port', bridge, H, '--', 'set', 'interface', H, ...extIds),
      ]
      if (dp === 'netdev') cmds.push(cmd('ethtool', '-K', H, 'tx', 'off'))
      else if (dp === undefined) cmds.push(script(HOST_TX_OFF_IF_NETDEV, bridge, H))
      cmds.push(cmd('ip', 'link', 'set', 'dev', H, 'up'))
      const steps = ['--move', names.peer]
      if (mac !== undefined) steps.push('--mac', mac)
      steps.push('--addr', address!, '--up')
      if (gateway !== undefined) steps.push('--route', gateway)
      if (dp === 'netdev') steps.push('--tx-off')
      else if (dp === undefined) steps.push('--tx-off-if-netdev', bridge)
      steps.push('--verify-addr', address!)
      if (gateway !== undefined) steps.push('--verify-gw', gateway)
      cmds.push(netnsCmd(steps))
      return cmds
    }

    const wantShown = (): Record<string, unknown> => ({ bridge, hostEnd: H, address, ...(gateway ? { gateway } : {}), ...(mtu ? { mtu } : {}), ...(mac ? { mac } : {}) })

    return {
      kind: 'docker.containerPort',
      key,
      spec,
      facts: [netnsFact, ovsStateFact],
      watches: [`docker.container:${container}`, `ovs.bridge:${bridge}`, `ovs.port:${H}`],
      claims,
      current: (f) => {
        const ovs = f.get(ovsStateFact)
        const br = ovs.bridges[bridge]
        return { netns: f.get(netnsFact), ...(br ? { datapathType: br.datapathType } : {}), attachments: attachmentsOf(ovs, container, iface, H) }
      },
      plan: (cur): Change[] => {
        const ns = cur.netns
        if (ensure === 'absent') {
          if (cur.attachments.length === 0 && ns.hostLink === undefined) return []
          return [{
            op: 'delete',
            summary: `detach ${where}: delete ${[...cur.attachments.map((a) => `port ${a.port}`), ...(ns.hostLink ? [`veth ${H}`] : [])].join(', ')}`,
            before: { ports: cur.attachments.map((a) => a.port) },
            commands: cleanup(cur), touches,
          }]
        }
        const exists = cur.attachments.length > 0 || ns.hostLink !== undefined
        if (ns.container !== 'running') {
          const why = ns.container === 'absent' ? 'container does not exist yet' : `container is ${ns.status ?? 'stopped'}`
          return [{
            op: exists ? 'replace' : 'create',
            summary: `attach ${where} to ${bridge} as ${address}${gateway ? ` via ${gateway}` : ''} (${why}; it must run by apply time)`,
            after: wantShown(), commands: [...cleanup(cur), ...createCommands(cur)], touches,
          }]
        }
        const inner: NetnsLink | undefined = ns.links?.[iface]
        const mineRow = cur.attachments.find((a) => a.port === H)
        const foreign = cur.attachments.filter((a) => a.port !== H)
        const broken: string[] = []
        if (ns.hostLink === undefined) broken.push(`host end ${H} is missing`)
        if (inner === undefined) broken.push(`${iface} is missing in the container (restarted?)`)
        else if (ns.hostLink !== undefined && (inner.kind !== 'veth' || inner.peerIfindex !== ns.hostLink.ifindex)) broken.push(`${iface} in the container is not the peer of ${H}`)
        if (mineRow?.error !== undefined) broken.push(`OVS port ${H}: ${mineRow.error}`)
        else if (mineRow?.ofport === -1) broken.push(`OVS port ${H} has ofport -1`)
        if (foreign.length > 0) broken.push(`attached by another tool as ${foreign.map((a) => a.port).join(', ')}`)
        const innerIsOurs = inner !== undefined && ns.hostLink !== undefined && inner.kind === 'veth' && inner.peerIfindex === ns.hostLink.ifindex
        if (inner !== undefined && !innerIsOurs && foreign.length === 0) {
          throw new Error(`container ${container} already has an interface ${iface} (${inner.kind ?? 'no kind'}) that is not attached by vxlab or ovs-docker: remove it or choose another iface`)
        }
        if (broken.length > 0) {
          if (!exists) {
            return [{ op: 'create', summary: `attach ${where} to ${bridge} as ${address}${gateway ? ` via ${gateway}` : ''} (host end ${H})`, after: wantShown(), commands: createCommands(cur), touches }]
          }
          return [{
            op: 'replace', summary: `re-attach ${where} to ${bridge}: ${broken.join('; ')}`,
            before: { ports: cur.attachments.map((a) => a.port), hostEnd: ns.hostLink ? H : null, [iface]: inner ? inner.ipv4.map((a) => a.cidr) : null },
            after: wantShown(), commands: [...cleanup(cur), ...createCommands(cur)], touches,
          }]
        }
        // healthy pair: compare in place
        const host = ns.hostLink!
        const c = inner!
        const before: Record<string, unknown> = {}
        const after: Record<string, unknown> = {}
        const hostCmds: Command[] = []
        const steps: string[] = []
        if (mineRow === undefined || mineRow.bridge !== bridge) {
          before.bridge = mineRow?.bridge ?? null
          after.bridge = bridge
          hostCmds.push(vsctl('--if-exists', 'del-port', H, '--', 'add-port', bridge, H, '--', 'set', 'interface', H, ...extIds))
        } else if (mineRow.containerId !== container || mineRow.containerIface !== iface) {
          before.externalIds = { container_id: mineRow.containerId ?? null, container_iface: mineRow.containerIface ?? null }
          after.externalIds = { container_id: container, container_iface: iface }
          hostCmds.push(vsctl('set', 'interface', H, ...extIds))
        }
        if (mtu !== undefined && (host.mtu !== mtu || c.mtu !== mtu)) {
          before.mtu = host.mtu === c.mtu ? c.mtu : { host: host.mtu, container: c.mtu }
          after.mtu = mtu
          if (host.mtu !== mtu) hostCmds.push(cmd('ip', 'link', 'set', 'dev', H, 'mtu', String(mtu)))
          if (c.mtu !== mtu) steps.push('--mtu', String(mtu))
        }
        if (mac !== undefined && c.mac !== mac) {
          before.mac = c.mac ?? null
          after.mac = mac
          steps.push('--mac', mac)
        }
        if (!host.up) {
          before.hostUp = false
          after.hostUp = true
          hostCmds.push(cmd('ip', 'link', 'set', 'dev', H, 'up'))
        }
        const addrs = c.ipv4.map((a) => a.cidr)
        const addrOk = addrs.length === 1 && addrs[0] === address
        if (!addrOk) {
          before.address = addrs.length === 0 ? null : addrs.join(', ')
          after.address = address
          steps.push('--flush', '--addr', address!)
        }
        if (!c.up) {
          before.up = false
          after.up = true
          steps.push('--up')
        }
        if (gateway !== undefined) {
          const routeOk = (ns.routes ?? []).some((r) => r.destination === 'default' && r.via === gateway && r.dev === iface)
          if (!routeOk || !addrOk || !c.up) {
            // flushing the address (or a down link) drops the route: set it again after
            if (!routeOk) {
              const d = (ns.routes ?? []).filter((r) => r.destination === 'default')
              before.gateway = d.length === 0 ? null : d.map((r) => `${r.via ?? '?'} dev ${r.dev ?? '?'}`).join(', ')
              after.gateway = gateway
            }
            steps.push('--route', gateway)
          }
        }
        if (cur.datapathType === 'netdev') {
          if (ns.hostTxOffload !== 'off') {
            before.hostTxChecksum = ns.hostTxOffload
            after.hostTxChecksum = 'off'
            hostCmds.push(cmd('ethtool', '-K', H, 'tx', 'off'))
          }
          if (ns.txOffload !== 'off') {
            before.txChecksum = ns.txOffload ?? null
            after.txChecksum = 'off'
            steps.push('--tx-off')
          }
        }
        if (hostCmds.length === 0 && steps.length === 0) return []
        const cmds = [...hostCmds]
        if (steps.length > 0) cmds.push(netnsCmd([...steps, '--verify-addr', address!, ...(gateway !== undefined ? ['--verify-gw', gateway] : [])]))
        return [{
          op: 'update',
          summary: `update ${where}: ${Object.keys(after).map((k) => `${k} ${JSON.stringify(before[k] ?? null)} -> ${JSON.stringify(after[k])}`).join(', ')}`,
          before, after, commands: cmds, touches,
        }]
      },
    }
  })
}
