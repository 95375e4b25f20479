/**
 * The two-host Spring Cloud setting of the lossless-offline tests (offline-springcloud with
 * LoadBalancer, offline-ribbon with Ribbon): two network namespaces on a bridge, ZooKeeper on the
 * switch, a quiesce daemon per host (port 7370, an admin token). Provider instance 2 of "greeter"
 * runs on host B from the start; each round adds a fresh provider instance on host A and a fresh
 * @LoadBalanced consumer on host B that calls both (a call every 20 ms, no retry). Every app binds
 * and registers its host's own address.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startContainerJvm, type ContainerJvm } from './container.js';
import { startDaemon, type DaemonProcess } from './daemon.js';
import { createNetwork, type TestNetwork } from './hosts.js';
import { jdk17 } from './java-homes.js';
import { buildMavenFixture, type MavenFixture } from './maven-fixtures.js';
import { agentLog, calls, sigterm } from './offline-scenario.js';
import { sleep, until } from './poll.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';
import type { DrainJson, ErrorJson } from './api-types.js';

const FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];

const escape = (s: string): string => s.replace(/\./g, '\\.');

export class SpringCloudTwoHosts {
  readonly token = randomBytes(24).toString('hex');
  net!: TestNetwork;
  zk!: ZooKeeper;
  daemonA!: DaemonProcess;
  daemonB!: DaemonProcess;
  private fixture!: MavenFixture;
  private provider2!: Promise<ContainerJvm>;
  private readonly jvms: ContainerJvm[] = [];

  /** consumerArgs: what every consumer of this file runs with (its load balancer's settings). */
  constructor(
    private readonly fixtureName: string,
    private readonly consumerArgs: readonly string[],
  ) {}

  get hostA(): string {
    return this.net.hosts[0]!.address;
  }

  get hostB(): string {
    return this.net.hosts[1]!.address;
  }

  async setUp(): Promise<void> {
    this.net = createNetwork(2);
    this.fixture = buildMavenFixture(this.fixtureName);
    [this.zk, this.daemonA, this.daemonB] = await Promise.all([
      startZooKeeper({ host: this.net.switchAddress }),
      this.startDaemonA(),
      startDaemon({ netns: this.net.hosts[1]!.netns, host: this.hostB, httpPort: 7370, env: { QUIESCE_ADMIN_TOKEN: this.token } }),
    ]);
    this.provider2 = this.startProvider('P2', 1);
    this.provider2.catch(() => undefined);
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.jvms.map((j) => j.kill()));
    await Promise.all([this.daemonA?.stop(), this.daemonB?.stop()]);
    await this.zk?.stop();
    this.net?.close();
  }

  /** Host A's daemon (again, e.g. after a kill: give the old one's stateDir); it samples consumers every 200 ms. */
  startDaemonA(stateDir?: string): Promise<DaemonProcess> {
    return startDaemon({
      netns: this.net.hosts[0]!.netns,
      host: this.hostA,
      httpPort: 7370,
      ...(stateDir !== undefined ? { stateDir } : {}),
      env: { QUIESCE_ADMIN_TOKEN: this.token },
      extraArgs: ['--consumer-sample-interval', '200'],
    });
  }

  startProvider(name: string, host: 0 | 1): Promise<ContainerJvm> {
    const h = this.net.hosts[host]!;
    return startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: this.fixture.classpath,
      mainClass: 'fixture.provider.Provider',
      args: [
        `--spring.cloud.zookeeper.connect-string=${this.zk.connectString}`,
        `--instance.name=${name}`,
        `--server.address=${h.address}`,
        `--spring.cloud.zookeeper.discovery.instance-host=${h.address}`,
        `--spring.cloud.zookeeper.discovery.instance-ip-address=${h.address}`,
      ],
      jvmFlags: FLAGS,
      netns: h.netns,
      readyLine: 'READY',
      readyTimeoutMs: 120_000,
    }).then((j) => (this.jvms.push(j), j));
  }

  /** The consumer on host B, calling once the registry lists both instances. */
  startConsumer(extra: readonly string[] = []): Promise<ContainerJvm> {
    const b = this.net.hosts[1]!;
    return startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: this.fixture.classpath,
      mainClass: 'fixture.consumer.Consumer',
      args: [
        `--spring.cloud.zookeeper.connect-string=${this.zk.connectString}`,
        `--spring.cloud.zookeeper.discovery.instance-host=${b.address}`,
        `--spring.cloud.zookeeper.discovery.instance-ip-address=${b.address}`,
        '--call.interval-ms=20',
        '--call.await-instances=2',
        ...this.consumerArgs,
        ...extra,
      ],
      jvmFlags: FLAGS,
      netns: b.netns,
      readyLine: 'READY',
      readyTimeoutMs: 120_000,
    }).then((j) => (this.jvms.push(j), j));
  }

  /** A fresh provider 1 (named `name`) on host A and a fresh consumer on host B, calling both instances. */
  async round(name: string, consumerArgs: readonly string[] = []): Promise<{ provider1: ContainerJvm; consumer: ContainerJvm }> {
    const [provider1, consumer] = await Promise.all([this.startProvider(name, 0), this.startConsumer(consumerArgs), this.provider2]);
    await until(`the consumer calling ${name} and P2`, 40_000, () => {
      const who = new Set(calls(consumer).map((c) => c.who));
      return who.has(name) && who.has('P2');
    });
    return { provider1, consumer };
  }

  /**
   * The agents attached ahead of time (as the adopt policy does, so /offline spends no time
   * attaching), and host A's daemon seeing the consumer on host B.
   */
  async attachBoth(provider1: ContainerJvm, consumer: ContainerJvm): Promise<void> {
    const [attA, attB] = await Promise.all([
      this.daemonA.post(`/jvms/${provider1.pid}/attach`),
      this.daemonB.post(`/jvms/${consumer.pid}/attach`),
    ]);
    expect(attA.status, JSON.stringify(attA.body)).toBe(200);
    expect(attB.status, JSON.stringify(attB.body)).toBe(200);
    await until('daemon A to see the consumer on host B', 15_000, async () => {
      const r = await this.daemonA.get<{ consumers?: Array<{ address: string }> }>(`/jvms/${provider1.pid}/consumers`);
      return r.body.consumers?.some((c) => c.address === this.hostB);
    });
  }

  /**
   * The release quiesce makes lossless, asserted as a user would check it: a fresh provider 1 and
   * consumer, the agents attached ahead of time, /offline on provider 1, then SIGTERM as kubelet
   * sends it. No call fails; the consumer's last call to provider 1 is within 1 s of /offline; the
   * drain ends `drained`; the GoAway reached host B's daemon from host A's address and `evictor`
   * (the consumer's load balancer) dropped provider 1. Returns the lines for the file's summary.
   */
  async quiesceRelease(evictor: string): Promise<string[]> {
    const { provider1, consumer } = await this.round('P1');
    await this.attachBoth(provider1, consumer);
    await sleep(1_000);

    const t0 = Date.now();
    const r = await this.daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=20&quiet=1`);
    const t1 = Date.now();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const exitMs = await sigterm(provider1);
    await sleep(2_000);

    const after = calls(consumer).filter((c) => c.at >= t0);
    const failed = calls(consumer).filter((c) => c.who === null);
    const lastP1 = Math.max(
      ...calls(consumer)
        .filter((c) => c.who === 'P1')
        .map((c) => c.at),
    );
    const goaway = r.body.consumers.results[0];
    const log = agentLog(consumer);
    const lines = [
      `quiesce: ${failed.length} failed of ${calls(consumer).length} calls; last call to P1 ${lastP1 - t0} ms after /offline; ` +
        `/offline answered in ${t1 - t0} ms (${r.body.outcome}; steps ${r.body.steps.map((s) => `${s.name}=${s.state}${s.durationSeconds !== null ? `:${s.durationSeconds}s` : ''}`).join(' ')}; ` +
        `wait: ${r.body.steps.find((s) => s.name === 'wait')?.outcome}); ` +
        `GoAway round trip ${goaway?.durationMs} ms; P1 exited ${exitMs} ms after SIGTERM; ${after.length} calls after /offline, all to P2`,
      `consumer's agent: ${log
        .split('\n')
        .filter((l) => l.includes('goaway:'))
        .map((l) => l.replace(/^\S+ INFO \[[^\]]*\] /, ''))
        .join(' | ')}`,
    ];
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(lastP1 - t0).toBeLessThan(1_000);
    expect(after.filter((c) => c.at > t0 + 1_000).every((c) => c.who === 'P2')).toBe(true);
    expect(after.filter((c) => c.at > t1).length).toBeGreaterThan(50);
    expect(r.body.outcome).toBe('drained');
    expect(t1 - t0).toBeLessThan(10_000);
    expect(r.body.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
    expect(goaway).toMatchObject({ consumer: this.hostB, peer: `${this.hostB}:7370`, result: 'notified' });
    expect(goaway!.provider).toMatch(new RegExp(`^${escape(this.hostA)}:\\d+$`));
    expect(goaway!.evicted.evicted).toContainEqual({
      pid: consumer.pid,
      framework: evictor,
      service: 'greeter',
      removed: 1,
      released: 0,
      error: null,
    });
    expect((await this.daemonB.get<string>('/metrics')).body).toMatch(/quiesce_goaway_received_total\{result="ok"\} 1\b/);
    const received = this.daemonB
      .logs()
      .split('\n')
      .filter((l) => l.includes('"goaway received"'))
      .map((l) => JSON.parse(l) as { sender: string; removed: number });
    expect(received).toEqual([expect.objectContaining({ sender: this.hostA, removed: 1 })]);
    expect(log).toMatch(new RegExp(`goaway: ${evictor} dropped ${escape(this.hostA)}:\\d+ from \\{greeter=1\\}`));
    await consumer.kill();
    return lines;
  }

  /** The baseline: SIGTERM alone on a fresh provider; the calls that failed in the 4 s after, as a summary line. */
  async sigtermOnlyRelease(): Promise<{ failed: number; line: string }> {
    const { provider1, consumer } = await this.round('S1');
    const t0 = Date.now();
    const exitMs = await sigterm(provider1);
    await sleep(4_000);
    const after = calls(consumer).filter((c) => c.at >= t0);
    const failed = after.filter((c) => c.who === null);
    await consumer.kill();
    return {
      failed: failed.length,
      line:
        `SIGTERM only: ${failed.length} failed of ${after.length} calls in the ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGTERM ` +
        `(S1 exited after ${exitMs} ms; first error: ${failed[0]?.error ?? 'none'})`,
    };
  }

  /**
   * An SRE's round trip: /offline on a fresh provider 1 (no SIGTERM), then /online. The drain's
   * GoAway took provider 1 out of the consumer's load balancer; /online registers it again and
   * releases it there, so the consumer calls it again within 2 s instead of at its next refresh
   * (35 s cache, 30 s Ribbon refresh). No call fails. Returns the summary line.
   */
  async offlineThenOnline(evictor: string): Promise<string> {
    const { provider1, consumer } = await this.round('R1');
    await this.attachBoth(provider1, consumer);
    await sleep(1_000);
    const off = await this.daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=20&quiet=0.5`);
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.consumers).toMatchObject({ notified: 1 });
    // A drain is journaled as a drain only, not as an isolation; its JVM still refuses a detach that
    // would leave it deregistered with nothing to put it back.
    const jvm = await this.daemonA.get<{ isolation: unknown }>(`/jvms/${provider1.pid}`);
    expect(jvm.body.isolation).toBeNull();
    const detach = await this.daemonA.post<ErrorJson>(`/jvms/${provider1.pid}/detach`);
    expect(detach.status, JSON.stringify(detach.body)).toBe(409);
    expect(detach.body.error).toMatchObject({ code: 'isolated', message: expect.stringContaining('is drained from springcloud') });
    await sleep(1_000);
    const t0 = Date.now();
    expect(calls(consumer).filter((c) => c.who === 'R1' && c.at > t0 - 800)).toEqual([]);
    const on = await this.daemonA.get<{
      undone: boolean;
      consumers: {
        released: number;
        results: Array<{ result: string; evicted: { evicted?: Array<{ framework: string; released: number }> } }>;
      } | null;
    }>(`/online?pid=${provider1.pid}`);
    const t1 = Date.now();
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body).toMatchObject({ undone: true, consumers: { released: 1, failed: 0, unreachable: 0 } });
    expect(on.body.consumers!.results[0]!.evicted.evicted).toContainEqual(expect.objectContaining({ framework: evictor, released: 1 }));
    const back = await until('the consumer to call R1 again', 5_000, () => calls(consumer).find((c) => c.who === 'R1' && c.at >= t0)?.at);
    const failed = calls(consumer).filter((c) => c.who === null);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(back - t0).toBeLessThan(2_000);
    expect(agentLog(consumer)).toMatch(new RegExp(`goaway: ${evictor} gave ${escape(this.hostA)}:\\d+ back`));
    await consumer.kill();
    // SIGTERM, not a kill: Spring deregisters it, so no stale node is left for the next rounds' consumers.
    await sigterm(provider1);
    return `/offline then /online: /online answered in ${t1 - t0} ms; the consumer called R1 again ${back - t0} ms after /online (its load balancer would have waited for its next refresh); 0 failed calls`;
  }
}
