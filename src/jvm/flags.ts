/** What the JVM's command line and option environment variables say: main class, attach-related flags. */
import type { MainKind } from './types.js';

/** Launcher options that take their value as the next argument (java launcher, JDK 8–25). */
const OPTIONS_WITH_ARGUMENT = new Set([
  '-cp',
  '-classpath',
  '--class-path',
  '-p',
  '--module-path',
  '--upgrade-module-path',
  '--add-modules',
  '--limit-modules',
  '--add-reads',
  '--add-exports',
  '--add-opens',
  '--patch-module',
  '--enable-native-access',
  '--source',
  '--describe-module',
  '-d',
  '--illegal-native-access',
  '--sun-misc-unsafe-memory-access',
]);

export interface MainInfo {
  readonly mainClass: string | null;
  readonly mainKind: MainKind | null;
}

/** Finds the main class, jar, module or source file after argv[0] and the launcher options. */
export function parseMain(cmdline: readonly string[]): MainInfo {
  for (let i = 1; i < cmdline.length; i++) {
    const a = cmdline[i] ?? '';
    if (a === '-jar') return { mainClass: cmdline[i + 1] ?? null, mainKind: 'jar' };
    if (a === '-m' || a === '--module') return { mainClass: cmdline[i + 1] ?? null, mainKind: 'module' };
    if (a.startsWith('--module=')) return { mainClass: a.slice('--module='.length), mainKind: 'module' };
    if (OPTIONS_WITH_ARGUMENT.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-') || a.startsWith('@')) continue;
    // JDK 11+: `java Foo.java` runs a source file.
    return { mainClass: a, mainKind: a.endsWith('.java') ? 'source' : 'class' };
  }
  return { mainClass: null, mainKind: null };
}

/** Splits an option variable the way the launcher does (whitespace; quotes group since JDK 9). */
export function splitOptions(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/**
 * Options in the order HotSpot applies them: JAVA_TOOL_OPTIONS, then JDK_JAVA_OPTIONS (JDK 9+,
 * prepended by the launcher), then the command line (up to the main class), then _JAVA_OPTIONS.
 */
export function effectiveOptions(cmdline: readonly string[], env: ReadonlyMap<string, string>): string[] {
  const cmdOptions: string[] = [];
  for (let i = 1; i < cmdline.length; i++) {
    const a = cmdline[i] ?? '';
    if (a === '-jar' || a === '-m' || a === '--module' || (!a.startsWith('-') && !a.startsWith('@'))) break;
    if (OPTIONS_WITH_ARGUMENT.has(a)) i++;
    else cmdOptions.push(a);
  }
  const fromEnv = (name: string): string[] => splitOptions(env.get(name) ?? '');
  return [...fromEnv('JAVA_TOOL_OPTIONS'), ...fromEnv('JDK_JAVA_OPTIONS'), ...cmdOptions, ...fromEnv('_JAVA_OPTIONS')];
}

/** Value of a boolean -XX flag, last occurrence wins; undefined when never given. */
export function booleanFlag(options: readonly string[], name: string): boolean | undefined {
  let value: boolean | undefined;
  for (const o of options) {
    if (o === `-XX:+${name}`) value = true;
    else if (o === `-XX:-${name}`) value = false;
  }
  return value;
}

export function parseEnviron(entries: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const e of entries) {
    const i = e.indexOf('=');
    if (i > 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  return env;
}
