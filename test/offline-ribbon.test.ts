/**
 * Lossless offline for Spring Cloud Netflix Ribbon (Hoxton, Boot 2.3), for real: two hosts
 * (network namespaces on a bridge), a real ZooKeeper on the switch, a quiesce daemon per host.
 * Provider instance 1 of "greeter" runs on host A; provider 2 and a @LoadBalanced consumer (Ribbon,
 * its server list fetched every 30 s by default, no retry, a call every 20 ms) run on host B.
 *
 * With quiesce: /offline on A (deregister → GoAway to B's daemon, whose agent takes provider 1 out
 * of the consumer's Ribbon load balancer and wraps its server list filter so that the next refresh
 * does not bring it back → wait until idle), then SIGTERM: no request fails. Baseline: SIGTERM
 * alone (Ribbon keeps choosing the dead instance until its next refresh). Then the daemon on A is
 * killed in the middle of a drain: the restarted one reports the drain from its journal, and
 * /online puts everything back (the registry node, and with it the consumer's traffic).
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
const SERVICE = '/services/greeter';
const token = randomBytes(24).toString('hex');

interface Step {
  name: string;
  state: string;
  outcome: string | null;
  durationSeconds: number | null;
}
interface DrainJson {
  id: number;
  outcome: string;
  steps: Step[];
  consumers: {
    notified: number;
    failed: number;
    unreachable: number;
    results: Array<{ result: string; consumer: string; provider: string; durationMs: number; evicted: { evicted?: Array<{ pid: number; framework: string; service: string; removed: number; error: string | null }> } }>;
  };
}

let net: TestNetwork;
let zk: ZooKeeper;
let fixture: MavenFixture;
let daemonA: DaemonProcess;
let daemonB: DaemonProcess;
let provider2: Promise<ContainerJvm>;
const jvms: ContainerJvm[] = [];
const summary: string[] = [];

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

/** The consumer on host B: Ribbon with its default 30 s refresh unless told otherwise, no retry, a call every 20 ms. */
function startConsumer(extra: string[] = []): Promise<ContainerJvm> {
  const b = net.hosts[1]!;
  return startContainerJvm({
    javaHome: jdk17().home,
    hostClasspath: fixture.classpath,
    mainClass: 'fixture.consumer.Consumer',
    args: [
      `--spring.cloud.zookeeper.connect-string=${zk.connectString}`,
      `--spring.cloud.zookeeper.discovery.instance-host=${b.address}`,
      `--spring.cloud.zookeeper.discovery.instance-ip-address=${b.address}`,
      '--call.interval-ms=20',
      '--call.await-instances=2',
      ...extra,
    ],
    jvmFlags: FLAGS,
    netns: b.netns,
    readyLine: 'READY',
    readyTimeoutMs: 120_000,
  }).then((j) => (jvms.push(j), j));
}

async function round(name: string, consumerArgs: string[] = []): Promise<{ provider1: ContainerJvm; consumer: ContainerJvm }> {
  const [provider1, consumer] = await Promise.all([startProvider(name, 0), startConsumer(consumerArgs), provider2]);
  await until(`the consumer calling ${name} and P2`, 40_000, () => {
    const who = new Set(calls(consumer).map((c) => c.who));
    return who.has(name) && who.has('P2');
  });
  return { provider1, consumer };
}

/** The ZooKeeper nodes under /services/greeter whose payload names this host. */
async function nodesOn(address: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of await zk.children(SERVICE)) {
    const data = await zk.data(`${SERVICE}/${id}`);
    if (data && (JSON.parse(data) as { address: string }).address === address) out.set(id, data);
  }
  return out;
}

async function attachBoth(provider1: ContainerJvm, consumer: ContainerJvm): Promise<void> {
  const [attA, attB] = await Promise.all([daemonA.post(`/jvms/${provider1.pid}/attach`), daemonB.post(`/jvms/${consumer.pid}/attach`)]);
  expect(attA.status, JSON.stringify(attA.body)).toBe(200);
  expect(attB.status, JSON.stringify(attB.body)).toBe(200);
  await until('daemon A to see the consumer on host B', 15_000, async () => {
    const r = await daemonA.get<{ consumers?: Array<{ address: string }> }>(`/jvms/${provider1.pid}/consumers`);
    return r.body.consumers?.some((c) => c.address === hostB());
  });
}

beforeAll(async () => {
  net = createNetwork(2);
  const env = { QUIESCE_ADMIN_TOKEN: token };
  fixture = buildMavenFixture('springcloud-ribbon');
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
  if (summary.length) console.log(`[offline-ribbon]\n  ${summary.join('\n  ')}`);
});

describe('lossless offline, Spring Cloud Netflix Ribbon (30 s refresh) across two hosts', () => {
  it('with quiesce: /offline then SIGTERM loses no request; the consumer stops calling provider 1 within 1 s', async () => {
    const { provider1, consumer } = await round('P1');
    await attachBoth(provider1, consumer);
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
        `/offline answered in ${t1 - t0} ms (${r.body.outcome}); GoAway round trip ${goaway?.durationMs} ms; P1 exited ${exitMs} ms after SIGTERM; ` +
        `${after.length} calls after /offline`,
      `consumer's agent: ${log.split('\n').filter((l) => l.includes('goaway:')).map((l) => l.replace(/^\S+ INFO \[[^\]]*\] /, '')).join(' | ')}`,
    );
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(lastP1 - t0).toBeLessThan(1_000);
    expect(after.filter((c) => c.at > t0 + 1_000).every((c) => c.who === 'P2')).toBe(true);
    expect(after.filter((c) => c.at > t1).length).toBeGreaterThan(50);
    expect(r.body.outcome).toBe('drained');
    expect(t1 - t0).toBeLessThan(10_000);
    expect(r.body.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
    expect(goaway!.evicted.evicted).toContainEqual({ pid: consumer.pid, framework: 'ribbon', service: 'greeter', removed: 1, error: null });
    expect(log).toMatch(new RegExp(`goaway: ribbon dropped ${hostA().replace(/\./g, '\\.')}:\\d+ from \\{greeter=1\\}`));
    await consumer.kill();
  }, 180_000);

  it('baseline, SIGTERM only: Ribbon keeps choosing the dead instance until its next refresh, and calls fail', async () => {
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

  it('the daemon killed mid-drain: the restarted one reports the drain, and /online puts the registration and the traffic back', async () => {
    // A 2 s refresh here, so that the consumer finds provider 1 again soon after /online (the default is 30 s).
    const { provider1, consumer } = await round('K1', ['--greeter.ribbon.ServerListRefreshInterval=2000']);
    await attachBoth(provider1, consumer);
    const before = await nodesOn(hostA());
    expect(before.size).toBe(1);
    const [nodeId, payload] = [...before][0]!;

    // A long quiet window keeps the drain in its wait step long enough to kill the daemon there.
    const pending = daemonA.get(`/offline?pid=${provider1.pid}&timeout=30&quiet=8`).catch((e: unknown) => e);
    const drain = await until('the drain to reach its wait step', 15_000, async () => {
      const d = await daemonA.get<{ drains: DrainJson[] }>(`/drains?pid=${provider1.pid}`);
      const latest = d.body.drains[0];
      return latest?.steps.find((s) => s.name === 'wait')?.state === 'running' ? latest : null;
    });
    expect(drain.steps.find((s) => s.name === 'deregister')).toMatchObject({ state: 'done' });
    expect((await nodesOn(hostA())).size).toBe(0);
    const stateDir = daemonA.stateDir;
    await daemonA.stop('SIGKILL');
    await pending;
    const tKilled = Date.now();
    await sleep(500);
    expect((await nodesOn(hostA())).size).toBe(0);

    daemonA = await startDaemon({ netns: net.hosts[0]!.netns, host: hostA(), httpPort: 7370, stateDir, env: { QUIESCE_ADMIN_TOKEN: token }, extraArgs: ['--consumer-sample-interval', '200'] });
    const reported = await until('the restarted daemon to report the drain', 30_000, async () => {
      const d = await daemonA.get<{ drains: DrainJson[] }>(`/drains?pid=${provider1.pid}`);
      return d.body.drains.find((x) => x.id === drain.id);
    });
    const reportedMs = Date.now() - tKilled;
    expect(['running', 'drained', 'timeout']).toContain(reported.outcome);
    // Taken out, and kept out, while the daemon was down and since.
    expect((await nodesOn(hostA())).size).toBe(0);
    const failedBefore = calls(consumer).filter((c) => c.who === null).length;

    const tOnline = Date.now();
    const on = await daemonA.get<{ undone: boolean; drain: number; restored: Array<{ traffic: string; restored: string[] }> }>(`/online?pid=${provider1.pid}`);
    const onlineMs = Date.now() - tOnline;
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body).toMatchObject({ undone: true, drain: drain.id });
    expect(on.body.restored).toContainEqual(expect.objectContaining({ traffic: 'springcloud', restored: [expect.stringContaining(hostA())] }));
    // The same node, with the same payload, as before the drain.
    expect(await nodesOn(hostA())).toEqual(new Map([[nodeId, payload]]));
    const back = await until('the consumer to call K1 again', 30_000, () => calls(consumer).find((c) => c.at > tOnline && c.who === 'K1'));
    const after = await daemonA.get<{ drains: DrainJson[] }>(`/drains?pid=${provider1.pid}`);
    const final = after.body.drains.find((x) => x.id === drain.id)!;
    summary.push(
      `daemon killed mid-drain: reported by the restarted daemon as '${reported.outcome}' ${reportedMs} ms after the kill ` +
        `(final: ${final.outcome}); /online answered in ${onlineMs} ms (it waits for the resumed drain), the consumer called K1 again ${back.at - tOnline} ms after it was called`,
    );
    expect(['drained', 'timeout']).toContain(final.outcome);
    expect(calls(consumer).filter((c) => c.who === null).length).toBe(failedBefore);
    // The isolation is gone too: nothing holds the node out any more.
    await sleep(3_000);
    expect((await nodesOn(hostA())).size).toBe(1);
    // Once a refresh no longer listed K1, the consumer's balancer got its own filter back: nothing of ours stays in it.
    const log = agentLog(consumer);
    expect(log).toMatch(/goaway: ribbon no longer keeps \S+ out of greeter \(the registry no longer lists it\)/);
    expect(log).toMatch(/goaway: ribbon put back greeter's own server list filter/);
    await consumer.kill();
    await provider1.kill();
  }, 180_000);
});
