/**
 * Compiles the fixture apps and agents once into /work/main/.cache/fixtures/<sha256 of sources>/,
 * reused across runs and shared by parallel test files (built in a temp dir, then renamed).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './root.js';
import { jdk17 } from './java-homes.js';

const SOURCES = [path.join(ROOT, 'test/fixtures/apps'), path.join(ROOT, 'test/fixtures/agents')];
const CACHE = path.join(ROOT, '.cache', 'fixtures');

export interface Fixtures {
  readonly dir: string;
  /** Classpath of the fixture apps (SteadyApp). */
  readonly classes: string;
  /** Agent-Class GoodAgent: prints `AGENT LOADED args=<args>`. */
  readonly goodAgentJar: string;
  /** Agent-Class BadAgent: agentmain throws (JPLIS rc 102). */
  readonly badAgentJar: string;
}

function sourceFiles(): string[] {
  return SOURCES.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.java'))
      .sort()
      .map((f) => path.join(d, f)),
  );
}

function agentJar(work: string, classes: string, name: string, agentClass: string): void {
  const manifest = path.join(work, `${name}.mf`);
  writeFileSync(manifest, `Manifest-Version: 1.0\nAgent-Class: ${agentClass}\n`);
  execFileSync(jdk17().jar, ['cfm', path.join(work, `${name}.jar`), manifest, '-C', classes, `${agentClass}.class`]);
}

function layout(dir: string): Fixtures {
  return {
    dir,
    classes: path.join(dir, 'classes'),
    goodAgentJar: path.join(dir, 'good-agent.jar'),
    badAgentJar: path.join(dir, 'bad-agent.jar'),
  };
}

let cached: Fixtures | undefined;

export function buildFixtures(): Fixtures {
  if (cached) return cached;
  const files = sourceFiles();
  const hash = createHash('sha256');
  for (const f of files) hash.update(path.basename(f)).update('\0').update(readFileSync(f)).update('\0');
  const dir = path.join(CACHE, hash.digest('hex'));
  if (!existsSync(path.join(dir, 'done'))) {
    mkdirSync(CACHE, { recursive: true });
    const work = path.join(CACHE, `tmp-${process.pid}-${Date.now()}`);
    const classes = path.join(work, 'classes');
    mkdirSync(classes, { recursive: true });
    execFileSync(jdk17().javac, ['--release', '8', '-nowarn', '-Xlint:-options', '-d', classes, ...files], { stdio: 'pipe' });
    agentJar(work, classes, 'good-agent', 'GoodAgent');
    agentJar(work, classes, 'bad-agent', 'BadAgent');
    writeFileSync(path.join(work, 'done'), '');
    try {
      renameSync(work, dir);
    } catch {
      // Another test file built it at the same time.
      rmSync(work, { recursive: true, force: true });
    }
  }
  cached = layout(dir);
  return cached;
}
