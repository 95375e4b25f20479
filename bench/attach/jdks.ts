/** The JDKs the bench runs against, found by their `release` files under /usr/lib/jvm. */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { SetupError } from './paths.js';

export interface Jdk {
  /** "17", "temurin" — as given on the command line. */
  readonly label: string;
  readonly home: string;
  readonly version: string;
  readonly feature: number;
  readonly java: string;
  readonly javac: string;
}

const JVM_ROOT = '/usr/lib/jvm';

function release(home: string): Map<string, string> | null {
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

interface Found {
  readonly home: string;
  readonly version: string;
  readonly feature: number;
  readonly implementor: string;
}

function installed(): Found[] {
  const seen = new Set<string>();
  const out: Found[] = [];
  let names: string[];
  try {
    names = readdirSync(JVM_ROOT).sort();
  } catch {
    return [];
  }
  for (const name of names) {
    let home: string;
    try {
      home = realpathSync(path.join(JVM_ROOT, name));
    } catch {
      continue;
    }
    if (seen.has(home)) continue;
    seen.add(home);
    const rel = release(home);
    const version = rel?.get('JAVA_VERSION');
    if (!rel || version === undefined) continue;
    const feature = Number(/^1\.(\d+)/.exec(version)?.[1] ?? /^(\d+)/.exec(version)?.[1] ?? NaN);
    out.push({ home, version, feature, implementor: `${rel.get('IMPLEMENTOR') ?? ''} ${name}` });
  }
  return out;
}

/** `17` (the distribution's JDK 17) or `temurin` (the newest Temurin). */
export function findJdk(label: string): Jdk {
  const all = installed();
  let f: Found | undefined;
  if (label === 'temurin') {
    f = all.filter((j) => /adoptium|temurin/i.test(j.implementor)).sort((a, b) => b.feature - a.feature)[0];
  } else if (/^\d+$/.test(label)) {
    f = all.find((j) => j.feature === Number(label) && !/adoptium|temurin/i.test(j.implementor)) ?? all.find((j) => j.feature === Number(label));
  }
  if (!f) throw new SetupError(`no JDK "${label}" under ${JVM_ROOT} (found: ${all.map((j) => `${j.version} ${j.home}`).join(', ') || 'none'})`);
  return { label, home: f.home, version: f.version, feature: f.feature, java: path.join(f.home, 'bin/java'), javac: path.join(f.home, 'bin/javac') };
}
