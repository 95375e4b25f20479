/**
 * Sending GoAways (src/drain/goaway-client.ts) to real HTTP servers standing for consumers' daemons:
 * the bound on parallel calls, the timeout and the one retry, what counts as failed or unreachable,
 * the drain's deadline, and the sender's address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { sendGoAways, type GoAwayTarget } from '../../src/goaway/send.js';

const servers: Server[] = [];
const sockets = new Set<Socket>();

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A "daemon" on 127.0.0.1 answering each request with `handle`; returns its port. */
async function daemon(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handle(req, res, body));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

const target = (port: number, i = 0): GoAwayTarget => ({
  peer: `127.0.0.1:${port}`,
  consumer: `127.0.0.${i + 1}`,
  provider: '127.0.0.1:20880',
  services: ['demo.Svc'],
});
const opts = (o: Partial<Parameters<typeof sendGoAways>[1]> = {}): Parameters<typeof sendGoAways>[1] => ({
  ttlSeconds: 30,
  timeoutMs: 300,
  concurrency: 8,
  deadline: Date.now() + 10_000,
  ...o,
});

describe('sending GoAways', () => {
  it("posts the provider, its services and the TTL from the provider's own address; a 200 is notified", async () => {
    const seen: Array<{ from: string | undefined; path: string | undefined; body: unknown }> = [];
    const port = await daemon((req, res, body) => {
      seen.push({ from: req.socket.remoteAddress, path: req.url, body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"evicted":[]}');
    });
    const [r] = await sendGoAways([target(port)], opts());
    expect(r).toMatchObject({ result: 'notified', status: 200, attempts: 1, error: null, evicted: { evicted: [] } });
    expect(seen).toEqual([{ from: '127.0.0.1', path: '/goaway', body: { provider: '127.0.0.1:20880', services: ['demo.Svc'], ttl: 30 } }]);
  });

  it('a release carries "release": true and no TTL', async () => {
    const bodies: unknown[] = [];
    const port = await daemon((_req, res, body) => {
      bodies.push(JSON.parse(body));
      res.writeHead(200).end('{}');
    });
    await sendGoAways([target(port)], opts({ release: true }));
    expect(bodies).toEqual([{ provider: '127.0.0.1:20880', services: ['demo.Svc'], release: true }]);
  });

  it('a 5xx is retried once; a second failure is failed', async () => {
    let calls = 0;
    const port = await daemon((_req, res) => {
      calls++;
      res.writeHead(calls === 1 ? 503 : 200).end('{}');
    });
    const [ok] = await sendGoAways([target(port)], opts());
    expect(ok).toMatchObject({ result: 'notified', attempts: 2 });
    const broken = await daemon((_req, res) => res.writeHead(500).end('agent exploded'));
    const [bad] = await sendGoAways([target(broken)], opts());
    expect(bad).toMatchObject({ result: 'failed', status: 500, attempts: 2, error: 'agent exploded' });
  });

  it('a 4xx is not retried: the peer refused it', async () => {
    let calls = 0;
    const port = await daemon((_req, res) => {
      calls++;
      res.writeHead(403).end('{"error":{"code":"forbidden"}}');
    });
    const [r] = await sendGoAways([target(port)], opts());
    expect(r).toMatchObject({ result: 'failed', status: 403, attempts: 1 });
    expect(calls).toBe(1);
  });

  it('a peer that never answers times out twice and counts as unreachable, as does a closed port', async () => {
    const silent = await daemon(() => undefined);
    const t0 = Date.now();
    const [r] = await sendGoAways([target(silent)], opts({ timeoutMs: 250 }));
    const took = Date.now() - t0;
    expect(r).toMatchObject({ result: 'unreachable', status: null, attempts: 2 });
    expect(r!.error).toMatch(/no answer within 250 ms/);
    expect(took).toBeGreaterThanOrEqual(480);
    expect(took).toBeLessThan(3_000);
    const closed = await daemon(() => undefined);
    await new Promise<void>((res) => servers.pop()!.close(() => res()));
    for (const s of sockets) s.destroy();
    const [refused] = await sendGoAways([target(closed)], opts());
    expect(refused).toMatchObject({ result: 'unreachable', status: null });
    expect(refused!.error).toMatch(/ECONNREFUSED/);
  });

  it("never sends past the drain's deadline, and cuts a call short at it", async () => {
    let calls = 0;
    const silent = await daemon(() => {
      calls++;
    });
    const [late] = await sendGoAways([target(silent)], opts({ deadline: Date.now() - 1 }));
    expect(late).toMatchObject({ result: 'unreachable', attempts: 0 });
    const t0 = Date.now();
    const [cut] = await sendGoAways([target(silent)], opts({ timeoutMs: 5_000, deadline: Date.now() + 300 }));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(cut!.result).toBe('unreachable');
    expect(calls).toBe(1);
  });

  it('at most `concurrency` calls at once, every target answered in order', async () => {
    let inFlight = 0;
    let most = 0;
    const port = await daemon((_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end('{}');
      }, 80);
    });
    const targets = Array.from({ length: 20 }, (_, i) => target(port, i));
    const results = await sendGoAways(targets, opts({ concurrency: 8 }));
    expect(results.map((r) => r.consumer)).toEqual(targets.map((t) => t.consumer));
    expect(results.every((r) => r.result === 'notified')).toBe(true);
    expect(most).toBe(8);
  });
});
