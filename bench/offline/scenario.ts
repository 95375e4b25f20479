/**
 * The scenario of test/offline-springcloud.test.ts, kept up for a whole run: two hosts (network
 * namespaces on a bridge), ZooKeeper on the switch, a quiesce daemon per host, provider 1 of
 * "greeter" on host A, provider 2 and the @LoadBalanced consumer (default 35 s instance cache, no
 * retry) on host B. Only provider 1 is replaced, once per release.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { createNetwork, type TestNetwork } from '../../testkit/hosts.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { buildMavenFixture, type MavenFixture } from '../../testkit/maven-fixtures.js';
import { startZooKeeper, type ZooKeeper } from '../../testkit/zookeeper.js';
import { CallLog } from './calls.js';
import { sleep, until } from '../../testkit/poll.js';

export const JVM_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];

export interface ScenarioOptions {
  readonly threads: number;
  readonly intervalMs: number;
  readonly cacheTtlSeconds: number;
}

/** Provider 1 as it is now: its JVM, its instance name, when the consumer first called it. */
export interface Provider1 {
  readonly jvm: ContainerJvm;
  readonly name: string;
  firstCalled: number;
}

export class Scenario {
  net: TestNetwork | undefined;
  zk: ZooKeeper | undefined;
  daemonA: DaemonProcess | undefined;
  daemonB: DaemonProcess | undefined;
  consumer: ContainerJvm | undefined;
  provider2: ContainerJvm | undefined;
  provider1: Provider1 | undefined;
  calls: CallLog | undefined;
  private fixture: MavenFixture | undefined;
  private readonly jvms = new Set<ContainerJvm>();
  private instances = 0;
  private closed: Promise<void> | undefined;

  constructor(readonly o: ScenarioOptions) {}

  get hostA(): string {
    return this.net!.hosts[0]!.address;
  }

  get hostB(): string {
    return this.net!.hosts[1]!.address;
  }

  /** Everything up, the consumer calling provider 1 and provider 2. */
  async start(): Promise<void> {
    this.net = createNetwork(2);
    this.fixture = buildMavenFixture('springcloud-boot3');
    const env = { QUIESCE_ADMIN_TOKEN: randomBytes(24).toString('hex'), QUIESCE_LOG_LEVEL: 'info' };
    const [zk, a, b] = await Promise.allSettled([
      startZooKeeper({ host: this.net.switchAddress }),
      startDaemon({
        netns: this.net.hosts[0]!.netns,
        host: this.hostA,
        httpPort: 7370,
        env,
        extraArgs: ['--consumer-sample-interval', '200'],
      }),
      startDaemon({ netns: this.net.hosts[1]!.netns, host: this.hostB, httpPort: 7370, env }),
    ]);
    if (zk.status === 'fulfilled') this.zk = zk.value;
    if (a.status === 'fulfilled') this.daemonA = a.value;
    if (b.status === 'fulfilled') this.daemonB = b.value;
    for (const r of [zk, a, b]) if (r.status === 'rejected') throw r.reason;
    const [p1, p2] = await Promise.all([
      this.startProvider1(),
      this.startJvm('fixture.provider.Provider', 1, this.providerArgs('P2', this.hostB)),
    ]);
    this.provider1 = { ...p1, firstCalled: 0 };
    this.provider2 = p2;
    this.consumer = await this.startJvm('fixture.consumer.Consumer', 1, [
      `--spring.cloud.zookeeper.connect-string=${this.zk!.connectString}`,
      `--spring.cloud.zookeeper.discovery.instance-host=${this.hostB}`,
      `--spring.cloud.zookeeper.discovery.instance-ip-address=${this.hostB}`,
      `--spring.cloud.loadbalancer.cache.ttl=${this.o.cacheTtlSeconds}s`,
      '--spring.cloud.loadbalancer.retry.enabled=false',
      `--call.threads=${this.o.threads}`,
      `--call.interval-ms=${this.o.intervalMs}`,
      '--call.await-instances=2',
    ]);
    const consumer = this.consumer;
    this.calls = new CallLog(() => consumer.stdout());
    const attached = await this.daemonB!.post(`/jvms/${consumer.pid}/attach`);
    if (attached.status !== 200)
      throw new Error(`attaching the consumer's agent: HTTP ${attached.status} ${JSON.stringify(attached.body)}`);
    this.provider1.firstCalled = await this.calledBy(p1.name, 60_000);
    await this.calledBy('P2', 10_000);
  }

  private providerArgs(name: string, host: string): string[] {
    return [
      `--spring.cloud.zookeeper.connect-string=${this.zk!.connectString}`,
      `--instance.name=${name}`,
      `--server.address=${host}`,
      `--spring.cloud.zookeeper.discovery.instance-host=${host}`,
      `--spring.cloud.zookeeper.discovery.instance-ip-address=${host}`,
    ];
  }

  /** A fresh provider 1 on host A, named A<n> (new port, new registration). */
  async startProvider1(): Promise<{ jvm: ContainerJvm; name: string }> {
    const name = `A${++this.instances}`;
    return { jvm: await this.startJvm('fixture.provider.Provider', 0, this.providerArgs(name, this.hostA)), name };
  }

  private async startJvm(mainClass: string, host: 0 | 1, args: string[]): Promise<ContainerJvm> {
    const jvm = await startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: this.fixture!.classpath,
      mainClass,
      args,
      jvmFlags: JVM_FLAGS,
      netns: this.net!.hosts[host]!.netns,
      readyLine: 'READY',
      readyTimeoutMs: 120_000,
    });
    this.jvms.add(jvm);
    return jvm;
  }

  async killJvm(jvm: ContainerJvm): Promise<void> {
    await jvm.kill();
    this.jvms.delete(jvm);
  }

  /** When the consumer first got an answer from `name` (epoch ms). */
  async calledBy(name: string, timeoutMs: number): Promise<number> {
    return until(
      `the consumer calling ${name}`,
      timeoutMs,
      () => {
        this.calls!.update();
        return this.calls!.firstCall(name);
      },
      20,
    );
  }

  /** Calls per second the consumer completed over the last `ms` (it is already running). */
  async rate(ms: number): Promise<{ perSecond: number; failed: number }> {
    const from = Date.now();
    await sleep(ms);
    const to = Date.now();
    await sleep(300);
    this.calls!.update();
    const w = this.calls!.window(from, to);
    return { perSecond: (w.calls * 1000) / (to - from), failed: w.failed };
  }

  /** Stops everything; safe to call twice (and from a signal handler). */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await Promise.allSettled([...this.jvms].map((j) => j.kill()));
      await Promise.allSettled([this.daemonA?.stop(), this.daemonB?.stop()]);
      for (const d of [this.daemonA, this.daemonB]) if (d) rmSync(d.stateDir, { recursive: true, force: true });
      await this.zk?.stop().catch(() => undefined);
      this.net?.close();
    })();
    return this.closed;
  }

  /** For process.on('exit'): what cannot wait (the JVMs and the network have exit hooks of their own). */
  killDaemonsSync(): void {
    for (const d of [this.daemonA, this.daemonB]) {
      if (d?.proc.pid !== undefined && d.proc.exitCode === null && d.proc.signalCode === null) {
        try {
          process.kill(d.proc.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
}
