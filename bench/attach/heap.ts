/**
 * Heap lookup: one JVM holding about `heapGb` GB of small live objects (fixtures/HeapApp.java),
 * attached through the daemon, then `POST /jvms/:pid/instances` for a class with 7 instances, one
 * with 10,000, and one with tens of millions asked with limit 1000. The agent's callback aborts at
 * the 1001st instance, but HotSpot's IterateOverInstancesOfClass still visits the rest of the heap
 * (it only stops calling back), so every case costs a whole-heap walk.
 */
import { startContainerJvm } from '../../testkit/container.js';
import type { Daemon } from './daemon.js';
import type { Jdk } from './jdks.js';
import { fmtMs, summarize, table } from './stats.js';

interface InstancesReply {
  count: number;
  truncated: boolean;
  tagsLeft: number;
  durationMicros: number | string;
}

interface Case {
  readonly name: string;
  readonly klass: string;
  readonly limit: number;
  /** What a correct answer counts. */
  readonly expect: number;
}

const CASES: readonly Case[] = [
  { name: 'HeapRare: 7 instances', klass: 'HeapRare', limit: 1000, expect: 7 },
  { name: 'HeapMedium: 10,000 instances', klass: 'HeapMedium', limit: 100_000, expect: 10_000 },
  { name: 'HeapNode: all but 10,007 objects, limit 1000', klass: 'HeapNode', limit: 1000, expect: 1000 },
];

export interface HeapOptions {
  readonly jdk: Jdk;
  readonly classes: string;
  readonly heapGb: number;
  readonly repeats: number;
}

/** Runs the heap series and returns the lines to print; throws on a wrong answer. */
export async function heapBench(daemon: Daemon, o: HeapOptions): Promise<string> {
  const xmx = Math.max(2, Math.ceil(o.heapGb * 2));
  const flags = [`-Xms${xmx}g`, `-Xmx${xmx}g`, '-XX:+UseG1GC'];
  const fillStarted = Date.now();
  const jvm = await startContainerJvm({
    javaHome: o.jdk.home,
    classpath: o.classes,
    mainClass: 'HeapApp',
    args: [String(Math.round(o.heapGb * 1024))],
    jvmFlags: flags,
    readyLine: 'READY used=',
    readyTimeoutMs: 240_000,
  });
  try {
    // Wait for the whole READY line.
    while (!/READY used=\d+ nodes=\d+\n/.test(jvm.stdout())) await new Promise((r) => setTimeout(r, 10));
    const m = /READY used=(\d+) nodes=(\d+)/.exec(jvm.stdout());
    const usedBytes = Number(m?.[1] ?? NaN);
    const nodes = Number(m?.[2] ?? NaN);
    const usedGb = usedBytes / 2 ** 30;
    const fillSeconds = (Date.now() - fillStarted) / 1000;

    const t0 = process.hrtime.bigint();
    const attach = await daemon.post<{ durationSeconds: number; alreadyAttached: boolean }>(`/jvms/${jvm.pid}/attach`);
    const attachMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (attach.status !== 200)
      throw new Error(`heap JVM attach: HTTP ${attach.status} ${JSON.stringify(attach.body)}\n${daemon.logTail()}`);

    const lookup = async (c: Case): Promise<{ wallMs: number; micros: number; reply: InstancesReply }> => {
      const s = process.hrtime.bigint();
      const r = await daemon.post<InstancesReply>(`/jvms/${jvm.pid}/instances`, { class: c.klass, limit: c.limit }, 300_000);
      const wallMs = Number(process.hrtime.bigint() - s) / 1e6;
      if (r.status !== 200) throw new Error(`instances ${c.klass}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      if (r.body.count !== c.expect || r.body.tagsLeft !== 0) {
        throw new Error(
          `instances ${c.klass}: expected ${c.expect} with no tags left, got ${JSON.stringify({ ...r.body, instanceClasses: undefined })}`,
        );
      }
      return { wallMs, micros: Number(r.body.durationMicros), reply: r.body };
    };

    // The first lookup also loads libquiesce_jvmti.so into the agent: shown apart.
    const first = await lookup(CASES[0] as Case);
    const rows: string[][] = [];
    rows.push([
      'first call (loads the JVMTI library), HeapRare',
      '1',
      fmtMs(first.micros / 1000),
      '-',
      fmtMs(first.wallMs),
      (first.micros / 1e6 / usedGb).toFixed(3),
    ]);
    for (const c of CASES) {
      const micros: number[] = [];
      const wall: number[] = [];
      for (let i = 0; i < o.repeats; i++) {
        const r = await lookup(c);
        micros.push(r.micros);
        wall.push(r.wallMs);
      }
      const s = summarize(micros.map((x) => x / 1000));
      const w = summarize(wall);
      if (s === null || w === null) continue;
      rows.push([c.name, String(s.n), fmtMs(s.p50), `${fmtMs(s.min)}–${fmtMs(s.max)}`, fmtMs(w.p50), (s.p50 / 1000 / usedGb).toFixed(3)]);
    }
    return [
      `== Heap lookup, JDK ${o.jdk.version}: ${flags.join(' ')}, HeapApp holding ${nodes.toLocaleString('en-US')} objects,`,
      `   ${usedGb.toFixed(2)} GB used after a full GC (JVM start + fill ${fillSeconds.toFixed(1)} s)`,
      `attach → agent connected into this JVM: ${fmtMs(attachMs)} ms client wall, ${fmtMs(attach.body.durationSeconds * 1000)} ms daemon`,
      '',
      table(['POST /jvms/:pid/instances', 'n', 'agent ms p50', 'min–max', 'wall ms p50', 's per GB'], rows),
      '(agent ms = durationMicros measured in the JVM around the JVMTI walk; wall = HTTP round trip through daemon and agent;',
      ' s per GB = agent p50 / GB of live heap)',
    ].join('\n');
  } finally {
    await jvm.kill();
  }
}
