/**
 * Issue 10, untrusted X-Quiesce-Node, end to end: a client of a provider announces a foreign
 * node (another address than its own) in the header; the provider's agent records it, and a
 * drain of the provider must not dial it — the consumer's own daemon (its address on the peer
 * port) is told instead, and the drain still ends `drained`.
 */
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { buildMavenFixture } from '../../testkit/maven-fixtures.js';
import { settle } from '../../testkit/poll.js';

interface DrainJson {
  outcome: string;
  consumers: { notified: number; failed: number; unreachable: number; results: Array<{ peer?: string; result: string; consumer: string }> };
}

const servers: Server[] = [];
let app: ContainerJvm | undefined;
let d: DaemonProcess | undefined;
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

afterAll(async () => {
  keepAlive.destroy();
  await d?.stop('SIGKILL');
  await app?.kill();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A stand-in for a peer daemon on `host`: records every request it gets. */
async function fakePeer(host: string): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"evicted":[],"jvms":0}');
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return { port: (s.address() as AddressInfo).port, hits };
}

describe('a drain whose consumer announced a foreign node', () => {
  it('tells the consumer own daemon, never dials the announced node, and still drains', async () => {
    const [own, foreign] = await Promise.all([fakePeer('127.0.0.1'), fakePeer('127.0.0.2')]);
    app = await startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: buildMavenFixture('inbound-servlet').classpath,
      mainClass: 'demo.SlowApp',
      network: 'host',
      readyTimeoutMs: 60_000,
    });
    const appPort = Number(/READY port=(\d+)/.exec(app.stdout())![1]);
    d = await startDaemon({ extraArgs: ['--peer-port', String(own.port), '--consumer-sample-interval', '200'] });
    expect((await d.post(`/jvms/${app.pid}/attach`)).status).toBe(200);

    // The consumer keeps its connection open, so /proc sees it too (and gives the provider's address).
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: appPort, path: '/fast', agent: keepAlive, headers: { 'X-Quiesce-Node': `127.0.0.2:${foreign.port}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end();
    });
    const seen = await settle(
      () =>
        d!.get<{ consumers: Array<{ localPort: number; sources: string[]; consumerNode: string | null }> }>(`/jvms/${app!.pid}/consumers`),
      (r) => r.body.consumers.some((c) => c.localPort === appPort && c.sources.includes('agent') && c.sources.includes('tcp')),
      15_000,
    );
    // Recorded as claimed: the claim is only judged when something would dial it.
    expect(seen.body.consumers).toContainEqual(expect.objectContaining({ localPort: appPort, consumerNode: `127.0.0.2:${foreign.port}` }));

    const r = await d.get<DrainJson>(`/offline?pid=${app.pid}&timeout=8&quiet=0.2`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(foreign.hits).toEqual([]);
    expect(own.hits).toContain('POST /goaway');
    expect(r.body.outcome).toBe('drained');
    expect(r.body.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
    expect(r.body.consumers.results[0]).toMatchObject({ consumer: '127.0.0.1', result: 'notified' });
    expect(d.logs()).toContain('consumer node ignored');

    // The release on /online goes the same way.
    expect((await d.get(`/online?pid=${app.pid}`)).status).toBe(200);
    expect(foreign.hits).toEqual([]);
  });
});
