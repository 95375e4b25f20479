/**
 * Compiles bench/attach/fixtures/*.java once into .cache/bench/<sha256 of the sources>/ (built in
 * a temp directory, then renamed), with --release 8 so every JDK runs them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Jdk } from './jdks.js';
import { CACHE, FIXTURE_SOURCES } from './paths.js';

/** Returns the classes directory. */
export function buildFixtures(jdk: Jdk): string {
  const files = readdirSync(FIXTURE_SOURCES)
    .filter((f) => f.endsWith('.java'))
    .sort()
    .map((f) => path.join(FIXTURE_SOURCES, f));
  const hash = createHash('sha256');
  for (const f of files) hash.update(path.basename(f)).update('\0').update(readFileSync(f)).update('\0');
  const dir = path.join(CACHE, hash.digest('hex').slice(0, 16));
  if (!existsSync(path.join(dir, 'done'))) {
    const work = path.join(CACHE, `tmp-${process.pid}-${Date.now()}`);
    mkdirSync(path.join(work, 'classes'), { recursive: true });
    try {
      execFileSync(jdk.javac, ['--release', '8', '-nowarn', '-Xlint:-options', '-d', path.join(work, 'classes'), ...files], {
        stdio: 'pipe',
      });
    } catch (e) {
      rmSync(work, { recursive: true, force: true });
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`javac of ${FIXTURE_SOURCES} failed: ${err.stderr?.toString() || err.message}`);
    }
    writeFileSync(path.join(work, 'done'), '');
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // built by a concurrent run
    }
  }
  return path.join(dir, 'classes');
}
