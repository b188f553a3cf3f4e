import { createHash, randomBytes } from 'node:crypto'
import { readScript } from '../core/command.ts'
import { ReadFailedError } from '../core/errors.ts'
import type { Fact, FactGroup, FactOutput } from '../core/task.ts'
import { GROUP_FRAME_END_SH, GROUP_FRAME_START_SH, splitGroupOutput } from './group.ts'
import { parseLinks, parseRoutes, type Link, type Route } from './ip.ts'
import { nameRecord } from './records.ts'

/**
 * Reading Docker state as JSON (`docker inspect`, `docker image inspect`, docker-inspect(1)) and a
 * container's network namespace (`nsenter -t <pid> -n ip -j ...`).
 *
 * The docker CLI exits 1 both for "No such object" and for "Cannot connect to the Docker daemon": the
 * facts accept exit 1 and tell the two apart by stderr. Only "No such ..." is absence; anything else (daemon
 * down, permission denied on the socket) throws {@link DockerDaemonError}, so a stopped dockerd is a failed
 * read naming dockerd, never "absent".
 */

/** dockerd did not answer a read (daemon down, socket permission): never treated as "absent". */
export class DockerDaemonError extends ReadFailedError {
  constructor(detail: string) {
    const d = detail.trim() || 'docker exited 1 with no message'
    super(`dockerd did not answer (is it running?): ${d}`, d)
    this.name = 'DockerDaemonError'
  }
}

/** Whether a docker CLI error (stderr) says the object does not exist, as opposed to a daemon failure. */
export function isNoSuchObject(stderr: string): boolean {
  return /(^|\n)(Error: |Error response from daemon: )?No such (object|container|image)\b/i.test(stderr.trim())
}

function parseInspect<T>(o: FactOutput, what: string): T | undefined {
  if (o.code === 1) {
    if (isNoSuchObject(o.stderr)) return undefined
    throw new DockerDaemonError(o.stderr)
  }
  const arr = JSON.parse(o.stdout) as T[]
  if (!Array.isArray(arr) || arr.length !== 1) throw new Error(`docker inspect ${what}: expected one object, got ${Array.isArray(arr) ? arr.length : typeof arr}`)
  return arr[0]
}

// ---------------------------------------------------------------------------------------------
// Docker Engine API over its socket, with curl (what the docker CLI does, without a ~10 ms Go start-up)

/**
 * Shell functions for reading dockerd's Engine API directly over its unix socket with curl, as the docker CLI
 * does (and as Ansible's docker modules do): the CLI is a Go program whose start-up alone costs ~10 ms of CPU
 * per call, a lab Docker host made two such calls per run, and under load each took 25-75 ms.
 *
 * `dk_api` sets `api` to the socket when that is safe: curl is there, no docker context is chosen
 * (`DOCKER_CONTEXT` set, even empty, or `currentContext` in the CLI's config.json in any case or with `\\u`
 * escapes), `DOCKER_HOST` is unset or `unix://`, and the socket is one this user may use; and (`dk_safe`) every
 * name read is plain (no `..`, `//`, `.` between slashes, trailing `/`, or characters outside `A-Za-z0-9._:/@-`:
 * dockerd answers a path it would clean with a redirect, which the CLI follows and curl does not). curl runs with `-q`
 * (no ~/.curlrc) and `--path-as-is`. An error answer is printed as the CLI prints it, `Error response from
 * daemon: MESSAGE`, so "No such container/image" is absence and anything else a failure, as with the CLI.
 * Otherwise `api` is empty and the scripts run the docker CLI as before, so every setup the CLI handles (contexts,
 * ssh:// and tcp:// hosts, TLS) still works.
 *
 * `dk_get PATH...` GETs each path (`/containers/NAME/json`, unversioned: dockerd answers in its own API
 * version) in ONE curl, and prints for each its body on one line (dockerd writes compact JSON and a newline),
 * then a line `@@VXDK HTTP_CODE`. `dk_fields JSON` sets `nm`, `st` and `pd` to the first `"Name"`, `"Status"`
 * and `"Pid"` KEYS of a container's JSON (a string followed by `:`, never a value: the top-level Name,
 * State.Status and State.Pid, which dockerd writes before any other key of those names). The scripts take text
 * apart by splitting fields (IFS), never with `${x#*PATTERN}` or `${x#"$long"}`, which are quadratic in dash, nor
 * with `read`, which takes a byte per system call: a container's JSON is ~5 KB.
 * curl failing (dockerd down: exit 7) prints the CLI's own "Cannot connect to the Docker daemon" line on stderr
 * and returns 1, so the facts tell a daemon failure from absence exactly as with the CLI.
 */
export const DOCKER_API_SH = `dk_api() {
  api=
  command -v curl >/dev/null 2>&1 || return 0
  [ -z "\${DOCKER_CONTEXT+set}" ] || return 0
  case \${DOCKER_HOST:-unix:///var/run/docker.sock} in unix://*) ;; *) return 0 ;; esac
  dk_s=\${DOCKER_HOST:-unix:///var/run/docker.sock}; dk_s=\${dk_s#unix://}
  [ -S "$dk_s" ] && [ -r "$dk_s" ] && [ -w "$dk_s" ] || return 0
  dk_f=\${DOCKER_CONFIG:-\${HOME:-/nonexistent}/.docker}/config.json
  if [ -r "$dk_f" ]; then
    # the CLI decodes config.json with Go, which matches keys in any case and reads \\u escapes: any of those -> CLI
    while IFS= read -r dk_l || [ -n "$dk_l" ]; do case $dk_l in *[cC][uU][rR][rR][eE][nN][tT][cC][oO][nN][tT][eE][xX][tT]*|*'\\u'*) return 0 ;; esac; done <"$dk_f"
  fi
  api=$dk_s
}
dk_fields() {
  nm= st= pd=
  dk_i=$IFS; IFS='"'; set -f; set -- $1; set +f; IFS=$dk_i
  while [ $# -gt 2 ]; do
    case $1 in
      Name) [ -n "$nm" ] || [ "$2" != : ] || nm=$3 ;;
      Status) [ -n "$st" ] || [ "$2" != : ] || st=$3 ;;
      Pid) [ -n "$pd" ] || case $2 in :[0-9]*) pd=\${2#:}; pd=\${pd%%[!0-9]*} ;; esac ;;
    esac
    [ -z "$nm" ] || [ -z "$st" ] || [ -z "$pd" ] || return 0
    shift
  done
}
dk_safe() { case $1 in ''|.|./*|*/.|*/./*|*..*|*//*|*/|*[!A-Za-z0-9._:/@-]*) return 1 ;; esac; return 0; }
dk_msg() {
  dk_m=
  dk_i=$IFS; IFS='"'; set -f; set -- $1; set +f; IFS=$dk_i
  while [ $# -gt 3 ]; do [ "$2" = message ] && [ "$3" = : ] && { dk_m=$4; return 0; }; shift; done
}
dk_get() {
  dk_u=
  for dk_p in "$@"; do dk_u="$dk_u http://docker$dk_p"; done
  # -q first: no ~/.curlrc; --path-as-is: the path goes to dockerd as given
  curl -q -sS --path-as-is --max-time 60 --unix-socket "$api" -w '\n@@VXDK %{http_code}\n' $dk_u 2>/dev/null && return 0
  echo "Cannot connect to the Docker daemon at unix://$api. Is the docker daemon running?" >&2
  return 1
}`

/**
 * {@link dockerImageFact}'s command: the image's inspect JSON as `docker image inspect NAME` prints it (an array of
 * one), read over the Engine API when {@link DOCKER_API_SH} allows, else by the CLI. Arg: the image name.
 */
export const IMAGE_INSPECT_SCRIPT = `${DOCKER_API_SH}
dk_api
dk_safe "$1" || api=
[ -n "$api" ] || exec docker image inspect "$1"
img=$1
r=$(dk_get "/images/$img/json") || exit 1
b= c=
IFS='
'; set -f; set -- $r; set +f; unset IFS
for l; do case $l in '@@VXDK '*) c=\${l#@@VXDK } ;; *) b=$l ;; esac; done
case $c in
  200) printf '[%s]\n' "$b" ;;
  *) dk_msg "$b"; printf 'Error response from daemon: %s\n' "\${dk_m:-HTTP $c}" >&2; exit 1 ;;
esac`

// ---------------------------------------------------------------------------------------------
// Images

/** An image as `docker image inspect` shows it (the fields vxlab uses). */
export type DockerImageState =
  | { readonly exists: false }
  | {
    readonly exists: true
    /** Content-addressed image ID, `sha256:<64 hex>`. */
    readonly id: string
    readonly repoTags: readonly string[]
    /** `Config.Labels` (vxlab stores its build-input hash as `vxlab.hash`). */
    readonly labels: Readonly<Record<string, string>>
    /** RFC 3339 creation time. */
    readonly created: string
  }

interface ImageInspectJson {
  Id: string
  RepoTags?: string[] | null
  Created: string
  Config?: { Labels?: Record<string, string> | null } | null
}

/**
 * Fact: one image by name (`docker image inspect NAME`, JSON; over the Engine API when it can, see
 * {@link DOCKER_API_SH}; in a batch with other container or image facts, by the same curl:
 * {@link DOCKER_CONTAINERS_GROUP}). Absent image → `{exists: false}`;
 * dockerd down → error naming dockerd. Id `docker.image:<name>`, shared by dockerImage and dockerContainer.
 */
export function dockerImageFact(name: string): Fact<DockerImageState> {
  return {
    id: `docker.image:${name}`,
    service: 'dockerd',
    slow: true,
    command: readScript(IMAGE_INSPECT_SCRIPT, name),
    group: containersGroup(['i', name]),
    okExitCodes: [0, 1],
    parse: (o) => {
      const j = parseInspect<ImageInspectJson>(o, name)
      if (j === undefined) return { exists: false }
      return { exists: true, id: j.Id, repoTags: j.RepoTags ?? [], labels: j.Config?.Labels ?? {}, created: j.Created }
    },
  }
}

/**
 * {@link dockerImageUsersFact}'s command: the containers (any state) created from image $1 or from an image built
 * on it (`docker ps --filter ancestor`), one line each: the container's image ID and its name (`sha256:... /NAME`),
 * then ` vxlab.spec` when the container carries a non-empty `vxlab.spec` label (made by dockerContainer: a container
 * inherits its image's labels, such as `vxlab.hash`, but not that one, which `docker run --label` sets, unless
 * its image was made by `docker commit` of a vxlab container).
 * A container removed between the two reads is left out (docker inspect says "No such container" for it).
 */
export const IMAGE_USERS_SCRIPT = `ids=$(docker ps -a -q --no-trunc --filter "ancestor=$1") || exit 1
[ -n "$ids" ] || exit 0
set -f
docker inspect --type container --format '{{.Image}} {{.Name}}{{with .Config.Labels}}{{if index . "vxlab.spec"}} vxlab.spec{{end}}{{end}}' $ids`

/** A container that uses an image: its name, the ID of the image it was created from, and whether vxlab made it. */
export interface ImageUser {
  readonly name: string
  readonly imageId: string
  /** Set (true) when the container has a non-empty `vxlab.spec` label: dockerContainer made it. */
  readonly specLabel?: true
}

/**
 * Fact: the containers that use image NAME, read with the CLI ({@link IMAGE_USERS_SCRIPT}): created from it or
 * from an image built on it; the caller compares `imageId` with the image's own ID for exactly those that docker
 * would name when it refuses to remove the image. No such image → `[]`; dockerd down → error naming dockerd.
 * Id `docker.imageUsers:<name>`.
 */
export function dockerImageUsersFact(name: string): Fact<readonly ImageUser[]> {
  return {
    id: `docker.imageUsers:${name}`,
    service: 'dockerd',
    slow: true,
    command: readScript(IMAGE_USERS_SCRIPT, name),
    okExitCodes: [0, 1],
    parse: (o) => {
      // exit 1 with only "No such ..." lines: the image is gone (newer daemons), or a container went meanwhile
      if (o.code === 1 && !o.stderr.trim().split('\n').every((l) => isNoSuchObject(l))) throw new DockerDaemonError(o.stderr)
      const users: ImageUser[] = []
      for (const line of o.stdout.split('\n')) {
        const m = /^(\S+) \/(\S+)( vxlab\.spec)?$/.exec(line.trim())
        if (m) users.push({ imageId: m[1]!, name: m[2]!, ...(m[3] !== undefined ? { specLabel: true as const } : {}) })
        else if (line.trim() !== '') throw new Error(`unexpected docker inspect line ${JSON.stringify(line.slice(0, 100))}`)
      }
      return users
    },
  }
}

/**
 * The script of {@link dockerContextHashFact}: sha256 of the sorted `sha256sum` lines (hash and relative path)
 * of every regular file under the folder (`$1`). find's exit status reflects unreadable entries and failed
 * hash runs, so a partial listing is an error, not a different hash.
 * The file hashes come from `openssl dgst -sha256 -r` when the host has it (SHA extensions: a 12 MB rootfs
 * in ~10 ms instead of ~70 ms with coreutils' sha256sum), rewritten to sha256sum's `HASH  ./path` lines, so
 * the result is the same hash either way; paths with a backslash or a control character anywhere (sha256sum
 * escapes `\`, newline and carriage return) always go through sha256sum. A folder with no regular file hashes
 * nothing (the sha256 of no bytes).
 *
 * The cache, with a cache name (`$2`): the hash is kept in a file of that name (one line: `SIGNATURE HASH`) in
 * the folder `$3`, by default `/run/vxlab-cache/context-hash` (root) or
 * `$XDG_RUNTIME_DIR/vxlab-cache/context-hash` (another user, when that folder exists and is theirs; else no
 * cache): tmpfs, like the run lock, so a reboot empties it.
 * - The key is the sha256 of the folder's path and its listing: every entry, folders included (adding, removing
 *   or renaming an entry changes its folder's ctime), with type, device, inode, size, mtime, ctime
 *   (nanoseconds), file system type and relative path (GNU find's `-printf`). This is git's index rule (git's
 *   racy-git.txt): the kernel sets a file's ctime at every write, and no user can set it.
 * - The hash is stored only when the listing and the mount table after hashing are those before it, every entry
 *   is on the folder's own device (no mount inside it) of a local file system that keeps the kernel's ctime
 *   (ext2/3/4, xfs, zfs: not tmpfs, where writes through a shared mmap do not update it, nor network, FUSE or
 *   read-only image file systems, whose times come from elsewhere; btrfs shows find no file system type), and
 *   every entry's ctime and mtime are at least 60 s older than the clock before hashing. The 60 s cover a
 *   second write in the same timestamp tick as the listing, and writes through a shared mmap to a page the
 *   kernel has not yet written back (it updates the ctime at the next write after writeback, which runs within
 *   ~35 s with the default vm.dirty_expire_centisecs and vm.dirty_writeback_centisecs).
 * - It is used only from a folder and file that the user running it owns.
 * - What it cannot see (remove the cache folder, or touch a file, after any of these): content changed below
 *   the file system (a disk image edited offline, or swapped at the folder's mount point with the same times);
 *   XFS's swap-extents ioctl with the times kept (xfs_fsr keeps the content); writeback delayed beyond 60 s
 *   (laptop mode) while a process writes through a shared mmap.
 * No GNU find, a path with a backslash or a control character, a file the user cannot read, or any failure of
 * the cache: the folder is hashed as above and the cache is left alone.
 */
export const CONTEXT_HASH_SCRIPT = [
  'cd -- "$1" || exit 2',
  "nl='",
  "'",
  'cdir=${3-} cf= sig= list=',
  'if [ -z "$cdir" ]; then',
  '  if [ -w /run ]; then cdir=/run/vxlab-cache/context-hash',
  '  else case ${XDG_RUNTIME_DIR-} in /*) ! [ -O "$XDG_RUNTIME_DIR" ] || cdir=$XDG_RUNTIME_DIR/vxlab-cache/context-hash ;; esac',
  '  fi',
  'fi',
  '# the listing: BAD for a path that sha256sum would escape (a backslash, a control character) or a file we cannot read',
  'lsctx() { LC_ALL=C find . \\( -path \'*\\\\*\' -o -path \'*[[:cntrl:]]*\' -o \\( -type f ! -readable \\) \\) -printf \'BAD\\n\' -quit -o -printf \'%y %D %i %s %T@ %C@ %F %p\\n\' 2>/dev/null; }',
  'if [ -n "$cdir" ] && [ -n "${2-}" ] && list=$(lsctx); then',
  '  case $nl$list$nl in',
  '    *"${nl}BAD$nl"*) ;;',
  '    *) cf=$cdir/$2; sig=$(printf \'%s\\n%s\\n\' "$1" "$list" | sha256sum) && sig=${sig%% *} || cf= ;;',
  '  esac',
  'fi',
  'if [ -n "$cf" ] && [ -f "$cf" ] && [ -O "$cf" ] && [ -O "$cdir" ] && { IFS=\' \' read -r csig chash <"$cf"; } 2>/dev/null && [ "$csig" = "$sig" ]; then',
  '  case $chash in *[!0-9a-f]*) ;; *) [ "${#chash}" -ne 64 ] || { printf \'%s  -\\n\' "$chash"; exit 0; } ;; esac',
  'fi',
  '# the mounts before and after hashing: mounting changes no time in the listing',
  '[ -z "$cf" ] || { start=$(date +%s) && mi=$(cat /proc/self/mountinfo); } || cf=',
  '# a listing without BAD (cf set) already says no path needs sha256sum',
  'if command -v openssl >/dev/null 2>&1 && { [ -n "$cf" ] || [ -z "$(LC_ALL=C find . -type f \\( -path \'*\\\\*\' -o -path \'*[[:cntrl:]]*\' \\) -print)" ]; }; then',
  '  sums=$(find . -type f -exec openssl dgst -sha256 -r {} +) || { echo "vxlab: cannot hash every file under $1" >&2; exit 2; }',
  '  sums=$(printf "%s\\n" "$sums" | sed \'s/^\\([0-9a-f]\\{64\\}\\) \\*/\\1  /\')',
  'else',
  '  sums=$(find . -type f -exec sha256sum -- {} +) || { echo "vxlab: cannot hash every file under $1" >&2; exit 2; }',
  'fi',
  'h=$(if [ -n "$sums" ]; then printf "%s\\n" "$sums"; fi | LC_ALL=C sort | sha256sum) || exit 2',
  'printf \'%s\\n\' "$h"',
  '# stored only as the docstring says; one write of one line into a folder of ours: a reader sees the old line,',
  '# the new one or none (and hashes)',
  'if [ -n "$cf" ] && [ "$(lsctx)" = "$list" ] && [ "$(cat /proc/self/mountinfo)" = "$mi" ] \\',
  '  && printf \'%s\\n\' "$list" | awk -v old="$((start - 60))" \'NR == 1 { dev = $2 }',
  '    $2 != dev || $5 + 0 >= old || $6 + 0 >= old || $7 !~ /^(ext2|ext3|ext4|ext2\\/ext3|xfs|zfs)$/ { bad = 1 } END { exit bad }\' \\',
  '  && mkdir -p -m 700 -- "$cdir" 2>/dev/null && [ -O "$cdir" ] && { [ ! -e "$cf" ] || [ -O "$cf" ]; }; then',
  '  printf \'%s %s\\n\' "$sig" "${h%% *}" 2>/dev/null >"$cf" || :',
  'fi',
  'exit 0',
].join('\n')

/**
 * Fact: a content hash of a build context folder ON THE HOST (64 hex): file names and contents of every
 * regular file under it (modes, owners and times are not part of it). Computed on the host, so it is right
 * whether or not the controller can see the same folder. A missing or unreadable folder fails the read.
 * The host keeps the hash in `/run/vxlab-cache/context-hash/context-<32 hex of sha256 of the folder's path>`,
 * used while the folder's listing (device, inode, size, times of every entry) does not change and only for a
 * folder unchanged for 60 s on a local file system (see {@link CONTEXT_HASH_SCRIPT}): a rerun lists the folder
 * instead of hashing its content. Like the run lock in /run, this cache is vxlab's own and is written in check
 * mode too.
 */
export function dockerContextHashFact(dir: string): Fact<string> {
  return {
    id: `docker.contextHash:${dir}`,
    slow: true,
    command: readScript(CONTEXT_HASH_SCRIPT, dir, contextCacheName(dir)),
    parse: (o) => {
      const m = /^([0-9a-f]{64})\b/.exec(o.stdout.trim())
      if (!m) throw new Error(`unexpected sha256sum output ${JSON.stringify(o.stdout.slice(0, 100))}`)
      return m[1]!
    },
  }
}

/** The context-hash cache's file name for a folder: `context-` + the first 32 hex of sha256 of its path. */
export function contextCacheName(dir: string): string {
  return `context-${createHash('sha256').update(dir).digest('hex').slice(0, 32)}`
}

// ---------------------------------------------------------------------------------------------
// Containers

/** Docker's container states (`State.Status`). */
export type DockerContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead'

/** A container as `docker inspect --type container` shows it (the fields vxlab uses). */
export type DockerContainerState =
  | { readonly exists: false }
  | {
    readonly exists: true
    /** Full container ID (64 hex). */
    readonly id: string
    readonly name: string
    readonly status: DockerContainerStatus
    /** PID of the container's init process in the host's PID namespace; 0 when not running. */
    readonly pid: number
    /** ID of the image the container was created from (`sha256:...`). */
    readonly imageId: string
    /** The image reference it was created with (`Config.Image`). */
    readonly image: string
    /** `HostConfig.NetworkMode`: `none`, `host`, `bridge`, a network name, `container:<id>`. */
    readonly networkMode: string
    /** `HostConfig.RestartPolicy.Name`; docker's empty default is reported as `no`. */
    readonly restart: string
    /** `Config.Labels`. */
    readonly labels: Readonly<Record<string, string>>
    /** `Config.Env` (`K=V`, including the image's own variables such as PATH). */
    readonly env: readonly string[]
    /** `Config.Cmd` (the image's CMD when none was given). */
    readonly cmd: readonly string[]
  }

interface ContainerInspectJson {
  Id: string
  Name: string
  Image: string
  State: { Status: DockerContainerStatus; Pid: number }
  Config: { Image: string; Labels?: Record<string, string> | null; Env?: string[] | null; Cmd?: string[] | null }
  HostConfig: { NetworkMode: string; RestartPolicy?: { Name?: string } | null }
}

/**
 * Fact: one container by exact name (`docker inspect --type container NAME`, JSON). Absent →
 * `{exists: false}` (also when docker resolved NAME to another container by ID prefix); dockerd down →
 * error naming dockerd. Id `docker.container:<name>`.
 */
export function dockerContainerFact(name: string): Fact<DockerContainerState> {
  return {
    id: `docker.container:${name}`,
    service: 'dockerd',
    command: { argv: ['docker', 'inspect', '--type', 'container', name] },
    group: containersGroup(['c', name]),
    slow: true,
    okExitCodes: [0, 1],
    parse: (o) => {
      const j = parseInspect<ContainerInspectJson>(o, name)
      if (j === undefined || j.Name !== `/${name}`) return { exists: false }
      const restart = j.HostConfig.RestartPolicy?.Name ?? ''
      return {
        exists: true, id: j.Id, name, status: j.State.Status, pid: j.State.Pid, imageId: j.Image, image: j.Config.Image,
        networkMode: j.HostConfig.NetworkMode, restart: restart === '' ? 'no' : restart,
        labels: j.Config.Labels ?? {}, env: j.Config.Env ?? [], cmd: j.Config.Cmd ?? [],
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// A container's network namespace, seen from the host

/** tx checksum offload of a link (`ethtool -k`, "tx-checksumming"): `absent` = no such link, `unknown` = no ethtool. */
export type TxOffload = 'on' | 'off' | 'absent' | 'unknown'

/** A link seen inside a container's namespace, with its veth peer's ifindex in the peer's namespace. */
export interface NetnsLink extends Link {
  /** For a veth whose peer is in another namespace: the peer's ifindex there (`ip -j` `link_index`). */
  readonly peerIfindex?: number
}

/** A container's network namespace as the host sees it, plus the host end of its attachment. */
export interface ContainerNetns {
  /** `absent`: no such container; `stopped`: exists, no running process (any status but running/paused/restarting). */
  readonly container: 'absent' | 'stopped' | 'running'
  /** Docker status (`exited`, `created`, ...) when the container exists. */
  readonly status?: string
  readonly pid?: number
  /** Links inside the container's namespace (running only). */
  readonly links?: Readonly<Record<string, NetnsLink>>
  /** IPv4 main routing table inside the container (running only). */
  readonly routes?: readonly Route[]
  /** tx checksum offload of the container interface (running only). */
  readonly txOffload?: TxOffload
  /** The host end (in the host's namespace), when it exists. */
  readonly hostLink?: Link
  /** tx checksum offload of the host end. */
  readonly hostTxOffload: TxOffload
}

/**
 * What {@link CONTAINER_NETNS_SCRIPT} reads inside the container's network namespace, in ONE `nsenter` (a shell
 * there runs the reads): its addresses, IPv4 routes and the tx offload of IFACE (`absent` when there is no such
 * link, `unknown` without ethtool). Exit 3 when a read fails. Arg: IFACE. No single quotes (it is quoted as one).
 * Whether IFACE exists is read from the address listing (its `"ifname"`; names are validated, nothing to
 * escape), not by one more `ip link show`.
 */
const IN_NETNS_SCRIPT = `a=$(ip -j -d addr show) || exit 3
printf "@@addr\\n%s\\n" "$a"
echo; echo @@route; ip -j -4 route show || exit 3
echo; echo @@tx
case $a in *"\\"ifname\\":\\"$1\\""*) ;; *) echo absent; exit 0 ;; esac
if command -v ethtool >/dev/null 2>&1; then ethtool -k "$1" || exit 3
else echo unknown
fi`

/**
 * The script of {@link containerNetnsFact}. $1 container, $2 interface inside it, $3 host end name.
 * Output: `container absent`, or `container <status> <pid>` then `@@` sections (raw JSON / ethtool text).
 * docker inspect failing for another reason than "No such" exits 2 with docker's message (dockerd down).
 */
export const CONTAINER_NETNS_SCRIPT = `c=$1 i=$2 h=$3
if out=$(docker inspect --type container -f '{{.Name}} {{.State.Status}} {{.State.Pid}}' "$c" 2>&1); then :; else
  case $out in *"No such"*) echo "container absent" ;; *) printf '%s\\n' "$out" >&2; exit 2 ;; esac
  out=
fi
tx() { if command -v ethtool >/dev/null 2>&1; then "$@" || exit 3; else echo unknown; fi; }
if [ -n "$out" ]; then
  set -- $out
  if [ "$1" != "/$c" ]; then echo "container absent"
  else
    echo "container $2 $3"
    if [ "$3" -gt 0 ]; then
      nsenter -t "$3" -n sh -c '${IN_NETNS_SCRIPT}' sh "$i" || exit 3
    fi
  fi
fi
echo @@host
if a=$(ip -j -d addr show dev "$h" 2>/dev/null); then
  printf '%s\\n' "$a"
  echo; echo @@hosttx; tx ethtool -k "$h"
elif ! ip link show dev "$h" >/dev/null 2>&1; then echo; echo @@hosttx; echo absent
else ip -j -d addr show dev "$h" >/dev/null; exit 3
fi`

function parseTx(text: string | undefined): TxOffload {
  const t = (text ?? '').trim()
  if (t === '' || t === 'absent') return 'absent'
  if (t === 'unknown') return 'unknown'
  const m = /^tx-checksumming:\s*(on|off)/m.exec(t)
  if (!m) throw new Error(`unexpected ethtool -k output ${JSON.stringify(t.slice(0, 120))}`)
  return m[1] as 'on' | 'off'
}

/** Parse the output of {@link CONTAINER_NETNS_SCRIPT}. */
export function parseContainerNetns(stdout: string): ContainerNetns {
  const [head, ...rest] = stdout.split(/^@@/m)
  const sections = new Map<string, string>()
  for (const s of rest) {
    const nl = s.indexOf('\n')
    sections.set(nl < 0 ? s.trim() : s.slice(0, nl).trim(), nl < 0 ? '' : s.slice(nl + 1))
  }
  const hostJson = sections.get('host') ?? ''
  const hostLinks = parseLinks(hostJson)
  const hostLink = Object.values(hostLinks)[0]
  const host = { ...(hostLink !== undefined ? { hostLink } : {}), hostTxOffload: parseTx(sections.get('hosttx')) }
  const m = /^container (\S+)(?: (\d+))?\s*$/m.exec(head ?? '')
  if (!m) throw new Error(`unexpected output ${JSON.stringify((head ?? '').slice(0, 120))}`)
  if (m[1] === 'absent') return { container: 'absent', ...host }
  const status = m[1]!
  const pid = Number(m[2] ?? 0)
  if (pid <= 0 || !sections.has('addr')) return { container: 'stopped', status, pid, ...host }
  const addrJson = sections.get('addr') ?? '[]'
  const base = parseLinks(addrJson)
  const raw = JSON.parse(addrJson.trim() === '' ? '[]' : addrJson) as Array<{ ifname: string; link_index?: number; link_netnsid?: number }>
  const links = nameRecord<NetnsLink>()
  for (const r of raw) {
    const l = base[r.ifname]!
    links[r.ifname] = r.link_index !== undefined && r.link_netnsid !== undefined ? { ...l, peerIfindex: r.link_index } : l
  }
  return { container: 'running', status, pid, links, routes: parseRoutes(sections.get('route') ?? '[]'), txOffload: parseTx(sections.get('tx')), ...host }
}

// ---------------------------------------------------------------------------------------------
// Every container fact of a host in one docker call

/** From `tx() {` on: the part of {@link CONTAINER_NETNS_SCRIPT} that works from docker's answer (`$out`). */
const NETNS_AFTER_INSPECT = CONTAINER_NETNS_SCRIPT.slice(CONTAINER_NETNS_SCRIPT.indexOf('tx() {'))

/**
 * The script of {@link DOCKER_CONTAINERS_GROUP}: ONE read of every container and image that the batch's container
 * and image facts name (one curl over the Engine API, or one `docker inspect` for the containers and one
 * `docker image inspect` per image: {@link DOCKER_API_SH}), then each member's output as its own command would
 * print it, framed as `TOKEN K CODE` / stdout / `TOKEN K err` / stderr / `TOKEN K end` (docker's error lines once
 * each: it repeats "Cannot connect to the Docker daemon" for every name). Args: token, the number N of container
 * names, the N names, the number M of image names, the M names, then the members: `c NAME`
 * ({@link dockerContainerFact}), `n NAME IFACE HOSTIFACE` ({@link containerNetnsFact}) or `i IMAGE`
 * ({@link dockerImageFact}). Names are validated docker names and interface names (no blanks, no globs).
 */
export const CONTAINERS_GROUP_SCRIPT = `${DOCKER_API_SH}
t=$1 n=$2; shift 2
names=
while [ "$n" -gt 0 ]; do names="$names $1"; shift; n=$((n-1)); done
n=$1; shift
images=
while [ "$n" -gt 0 ]; do images="$images $1"; shift; n=$((n-1)); done
d=$(mktemp -d) || { echo "vxlab: no temp folder for the grouped docker read" >&2; exit 2; }
nl='
'
dk_api
for c in $names; do dk_safe "$c" || api=; done
# images over the API too (each one's body and code: "IMAGE CODE JSON" lines), unless a name is not safe for a path
imgapi=$api
for c in $images; do dk_safe "$c" || imgapi=; done
all= imgs= rc=0
if [ -n "$api" ]; then
  # the CLI's lines (NAME STATUS PID JSON) and messages, from one curl: name, status and pid are the first
  # "Name", "Status" and "Pid" keys of dockerd's compact JSON (top-level Name, State.Status, State.Pid)
  paths=
  for c in $names; do paths="$paths /containers/$c/json"; done
  [ -z "$imgapi" ] || for c in $images; do paths="$paths /images/$c/json"; done
  if [ -n "$paths" ]; then r=$(dk_get $paths 2>"$d/err"); rc=$?; fi
  rest=\${names# } irest=; [ -z "$imgapi" ] || irest=\${images# }
  dk_parse() {
    b=
    for l; do
      case $l in
        '@@VXDK '*)
          code=\${l#@@VXDK }
          if [ -n "$rest" ]; then
            c=\${rest%% *}; rest=\${rest#"$c"}; rest=\${rest# }
            case $code in
              200) dk_fields "$b"; all="$all$nm $st $pd $b$nl" ;;
              *) dk_msg "$b"; printf 'Error response from daemon: %s\\n' "\${dk_m:-HTTP $code}" >>"$d/err"; rc=1 ;;
            esac
          else
            c=\${irest%% *}; irest=\${irest#"$c"}; irest=\${irest# }
            imgs="$imgs$c $code $b$nl"
          fi
          b= ;;
        *) b=$l ;;
      esac
    done
  }
  if [ "$rc" -eq 0 ] && [ -n "$paths" ]; then IFS=$nl; set -f; dk_parse $r; set +f; unset IFS; fi
elif [ -n "$names" ]; then
  all=$(docker inspect --type container -f '{{.Name}} {{.State.Status}} {{.State.Pid}} {{json .}}' $names 2>"$d/err"); rc=$?
fi

err=; [ ! -s "$d/err" ] || err=$(cat "$d/err")
# line= the first line of $2 that starts with $1
first_line() {
  line= fl_p=$1
  IFS=$nl; set -f; set -- $2; set +f; unset IFS
  for l; do case $l in "$fl_p"*) line=$l; return ;; esac; done
}
no_such() { case "$nl$err$nl" in *"No such container: $1$nl"*) return 0 ;; esac; return 1; }
k=0
while [ $# -gt 0 ]; do
  kind=$1 c=$2
  if [ "$kind" = n ]; then i=$3 h=$4; shift 4; else shift 2; fi
  if [ "$kind" = i ]; then first_line "$c " "$imgs"; line=\${line#"$c "}; else first_line "/$c " "$all"; fi
  ${GROUP_FRAME_START_SH}
  (
    if [ "$kind" = i ]; then
      # as IMAGE_INSPECT_SCRIPT: the image's JSON in [ ], or dockerd's message; the CLI when not over the API
      [ -n "$imgapi" ] || exec docker image inspect "$c"
      if [ -n "$line" ]; then
        code=\${line%% *}; b=\${line#* }
        case $code in
          200) printf '[%s]\\n' "$b"; exit 0 ;;
          *) dk_msg "$b"; printf 'Error response from daemon: %s\\n' "\${dk_m:-HTTP $code}" >&2; exit 1 ;;
        esac
      fi
      printf '%s\\n' "$err" | awk '!seen[$0]++' >&2; exit 1
    fi
    if [ "$kind" = c ]; then
      if [ -n "$line" ]; then printf '[%s]\\n' "\${line#* * * }"; exit 0; fi
      if no_such "$c" || [ "$rc" -eq 0 ]; then echo "Error: No such container: $c" >&2; exit 1; fi
      printf '%s\\n' "$err" | awk '!seen[$0]++' >&2; exit "$rc"
    fi
    if [ -n "$line" ]; then
      f1=\${line%% *}; r=\${line#* }; f2=\${r%% *}; r=\${r#* }; out="$f1 $f2 \${r%% *}"
    elif no_such "$c" || [ "$rc" -eq 0 ]; then echo "container absent"; out=
    else printf '%s\\n' "$err" | awk '!seen[$0]++' >&2; exit 2
    fi
${NETNS_AFTER_INSPECT}
  ) 2>"$d/e" </dev/null
  code=$?
  ${GROUP_FRAME_END_SH}
  k=$((k+1))
done
rm -rf "$d"`

/** Split the output of {@link CONTAINERS_GROUP_SCRIPT} into each member's own output. */
export const splitContainersGroup = splitGroupOutput

/**
 * Reads every {@link dockerContainerFact}, {@link containerNetnsFact} and {@link dockerImageFact} of a batch with
 * one curl over the Engine API, or one `docker inspect` (the docker CLI costs ~15-20 ms of CPU per call, a curl
 * ~7 ms; a lab host reads 2 containers, 2 attachments and an image).
 */
export const DOCKER_CONTAINERS_GROUP = 'docker.containers'

function containersGroup(args: readonly string[]): FactGroup {
  return {
    key: DOCKER_CONTAINERS_GROUP,
    args,
    read(members) {
      const token = `VXG${randomBytes(6).toString('hex')}`
      const names = [...new Set(members.filter((m) => m[0] !== 'i').map((m) => m[1]!))]
      const images = [...new Set(members.filter((m) => m[0] === 'i').map((m) => m[1]!))]
      return {
        command: readScript(CONTAINERS_GROUP_SCRIPT, token, String(names.length), ...names, String(images.length), ...images, ...members.flat()),
        split: (out) => splitContainersGroup(out.stdout, token, members.length),
      }
    },
  }
}

/**
 * Fact: what a container attachment looks like from the host, in one script: the container's state and PID
 * (`docker inspect`), then, when it runs, ONE `nsenter -t <pid> -n` running `ip -j -d addr show`, `ip -j -4 route
 * show` and `ethtool -k <iface>` inside its namespace, and the host end `hostIface` (`ip -j -d addr show dev`,
 * `ethtool -k`). Absent or stopped containers read as such; dockerd down fails the read.
 * Id `docker.netns:<container>:<iface>`.
 */
export function containerNetnsFact(container: string, iface: string, hostIface: string): Fact<ContainerNetns> {
  return {
    id: `docker.netns:${container}:${iface}`,
    service: 'dockerd',
    command: readScript(CONTAINER_NETNS_SCRIPT, container, iface, hostIface),
    group: containersGroup(['n', container, iface, hostIface]),
    slow: true,
    parse: (o) => parseContainerNetns(o.stdout),
  }
}
