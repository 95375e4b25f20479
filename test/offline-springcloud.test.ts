/**
 * Lossless offline for Spring Cloud, for real: two hosts (network namespaces on a bridge), a real
 * ZooKeeper on the switch, a quiesce daemon per host. Provider instance 1 of "greeter" runs on
 * host A; provider instance 2 and a @LoadBalanced consumer (Spring Cloud LoadBalancer with its
 * default 35 s instance cache, no retry, a call every 20 ms) run on host B. Every app binds and
 * registers its host's own address.
 *
 * With quiesce: /offline on A (deregister → GoAway to B's daemon, whose agent drops provider 1
 * from the consumer's LoadBalancer cache → wait until idle), then SIGTERM, as kubelet would: no
 * request fails. Baselines (same file, fresh provider 1 and consumer each): SIGTERM alone, and
 * deregistration alone (/isolate) followed by SIGTERM — what quiesce beats.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from './support/container.js';
import { startDaemon, type DaemonProcess } from './support/daemon.js';
import { createNetwork, type TestNetwork } from './support/hosts.js';
import { jdk17 } from './support/java-homes.js';
import { buildMavenFixture, type MavenFixture } from './support/maven-fixtures.js';
import { startZooKeeper, type ZooKeeper } from './support/zookeeper.js';
import { agentLog, calls, sigterm, sleep, until } from './support/offline-scenario.js';

const FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];
const token = randomBytes(24).toString('hex');

interface DrainJson {
  outcome: string;
  durationSeconds: number;
  steps: Array<{ name: string; state: string; outcome: string | null; durationSeconds: number | null }>;
  consumers: {
    notified: number;
    failed: number;
    unreachable: number;
    results: Array<{ result: string; consumer: string; provider: string; peer: string; durationMs: number; evicted: { evicted?: Array<{ framework: string; service: string; removed: number; error: string | null }> } }>;
  };
}

let net: TestNetwork;
let zk: ZooKeeper;
let fixture: MavenFixture;
let daemonA: DaemonProcess;
let daemonB: DaemonProcess;
/** Provider instance 2 on host B, started in beforeAll and awaited by the first round. */
let provider2: Promise<ContainerJvm>;
const jvms: ContainerJvm[] = [];

const hostA = (): string => net.hosts[0]!.address;
const hostB = (): string => net.hosts[1]!.address;

function startProvider(name: string, host: 0 | 1): Promise<ContainerJvm> {
  const h = net.hosts[host]!;
  return startContainerJvm({
    javaHome: jdk17().home,
    hostClasspath: fixture.classpath,
    mainClass: 'fixture.provider.Provider',
    args: [
      `--spring.cloud.zookeeper.connect-string=${zk.connectString}`,
      `--instance.name=${name}`,
      `--server.address=${h.address}`,
      `--spring.cloud.zookeeper.discovery.instance-host=${h.address}`,
      `--spring.cloud.zookeeper.discovery.instance-ip-address=${h.address}`,
    ],
    jvmFlags: FLAGS,
    netns: h.netns,
    readyLine: 'READY',
    readyTimeoutMs: 120_000,
  }).then((j) => (jvms.push(j), j));
}

/** The consumer on host B: default cache TTL (35 s), no retry, a call every 20 ms once both instances are listed. */
function startConsumer(): Promise<ContainerJvm> {
  const b = net.hosts[1]!;
  return startContainerJvm({
    javaHome: jdk17().home,
    hostClasspath: fixture.classpath,
    mainClass: 'fixture.consumer.Consumer',
    args: [
      `--spring.cloud.zookeeper.connect-string=${zk.connectString}`,
      `--spring.cloud.zookeeper.discovery.instance-host=${b.address}`,
      `--spring.cloud.zookeeper.discovery.instance-ip-address=${b.address}`,
      '--spring.cloud.loadbalancer.cache.ttl=35s',
      '--spring.cloud.loadbalancer.retry.enabled=false',
      '--call.interval-ms=20',
      '--call.await-instances=2',
    ],
    jvmFlags: FLAGS,
    netns: b.netns,
    readyLine: 'READY',
    readyTimeoutMs: 120_000,
  }).then((j) => (jvms.push(j), j));
}

/** A fresh provider 1 on host A and a fresh consumer on host B, calling both instances. */
async function round(name: string): Promise<{ provider1: ContainerJvm; consumer: ContainerJvm }> {
  const [provider1, consumer] = await Promise.all([startProvider(name, 0), startConsumer(), provider2]);
  await until(`the consumer calling ${name} and P2`, 30_000, () => {
    const who = new Set(calls(consumer).map((c) => c.who));
    return who.has(name) && who.has('P2');
  });
  return { provider1, consumer };
}

const summary: string[] = [];

beforeAll(async () => {
  net = createNetwork(2);
  const env = { QUIESCE_ADMIN_TOKEN: token };
  fixture = buildMavenFixture('springcloud-boot3');
  [zk, daemonA, daemonB] = await Promise.all([
    startZooKeeper({ host: net.switchAddress }),
    startDaemon({ netns: net.hosts[0]!.netns, host: hostA(), httpPort: 7370, env, extraArgs: ['--consumer-sample-interval', '200'] }),
    startDaemon({ netns: net.hosts[1]!.netns, host: hostB(), httpPort: 7370, env }),
  ]);
  provider2 = startProvider('P2', 1);
  provider2.catch(() => undefined);
}, 180_000);

afterAll(async () => {
  await Promise.all(jvms.map((j) => j.kill()));
  await Promise.all([daemonA?.stop(), daemonB?.stop()]);
  await zk?.stop();
  net?.close();
  if (summary.length) console.log(`[offline-springcloud]\n  ${summary.join('\n  ')}`);
});

describe('lossless offline, Spring Cloud LoadBalancer (35 s cache) across two hosts', () => {
  it('with quiesce: /offline then SIGTERM loses no request; the consumer stops calling provider 1 within 1 s', async () => {
    const { provider1, consumer } = await round('P1');
    // The agents are attached ahead of time (as the adopt policy does): /offline spends no time attaching.
    const [attA, attB] = await Promise.all([daemonA.post(`/jvms/${provider1.pid}/attach`), daemonB.post(`/jvms/${consumer.pid}/attach`)]);
    expect(attA.status, JSON.stringify(attA.body)).toBe(200);
    expect(attB.status, JSON.stringify(attB.body)).toBe(200);
    await until('daemon A to see the consumer on host B', 15_000, async () => {
      const r = await daemonA.get<{ consumers?: Array<{ address: string }> }>(`/jvms/${provider1.pid}/consumers`);
      return r.body.consumers?.some((c) => c.address === hostB());
    });
    await sleep(1_000);

    const t0 = Date.now();
    const r = await daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=20&quiet=1`);
    const t1 = Date.now();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const exitMs = await sigterm(provider1);
    await sleep(2_000);

    const after = calls(consumer).filter((c) => c.at >= t0);
    const failed = calls(consumer).filter((c) => c.who === null);
    const lastP1 = Math.max(...calls(consumer).filter((c) => c.who === 'P1').map((c) => c.at));
    const goaway = r.body.consumers.results[0];
    const log = agentLog(consumer);
    summary.push(
      `quiesce: ${failed.length} failed of ${calls(consumer).length} calls; last call to P1 ${lastP1 - t0} ms after /offline; ` +
        `/offline answered in ${t1 - t0} ms (${r.body.outcome}; steps ${r.body.steps.map((s) => `${s.name}=${s.state}${s.durationSeconds !== null ? `:${s.durationSeconds}s` : ''}`).join(' ')}; ` +
        `wait: ${r.body.steps.find((s) => s.name === 'wait')?.outcome}); ` +
        `GoAway round trip ${goaway?.durationMs} ms; P1 exited ${exitMs} ms after SIGTERM; ${after.length} calls after /offline, all to P2`,
      `consumer's agent: ${log.split('\n').filter((l) => l.includes('goaway:')).map((l) => l.replace(/^\S+ INFO \[[^\]]*\] /, '')).join(' | ')}`,
    );
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(lastP1 - t0).toBeLessThan(1_000);
    expect(after.filter((c) => c.at > t0 + 1_000).every((c) => c.who === 'P2')).toBe(true);
    expect(after.filter((c) => c.at > t1).length).toBeGreaterThan(50);
    expect(r.body.outcome).toBe('drained');
    expect(t1 - t0).toBeLessThan(10_000);
    expect(r.body.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
    expect(goaway).toMatchObject({ consumer: hostB(), peer: `${hostB()}:7370`, result: 'notified' });
    expect(goaway!.provider).toMatch(new RegExp(`^${hostA().replace(/\./g, '\\.')}:\\d+$`));
    expect(goaway!.evicted.evicted).toContainEqual({ pid: consumer.pid, framework: 'springcloud-loadbalancer', service: 'greeter', removed: 1, error: null });
    expect((await daemonB.get<string>('/metrics')).body).toMatch(/quiesce_goaway_received_total\{result="ok"\} 1\b/);
    const received = daemonB.logs().split('\n').filter((l) => l.includes('"goaway received"')).map((l) => JSON.parse(l) as { sender: string; removed: number });
    expect(received).toEqual([expect.objectContaining({ sender: hostA(), removed: 1 })]);
    expect(log).toMatch(new RegExp(`goaway: springcloud-loadbalancer dropped ${hostA().replace(/\./g, '\\.')}:\\d+ from \\{greeter=1\\}`));
    await consumer.kill();
  }, 180_000);

  it('baseline, SIGTERM only: the consumer keeps choosing the dead instance from its cache, and calls fail', async () => {
    const { provider1, consumer } = await round('S1');
    const t0 = Date.now();
    const exitMs = await sigterm(provider1);
    await sleep(4_000);
    const after = calls(consumer).filter((c) => c.at >= t0);
    const failed = after.filter((c) => c.who === null);
    summary.push(
      `SIGTERM only: ${failed.length} failed of ${after.length} calls in the ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGTERM ` +
        `(S1 exited after ${exitMs} ms; first error: ${failed[0]?.error ?? 'none'})`,
    );
    expect(failed.length).toBeGreaterThan(0);
    await consumer.kill();
  }, 180_000);

  it('baseline, deregister only (/isolate, then SIGTERM): the consumer keeps calling the instance from its cache, then fails', async () => {
    const { provider1, consumer } = await round('D1');
    const iso = await daemonA.post<{ changes: Array<{ deregistered: string[] }> }>('/isolate', { pid: provider1.pid, traffic: ['springcloud'] });
    expect(iso.status, JSON.stringify(iso.body)).toBe(200);
    expect(iso.body.changes[0]?.deregistered).toHaveLength(1);
    // Deregistered from ZooKeeper once /isolate answers.
    const t0 = Date.now();
    // A preStop that only deregisters, then waits a few seconds (what quiesce replaces).
    await sleep(6_000);
    const callsToD1 = calls(consumer).filter((c) => c.at >= t0 && c.who === 'D1');
    const lastD1 = Math.max(t0, ...callsToD1.map((c) => c.at));
    const t1 = Date.now();
    const exitMs = await sigterm(provider1);
    await sleep(3_000);
    const failed = calls(consumer).filter((c) => c.at >= t1 && c.who === null);
    summary.push(
      `deregister only: ${callsToD1.length} calls still reached D1 in the 6 s after deregistration (the last ${lastD1 - t0} ms after; the registry no longer listed it); ` +
        `then ${failed.length} failed calls in the ${((Date.now() - t1) / 1000).toFixed(1)} s after SIGTERM (D1 exited after ${exitMs} ms)`,
    );
    expect(lastD1 - t0).toBeGreaterThan(5_000);
    expect(failed.length).toBeGreaterThan(0);
    await consumer.kill();
  }, 180_000);
});
