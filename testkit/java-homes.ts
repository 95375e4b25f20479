/** The JDKs installed on this machine, found by their `release` files (no version is hard-coded). */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface JavaHome {
  readonly home: string;
  readonly version: string;
  /** 8, 17, 25… */
  readonly feature: number;
  readonly implementor: string;
  readonly java: string;
  readonly javac: string;
  readonly jar: string;
}

const JVM_ROOT = '/usr/lib/jvm';

function readRelease(home: string): Map<string, string> | null {
  try {
    const out = new Map<string, string>();
    for (const line of readFileSync(path.join(home, 'release'), 'utf8').split('\n')) {
      const m = /^([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
      if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
    }
    return out;
  } catch {
    return null;
  }
}

export function listJavaHomes(): JavaHome[] {
  const seen = new Set<string>();
  const out: JavaHome[] = [];
  // Canonical names (java-17-openjdk-amd64) before their aliases (java-1.17.0-openjdk-amd64) that resolve to the same home.
  const names = readdirSync(JVM_ROOT).sort((a, b) => Number(!/^java-\d+-/.test(a)) - Number(!/^java-\d+-/.test(b)) || a.localeCompare(b));
  for (const name of names) {
    let home: string;
    try {
      home = realpathSync(path.join(JVM_ROOT, name));
    } catch {
      continue;
    }
    if (seen.has(home)) continue;
    const rel = readRelease(home);
    const version = rel?.get('JAVA_VERSION');
    if (rel === null || version === undefined) continue;
    seen.add(home);
    const legacy = /^1\.(\d+)/.exec(version);
    const feature = Number(legacy?.[1] ?? /^(\d+)/.exec(version)?.[1] ?? NaN);
    out.push({
      home: path.join(JVM_ROOT, name),
      version,
      feature,
      implementor: rel.get('IMPLEMENTOR') ?? '',
      java: path.join(home, 'bin', 'java'),
      javac: path.join(home, 'bin', 'javac'),
      jar: path.join(home, 'bin', 'jar'),
    });
  }
  return out;
}

/** The distribution's OpenJDK 17 (`/usr/lib/jvm/java-17-openjdk-amd64`). */
export function jdk17(): JavaHome {
  const h = listJavaHomes().find((j) => j.feature === 17);
  if (h === undefined) throw new Error(`no JDK 17 under ${JVM_ROOT}`);
  return h;
}

/** The newest Temurin JDK (`/usr/lib/jvm/temurin-<N>-jdk-amd64`), whatever its version. */
export function temurin(): JavaHome {
  const all = listJavaHomes().filter((j) => /adoptium|temurin/i.test(j.implementor) || /temurin/.test(j.home));
  const h = all.sort((a, b) => b.feature - a.feature)[0];
  if (h === undefined) throw new Error(`no Temurin JDK under ${JVM_ROOT}`);
  return h;
}
