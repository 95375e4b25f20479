/**
 * Fixture apps built by Maven from Maven Central (Dubbo, Spring Cloud, ZooKeeper, ...):
 * `test/fixtures/maven/<name>/` holds a pom.xml and sources. Each is built once into
 * `.cache/maven-fixtures/<name>-<sha256 of its files>/` with its classes and every
 * runtime dependency jar, reused across runs and by parallel test files.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './root.js';

const SOURCES = path.join(ROOT, 'test', 'fixtures', 'maven');
const CACHE = path.join(ROOT, '.cache', 'maven-fixtures');

export interface MavenFixture {
  readonly name: string;
  readonly dir: string;
  /** `<dir>/classes:<dir>/lib/*`: pass as -cp (host paths, readable by any uid). */
  readonly classpath: string;
  readonly classes: string;
  readonly lib: string;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (e === 'target') continue;
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function layout(name: string, dir: string): MavenFixture {
  const classes = path.join(dir, 'classes');
  const lib = path.join(dir, 'lib');
  return { name, dir, classes, lib, classpath: `${classes}:${lib}/*` };
}

const built = new Map<string, MavenFixture>();

/** Builds (or finds in the cache) the Maven fixture `test/fixtures/maven/<name>`. */
export function buildMavenFixture(name: string): MavenFixture {
  const cached = built.get(name);
  if (cached) return cached;
  const src = path.join(SOURCES, name);
  if (!existsSync(path.join(src, 'pom.xml'))) throw new Error(`no Maven fixture at ${src}`);
  const hash = createHash('sha256');
  for (const f of filesUnder(src)) hash.update(path.relative(src, f)).update('\0').update(readFileSync(f)).update('\0');
  const dir = path.join(CACHE, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(path.join(dir, 'done'))) {
    mkdirSync(CACHE, { recursive: true });
    const work = path.join(CACHE, `tmp-${name}-${process.pid}-${Date.now()}`);
    mkdirSync(work, { recursive: true });
    try {
      // A private copy of the sources: parallel builds of one fixture must not share target/.
      execFileSync('cp', ['-r', `${src}/.`, path.join(work, 'src-copy')], { stdio: 'pipe' });
      execFileSync(
        'mvn',
        [
          '-B',
          '-q',
          '-f',
          path.join(work, 'src-copy', 'pom.xml'),
          'package',
          'dependency:copy-dependencies',
          '-DincludeScope=runtime',
          `-DoutputDirectory=${path.join(work, 'lib')}`,
          '-DskipTests',
        ],
        { stdio: 'pipe', maxBuffer: 64 << 20 },
      );
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
      rmSync(work, { recursive: true, force: true });
      throw new Error(
        `building Maven fixture ${name} failed: ${err.message}\n${err.stdout?.toString() ?? ''}\n${err.stderr?.toString() ?? ''}`,
      );
    }
    const classes = path.join(work, 'src-copy', 'target', 'classes');
    // A fixture may be dependencies only (the ZooKeeper server): no classes of its own.
    if (existsSync(classes)) renameSync(classes, path.join(work, 'classes'));
    else mkdirSync(path.join(work, 'classes'));
    rmSync(path.join(work, 'src-copy'), { recursive: true, force: true });
    writeFileSync(path.join(work, 'done'), '');
    try {
      renameSync(work, dir);
    } catch {
      // Another test file built it at the same time.
      rmSync(work, { recursive: true, force: true });
    }
  }
  // JVMs in the test containers run as uid 1000: every directory on the way must be searchable.
  for (let p = dir; p.startsWith(ROOT) && p !== ROOT; p = path.dirname(p)) chmodSync(p, 0o755);
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  const f = layout(name, dir);
  built.set(name, f);
  return f;
}
