/**
 * Consumer tracking with no agent: a JVM's inbound connections read from /proc, kept in
 * SQLite across daemon restarts, expired after the window.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { newStateDir, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { settle } from '../../testkit/poll.js';
import { request } from 'node:http';
import { buildMavenFixture } from '../../testkit/maven-fixtures.js';
import type { ConsumersJson } from '../../testkit/api-types.js';

let server: ContainerJvm;
let port: number;
const daemons: DaemonProcess[] = [];
const sockets: Socket[] = [];

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

beforeAll(async () => {
  server = await startContainerJvm({
    javaHome: jdk17().home,
    classpath: buildFixtures().classes,
    mainClass: 'EchoServer',
    network: 'host',
  });
  port = Number(/READY (\d+)/.exec(server.stdout())![1]);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  await server?.kill();
});

describe('consumer tracking', () => {
  const stateDir = newStateDir();

  it('records each consumer of a JVM once, from its established inbound connections, with no agent', async () => {
    const d = await startDaemon({ stateDir, extraArgs: ['--consumer-sample-interval', '200'] });
    daemons.push(d);
    await Promise.all([open(), open(), open()]);
    const r = await settle(
      () => d.get<ConsumersJson>(`/jvms/${server.pid}/consumers`),
      (x) => x.body.consumers.length > 0,
      10_000,
    );
    expect(r.status).toBe(200);
    expect(r.body.consumers).toHaveLength(1);
    expect(r.body.consumers[0]).toMatchObject({ address: '127.0.0.1', localPort: port, sources: ['tcp'] });
    const status = await d.get<{ jvms: Array<{ pid: number; agent: { state: string } }> }>('/status');
    expect(status.body.jvms.find((j) => j.pid === server.pid)?.agent.state).toBe('none');
    expect((await d.get<string>('/metrics')).body).toMatch(/quiesce_consumers_tracked [1-9]/);
  });

  it('a restarted daemon still knows the consumers, with their first sighting', async () => {
    const before = (await daemons[0]!.get<ConsumersJson>(`/jvms/${server.pid}/consumers`)).body.consumers[0]!;
    for (const s of sockets.splice(0)) s.destroy();
    await daemons[0]!.stop('SIGKILL');
    const d = await startDaemon({ stateDir });
    daemons.push(d);
    const after = (await d.get<ConsumersJson>(`/jvms/${server.pid}/consumers`)).body.consumers;
    expect(after).toHaveLength(1);
    expect(after[0]!.firstSeen).toBe(before.firstSeen);
  });

  it('forgets a consumer once it has not been seen for the window', async () => {
    const d = await startDaemon({ extraArgs: ['--consumer-sample-interval', '200', '--consumer-window', '1500'] });
    daemons.push(d);
    const s = await open();
    await settle(
      () => d.get<ConsumersJson>(`/jvms/${server.pid}/consumers`),
      (x) => x.body.consumers.length === 1,
      10_000,
    );
    s.destroy();
    const r = await settle(
      () => d.get<ConsumersJson>(`/jvms/${server.pid}/consumers`),
      (x) => x.body.consumers.length === 0,
      10_000,
    );
    expect(r.body.consumers).toEqual([]);
  });
});

describe('consumers reported by the agent', () => {
  let app: ContainerJvm | undefined;
  afterAll(async () => {
    await app?.kill();
  });

  it("adds the agent's inbound peers, with the node a consumer announced", async () => {
    app = await startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: buildMavenFixture('inbound-servlet').classpath,
      mainClass: 'demo.SlowApp',
      network: 'host',
      readyTimeoutMs: 60_000,
    });
    const appPort = Number(/READY port=(\d+)/.exec(app.stdout())![1]);
    const d = await startDaemon({ extraArgs: ['--consumer-sample-interval', '200'] });
    daemons.push(d);
    expect((await d.post(`/jvms/${app.pid}/attach`)).status).toBe(200);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: appPort, path: '/fast', headers: { 'X-Quiesce-Node': '127.0.0.1:17370' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    const r = await settle(
      () =>
        d.get<{ consumers: Array<{ address: string; localPort: number; sources: string[]; consumerNode: string | null }> }>(
          `/jvms/${app!.pid}/consumers`,
        ),
      (x) => x.body.consumers.some((c) => c.sources.includes('agent')),
      10_000,
    );
    expect(r.body.consumers).toContainEqual(
      expect.objectContaining({ address: '127.0.0.1', localPort: appPort, consumerNode: '127.0.0.1:17370' }),
    );
    expect(r.body.consumers.find((c) => c.localPort === appPort)?.sources).toContain('agent');
  });
});
