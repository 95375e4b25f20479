/**
 * Finds every JVM on the host from /proc (not hsperfdata: a JVM whose user has no passwd entry
 * writes none). A process is a JVM when its maps show libjvm.so (HotSpot) or libj9vm*.so (OpenJ9).
 */
import { QuiesceError } from '../errors.js';
import { containerIdFromCgroup } from './cgroup.js';
import { booleanFlag, effectiveOptions, parseEnviron, parseMain } from './flags.js';
import { findJdkRelease } from './jdk-release.js';
import { isGone, listPids, readProcLink, readProcText, readStartTime, readStatus, splitNul } from './procfs.js';
import type { JvmProcess, JvmVm } from './types.js';

interface VmLibrary {
  readonly vm: JvmVm;
  readonly path: string;
}

/**
 * OpenJ9 also ships a libjvm.so (a thin shim in lib/server or lib/j9vm), so libj9vm wins.
 * Deleted files (" (deleted)") still count: the JVM keeps running after a package upgrade.
 */
export function vmLibraryFromMaps(maps: string): VmLibrary | null {
  let hotspot: string | null = null;
  for (const line of maps.split('\n')) {
    const slash = line.indexOf('/');
    if (slash < 0) continue;
    const file = line.slice(slash).replace(/ \(deleted\)$/, '');
    const base = file.slice(file.lastIndexOf('/') + 1);
    if (/^libj9vm\d*\.so$/.test(base)) return { vm: 'openj9', path: file };
    if (base === 'libjvm.so' && hotspot === null) hotspot = file;
  }
  return hotspot === null ? null : { vm: 'hotspot', path: hotspot };
}

let selfMountNs: Promise<string | null> | undefined;

function ownMountNs(): Promise<string | null> {
  selfMountNs ??= readProcLink(process.pid, 'ns/mnt').catch(() => null);
  return selfMountNs;
}

/** Inspects one pid; null when it is not a JVM or vanished. Throws only on unexpected errors. */
async function probe(pid: number): Promise<JvmProcess | 'gone' | 'not_a_jvm'> {
  const maps = await readProcText(pid, 'maps');
  if (maps === null) return 'gone';
  const lib = vmLibraryFromMaps(maps);
  if (lib === null) return 'not_a_jvm';
  const [status, startTime, cmdText, envText, exe, cgroup, mntNs, selfNs] = await Promise.all([
    readStatus(pid),
    readStartTime(pid),
    readProcText(pid, 'cmdline'),
    readProcText(pid, 'environ').catch(() => ''),
    readProcLink(pid, 'exe').catch(() => null),
    readProcText(pid, 'cgroup'),
    readProcLink(pid, 'ns/mnt'),
    ownMountNs(),
  ]);
  if (status === null || startTime === null || cmdText === null) return 'gone';
  const cmdline = splitNul(cmdText);
  const env = parseEnviron(splitNul(envText ?? ''));
  const options = effectiveOptions(cmdline, env);
  const exePath = exe?.replace(/ \(deleted\)$/, '') ?? null;
  const release = await findJdkRelease(pid, [exePath, lib.path]);
  const main = parseMain(cmdline);
  return {
    pid,
    nspid: status.nspid,
    uid: status.uid,
    gid: status.gid,
    startTime,
    vm: lib.vm,
    jdkVersion: release.version,
    jdkFeature: release.feature,
    vendor: release.vendor,
    javaHome: release.home,
    main: main.mainClass,
    mainKind: main.mainKind,
    containerId: cgroup === null ? null : containerIdFromCgroup(cgroup),
    foreignMountNs: mntNs !== null && selfNs !== null && mntNs !== selfNs,
    supported: lib.vm === 'hotspot',
    unsupportedReason: lib.vm === 'openj9' ? `OpenJ9 (${lib.path}) uses its own attach protocol, which quiesce does not speak` : null,
    attachDisabled: booleanFlag(options, 'DisableAttachMechanism') === true,
    dynamicAgentsDisabled: booleanFlag(options, 'EnableDynamicAgentLoading') === false,
    cmdline,
  };
}

/** Inspects one pid: throws `not_found` when it does not exist, `not_a_jvm` when it is no JVM. */
export async function inspectPid(pid: number): Promise<JvmProcess> {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new QuiesceError('not_found', `pid ${pid}: not a valid process id`, { pid });
  }
  let result: Awaited<ReturnType<typeof probe>>;
  try {
    result = await probe(pid);
  } catch (e) {
    if (isGone(e)) result = 'gone';
    else throw new QuiesceError('internal', `pid ${pid}: reading /proc/${pid} failed: ${(e as Error).message}`, { pid }, { cause: e });
  }
  if (result === 'gone') throw new QuiesceError('not_found', `pid ${pid}: no such process`, { pid });
  if (result === 'not_a_jvm') {
    throw new QuiesceError('not_a_jvm', `pid ${pid}: not a JVM (no libjvm.so or libj9vm*.so in /proc/${pid}/maps)`, { pid });
  }
  return result;
}

/**
 * What earlier scans learned, per pid and start time: a process does not stop being a JVM, and
 * reading every process's maps on every scan is what would make discovery expensive on a busy
 * node. A process found not to be a JVM is looked at again after a while, because a scan can
 * catch a launcher before it has loaded libjvm.
 */
const seen = new Map<number, { startTime: number; jvm: JvmProcess | null; at: number }>();
const RECHECK_NOT_A_JVM_MS = 30_000;

/** Every JVM on the host, by host pid. Processes that vanish or cannot be read mid-scan are skipped. */
export async function discoverJvms(): Promise<JvmProcess[]> {
  const pids = (await listPids()).filter((p) => p !== process.pid);
  const found: JvmProcess[] = [];
  const CONCURRENCY = 16;
  const now = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pids.length) {
      const pid = pids[next++];
      if (pid === undefined) break;
      try {
        const startTime = await readStartTime(pid);
        const known = seen.get(pid);
        if (known && known.startTime === startTime && (known.jvm || now - known.at < RECHECK_NOT_A_JVM_MS)) {
          if (known.jvm) found.push(known.jvm);
          continue;
        }
        const r = await probe(pid);
        if (r === 'gone') continue;
        const jvm = typeof r === 'string' ? null : r;
        seen.set(pid, { startTime: jvm?.startTime ?? startTime ?? -1, jvm, at: now });
        if (jvm) found.push(jvm);
      } catch {
        // Raced with exit, or a process we may not read (e.g. EACCES without root): skip it.
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const alive = new Set(pids);
  for (const pid of seen.keys()) if (!alive.has(pid)) seen.delete(pid);
  return found.sort((a, b) => a.pid - b.pid);
}

/** True while `jvm.pid` still names the same process (guards against pid reuse). */
export async function isSameProcess(jvm: Pick<JvmProcess, 'pid' | 'startTime'>): Promise<boolean> {
  try {
    return (await readStartTime(jvm.pid)) === jvm.startTime;
  } catch {
    return false;
  }
}
