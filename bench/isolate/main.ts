/**
 * The isolation benchmark (`npm run bench:isolate -- [options]`): how long after `POST /isolate`
 * a live provider is out of its registry and out of its consumer's traffic, and how long after
 * `POST /restore` it is back, for Dubbo 2.7, Dubbo 3.3 and Spring Cloud (Boot 3) on a real
 * ZooKeeper; for Dubbo next to Dubbo's own QoS `offline` / `online`, timed the same way in the
 * same run. A benchmark, not a test: it prints figures and ratios, and fails only when something
 * does not work (a command refused, a node that never goes, a consumer that never stops).
 *
 * Method (setups.ts, rounds.ts). Per framework: one ZooKeeper, providers A and B, a consumer
 * calling through the registry every 10 ms, the daemon attached to A first. Each tool gets one
 * discarded warm-up round, then `--rounds` measured rounds; for Dubbo the two tools alternate,
 * their order swapping every round; for Dubbo 3 every command waits 5.5 s after the previous
 * registry change (its consumer delays closer notifications). Frameworks run one after the other, each torn down before
 * the next starts. The host's CPU use is printed per framework, split into this bench's processes
 * and other work (load.ts): on a shared 2-CPU machine the other work is in the figures.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, ROOT, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { describeLoad, measureLoad } from './load.js';
import { descendantsOf, isJava } from '../../testkit/procs.js';
import { killChildrenSync, removeAtExit } from './processes.js';
import { fmtRound, report } from './report.js';
import { runRound, type Round, type RoundOptions } from './rounds.js';
import { dubboSetup, springCloudSetup, type Setup, type SetupOptions } from './setups.js';

const FRAMEWORKS = ['dubbo27', 'springcloud', 'dubbo33'] as const;
type Framework = (typeof FRAMEWORKS)[number];

const USAGE = `usage: node dist/bench/isolate/main.js [options]   (npm run bench:isolate -- [options])
  --rounds N        measured rounds per tool and framework (default 10), after 1 warm-up round
  --only LIST       frameworks, comma-separated: ${FRAMEWORKS.join(',')} (default all)
  --interval MS     the consumers' pace (default 10)
  --poll MS         ZooKeeper poll interval (default 10)
  --quiet MS        A counts as out of traffic once it answered no call for this long (default 500)
  --budget S        stop starting rounds after S seconds, whole run (default 450)
Needs root and a build: node scripts/build.mjs (the daemon in dist/, the agent in dist/agent/).`;

interface Options {
  readonly rounds: number;
  readonly only: readonly Framework[];
  readonly intervalMs: number;
  readonly budgetMs: number;
  readonly round: RoundOptions;
}

class UsageError extends Error {}
class SetupError extends Error {}

function parseOptions(): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        rounds: { type: 'string', default: '10' },
        only: { type: 'string', default: FRAMEWORKS.join(',') },
        interval: { type: 'string', default: '10' },
        poll: { type: 'string', default: '10' },
        quiet: { type: 'string', default: '500' },
        budget: { type: 'string', default: '450' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values['help'] === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name: string, min: number): number => {
    const v = String(values[name]);
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number ≥ ${min}, got "${v}"`);
    return n;
  };
  const only = String(values['only'])
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const f of only)
    if (!(FRAMEWORKS as readonly string[]).includes(f)) throw new UsageError(`--only: unknown framework "${f}" (${FRAMEWORKS.join(', ')})`);
  return {
    rounds: Math.floor(num('rounds', 1)),
    only: only as Framework[],
    intervalMs: Math.floor(num('interval', 1)),
    budgetMs: num('budget', 1) * 1000,
    round: { pollMs: num('poll', 0), quietMs: num('quiet', 100), nodeTimeoutMs: 5_000, callTimeoutMs: 20_000, settleMs: 300, gapMs: 0 },
  };
}

function checkSetup(): void {
  if (process.getuid?.() !== 0)
    throw new SetupError('run as root: the JVMs run in their own namespaces and the daemon attaches across them');
  const missing: string[] = [];
  if (!existsSync(CLI)) missing.push(`${path.relative(ROOT, CLI)}: run \`node scripts/build.mjs ts\``);
  for (const f of ['quiesce-agent.jar', 'quiesce-agent-core.jar', 'libquiesce_jvmti.so']) {
    if (!existsSync(path.join(ROOT, 'dist/agent', f)))
      missing.push(
        `dist/agent/${f}: run \`node scripts/build.mjs agent collect\` (the native library: node scripts/build-native.mjs first)`,
      );
  }
  if (missing.length > 0) throw new SetupError(`not built:\n  ${missing.join('\n  ')}`);
}

const failures: string[] = [];

function recordFailure(what: string, e: unknown): void {
  const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  failures.push(msg);
  console.error(`  FAILED ${msg}`);
}

/** Java processes on the host that are not this bench's: other work sharing the CPUs with the figures. */
function otherJvms(): number {
  const ours = new Set(descendantsOf(process.pid));
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => !ours.has(p) && isJava(p)).length;
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Warm-up then measured rounds, tools alternating (order swapped every round). */
async function runSeries(
  setup: Setup,
  o: Options,
  deadline: number,
): Promise<{ byTool: Map<string, Round[]>; warmUp: Round[]; note: string | null }> {
  const byTool = new Map<string, Round[]>(setup.tools.map((t) => [t.name, []]));
  const warmUp: Round[] = [];
  const one = async (tool: Setup['tools'][number], label: string, keep: boolean): Promise<void> => {
    try {
      const r = await runRound(tool, setup.probes, setup.calls, { ...o.round, gapMs: setup.gapMs });
      if (keep) byTool.get(tool.name)?.push(r);
      else warmUp.push(r);
      console.error(`  ${setup.label} ${label} ${fmtRound(r)}`);
    } catch (e) {
      recordFailure(`${setup.label} ${label} ${tool.name}`, e);
      // Put A back whatever happened, so the next round starts from a registered provider.
      await tool.restore().catch(() => undefined);
    }
  };
  for (const t of setup.tools) await one(t, 'warm-up (discarded)', false);
  for (let i = 0; i < o.rounds; i++) {
    if (Date.now() > deadline) return { byTool, warmUp, note: `budget reached: ${i} of ${o.rounds} rounds run` };
    const order = i % 2 === 0 ? setup.tools : [...setup.tools].reverse();
    for (const t of order) await one(t, `round ${i + 1}/${o.rounds}`, true);
  }
  return { byTool, warmUp, note: null };
}

async function benchFramework(f: Framework, so: SetupOptions): Promise<Setup> {
  switch (f) {
    case 'dubbo27':
      return dubboSetup({ fixture: 'dubbo27', instances: false }, so);
    case 'dubbo33':
      return dubboSetup({ fixture: 'dubbo33', instances: true }, so);
    case 'springcloud':
      return springCloudSetup(so);
  }
}

async function main(): Promise<number> {
  const o = parseOptions();
  checkSetup();
  const started = Date.now();
  const deadline = started + o.budgetMs;

  console.log('quiesce isolation benchmark');
  console.log(
    `host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Linux ${os.release()}, Node ${process.version}; JVMs on JDK ${jdk17().version}`,
  );
  console.log(`load before the run: load average ${loadavg()}, ${otherJvms()} other JVMs running on the host`);
  console.log(
    `rounds: ${o.rounds} per tool and framework after 1 discarded warm-up; ZooKeeper polled every ${o.round.pollMs} ms; consumer pace ${o.intervalMs} ms;`,
  );
  console.log(
    `        "last call" = the last call A answered, once it answered none for ${o.round.quietMs} ms; every time in ms after the command was sent`,
  );
  console.log('');

  // A long attach timeout: the agent's start-up is no part of the figures, and a loaded host slows it.
  const daemon: DaemonProcess = await startDaemon({
    refreshMs: 5000,
    extraArgs: ['--attach-timeout', '60000'],
    env: { QUIESCE_LOG_LEVEL: 'info' },
  });
  const removeState = removeAtExit(daemon.stateDir);
  const sections: string[] = [];
  try {
    for (const f of o.only) {
      if (Date.now() > deadline) {
        sections.push(`== ${f}: skipped, the ${o.budgetMs / 1000} s budget was reached`);
        continue;
      }
      const t = Date.now();
      let setup: Setup;
      try {
        setup = await benchFramework(f, { daemon, intervalMs: o.intervalMs });
      } catch (e) {
        recordFailure(`${f}: setup`, e);
        continue;
      }
      console.error(`  (${setup.label}: ZooKeeper, 3 JVMs and the attach took ${((Date.now() - t) / 1000).toFixed(0)} s)`);
      try {
        const load = measureLoad();
        const { byTool, warmUp, note } = await runSeries(setup, o, deadline);
        const l = load();
        sections.push(
          [
            `== ${setup.label}: provider A taken out of traffic and put back`,
            ...setup.describe,
            describeLoad(l),
            ...(note !== null ? [note] : []),
            '',
            report(
              setup.probes.map((p) => p.name),
              byTool,
            ),
            '',
            'warm-up rounds (the first commands after the attach; not in the figures above):',
            ...warmUp.map((r) => `  ${fmtRound(r)}`),
          ].join('\n'),
        );
      } finally {
        await setup.close();
      }
    }
  } finally {
    await daemon.stop();
    removeState();
  }

  for (const s of sections) console.log(`${s}\n`);
  console.log(`total run time ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg()}`);
  if (failures.length > 0) {
    console.log(`\n${failures.length} round(s) or setup(s) FAILED (figures above leave them out):`);
    for (const f of failures) console.log(`  - ${f}`);
    return 1;
  }
  return 0;
}

// Every JVM, ZooKeeper and the daemon die with the bench, however it ends.
process.on('exit', killChildrenSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: killing the bench's JVMs, ZooKeeper and daemon`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) console.error(`${e.message}\n\n${USAGE}`);
    else if (e instanceof SetupError) console.error(`bench:isolate: ${e.message}`);
    else console.error(`bench:isolate failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
