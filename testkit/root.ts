/**
 * The checkout: the nearest directory above this file whose package.json is named "quiesce".
 * Found by walking up, not by a fixed number of "..", so the helpers work from testkit/
 * (vitest) and from a build under dist/testkit/ (the benchmarks import them).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'quiesce') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json named "quiesce" above ${here}`);
  }
}

export const ROOT = findRoot();
