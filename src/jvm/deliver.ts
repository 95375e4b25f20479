/**
 * Copies the agent files into the target JVM's filesystem, because `load` resolves the jar path
 * inside the JVM's mount namespace: `/tmp/.quiesce/<version>/` in the target, seen from the host
 * as `/proc/<pid>/root/tmp/.quiesce/<version>/`, or under the JVM's cwd when /tmp is unusable.
 *
 * The daemon is root and the target's user controls parts of the target's filesystem, so a path
 * it can rename into a symlink would let it redirect root's writes anywhere on the host. Hence:
 * - a base directory is used only if the target's user cannot rename entries in it (not writable
 *   by that user, or sticky and not theirs — the usual /tmp);
 * - `.quiesce/` and `.quiesce/<version>/` belong to root, mode 0755, so nothing in the path can be
 *   swapped; the files in it belong to the target's uid/gid;
 * - files are written to an O_EXCL|O_NOFOLLOW temp name, fsynced and renamed over the final name
 *   (rename replaces a symlink, never follows it); ownership is changed with fchown/lchown only.
 * Remaining gap: a target running as root in its container can rename anything; see the report.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lchown, lstat, mkdir, chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { QuiesceError } from '../errors.js';
import { targetMountFor } from './mounts.js';
import { procPath, readProcLink, readStatus } from './procfs.js';
import type { JvmProcess } from './types.js';

export interface DeliveredPath {
  /** The path as the JVM sees it (pass this to the agent). */
  readonly targetPath: string;
  /** The same file as the daemon sees it, through /proc/<pid>/root or /proc/<pid>/cwd. */
  readonly hostPath: string;
}

/** Host paths of the files to deliver. */
export interface AgentFiles {
  readonly jar: string;
  readonly coreJar: string;
  readonly nativeLib: string;
}

export interface DeliveredAgent {
  readonly dir: DeliveredPath;
  readonly jar: DeliveredPath;
  readonly coreJar: DeliveredPath;
  readonly nativeLib: DeliveredPath;
  /** Where the daemon binds the agent's gRPC socket (hostPath) and what the agent dials (targetPath). */
  readonly socket: DeliveredPath;
  /** `<dir>/agent-<nspid>.log`, created empty and owned by the JVM's user so the agent can append to it. */
  readonly log: DeliveredPath;
  /** Base names actually written this time (the others were already there, same size and sha256). */
  readonly copied: readonly string[];
}

type Target = Pick<JvmProcess, 'pid' | 'nspid' | 'uid' | 'gid'>;

interface Base {
  readonly host: string;
  readonly target: string;
  /** /proc/<pid>/cwd is a magic link the kernel resolves to the directory itself: follow it. */
  readonly magicLink: boolean;
}

/** sun_path is 108 bytes including the NUL. */
const SUN_PATH_MAX = 107;

function fail(jvm: Target, step: string, cause: string, e?: unknown): QuiesceError {
  return new QuiesceError('internal', `pid ${jvm.pid}: deliver agent: ${step}: ${cause}`, { pid: jvm.pid }, { cause: e });
}

/**
 * Can the target's user rename entries of this directory (and so swap our directory for a symlink)?
 * Owner bits apply to the owner alone; group bits to the primary and supplementary groups.
 */
export function userCanRenameIn(st: Pick<Stats, 'uid' | 'gid' | 'mode'>, uid: number, groups: readonly number[]): boolean {
  if (uid === 0) return true;
  const owner = st.uid === uid;
  const writable = owner ? (st.mode & 0o200) !== 0 : groups.includes(st.gid) ? (st.mode & 0o020) !== 0 : (st.mode & 0o002) !== 0;
  if (!writable) return false;
  const sticky = (st.mode & 0o1000) !== 0;
  return !sticky || owner;
}

async function targetGroups(jvm: Target): Promise<number[]> {
  const st = await readStatus(jvm.pid).catch(() => null);
  const extra = (st?.fields.get('Groups') ?? '').split(/\s+/).filter(Boolean).map(Number);
  return [jvm.gid, ...extra];
}

/** Why `base` cannot hold the agent (unsafe, read-only, noexec, not a directory, not writable); null if usable. */
async function unusable(jvm: Target, base: Base, groups: readonly number[]): Promise<string | null> {
  let st: Stats;
  try {
    st = base.magicLink ? await stat(base.host) : await lstat(base.host);
  } catch (e) {
    return `${base.target} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  if (!st.isDirectory()) return `${base.target} is not a directory (or is a symlink)`;
  if (jvm.uid !== 0 && userCanRenameIn(st, jvm.uid, groups)) {
    const mode = (st.mode & 0o7777).toString(8);
    return `${base.target} (mode ${mode}, uid ${st.uid}) lets uid ${jvm.uid} rename entries: refusing to write there as root`;
  }
  const mount = await targetMountFor(jvm.pid, base.target).catch(() => null);
  if (mount?.options.includes('noexec'))
    return `${base.target} is on a noexec mount (${mount.mountPoint}): the native library could not be mapped`;
  if (mount?.options.includes('ro')) return `${base.target} is on a read-only mount (${mount.mountPoint})`;
  const probe = `${base.host}/.quiesce-probe-${process.pid}-${Date.now()}`;
  try {
    const fh = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
    await fh.close();
    await unlink(probe);
    return null;
  } catch (e) {
    return `${base.target} is not writable (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
}

async function candidates(jvm: Target): Promise<Base[]> {
  const out: Base[] = [{ host: procPath(jvm.pid, 'root', 'tmp'), target: '/tmp', magicLink: false }];
  const cwd = await readProcLink(jvm.pid, 'cwd').catch(() => null);
  if (cwd !== null && cwd.startsWith('/') && cwd !== '/tmp') out.push({ host: procPath(jvm.pid, 'cwd'), target: cwd, magicLink: true });
  return out;
}

/** A root-owned 0755 directory; an existing one must already be a real directory owned by root. */
async function ensureRootDir(jvm: Target, p: string): Promise<void> {
  await mkdir(p, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const st = await lstat(p);
  if (!st.isDirectory()) throw fail(jvm, 'directory', `${p} exists and is not a directory`);
  if (st.uid !== 0) throw fail(jvm, 'directory', `${p} is owned by uid ${st.uid}, not root; refusing to use it`);
  if ((st.mode & 0o7777) !== 0o755) await chmod(p, 0o755);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function sameContent(p: string, data: Buffer, digest: string): Promise<boolean> {
  try {
    const st = await lstat(p);
    if (!st.isFile() || st.size !== data.length) return false;
    const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return sha256(await fh.readFile()) === digest;
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** Writes `data` to `dir/name` atomically: temp name in the same directory, fsync, rename, fsync dir. */
async function writeAtomic(jvm: Target, dir: string, name: string, data: Buffer, mode: number): Promise<void> {
  const tmp = `${dir}/.${name}.${process.pid}.${Date.now()}.tmp`;
  const fh = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(data);
    await fh.chown(jvm.uid, jvm.gid);
    await fh.chmod(mode);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, `${dir}/${name}`);
  const dh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  await dh.sync().catch(() => undefined);
  await dh.close();
}

/** The agent's unix socket for this JVM: `<dir>/agent-<nspid>.sock`, in the target and on the host. */
export function agentSocketPaths(jvm: Pick<JvmProcess, 'pid' | 'nspid'>, dir: DeliveredPath): DeliveredPath {
  const name = `agent-${jvm.nspid}.sock`;
  const hostPath = `${dir.hostPath}/${name}`;
  if (Buffer.byteLength(hostPath) > SUN_PATH_MAX) {
    throw new QuiesceError('internal', `pid ${jvm.pid}: agent socket path ${hostPath} is longer than ${SUN_PATH_MAX} bytes`, {
      pid: jvm.pid,
    });
  }
  return { hostPath, targetPath: `${dir.targetPath}/${name}` };
}

/** Chooses the base directory and creates `.quiesce/<version>/` in it. */
async function prepareDir(jvm: Target, version: string): Promise<DeliveredPath> {
  const groups = await targetGroups(jvm);
  const reasons: string[] = [];
  for (const base of await candidates(jvm)) {
    const why = await unusable(jvm, base, groups);
    if (why !== null) {
      reasons.push(why);
      continue;
    }
    const top = `${base.host}/.quiesce`;
    const dir: DeliveredPath = { hostPath: `${top}/${version}`, targetPath: path.posix.join(base.target, '.quiesce', version) };
    try {
      await ensureRootDir(jvm, top);
      await ensureRootDir(jvm, dir.hostPath);
      return dir;
    } catch (e) {
      reasons.push(`${dir.targetPath}: ${(e as Error).message}`);
    }
  }
  throw fail(jvm, 'choosing a directory', reasons.join('; '));
}

/**
 * Copies host files into the target under `.quiesce/<version>/`, keeping their base names.
 * Returns the directory and each file by the key it was given under.
 */
export async function deliverFiles<K extends string>(
  jvm: Target,
  files: Readonly<Record<K, string>>,
  version: string,
): Promise<{ dir: DeliveredPath; files: Record<K, DeliveredPath>; copied: string[] }> {
  if (!/^[A-Za-z0-9._+-]+$/.test(version) || version === '.' || version === '..') {
    throw new QuiesceError('bad_request', `pid ${jvm.pid}: deliver agent: invalid version "${version}"`, { pid: jvm.pid });
  }
  const dir = await prepareDir(jvm, version);
  const out = {} as Record<K, DeliveredPath>;
  const copied: string[] = [];
  for (const key of Object.keys(files) as K[]) {
    const src = files[key];
    const name = path.basename(src);
    let data: Buffer;
    try {
      data = await readFile(src);
    } catch (e) {
      throw fail(jvm, `reading ${src}`, (e as Error).message, e);
    }
    const dest = `${dir.hostPath}/${name}`;
    try {
      if (await sameContent(dest, data, sha256(data))) {
        await lchown(dest, jvm.uid, jvm.gid);
      } else {
        await writeAtomic(jvm, dir.hostPath, name, data, name.endsWith('.so') ? 0o755 : 0o644);
        copied.push(name);
      }
    } catch (e) {
      throw fail(jvm, `writing ${path.posix.join(dir.targetPath, name)}`, (e as Error).message, e);
    }
    out[key] = { hostPath: dest, targetPath: `${dir.targetPath}/${name}` };
  }
  return { dir, files: out, copied };
}

/** Creates `<dir>/<name>` empty if missing, owned by the JVM's user (the root-owned dir is not writable to it). */
async function ensureUserFile(jvm: Target, dir: DeliveredPath, name: string): Promise<DeliveredPath> {
  const hostPath = `${dir.hostPath}/${name}`;
  try {
    const fh = await open(hostPath, constants.O_CREAT | constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW, 0o640);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error(`${name} is not a regular file`);
      await fh.chown(jvm.uid, jvm.gid);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw fail(jvm, `creating ${dir.targetPath}/${name}`, (e as Error).message, e);
  }
  return { hostPath, targetPath: `${dir.targetPath}/${name}` };
}

/** Delivers the agent jar, the core jar and the native library; computes the agent socket and creates its log. */
export async function deliverAgent(jvm: Target, files: AgentFiles, version: string): Promise<DeliveredAgent> {
  const { dir, files: f, copied } = await deliverFiles(jvm, files, version);
  const log = await ensureUserFile(jvm, dir, `agent-${jvm.nspid}.log`);
  return { dir, jar: f.jar, coreJar: f.coreJar, nativeLib: f.nativeLib, socket: agentSocketPaths(jvm, dir), log, copied };
}
