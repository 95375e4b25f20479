/**
 * GoAway across hosts: two hosts (network namespaces joined by a bridge), each with its own
 * daemon on the standard port. A consumer on host B holds connections to a provider on host A;
 * /offline on A tells B's daemon, from A's own address; with B's daemon down, B is unreachable
 * and the drain still completes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { createNetwork, type TestNetwork } from '../../testkit/hosts.js';
import { jdk17 } from '../../testkit/java-homes.js';
import type { DrainJson } from '../../testkit/api-types.js';

const token = randomBytes(24).toString('hex');
let net: TestNetwork;
let provider: ContainerJvm;
let consumer: ChildProcess;
let daemonA: DaemonProcess;
let daemonB: DaemonProcess;

beforeAll(async () => {
  net = createNetwork(2);
  const [a, b] = net.hosts as [(typeof net.hosts)[0] & object, (typeof net.hosts)[0] & object];
  const env = { QUIESCE_ADMIN_TOKEN: token };
  [provider, daemonA, daemonB] = await Promise.all([
    startContainerJvm({
      javaHome: jdk17().home,
      classpath: buildFixtures().classes,
      mainClass: 'EchoServer',
      args: ['20880', a.address],
      netns: a.netns,
    }),
    startDaemon({ netns: a.netns, host: a.address, httpPort: 7370, env, extraArgs: ['--consumer-sample-interval', '200'] }),
    startDaemon({ netns: b.netns, host: b.address, httpPort: 7370, env }),
  ]);
  // The consumer: a client on host B holding two connections to the provider.
  consumer = spawn(
    'ip',
    [
      'netns',
      'exec',
      b.netns,
      process.execPath,
      '-e',
      `const net=require('net');for(let i=0;i<2;i++){const s=net.connect(20880,'${a.address}');s.on('error',()=>{});}setInterval(()=>{},1000);console.log('up')`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((r) => consumer.stdout!.once('data', () => r()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await daemonA.get<{ consumers: Array<{ address: string }> }>(`/jvms/${provider.pid}/consumers`);
    if (r.body.consumers?.length) break;
    if (Date.now() > deadline) throw new Error(`no consumer seen: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
});

afterAll(async () => {
  consumer?.kill('SIGKILL');
  await Promise.all([daemonA?.stop(), daemonB?.stop()]);
  await provider?.kill();
  net?.close();
});

describe('GoAway between two hosts', () => {
  it("the provider host's daemon tells the consumer host's daemon, from its own address", async () => {
    const [a, b] = net.hosts;
    const consumers = await daemonA.get<{ consumers: Array<{ address: string; localPort: number }> }>(`/jvms/${provider.pid}/consumers`);
    expect(consumers.body.consumers).toEqual([expect.objectContaining({ address: b!.address, localPort: 20880 })]);
    const r = await daemonA.get<DrainJson>(`/offline?pid=${provider.pid}&timeout=10&quiet=0.2`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outcome).toBe('drained');
    expect(r.body.consumers.results).toEqual([
      expect.objectContaining({ consumer: b!.address, peer: `${b!.address}:7370`, provider: `${a!.address}:20880`, result: 'notified' }),
    ]);
    expect((await daemonB.get<string>('/metrics')).body).toMatch(/quiesce_goaway_received_total\{result="ok"\} 1/);
    expect(daemonB.logs()).toContain(`"sender":"${a!.address}"`);
  });

  it("with the consumer host's daemon down, that consumer is unreachable and the drain still completes", async () => {
    await daemonA.get(`/online?pid=${provider.pid}`);
    await daemonB.stop();
    const r = await daemonA.get<DrainJson>(`/offline?pid=${provider.pid}&timeout=10&quiet=0.2`);
    expect(r.body.outcome).toBe('drained');
    expect(r.body.consumers).toMatchObject({ notified: 0, unreachable: 1 });
  });
});
