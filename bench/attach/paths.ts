/** Where things are, whether this runs from dist/bench/attach/ (built) or bench/attach/ (tsx). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CLI } from '../../testkit/daemon.js';
import { ROOT } from '../../testkit/root.js';

export { CLI, ROOT };
export const AGENT_DIR = path.join(ROOT, 'dist/agent');
export const AGENT_FILES = {
  jar: path.join(AGENT_DIR, 'quiesce-agent.jar'),
  coreJar: path.join(AGENT_DIR, 'quiesce-agent-core.jar'),
  nativeLib: path.join(AGENT_DIR, 'libquiesce_jvmti.so'),
} as const;
export const FIXTURE_SOURCES = path.join(ROOT, 'bench/attach/fixtures');
export const CACHE = path.join(ROOT, '.cache/bench');

/** A missing prerequisite (build, jattach, JDK): printed without a stack trace. */
export class SetupError extends Error {}

/** Throws one message listing everything missing and the command that builds it. */
export function checkBuilt(): void {
  const missing: string[] = [];
  if (!existsSync(CLI)) missing.push(`${path.relative(ROOT, CLI)} (the daemon): run \`node scripts/build.mjs ts\``);
  if (!existsSync(AGENT_FILES.jar) || !existsSync(AGENT_FILES.coreJar)) {
    missing.push(`${path.relative(ROOT, AGENT_DIR)}/quiesce-agent*.jar (the agent): run \`node scripts/build.mjs agent collect\``);
  }
  if (!existsSync(AGENT_FILES.nativeLib)) {
    missing.push(
      `${path.relative(ROOT, AGENT_FILES.nativeLib)} (JVMTI library): run \`node scripts/build-native.mjs && node scripts/build.mjs collect\``,
    );
  }
  if (missing.length > 0) throw new SetupError(`not built:\n  ${missing.join('\n  ')}\n(or \`npm run build\` for everything)`);
}
