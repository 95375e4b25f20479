/**
 * The lossless-offline benchmark (`npm run bench:offline -- [options]`): the Spring Cloud scenario of
 * test/offline-springcloud.test.ts under load, released again and again, in three modes measured
 * in the same run — quiesce (/offline, then SIGTERM), SIGTERM only, deregister only (/isolate, a
 * preStop sleep, SIGTERM) — with the releases of the three modes interleaved so that a change in
 * the machine's load falls on all of them. A benchmark, not a test: it prints figures and ratios,
 * and fails only when something does not work.
 *
 * One ZooKeeper, one network, the two daemons, provider 2 and the consumer live for the whole run;
 * each release replaces provider 1 (release.ts), and one discarded release comes first. With the
 * consumer's 35 s instance cache, a fresh instance is only called after the cache's next refresh:
 * a release takes about one cache period, so the default 3 × 10 releases take about 20 minutes.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { sleep } from '../../testkit/poll.js';
import { alive } from '../../testkit/procs.js';
import { checkBuilt, SetupError } from '../attach/paths.js';
import { MODE_TITLES, MODES, release, replaceProvider1, type Mode, type Release } from './release.js';
import { modeTable, ratioTable, releaseLine } from './report.js';
import { JVM_FLAGS, Scenario } from './scenario.js';

const USAGE = `usage: node dist/bench/offline/main.js [options]   (npm run bench:offline -- [options])
  --releases N        releases per mode (default 10)
  --modes LIST        comma-separated: quiesce,sigterm,deregister (default all three)
  --threads T         consumer threads calling in parallel (default 16)
  --interval-ms MS    each thread's pause between calls (default 10)
  --cache-ttl S       the consumer's LoadBalancer instance cache, seconds (default 35, Spring's default)
  --prestop-sleep S   deregister mode: the preStop sleep between /isolate and SIGTERM (default 6)
  --max-minutes M     start no release after this many minutes (default 30)
Needs root (network namespaces), Maven (the fixtures) and a build (npm run build).`;

const OPTION_SPEC = {
  releases: { type: 'string', default: '10' },
  modes: { type: 'string', default: MODES.join(',') },
  threads: { type: 'string', default: '16' },
  'interval-ms': { type: 'string', default: '10' },
  'cache-ttl': { type: 'string', default: '35' },
  'prestop-sleep': { type: 'string', default: '6' },
  'max-minutes': { type: 'string', default: '30' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

class UsageError extends Error {}

interface Options {
  readonly releases: number;
  readonly modes: readonly Mode[];
  readonly threads: number;
  readonly intervalMs: number;
  readonly cacheTtlSeconds: number;
  readonly prestopSleepSeconds: number;
  readonly maxMinutes: number;
}

const TARGET_RATE = 500;

function parseOptions(): Options {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTION_SPEC }>>['values'];
  try {
    values = parseArgs({ options: OPTION_SPEC }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number ≥ ${min}, got "${v}"`);
    return n;
  };
  const modes = values.modes.split(',').map((m) => m.trim());
  for (const m of modes)
    if (!(MODES as readonly string[]).includes(m)) throw new UsageError(`--modes: unknown mode "${m}" (modes: ${MODES.join(', ')})`);
  return {
    releases: Math.floor(num('releases', values.releases, 1)),
    modes: modes as Mode[],
    threads: Math.floor(num('threads', values.threads, 1)),
    intervalMs: Math.floor(num('interval-ms', values['interval-ms'], 0)),
    cacheTtlSeconds: num('cache-ttl', values['cache-ttl'], 1),
    prestopSleepSeconds: num('prestop-sleep', values['prestop-sleep'], 0),
    maxMinutes: num('max-minutes', values['max-minutes'], 1),
  };
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n').slice(0, 3).join(' | ');
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

let scenario: Scenario | undefined;

async function main(): Promise<number> {
  const o = parseOptions();
  if (process.getuid?.() !== 0) throw new SetupError('run as root: the bench makes network namespaces and starts JVMs in them');
  checkBuilt();
  const runStarted = Date.now();
  console.log('quiesce lossless-offline benchmark (Spring Cloud LoadBalancer, two hosts)');
  console.log(
    `host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Linux ${os.release()}, Node ${process.version}; load average ${loadavg()}`,
  );
  console.log('scenario: hosts A and B (network namespaces on a bridge), ZooKeeper on the bridge, a quiesce daemon per host;');
  console.log('          provider 1 on A; provider 2 and the @LoadBalanced consumer on B (Spring Boot 3.3, JDK 17,');
  console.log(`          ${JVM_FLAGS.join(' ')}); consumer: ${o.cacheTtlSeconds} s instance cache, retries off,`);
  console.log(
    `          ${o.threads} threads each calling then pausing ${o.intervalMs} ms; agents attached ahead of time (as --adopt does)`,
  );
  console.log(`release: stop provider 1 per mode, start a fresh one (new port; agent attached, 200 requests straight to it to warm it up,
         as a readiness probe would), wait until the consumer calls it; ${o.releases} per mode,`);
  console.log(`         modes interleaved: ${o.modes.map((m) => MODE_TITLES[m]).join(' | ')}`);
  console.log(`         deregister mode sleeps ${o.prestopSleepSeconds} s between /isolate and SIGTERM; /offline?timeout=20&quiet=1`);
  console.log("         A fresh instance is only called after the consumer's next cache refresh, and each release starts a few seconds");
  console.log('         after it: in the baselines the dead instance then stays in the cache for most of a cache period (near the');
  console.log('         worst case; a release at a random moment would lose about half as many requests on average).');
  console.log('');

  const s = new Scenario({ threads: o.threads, intervalMs: o.intervalMs, cacheTtlSeconds: o.cacheTtlSeconds });
  scenario = s;
  let t = Date.now();
  await s.start();
  console.log(
    `setup: ZooKeeper, 2 daemons, 3 JVMs up and the consumer calling both providers in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  // The consumer's first seconds run cold code: let it warm up before the load is measured.
  await sleep(10_000);
  const steady = await s.rate(5_000);
  console.log(
    `consumer load before the first release (after 10 s of warm-up): ${steady.perSecond.toFixed(0)} calls/s over 5 s (${steady.failed} failed)` +
      (steady.perSecond < TARGET_RATE
        ? ` — BELOW the ${TARGET_RATE}/s target: raise --threads or lower --interval-ms`
        : ` (target ≥ ${TARGET_RATE}/s)`),
  );
  console.log('');

  const releaseOptions = {
    offlineTimeoutSeconds: 20,
    quietSeconds: 1,
    prestopSleepMs: o.prestopSleepSeconds * 1000,
    replaceTimeoutMs: (2 * o.cacheTtlSeconds + 30) * 1000,
  };
  // One discarded release first: provider 1 then starts every measured release in the same state
  // (fresh, warmed up, just called after a cache refresh), and the daemons' drain path is warm.
  const prime = await release(s, 'quiesce', releaseOptions, (e) =>
    console.log(`[warm-up] the fresh provider 1 did not come up, starting another: ${errorText(e)}`),
  );
  console.log(`[warm-up release, discarded] quiesce ${prime.name}: ${releaseLine(prime)}`);
  const results = new Map<Mode, Release[]>(o.modes.map((m) => [m, []]));
  const failed = new Map<Mode, string[]>(o.modes.map((m) => [m, []]));
  const total = o.releases * o.modes.length;
  const deadline = runStarted + o.maxMinutes * 60_000;
  let n = 0;
  let cutShort = false;
  for (let i = 1; i <= o.releases && !cutShort; i++) {
    for (const mode of o.modes) {
      if (Date.now() > deadline) {
        console.log(`--max-minutes ${o.maxMinutes} reached: no more releases`);
        cutShort = true;
        break;
      }
      if (!alive(s.consumer!.pid)) throw new Error(`the consumer (pid ${s.consumer!.pid}) exited: ${s.consumer!.stderr().slice(-2000)}`);
      n++;
      const tag = `[${String(n).padStart(String(total).length)}/${total}] ${mode.padEnd(10)} ${s.provider1!.name.padEnd(4)}`;
      const onRetry = (e: unknown): void => console.log(`${tag} the fresh provider 1 did not come up, starting another: ${errorText(e)}`);
      try {
        const r = await release(s, mode, releaseOptions, onRetry);
        results.get(mode)!.push(r);
        console.log(`${tag} ${releaseLine(r)}`);
      } catch (e) {
        failed.get(mode)!.push(errorText(e));
        console.log(`${tag} FAILED: ${errorText(e)}`);
        // Back to the same state: whatever provider 1 is left goes, a fresh one comes.
        await s.killJvm(s.provider1!.jvm);
        s.provider1 = await replaceProvider1(s, releaseOptions.replaceTimeoutMs, onRetry);
      }
    }
  }

  console.log('');
  for (const mode of o.modes) {
    console.log(modeTable(mode, results.get(mode)!, failed.get(mode)!.length));
    console.log('');
  }
  const ratios = ratioTable(results);
  if (ratios !== null) console.log(ratios, '\n');
  t = Date.now();
  await s.close();
  console.log(
    `total run time ${((Date.now() - runStarted) / 1000).toFixed(0)} s (teardown ${((Date.now() - t) / 1000).toFixed(1)} s); ${s.calls?.size ?? 0} consumer calls in all; load average now ${loadavg()}`,
  );
  const failures = [...failed.entries()].flatMap(([m, es]) => es.map((e) => `${m}: ${e}`));
  if (failures.length > 0) {
    console.log(`\n${failures.length} release(s) FAILED (left out of the figures):`);
    for (const f of failures) console.log(`  - ${f}`);
    return 1;
  }
  return 0;
}

// Every JVM, daemon, ZooKeeper and the network go with the bench, however it ends.
process.on('exit', () => scenario?.killDaemonsSync());
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`\n${sig}: stopping the bench's JVMs, daemons, ZooKeeper and network (again to force)`);
    const forced = setTimeout(() => process.exit(130), 20_000);
    void (scenario?.close() ?? Promise.resolve()).finally(() => {
      clearTimeout(forced);
      process.exit(130);
    });
  });
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    // Interrupted: the signal handler is tearing down, and what failed is only the teardown showing.
    if (stopping) return;
    if (e instanceof UsageError) console.error(`${e.message}\n\n${USAGE}`);
    else if (e instanceof SetupError) console.error(`bench:offline: ${e.message}`);
    else console.error(`bench:offline failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    await scenario?.close().catch(() => undefined);
    process.exit(1);
  },
);
