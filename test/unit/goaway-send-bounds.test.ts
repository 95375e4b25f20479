/**
 * GoAway sending against hostile peers (issue 10, items 5 and 7). Regressions: each call's timeout
 * was an idle timeout, so a peer trickling a byte now and then kept a drain (and /online) waiting
 * forever; an answer was buffered whole, however large. Now each attempt has a total deadline and
 * at most MAX_ANSWER_BYTES of the answer is kept; past it the call fails.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_ANSWER_BYTES, sendGoAways, type GoAwayTarget } from '../../src/goaway/send.js';

const servers: Array<Server | TcpServer> = [];
const sockets = new Set<Socket>();
const timers = new Set<NodeJS.Timeout>();

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function track(s: Server | TcpServer): void {
  servers.push(s);
  s.on('connection', (c: Socket) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => undefined);
  });
}

async function listen(s: Server | TcpServer): Promise<number> {
  track(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

/** Writes `text` one byte every `everyMs` on each connection, forever. */
function trickle(c: Socket, text: string, everyMs: number): void {
  let i = 0;
  const t = setInterval(() => {
    if (c.destroyed) return clearInterval(t);
    c.write(text[i % text.length] ?? ' ');
    i++;
  }, everyMs);
  timers.add(t);
  c.on('close', () => clearInterval(t));
}

const target = (port: number): GoAwayTarget => ({
  peer: `127.0.0.1:${port}`,
  consumer: '127.0.0.9',
  provider: '127.0.0.1:20880',
  services: ['demo.Svc'],
});
const opts = (o: Partial<Parameters<typeof sendGoAways>[1]> = {}): Parameters<typeof sendGoAways>[1] => ({
  ttlSeconds: 30,
  timeoutMs: 500,
  concurrency: 4,
  deadline: Date.now() + 10_000,
  ...o,
});

describe('GoAway sending: total deadlines', () => {
  it('a peer trickling its status line a byte every 100 ms is cut at the bound of each attempt, and counts as unreachable', async () => {
    const port = await listen(createTcpServer((c) => trickle(c, 'HTTP/1.1 200 OK\r\nx-slow: ' + 'y'.repeat(10_000), 100)));
    const t0 = Date.now();
    const [r] = await sendGoAways([target(port)], opts({ timeoutMs: 500 }));
    const took = Date.now() - t0;
    expect(r).toMatchObject({ result: 'unreachable', status: null, attempts: 2 });
    expect(r!.error).toMatch(/no answer within 500 ms/);
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(2_000);
  });

  it('a peer that answers 200 and then trickles its body fails at the bound, not retried, its partial answer dropped', async () => {
    let calls = 0;
    const port = await listen(
      createHttpServer((req, res) => {
        calls++;
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        // A chunk of one byte every 100 ms: never silent for long, never done.
        const t = setInterval(() => res.write(' '), 100);
        timers.add(t);
        res.on('close', () => clearInterval(t));
      }),
    );
    const t0 = Date.now();
    const [r] = await sendGoAways([target(port)], opts({ timeoutMs: 500 }));
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(r).toMatchObject({ result: 'failed', status: 200, attempts: 1, evicted: null });
    expect(r!.error).toBe('answer not complete within 500 ms: discarded');
    expect(calls).toBe(1);
  });

  it('the drain deadline still cuts a trickling call shorter than the per-attempt bound', async () => {
    const port = await listen(createTcpServer((c) => trickle(c, 'HTTP/1.1 200 OK\r\n', 50)));
    const t0 = Date.now();
    const [r] = await sendGoAways([target(port)], opts({ timeoutMs: 5_000, deadline: Date.now() + 300 }));
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(r!.result).toBe('unreachable');
  });
});

describe('GoAway sending: bounded answers', () => {
  it(`an answer over ${MAX_ANSWER_BYTES} bytes is discarded and the call failed, without reading the rest`, async () => {
    let written = 0;
    const port = await listen(
      createHttpServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        // 100 MiB, written as the socket drains: what the sender reads is what leaves here.
        const chunk = Buffer.alloc(64 << 10, 0x61);
        const pump = (): void => {
          while (written < 100 << 20) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
      }),
    );
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    const [r] = await sendGoAways([target(port)], opts({ timeoutMs: 5_000 }));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(r).toMatchObject({
      result: 'failed',
      status: 200,
      attempts: 1,
      evicted: null,
      error: `answer larger than ${MAX_ANSWER_BYTES} bytes: discarded`,
    });
    await new Promise((res) => setTimeout(res, 100));
    expect(written).toBeLessThan(100 << 20);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(48 << 20);
  });

  it('an answer of exactly the cap is kept and notified', async () => {
    const body = JSON.stringify({ evicted: [], pad: '' });
    const pad = 'p'.repeat(MAX_ANSWER_BYTES - body.length);
    const port = await listen(
      createHttpServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ evicted: [], pad }));
      }),
    );
    const [r] = await sendGoAways([target(port)], opts());
    expect(r).toMatchObject({ result: 'notified', status: 200, error: null });
    expect((r!.evicted as { pad: string }).pad).toHaveLength(pad.length);
  });

  it('a 5xx with a huge body is failed with the cap named, not retried', async () => {
    let calls = 0;
    const port = await listen(
      createHttpServer((req, res) => {
        calls++;
        req.resume();
        res.on('error', () => undefined);
        res.writeHead(500).end(Buffer.alloc(1 << 20, 0x62));
      }),
    );
    const [r] = await sendGoAways([target(port)], opts());
    expect(r).toMatchObject({ result: 'failed', status: 500, attempts: 1 });
    expect(r!.error).toContain(`larger than ${MAX_ANSWER_BYTES} bytes`);
    expect(calls).toBe(1);
  });
});
