/**
 * The RocketMQ traffic adapter against a real NameServer + Broker (one plain JVM, 127.0.0.1) and
 * three client JVMs in stand-in containers on the host network: consumers A and B of one group
 * (4 queues) printing "CONSUMED <n> <queueId>", and a producer sending a numbered stream at 25 msg/s
 * ("SENT <n>" / "SEND_FAILED <n> <exception>"). Everything goes through the real daemon's /isolate
 * and /restore (and its hold loop). One suite per RocketMQ line (test/traffic-rocketmq*.test.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL_JVM_FLAGS, startContainerJvm, type ContainerJvm } from './container.js';
import { startDaemon, type DaemonProcess } from './daemon.js';
import { jdk17 } from './java-homes.js';
import { buildMavenFixture } from './maven-fixtures.js';
import { LineLog, ROCKETMQ_JDK17_FLAGS, startRocketMqServers, type RocketMqServers } from './rocketmq.js';
import { sleep, until } from './poll.js';

const TOPIC = 'QuiesceTopic';
const GROUP = 'quiesce-group';
const APP = 'dev.quiesce.fixtures.rocketmq';

/** Thread names of a process (/proc/<pid>/task/<tid>/comm: the first 15 characters). */
function threads(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`)
    .map((t) => {
      try {
        return readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    })
    .filter(Boolean)
    .sort();
}

const netty = (names: string[]): string[] => names.filter((n) => n.startsWith('Netty'));

interface Change {
  traffic: string;
  framework: string;
  version: string;
  registry: string;
  kind: string;
  deregistered: string[];
  restored: string[];
  reapplied: number;
  error: string | null;
}
interface IsolateBody {
  alreadyIsolated: boolean;
  changes: Change[];
  isolation: { traffic: string[] };
}
interface RestoreBody {
  restored: boolean;
  changes: Change[];
  isolation: unknown;
}
interface Inventory {
  frameworks: {
    traffic: string;
    framework: string;
    version: string;
    supported: boolean;
    unsupportedReason: string;
    isolated: boolean;
    registries: { registry: string; kind: string; registered: string[]; removed: string[] }[];
  }[];
}

export function rocketMqSuite(o: { fixture: string; version: RegExp; label: string }): void {
  let servers: RocketMqServers;
  let daemon: DaemonProcess;
  let consumerA: ContainerJvm;
  let consumerB: ContainerJvm;
  let producer: ContainerJvm;
  let logA: LineLog;
  let logB: LineLog;
  let logP: LineLog;
  let threadsBefore: string[];
  const measured: string[] = [];

  const consumed = (log: LineLog, since = 0): number[] => log.tagged('CONSUMED', since).map((l) => Number(l.words[1]));
  const metric = async (line: RegExp): Promise<number | null> => {
    const text = (await daemon.get<string>('/metrics')).body;
    for (const l of text.split('\n')) {
      const m = line.exec(l);
      if (m) return Number(l.slice(l.lastIndexOf(' ') + 1));
    }
    return null;
  };

  beforeAll(async () => {
    const fixture = buildMavenFixture(o.fixture);
    servers = await startRocketMqServers(fixture.classpath, TOPIC);
    const flags = [
      ...SMALL_JVM_FLAGS.filter((f) => !f.startsWith('-Xmx')),
      '-Xmx128m',
      ...ROCKETMQ_JDK17_FLAGS,
      // The consumers rebalance every second (20 s by default).
      '-Drocketmq.client.rebalance.waitInterval=1000',
      '-Drocketmq.client.logRoot=/tmp/rocketmqlogs',
    ];
    const start = (mainClass: string, args: string[]) =>
      startContainerJvm({
        javaHome: jdk17().home,
        hostClasspath: fixture.classpath,
        mainClass: `${APP}.${mainClass}`,
        args,
        jvmFlags: flags,
        network: 'host',
        readyLine: 'READY',
        readyTimeoutMs: 60_000,
      });
    [daemon, consumerA, consumerB] = await Promise.all([
      startDaemon(),
      start('Consumer', [servers.namesrv, TOPIC, GROUP, 'consumer-a']),
      start('Consumer', [servers.namesrv, TOPIC, GROUP, 'consumer-b']),
    ]);
    logA = new LineLog(consumerA);
    logB = new LineLog(consumerB);
    producer = await start('Producer', [servers.namesrv, TOPIC, 'producer-1', '40', '20000']);
    logP = new LineLog(producer);
  });

  afterAll(async () => {
    for (const l of [logA, logB, logP]) l?.close();
    await Promise.all([consumerA?.kill(), consumerB?.kill(), producer?.kill()]);
    await daemon?.stop('SIGKILL');
    await servers?.stop();
    if (measured.length) console.log(`[${o.label}] measurements:\n  ${measured.join('\n  ')}`);
  });

  describe(`RocketMQ traffic (${o.label})`, () => {
    it('the group is balanced: A and B each consume two of the four queues', async () => {
      expect(servers.broker).toMatch(/^127\.0\.0\.1:\d+$/);
      const queues = (log: LineLog) => new Set(log.tagged('CONSUMED', Date.now() - 3_000).map((l) => l.words[2]));
      await until('A and B on two queues each', 60_000, () => queues(logA).size === 2 && queues(logB).size === 2);
    });

    it('inventory names the remoting client, its version and its broker channel', async () => {
      const { status, body } = await daemon.get<Inventory>(`/jvms/${consumerA.pid}/inventory`);
      expect(status).toBe(200);
      const rmq = body.frameworks.filter((f) => f.traffic === 'rocketmq');
      expect(rmq).toHaveLength(1);
      expect(rmq[0]).toMatchObject({ framework: 'rocketmq-remoting-client', supported: true, isolated: false });
      expect(rmq[0]!.version).toMatch(o.version);
      expect(rmq[0]!.registries).toHaveLength(1);
      expect(rmq[0]!.registries[0]).toMatchObject({ kind: 'remoting-client', registered: [servers.broker], removed: [] });
      expect(rmq[0]!.registries[0]!.registry).toContain('consumer-a');
      threadsBefore = threads(consumerA.pid);
    });

    it('isolating consumer A: it receives nothing new, B takes over its queues, no Netty thread stalls', async () => {
      const t0 = Date.now();
      const { status, body } = await daemon.post<IsolateBody>('/isolate', { pid: consumerA.pid, traffic: ['rocketmq'] });
      const answered = Date.now();
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.alreadyIsolated).toBe(false);
      expect(body.changes).toHaveLength(1);
      expect(body.changes[0]).toMatchObject({
        traffic: 'rocketmq',
        framework: 'rocketmq-remoting-client',
        kind: 'remoting-client',
        deregistered: [servers.broker],
        error: null,
      });
      // B gets all four queues from the broker's rebalance.
      await until(
        'B consuming all four queues',
        30_000,
        () => new Set(logB.tagged('CONSUMED', answered + 1_000).map((l) => l.words[2])).size === 4,
      );
      const takeover = Date.now();
      // What A had already pulled may still be consumed for a moment; then nothing.
      await sleep(2_000);
      const settled = consumed(logA).length;
      await sleep(6_000);
      expect(consumed(logA).length, 'A consumed after isolation').toBe(settled);
      const lastA = Math.max(t0, ...logA.tagged('CONSUMED').map((l) => l.at));
      // The held lock must not stall the client's Netty threads (closeChannel's tryLock would: 3 s).
      const lagA = Math.max(0, ...logA.tagged('LAG', t0).map((l) => Number(l.words[1])));
      expect(lagA).toBeLessThan(500);
      expect(threads(consumerA.pid).filter((n) => n.startsWith('quiesce-rocketm'))).toHaveLength(1);
      expect(await metric(new RegExp(`^quiesce_isolated\\{pid="${consumerA.pid}",traffic="rocketmq"\\}`))).toBe(1);
      expect(await metric(/^quiesce_rocketmq_channels_closed_total /)).toBe(1);
      measured.push(
        `consumer isolate answered in ${answered - t0} ms; last message consumed by A ${lastA - t0} ms after isolate; B on all 4 queues after ${takeover - t0} ms; worst Netty-thread lag in A while isolated ${lagA} ms`,
      );
    });

    it('inventory while isolated: no broker channel, the closed one listed as removed', async () => {
      const { body } = await daemon.get<Inventory>(`/jvms/${consumerA.pid}/inventory`);
      const f = body.frameworks.find((x) => x.traffic === 'rocketmq')!;
      expect(f.isolated).toBe(true);
      expect(f.registries[0]).toMatchObject({ registered: [], removed: [servers.broker] });
    });

    it('isolating twice is a no-op', async () => {
      const { status, body } = await daemon.post<IsolateBody>('/isolate', { pid: consumerA.pid, traffic: ['rocketmq'] });
      expect(status).toBe(200);
      expect(body.alreadyIsolated).toBe(true);
      expect(body.changes[0]).toMatchObject({ deregistered: [], reapplied: 0, error: null });
      expect(threads(consumerA.pid).filter((n) => n.startsWith('quiesce-rocketm'))).toHaveLength(1);
      expect(await metric(/^quiesce_rocketmq_channels_closed_total /)).toBe(1);
    });

    it('the isolation survives a daemon restart (SIGKILL) and is still held', async () => {
      const stateDir = daemon.stateDir;
      await daemon.stop('SIGKILL');
      daemon = await startDaemon({ stateDir });
      const { body } = await daemon.get<{ jvms: { pid: number; isolation: { traffic: string[] } | null }[] }>('/status');
      expect(body.jvms.find((j) => j.pid === consumerA.pid)?.isolation).toMatchObject({ traffic: ['rocketmq'] });
      expect(await metric(new RegExp(`^quiesce_isolated\\{pid="${consumerA.pid}",traffic="rocketmq"\\}`))).toBe(1);
      const before = consumed(logA).length;
      // The agent reconnects to the new daemon, whose hold loop re-sends Isolate: nothing harmful.
      await until(
        'the agent back on the new daemon',
        20_000,
        async () =>
          (await daemon.get<{ jvms: { pid: number; agent?: unknown }[] }>('/status')).body.jvms.some(
            (j) => j.pid === consumerA.pid && JSON.stringify(j).includes('"connected"'),
          ) || null,
      ).catch(() => undefined);
      await sleep(5_000);
      expect(consumed(logA).length).toBe(before);
      expect(threads(consumerA.pid).filter((n) => n.startsWith('quiesce-rocketm'))).toHaveLength(1);
    });

    it('restore: A reconnects by itself, gets queues back, and its threads are as before', async () => {
      const t0 = Date.now();
      const { status, body } = await daemon.post<RestoreBody>('/restore', { pid: consumerA.pid, traffic: ['rocketmq'] });
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.restored).toBe(true);
      expect(body.isolation).toBeNull();
      expect(body.changes[0]).toMatchObject({ traffic: 'rocketmq', restored: [servers.broker], error: null });
      await until('A consuming again', 30_000, () => consumed(logA, t0).length > 0);
      const first = Math.min(...logA.tagged('CONSUMED', t0).map((l) => l.at));
      await until('A and B on two queues each again', 30_000, () => {
        const q = (log: LineLog) => new Set(log.tagged('CONSUMED', Date.now() - 2_000).map((l) => l.words[2]));
        return q(logA).size === 2 && q(logB).size === 2;
      });
      const balanced = Date.now();
      const { body: inv } = await daemon.get<Inventory>(`/jvms/${consumerA.pid}/inventory`);
      expect(inv.frameworks.find((x) => x.traffic === 'rocketmq')?.registries[0]).toMatchObject({
        registered: [servers.broker],
        removed: [],
      });
      const after = threads(consumerA.pid);
      expect(after.filter((n) => n.startsWith('quiesce-rocketm'))).toEqual([]);
      expect(netty(after)).toEqual(netty(threadsBefore));
      expect(
        Math.abs(after.length - threadsBefore.length),
        `threads before ${threadsBefore.length}, after ${after.length}`,
      ).toBeLessThanOrEqual(2);
      expect(await metric(new RegExp(`^quiesce_isolated\\{pid="${consumerA.pid}"`))).toBeNull();
      measured.push(
        `consumer restore → first message consumed by A after ${first - t0} ms, group rebalanced 2/2 after ${balanced - t0} ms; threads before ${threadsBefore.length}, after ${after.length}`,
      );
    });

    it('isolating the producer: its sends fail with RocketMQ exceptions, it keeps running; restore resumes', async () => {
      // (The daemon was restarted above: its counters started again from 0.)
      const closedBefore = (await metric(/^quiesce_rocketmq_channels_closed_total /)) ?? 0;
      const t0 = Date.now();
      const { status, body } = await daemon.post<IsolateBody>('/isolate', { pid: producer.pid, traffic: ['rocketmq'] });
      const answered = Date.now();
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.changes[0]).toMatchObject({ kind: 'remoting-client', deregistered: [servers.broker], error: null });
      await until('two failed sends', 20_000, () => logP.tagged('SEND_FAILED', t0).length >= 2);
      await sleep(3_000);
      const lastSent = Math.max(t0, ...logP.tagged('SENT').map((l) => l.at));
      const failures = logP.tagged('SEND_FAILED', t0);
      expect(new Set(failures.map((l) => l.words[2]).filter((c) => !c?.startsWith('org.apache.rocketmq.')))).toEqual(new Set());
      // Nothing sent after the first failure: the producer reaches no broker.
      const firstFail = Math.min(...failures.map((l) => l.at));
      expect(logP.tagged('SENT', firstFail + 1)).toEqual([]);
      expect(await metric(/^quiesce_rocketmq_channels_closed_total /)).toBe(closedBefore + 1);

      const t1 = Date.now();
      const r = await daemon.post<RestoreBody>('/restore', { pid: producer.pid, traffic: ['rocketmq'] });
      expect(r.status).toBe(200);
      expect(r.body.changes[0]).toMatchObject({ restored: [servers.broker] });
      await until('sends succeed again', 30_000, () => logP.tagged('SENT', t1).length > 0);
      const resumed = Math.min(...logP.tagged('SENT', t1).map((l) => l.at));
      measured.push(
        `producer isolate (attach included) answered in ${answered - t0} ms → last SENT ${lastSent - answered} ms after the answer, ${failures.length} sends failed (${[...new Set(failures.map((l) => l.words[2]))].join(', ')}); restore → first SENT after ${resumed - t1} ms`,
      );
    });

    it('stopping the agent releases a held client: it reconnects by itself', async () => {
      const t0 = Date.now();
      const { status } = await daemon.post<IsolateBody>('/isolate', { pid: consumerA.pid, traffic: ['rocketmq'] });
      expect(status).toBe(200);
      await sleep(3_000);
      expect(threads(consumerA.pid).filter((n) => n.startsWith('quiesce-rocketm'))).toHaveLength(1);
      const refused = await daemon.post<{ error: { code: string } }>(`/jvms/${consumerA.pid}/detach`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('isolated');
      const d = await daemon.post(`/jvms/${consumerA.pid}/detach?force=1`);
      expect(d.status, JSON.stringify(d.body)).toBe(200);
      const t1 = Date.now();
      // Stop ends the agent's threads after answering (hold released, executor and event loop shut down); once,
      // under the whole suite's load, that took over 10 s: the message names what is left.
      await until('the hold thread gone', 20_000, () => threads(consumerA.pid).every((n) => !n.startsWith('quiesce-'))).catch(
        (e: unknown) => {
          throw new Error(
            `${(e as Error).message}; agent threads still there: ${threads(consumerA.pid)
              .filter((n) => n.startsWith('quiesce-'))
              .join(', ')}`,
          );
        },
      );
      await until('A consuming again', 30_000, () => consumed(logA, t1).length > 0);
      measured.push(
        `agent Stop while held → A consuming again after ${Math.min(...logA.tagged('CONSUMED', t1).map((l) => l.at)) - t1} ms (held ${t1 - t0} ms)`,
      );
    });

    it('/offline holds the RocketMQ client after the wait (the events step), and /online releases it', async () => {
      interface Step {
        name: string;
        state: string;
        outcome: string | null;
        startedAt: number | null;
        durationSeconds: number | null;
      }
      const t0 = Date.now();
      // The test runs as root in the consumers' network namespace: a self-drain, as from a preStop hook.
      const r = await daemon.get<{ outcome: string; steps: Step[] }>(`/offline?pid=${consumerB.pid}&timeout=10&quiet=0.5`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.outcome).toBe('drained');
      const step = (name: string): Step => r.body.steps.find((x) => x.name === name)!;
      expect(step('deregister')).toMatchObject({ state: 'skipped' });
      expect(step('wait')).toMatchObject({ state: 'done' });
      expect(step('events')).toMatchObject({ state: 'done', outcome: 'held rocketmq: 1 channel(s) closed' });
      // After the wait, not beside it: in-flight requests may still produce.
      const waitEnded = step('wait').startedAt! + step('wait').durationSeconds! * 1000;
      expect(step('events').startedAt!).toBeGreaterThanOrEqual(waitEnded - 1);
      const held = Date.now();
      await until(
        'A on all four queues',
        30_000,
        () => new Set(logA.tagged('CONSUMED', Date.now() - 2_000).map((l) => l.words[2])).size === 4,
      );
      const lastB = Math.max(0, ...logB.tagged('CONSUMED', t0).map((l) => l.at));
      expect(lastB).toBeLessThan(held + 500);
      expect(threads(consumerB.pid).filter((n) => n.startsWith('quiesce-rocketm'))).toHaveLength(1);

      const t1 = Date.now();
      const on = await daemon.get<{ undone: boolean; restored: Change[]; consumers: unknown }>(`/online?pid=${consumerB.pid}`);
      expect(on.status, JSON.stringify(on.body)).toBe(200);
      expect(on.body).toMatchObject({ undone: true, consumers: null });
      expect(on.body.restored).toMatchObject([{ traffic: 'rocketmq', restored: [servers.broker] }]);
      await until('B consuming again', 30_000, () => consumed(logB, t1).length > 0);
      const back = Math.min(...logB.tagged('CONSUMED', t1).map((l) => l.at));
      measured.push(
        `/offline on B: events step held it ${held - t0} ms after the call (after the wait); /online → B consuming again after ${back - t1} ms`,
      );
    });

    it('every message sent was consumed at least once: none lost', async () => {
      // Stop the producer: a file in its container's private /tmp.
      writeFileSync(`/proc/${producer.pid}/root/tmp/stop-producer`, '');
      await until('producer done', 20_000, () => logP.tagged('DONE').length > 0);
      const sent = logP.tagged('SENT').map((l) => Number(l.words[1]));
      expect(sent.length).toBeGreaterThan(200);
      const missing = (): number[] => {
        const got = new Set([...consumed(logA), ...consumed(logB)]);
        return sent.filter((n) => !got.has(n));
      };
      await until('every sent message consumed', 30_000, () => missing().length === 0).catch(() => undefined);
      expect(missing()).toEqual([]);
      const all = [...consumed(logA), ...consumed(logB)];
      measured.push(`${sent.length} messages sent, ${all.length} consumed (${all.length - new Set(all).size} duplicates), 0 lost`);
    });
  });
}
