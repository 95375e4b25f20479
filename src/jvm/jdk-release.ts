/**
 * JDK version and vendor from the `release` file of the java home, read through
 * /proc/<pid>/root so it works for JVMs in other mount namespaces. The file is the container's:
 * it is read bounded (bounded-read.ts), and one that is not a small regular file makes the JDK unknown.
 */
import path from 'node:path';
import { LIMITS, isBoundedReadError, readBoundedText, type LimitListener } from './bounded-read.js';
import { procPath } from './procfs.js';

export interface JdkRelease {
  readonly home: string | null;
  readonly version: string | null;
  readonly feature: number | null;
  readonly vendor: string | null;
}

export function parseReleaseFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2].replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

/** "1.8.0_392" → 8, "17.0.15" → 17, "21" → 21, "25-ea" → 25. */
export function featureOf(version: string): number | null {
  const legacy = /^1\.(\d+)/.exec(version);
  if (legacy?.[1] !== undefined) return Number(legacy[1]);
  const m = /^(\d+)/.exec(version);
  return m?.[1] !== undefined ? Number(m[1]) : null;
}

/**
 * Guesses the version from a path when there is no release file, e.g.
 * /usr/lib/jvm/java-17-openjdk-amd64, /opt/jdk-11.0.2, /usr/lib/jvm/jdk1.8.0_292, temurin-21-jdk.
 */
export function versionFromPath(p: string): string | null {
  const patterns = [/jdk1\.(\d+)\.\d+(?:_\d+)?/, /(?:jdk|jre|java|openjdk|temurin|zulu|corretto)[-_]?(\d+(?:\.\d+)*)/i];
  for (const re of patterns) {
    const m = re.exec(p);
    if (m?.[1] === undefined) continue;
    return re === patterns[0] ? `1.${m[1]}.0` : m[1];
  }
  return null;
}

/**
 * Candidate homes above a file: <home>/bin/java, <home>/jre/bin/java (JDK 8), <home>/lib/server/libjvm.so,
 * <home>/jre/lib/amd64/server/libjvm.so.
 */
export function homeCandidates(file: string): string[] {
  const out: string[] = [];
  let dir = path.posix.dirname(file);
  for (let i = 0; i < 5 && dir !== '/' && dir !== '.'; i++) {
    dir = path.posix.dirname(dir);
    out.push(dir);
  }
  return out;
}

const UNKNOWN: JdkRelease = { home: null, version: null, feature: null, vendor: null };

/**
 * The parsed release file; null when there is none (or it cannot be read, e.g. EACCES);
 * 'refused' when it is there but not a small regular file: a FIFO, a device, a symlink, one
 * larger than the cap or one that does not answer in time. Such a file is the container's doing,
 * so nothing else about that JDK is guessed either.
 */
async function readRelease(pid: number, home: string, onLimit?: LimitListener): Promise<Map<string, string> | null | 'refused'> {
  const file = procPath(pid, 'root') + path.posix.join(home, 'release');
  try {
    const r = await readBoundedText(file, LIMITS.release);
    if (!r.truncated) return parseReleaseFile(r.text);
    onLimit?.({ path: file, reason: 'truncated', message: `${file}: longer than ${LIMITS.release.maxBytes} bytes: refused, JDK unknown` });
    return 'refused';
  } catch (e) {
    if (!isBoundedReadError(e)) return null;
    onLimit?.({ path: file, reason: e.reason, message: `${e.message}; JDK unknown` });
    return 'refused';
  }
}

/** Looks for a release file above each of the given in-target files (exe first, then libjvm). */
export async function findJdkRelease(pid: number, files: ReadonlyArray<string | null>, onLimit?: LimitListener): Promise<JdkRelease> {
  for (const file of files) {
    if (file === null || !file.startsWith('/')) continue;
    for (const home of homeCandidates(file)) {
      const rel = await readRelease(pid, home, onLimit);
      if (rel === 'refused') return UNKNOWN;
      const version = rel?.get('JAVA_VERSION');
      if (rel !== null && version !== undefined) {
        return { home, version, feature: featureOf(version), vendor: rel.get('IMPLEMENTOR') ?? null };
      }
    }
  }
  for (const file of files) {
    const version = file === null ? null : versionFromPath(file);
    if (version !== null) return { home: null, version, feature: featureOf(version), vendor: null };
  }
  return UNKNOWN;
}
