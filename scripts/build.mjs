// The whole build, step by step: `node scripts/build.mjs [proto|ts|agent|collect]...`
// (no argument = all, in order). `npm ci` runs it through the prepare script.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const steps = {
  proto() {
    run(join(root, 'node_modules/.bin/buf'), ['generate'], join(root, 'proto'));
  },
  ts() {
    run(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], root);
  },
  agent() {
    run('mvn', ['-B', '-q', '-f', 'agent-jvm/pom.xml', 'package'], root);
  },
  collect() {
    // The daemon reads its agent files from dist/agent/ (overridable with --agent-dir).
    const out = join(root, 'dist/agent');
    mkdirSync(out, { recursive: true });
    copy(join(root, 'agent-jvm/dist/quiesce-agent.jar'), join(out, 'quiesce-agent.jar'));
    copy(join(root, 'agent-jvm/dist/quiesce-agent-core.jar'), join(out, 'quiesce-agent-core.jar'));
    copy(
      findFile(join(root, 'build/Release'), 'libquiesce_jvmti.so') ?? findFile(join(root, 'build/Release'), 'quiesce_jvmti.so'),
      join(out, 'libquiesce_jvmti.so'),
    );
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(steps)) {
  const step = steps[name];
  if (!step) {
    console.error(`unknown build step "${name}"; steps: ${Object.keys(steps).join(', ')}`);
    process.exit(2);
  }
  const t = Date.now();
  step();
  console.log(`quiesce build: ${name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    console.error(`quiesce build: "${cmd} ${args.join(' ')}" failed with exit ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

function copy(from, to) {
  if (!from || !existsSync(from)) {
    console.error(`quiesce build: ${from ?? to} was not built`);
    process.exit(1);
  }
  copyFileSync(from, to);
}

function findFile(dir, name) {
  if (!existsSync(dir)) return undefined;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === name) return p;
    if (statSync(p).isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    }
  }
  return undefined;
}
