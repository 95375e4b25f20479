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
import { calls, until } from './offline-scenario.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';

const FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];

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
    const [attA, attB] = await Promise.all([this.daemonA.post(`/jvms/${provider1.pid}/attach`), this.daemonB.post(`/jvms/${consumer.pid}/attach`)]);
    expect(attA.status, JSON.stringify(attA.body)).toBe(200);
    expect(attB.status, JSON.stringify(attB.body)).toBe(200);
    await until('daemon A to see the consumer on host B', 15_000, async () => {
      const r = await this.daemonA.get<{ consumers?: Array<{ address: string }> }>(`/jvms/${provider1.pid}/consumers`);
      return r.body.consumers?.some((c) => c.address === this.hostB);
    });
  }
}
