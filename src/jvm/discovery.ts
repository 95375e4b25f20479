/**
 * Finds every JVM on the host from /proc (not hsperfdata: a JVM whose user has no passwd entry
 * writes none). A process is a JVM when its maps show libjvm.so (HotSpot) or libj9vm*.so (OpenJ9).
 */
import { QuiesceError } from '../errors.js';
import { LIMITS, isBoundedReadError, scanLines, withTimeout, type LimitListener } from './bounded-read.js';
import { containerIdFromCgroup } from './cgroup.js';
import { booleanFlag, effectiveOptions, parseEnviron, parseMain } from './flags.js';
import { findJdkRelease } from './jdk-release.js';
import { isGone, listPids, procPath, readProcLink, readProcText, readStartTime, readStatus, splitNul } from './procfs.js';
import type { JvmProcess, JvmVm } from './types.js';

interface VmLibrary {
  readonly vm: JvmVm;
  readonly path: string;
}

/** Reads maps lines one at a time and remembers which VM library they name. */
class VmLibraryScan {
  private hotspot: string | null = null;
  private j9: string | null = null;

  /** True once the answer is final (libj9vm wins over everything, so nothing after it matters). */
  line(line: string): boolean {
    const slash = line.indexOf('/');
    if (slash < 0) return false;
    const file = line.slice(slash).replace(/ \(deleted\)$/, '');
    const base = file.slice(file.lastIndexOf('/') + 1);
    if (/^libj9vm\d*\.so$/.test(base)) {
      this.j9 = file;
      return true;
    }
    if (base === 'libjvm.so' && this.hotspot === null) this.hotspot = file;
    return false;
  }

  result(): VmLibrary | null {
    if (this.j9 !== null) return { vm: 'openj9', path: this.j9 };
    return this.hotspot === null ? null : { vm: 'hotspot', path: this.hotspot };
  }
}

/**
 * OpenJ9 also ships a libjvm.so (a thin shim in lib/server or lib/j9vm), so libj9vm wins.
 * Deleted files (" (deleted)") still count: the JVM keeps running after a package upgrade.
 */
export function vmLibraryFromMaps(maps: string): VmLibrary | null {
  const scan = new VmLibraryScan();
  for (const line of maps.split('\n')) if (scan.line(line)) break;
  return scan.result();
}

/**
 * /proc/<pid>/maps scanned line by line (a large JVM's is MiBs): null when the process is gone.
 * A maps longer than LIMITS.maps is judged on its first part, and reported.
 */
async function vmLibraryOf(pid: number, onLimit?: LimitListener): Promise<VmLibrary | null | 'gone'> {
  const scan = new VmLibraryScan();
  const path = procPath(pid, 'maps');
  try {
    const r = await scanLines(path, LIMITS.maps, (l) => scan.line(l));
    if (r.truncated)
      onLimit?.({ path, reason: 'truncated', message: `${path}: longer than ${LIMITS.maps.maxBytes} bytes, judged on that much` });
  } catch (e) {
    if (isGone(e)) return 'gone';
    throw e;
  }
  return scan.result();
}

let selfMountNs: Promise<string | null> | undefined;

function ownMountNs(): Promise<string | null> {
  selfMountNs ??= readProcLink(process.pid, 'ns/mnt').catch(() => null);
  return selfMountNs;
}

/** Inspects one pid; null when it is not a JVM or vanished. Throws only on unexpected errors. */
async function probe(pid: number, onLimit?: LimitListener): Promise<JvmProcess | 'gone' | 'not_a_jvm'> {
  const lib = await vmLibraryOf(pid, onLimit);
  if (lib === 'gone') return 'gone';
  if (lib === null) return 'not_a_jvm';
  const [status, startTime, cmdText, envText, exe, cgroup, mntNs, selfNs] = await Promise.all([
    readStatus(pid),
    readStartTime(pid),
    readProcText(pid, 'cmdline', onLimit),
    readProcText(pid, 'environ', onLimit).catch(() => ''),
    readProcLink(pid, 'exe').catch(() => null),
    readProcText(pid, 'cgroup', onLimit),
    readProcLink(pid, 'ns/mnt'),
    ownMountNs(),
  ]);
  if (status === null || startTime === null || cmdText === null) return 'gone';
  const cmdline = splitNul(cmdText);
  const env = parseEnviron(splitNul(envText ?? ''));
  const options = effectiveOptions(cmdline, env);
  const exePath = exe?.replace(/ \(deleted\)$/, '') ?? null;
  const release = await findJdkRelease(pid, [exePath, lib.path], onLimit);
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

/** What discovery may be told: where to report files a bound refused or cut, and its time bounds. */
export interface DiscoveryOptions {
  /** Told once per probe about each file refused or truncated by its bound (see bounded-read.ts). */
  readonly onLimit?: LimitListener;
  /** One process's whole inspection (every /proc file, the release file). */
  readonly probeTimeoutMs?: number;
  /** A scan takes no new pid past this; the pids it did not reach keep what the last scan knew. */
  readonly scanBudgetMs?: number;
}

export const PROBE_TIMEOUT_MS = 5_000;
export const SCAN_BUDGET_MS = 20_000;

/**
 * Inspections given up on by their time bound and still running (e.g. a process stuck holding its
 * mmap lock, a hung FUSE mount under its JDK): such a pid is not read again until the earlier
 * read returns, so one stuck process holds at most one thread of the pool, not one per scan.
 */
const stalled = new Map<number, Promise<unknown>>();

/** Pids whose inspection is stuck past its bound right now. */
export function stalledPids(): number[] {
  return [...stalled.keys()];
}

/**
 * `work` on `pid` within the probe bound. Past it, or when one of its reads passed its own bound,
 * the pid is remembered as stalled until the read given up on returns, the listener is told, and
 * the `timeout` BoundedReadError is thrown.
 */
async function boundedProbe<T>(pid: number, work: Promise<T>, opts: DiscoveryOptions): Promise<T> {
  const ms = opts.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  try {
    return await withTimeout(work, ms, `/proc/${pid}`);
  } catch (e) {
    if (isBoundedReadError(e) && e.reason === 'timeout' && e.pending !== undefined && !stalled.has(pid)) {
      stalled.set(
        pid,
        e.pending.finally(() => stalled.delete(pid)),
      );
      opts.onLimit?.({ path: e.path, reason: 'timeout', message: `pid ${pid}: ${e.message}; not read again until that read returns` });
    }
    throw e;
  }
}

/** Inspects one pid: throws `not_found` when it does not exist, `not_a_jvm` when it is no JVM. */
export async function inspectPid(pid: number, opts: DiscoveryOptions = {}): Promise<JvmProcess> {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new QuiesceError('not_found', `pid ${pid}: not a valid process id`, { pid });
  }
  if (stalled.has(pid)) {
    throw new QuiesceError(
      'internal',
      `pid ${pid}: an earlier read of /proc/${pid} has not returned yet; it is not read again until it does`,
      { pid },
    );
  }
  let result: Awaited<ReturnType<typeof probe>>;
  try {
    result = await boundedProbe(pid, probe(pid, opts.onLimit), opts);
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

/** pid's JVM as the last scan knew it, if it knew one. */
function known(pid: number): JvmProcess | null {
  return seen.get(pid)?.jvm ?? null;
}

async function scanOne(pid: number, now: number, opts: DiscoveryOptions): Promise<JvmProcess | null> {
  const work = (async (): Promise<JvmProcess | null> => {
    const startTime = await readStartTime(pid);
    const k = seen.get(pid);
    if (k && k.startTime === startTime && (k.jvm || now - k.at < RECHECK_NOT_A_JVM_MS)) return k.jvm;
    const r = await probe(pid, opts.onLimit);
    if (r === 'gone') return null;
    const jvm = typeof r === 'string' ? null : r;
    seen.set(pid, { startTime: jvm?.startTime ?? startTime ?? -1, jvm, at: now });
    return jvm;
  })();
  try {
    return await boundedProbe(pid, work, opts);
  } catch (e) {
    // Slow is not gone: a JVM the last scan knew stays until it is seen to exit.
    if (isBoundedReadError(e) && e.reason === 'timeout') return known(pid);
    throw e;
  }
}

/**
 * Every JVM on the host, by host pid. Processes that vanish or cannot be read mid-scan are skipped;
 * one whose inspection does not finish in time keeps what the last scan knew of it, so a single
 * process can neither stall the scan nor make a JVM disappear from it.
 */
export async function discoverJvms(opts: DiscoveryOptions = {}): Promise<JvmProcess[]> {
  const pids = (await listPids()).filter((p) => p !== process.pid);
  const found: JvmProcess[] = [];
  const CONCURRENCY = 16;
  const now = Date.now();
  const until = now + (opts.scanBudgetMs ?? SCAN_BUDGET_MS);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pids.length) {
      const pid = pids[next++];
      if (pid === undefined) break;
      const jvm = Date.now() > until || stalled.has(pid) ? known(pid) : await scanOne(pid, now, opts).catch(() => null);
      if (jvm) found.push(jvm);
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
