/**
 * The attach benchmark (`npm run bench:attach -- [options]`): how long quiesce takes to attach its
 * agent into a fresh container JVM, end to end through the daemon and for the raw `load` step,
 * next to Debian's jattach doing the same load into the same kind of JVM in the same run; then
 * the JVMTI heap lookup on a heap of about 1 GB. A benchmark, not a test: it prints figures and
 * fails only when something does not work (a failed attach, a wrong instance count).
 *
 * Method. Every JVM runs in its own pid/mount/net namespaces with a private tmpfs /tmp as uid 1000
 * (testkit/container.ts, shared with the tests). JVMs are started in batches (2 at a time), then measured one by one with
 * nothing else starting, each measurement only once the batch is idle (idle.ts), then killed. Each JDK begins with one discarded warm-up round.
 * Cold loads alternate quiesce/jattach across JVMs; warm loads alternate their order on each JVM.
 * The raw series run before the daemon starts; the end-to-end series use one daemon.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { execute, loadAgent } from '../../src/jvm/attach/index.js';
import { deliverAgent } from '../../src/jvm/deliver.js';
import { inspectPid } from '../../src/jvm/discovery.js';
import { VERSION } from '../../src/version.js';
import { killAllSync, startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { killDaemonSync, startDaemon, type Daemon } from './daemon.js';
import { buildFixtures } from './fixtures.js';
import { hostBusy, idleTimeouts, waitIdle } from './idle.js';
import { heapBench } from './heap.js';
import { checkJattach, jattachLoad, timed } from './jattach.js';
import { findJdk, type Jdk } from './jdks.js';
import { AGENT_FILES, checkBuilt, SetupError } from './paths.js';
import { ratio, seriesTable, summarize, table } from './stats.js';

const USAGE = `usage: node dist/bench/attach/main.js [options]   (npm run bench:attach -- [options])
  --jvms N        fresh JVMs per series and JDK (default 20; at least 1)
  --jdk WHICH     17 | temurin | both (default both)
  --heap-gb G     live heap of the heap-lookup JVM, in GB (default 1; 0 skips it)
  --warm W        warm repetitions per JVM (default 3)
  --batch B       JVMs started per batch (default 4)
  --settle MS     longest wait for the JVMs to go idle before a measurement (default 5000)
  --repeats R     heap lookups per case (default 5)
Needs root, jattach on PATH (apt-get install -y jattach) and a build (npm run build).`;

const SMALL_FLAGS = ['-Xmx64m', '-XX:+UseSerialGC'] as const;
const START_CONCURRENCY = 2;

interface Options {
  readonly jvms: number;
  readonly jdks: readonly string[];
  readonly heapGb: number;
  readonly warm: number;
  readonly batch: number;
  readonly settleMs: number;
  readonly repeats: number;
}

const OPTION_SPEC = {
  jvms: { type: 'string', default: '20' },
  jdk: { type: 'string', default: 'both' },
  'heap-gb': { type: 'string', default: '1' },
  warm: { type: 'string', default: '3' },
  batch: { type: 'string', default: '4' },
  settle: { type: 'string', default: '5000' },
  repeats: { type: 'string', default: '5' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseOptions(): Options {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTION_SPEC }>>;
  try {
    parsed = parseArgs({ options: OPTION_SPEC });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number ≥ ${min}, got "${v}"`);
    return n;
  };
  const jdk = values.jdk;
  if (jdk !== '17' && jdk !== 'temurin' && jdk !== 'both') throw new UsageError(`--jdk must be 17, temurin or both, got "${jdk}"`);
  return {
    jvms: Math.floor(num('jvms', values.jvms, 1)),
    jdks: jdk === 'both' ? ['17', 'temurin'] : [jdk],
    heapGb: num('heap-gb', values['heap-gb'], 0),
    warm: Math.floor(num('warm', values.warm, 1)),
    batch: Math.floor(num('batch', values.batch, 1)),
    settleMs: num('settle', values.settle, 0),
    repeats: Math.floor(num('repeats', values.repeats, 1)),
  };
}

class UsageError extends Error {}

const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;

/** Starts `count` JVMs, `START_CONCURRENCY` at a time, then waits until they are idle. */
async function startBatch(jdk: Jdk, classes: string, count: number, settleMs: number): Promise<ContainerJvm[]> {
  const out: ContainerJvm[] = [];
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < count && failure === undefined) {
      next++;
      try {
        out.push(await startContainerJvm({ javaHome: jdk.home, classpath: classes, mainClass: 'BenchApp', jvmFlags: SMALL_FLAGS }));
      } catch (e) {
        failure = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, count) }, worker));
  if (failure !== undefined) {
    await Promise.all(out.map((j) => j.kill()));
    throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
  }
  await waitIdle(
    out.map((j) => j.pid),
    settleMs,
  );
  return out;
}

/** Batch sizes for `n` JVMs plus one warm-up JVM first (size 1, results discarded). */
function batches(n: number, size: number): number[] {
  const out = [1];
  for (let left = n; left > 0; left -= size) out.push(Math.min(size, left));
  return out;
}

interface RawSeries {
  deliver: number[];
  quiesceCold: number[];
  jattachCold: number[];
  quiesceWarm: number[];
  jattachWarm: number[];
  /** jattach from Node's spawn to its exit, cold and warm. */
  jattachColdNode: number[];
  jattachWarmNode: number[];
  /** /bin/true timed by bash: the process-start floor inside every jattach figure. */
  spawnTrue: number[];
}

interface E2eSeries {
  coldClient: number[];
  coldDaemon: number[];
  warmClient: number[];
  warmDaemon: number[];
}

const failures: string[] = [];

function recordFailure(what: string, e: unknown): void {
  const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  failures.push(msg);
  console.error(`  FAILED ${msg}`);
}

/** quiesce's loadAgent and jattach, same jar and options, cold into fresh JVMs and warm. */
async function rawSeries(jdk: Jdk, classes: string, o: Options, jattach: string): Promise<RawSeries> {
  const r: RawSeries = {
    deliver: [],
    quiesceCold: [],
    jattachCold: [],
    quiesceWarm: [],
    jattachWarm: [],
    jattachColdNode: [],
    jattachWarmNode: [],
    spawnTrue: [],
  };
  const sizes = batches(o.jvms * 2, o.batch);
  let index = 0;
  for (const [b, size] of sizes.entries()) {
    const keep = b > 0;
    const jvms = await startBatch(jdk, classes, size, o.settleMs);
    try {
      const targets: { jvm: Awaited<ReturnType<typeof inspectPid>>; jar: string; options: string }[] = [];
      for (const c of jvms) {
        const jvm = await inspectPid(c.pid);
        const t = process.hrtime.bigint();
        const d = await deliverAgent(jvm, AGENT_FILES, VERSION);
        if (keep) r.deliver.push(since(t));
        const options = [
          `socket=${d.socket.targetPath}`,
          `core=${d.coreJar.targetPath}`,
          `native=${d.nativeLib.targetPath}`,
          `log=${d.dir.targetPath}/agent-${jvm.nspid}.log`,
        ].join(',');
        targets.push({ jvm, jar: d.jar.targetPath, options });
      }
      const quiesce = async (t: (typeof targets)[number], expectWarm: boolean): Promise<number> => {
        const s = process.hrtime.bigint();
        const res = await loadAgent(t.jvm, t.jar, t.options, { timeoutMs: 30_000 });
        const ms = since(s);
        if (res.warm !== expectWarm) throw new Error(`quiesce loadAgent reported warm=${res.warm}, expected ${expectWarm}`);
        return ms;
      };
      const jat = async (t: (typeof targets)[number], nodeSink: number[]): Promise<number> => {
        const res = await jattachLoad(jattach, t.jvm.pid, `${t.jar}=${t.options}`);
        if (keep) nodeSink.push(res.nodeMs);
        return res.ms;
      };
      // Cold: one tool per fresh JVM, alternating.
      const pids = jvms.map((j) => j.pid);
      for (const t of targets) {
        const useQuiesce = index++ % 2 === 0;
        await waitIdle(pids, o.settleMs);
        try {
          const ms = useQuiesce ? await quiesce(t, false) : await jat(t, r.jattachColdNode);
          if (keep) (useQuiesce ? r.quiesceCold : r.jattachCold).push(ms);
        } catch (e) {
          recordFailure(`JDK ${jdk.label} pid ${t.jvm.pid}: cold ${useQuiesce ? 'quiesce loadAgent' : 'jattach load'}`, e);
        }
      }
      // Warm: both tools on every JVM whose listener now runs, order alternating.
      for (const [i, t] of targets.entries()) {
        await waitIdle(pids, o.settleMs);
        for (let w = 0; w < o.warm; w++) {
          const order = (i + w) % 2 === 0 ? (['quiesce', 'jattach'] as const) : (['jattach', 'quiesce'] as const);
          for (const tool of order) {
            try {
              const ms = tool === 'quiesce' ? await quiesce(t, true) : await jat(t, r.jattachWarmNode);
              if (keep) (tool === 'quiesce' ? r.quiesceWarm : r.jattachWarm).push(ms);
            } catch (e) {
              recordFailure(`JDK ${jdk.label} pid ${t.jvm.pid}: warm ${tool}`, e);
            }
          }
        }
        if (keep) r.spawnTrue.push((await timed(['/bin/true'])).ms);
      }
    } finally {
      await Promise.all(jvms.map((j) => j.kill()));
    }
  }
  return r;
}

interface AttachReply {
  alreadyAttached: boolean;
  durationSeconds: number;
}

/** `POST /jvms/:pid/attach` cold (fresh JVM) and warm (agent connected), through the daemon. */
async function e2eSeries(daemon: Daemon, jdk: Jdk, classes: string, o: Options): Promise<E2eSeries> {
  const r: E2eSeries = { coldClient: [], coldDaemon: [], warmClient: [], warmDaemon: [] };
  const attach = async (pid: number, expectAlready: boolean): Promise<{ client: number; daemon: number }> => {
    const s = process.hrtime.bigint();
    const res = await daemon.post<AttachReply>(`/jvms/${pid}/attach`);
    const client = since(s);
    if (res.status !== 200)
      throw new Error(`HTTP ${res.status} ${JSON.stringify(res.body)}\ndaemon log (last lines):\n${daemon.logTail()}`);
    if (res.body.alreadyAttached !== expectAlready)
      throw new Error(`alreadyAttached=${res.body.alreadyAttached}, expected ${expectAlready}`);
    return { client, daemon: res.body.durationSeconds * 1000 };
  };
  for (const [b, size] of batches(o.jvms, o.batch).entries()) {
    const keep = b > 0;
    const jvms = await startBatch(jdk, classes, size, o.settleMs);
    try {
      const attached: ContainerJvm[] = [];
      const pids = [daemon.pid, ...jvms.map((j) => j.pid)];
      for (const j of jvms) {
        await waitIdle(pids, o.settleMs);
        try {
          const a = await attach(j.pid, false);
          if (keep) {
            r.coldClient.push(a.client);
            r.coldDaemon.push(a.daemon);
          }
          attached.push(j);
        } catch (e) {
          recordFailure(`JDK ${jdk.label} pid ${j.pid}: cold POST /attach`, e);
        }
      }
      await waitIdle(pids, o.settleMs);
      for (let w = 0; w < o.warm; w++) {
        for (const j of attached) {
          try {
            const a = await attach(j.pid, true);
            if (keep) {
              r.warmClient.push(a.client);
              r.warmDaemon.push(a.daemon);
            }
          } catch (e) {
            recordFailure(`JDK ${jdk.label} pid ${j.pid}: warm POST /attach`, e);
          }
        }
      }
    } finally {
      await Promise.all(jvms.map((j) => j.kill()));
    }
  }
  return r;
}

function rawReport(jdk: Jdk, r: RawSeries): string {
  const p = (xs: number[]): ReturnType<typeof summarize> => summarize(xs);
  const qc = p(r.quiesceCold);
  const jc = p(r.jattachCold);
  const qw = p(r.quiesceWarm);
  const jw = p(r.jattachWarm);
  return [
    seriesTable([
      { name: 'raw load, cold: quiesce loadAgent (in process)', ms: r.quiesceCold },
      { name: 'raw load, cold: jattach (timed by bash)', ms: r.jattachCold },
      { name: 'raw load, warm: quiesce loadAgent (in process)', ms: r.quiesceWarm },
      { name: 'raw load, warm: jattach (timed by bash)', ms: r.jattachWarm },
      { name: 'jattach cold, Node spawn → exit (info)', ms: r.jattachColdNode },
      { name: 'jattach warm, Node spawn → exit (info)', ms: r.jattachWarmNode },
      { name: '/bin/true (timed by bash): process start in jattach', ms: r.spawnTrue },
      { name: 'deliverAgent (3 files into the target /tmp)', ms: r.deliver },
    ]),
    '',
    table(
      [`quiesce / jattach, JDK ${jdk.label}`, 'p50', 'p95', 'min'],
      [
        ['raw load, cold', ratio(qc?.p50, jc?.p50), ratio(qc?.p95, jc?.p95), ratio(qc?.min, jc?.min)],
        ['raw load, warm', ratio(qw?.p50, jw?.p50), ratio(qw?.p95, jw?.p95), ratio(qw?.min, jw?.min)],
      ],
    ),
  ].join('\n');
}

function e2eReport(r: E2eSeries): string {
  return seriesTable([
    { name: 'attach → agent connected, cold: client wall', ms: r.coldClient },
    { name: 'attach → agent connected, cold: daemon durationSeconds', ms: r.coldDaemon },
    { name: 're-attach, warm (agent connected): client wall', ms: r.warmClient },
    { name: 're-attach, warm (agent connected): daemon durationSeconds', ms: r.warmDaemon },
  ]);
}

/** One cheap attach command proves the attach code works before minutes are spent. */
async function smokeTest(jdk: Jdk, classes: string): Promise<void> {
  const [j] = await startBatch(jdk, classes, 1, 0);
  if (!j) throw new Error('no JVM started');
  try {
    const res = await execute(await inspectPid(j.pid), 'properties', [], { timeoutMs: 15_000 });
    if (res.status !== 0) throw new Error(`attach "properties" into a fresh JVM answered status ${res.status}: ${res.body.slice(0, 200)}`);
  } finally {
    await j.kill();
  }
}

async function main(): Promise<number> {
  const o = parseOptions();
  if (process.getuid?.() !== 0) throw new SetupError('run as root: the bench starts JVMs in their own namespaces and attaches across them');
  checkBuilt();
  const jattach = checkJattach();
  const jdks = o.jdks.map(findJdk);
  const classes = buildFixtures(jdks[0] as Jdk);
  const runStarted = Date.now();

  console.log('quiesce attach benchmark');
  console.log(
    `host: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Linux ${os.release()}, Node ${process.version}`,
  );
  console.log(`reference: ${jattach.version} (${jattach.path})`);
  console.log(`JDKs: ${jdks.map((j) => `${j.version} (${j.home})`).join(', ')}`);
  console.log(`JVMs: BenchApp (idle), ${SMALL_FLAGS.join(' ')}, own pid/mount/net namespaces, tmpfs /tmp, uid 1000;`);
  console.log(`      ${o.jvms} fresh JVMs per series and JDK, started ${START_CONCURRENCY} at a time in batches of ${o.batch};`);
  console.log(`      ${o.warm} warm repetitions per JVM; 1 warm-up round discarded; each cold measurement (and each JVM's warm set)`);
  console.log(`      waits until the batch's JVMs (and the daemon) are idle: ≤ 1 CPU tick in 200 ms, at most ${o.settleMs} ms`);
  const busy = await hostBusy();
  console.log(
    `host CPU busy before the run: ${(busy * 100).toFixed(0)}%${busy > 0.1 ? ' — WARNING: other work is running, the figures will be noisy' : ''}`,
  );
  console.log('');

  for (const jdk of jdks) await smokeTest(jdk, classes);

  const raw = new Map<Jdk, RawSeries>();
  for (const jdk of jdks) {
    const t = Date.now();
    raw.set(jdk, await rawSeries(jdk, classes, o, jattach.path));
    console.error(`  (raw series JDK ${jdk.label}: ${((Date.now() - t) / 1000).toFixed(0)} s)`);
  }

  const daemon = await startDaemon();
  const e2e = new Map<Jdk, E2eSeries>();
  let heap: string | null = null;
  try {
    for (const jdk of jdks) {
      const t = Date.now();
      e2e.set(jdk, await e2eSeries(daemon, jdk, classes, o));
      console.error(`  (end-to-end series JDK ${jdk.label}: ${((Date.now() - t) / 1000).toFixed(0)} s)`);
    }
    if (o.heapGb > 0) {
      try {
        heap = await heapBench(daemon, { jdk: jdks[0] as Jdk, classes, heapGb: o.heapGb, repeats: o.repeats });
      } catch (e) {
        recordFailure('heap lookup', e);
      }
    }
  } finally {
    await daemon.stop();
  }

  for (const jdk of jdks) {
    console.log(`== JDK ${jdk.version} (${jdk.label}): quiesce's raw load step vs jattach (no daemon; same jar, same options)`);
    console.log(rawReport(jdk, raw.get(jdk) as RawSeries));
    console.log('');
    console.log(`== JDK ${jdk.version} (${jdk.label}): end to end through the daemon, POST /jvms/:pid/attach until the agent's hello`);
    console.log(e2eReport(e2e.get(jdk) as E2eSeries));
    console.log('');
  }
  if (heap !== null) console.log(heap, '\n');

  console.log(
    `total run time ${((Date.now() - runStarted) / 1000).toFixed(0)} s; idle waits that hit the ${o.settleMs} ms bound: ${idleTimeouts()}; load average now ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
  if (failures.length > 0) {
    console.log(`\n${failures.length} measurement(s) FAILED (figures above leave them out):`);
    for (const f of failures) console.log(`  - ${f}`);
    return 1;
  }
  return 0;
}

// Every JVM and the daemon die with the bench, however it ends.
process.on('exit', () => {
  killAllSync();
  killDaemonSync();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: killing the bench's JVMs and daemon`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) console.error(`${e.message}\n\n${USAGE}`);
    else if (e instanceof SetupError) console.error(`bench:attach: ${e.message}`);
    else console.error(`bench:attach failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
