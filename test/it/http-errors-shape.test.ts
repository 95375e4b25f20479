/**
 * Issue 10, the HTTP door: whatever bytes a caller sends — a bad URL, an unknown method, oversized
 * headers, smuggling attempts, bad chunking, no Host, bad JSON, another content type, too much of
 * it or too slowly — the answer is `{ error: { code, message } }` with the right 4xx, never the
 * framework's default body and never a 5xx; and the daemon still answers the next caller. Raw
 * sockets, because fetch would refuse to send most of these.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  text: string;
}

/** Writes `chunks` (with `gapMs` between them) and reads until the daemon closes or `waitMs` passes. */
function raw(
  port: number,
  chunks: Array<string | Buffer>,
  opts: { gapMs?: number; waitMs?: number } = {},
): Promise<RawAnswer & { closed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(got).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      const bodyText = rest.join('\r\n\r\n');
      let body: unknown = bodyText;
      try {
        body = JSON.parse(bodyText);
      } catch {
        // not JSON: the assertions will say so
      }
      resolve({ status, headers, body, text, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(finish, opts.waitMs ?? 5_000);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      // A reset after the answer arrived still leaves the answer to check.
      if (got.length === 0 && e.code !== 'ECONNRESET' && e.code !== 'EPIPE') reject(e);
    });
    void (async () => {
      for (const c of chunks) {
        if (s.destroyed) return;
        s.write(c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    })();
  });
}

function expectError(a: RawAnswer, status: number, code: string): void {
  expect(a.status, a.text.slice(0, 400)).toBe(status);
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  const body = a.body as { error?: { code?: unknown; message?: unknown } };
  expect(body.error?.code, a.text.slice(0, 400)).toBe(code);
  expect(typeof body.error?.message).toBe('string');
  expect(Object.keys(body)).toEqual(['error']);
}

const HEADERS_TIMEOUT_MS = 1_500;
let d: DaemonProcess;

beforeAll(async () => {
  // Short timeouts so the slow-client tests do not take the defaults' 10 s; everything else is default.
  d = await startDaemon({ env: { QUIESCE_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), QUIESCE_HTTP_REQUEST_TIMEOUT_MS: '3000' } });
});
afterAll(async () => {
  await d?.stop();
});

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`;
const post = (path: string, body: string, type = 'application/json', extra = ''): string =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;

describe('every error in the documented shape (raw HTTP)', () => {
  it('happy: a well-formed request over a raw socket is answered 200 in JSON', async () => {
    const a = await raw(d.httpPort, [get('/drains')]);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ drains: expect.any(Array) });
  });

  it('a URL the router cannot decode (/%) is 400 bad_request', async () => {
    expectError(await raw(d.httpPort, [get('/%')]), 400, 'bad_request');
    expectError(await raw(d.httpPort, [get('/jvms/%zz/consumers')]), 400, 'bad_request');
  });

  it('a method that is not HTTP is 400 bad_request; a real one without a route is 404 unknown_endpoint; CONNECT too', async () => {
    expectError(await raw(d.httpPort, ['FOO / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n']), 400, 'bad_request');
    expectError(await raw(d.httpPort, ['get /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n']), 400, 'bad_request');
    expectError(
      await raw(d.httpPort, ['DELETE /drains HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']),
      404,
      'unknown_endpoint',
    );
    expectError(await raw(d.httpPort, ['PROPFIND / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']), 404, 'unknown_endpoint');
    expectError(await raw(d.httpPort, ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n']), 404, 'unknown_endpoint');
  });

  it('headers past the cap are 431 headers_too_large; just under it is fine', async () => {
    expectError(await raw(d.httpPort, [get('/drains', `X-Big: ${'a'.repeat(9 * 1024)}\r\n`)]), 431, 'headers_too_large');
    expectError(await raw(d.httpPort, [get(`/drains?x=${'a'.repeat(9 * 1024)}`)]), 431, 'headers_too_large');
    expect((await raw(d.httpPort, [get('/drains', `X-Big: ${'a'.repeat(6 * 1024)}\r\n`)])).status).toBe(200);
  });

  it('smuggling: Content-Length with Transfer-Encoding, two Content-Lengths, an obfuscated Transfer-Encoding are 400 bad_request', async () => {
    const body = '{"provider":"127.0.0.1:20880"}';
    const clte = `POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const a = await raw(d.httpPort, [clte]);
    expectError(a, 400, 'bad_request');
    // Nothing smuggled behind it was answered.
    expect(a.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expectError(
      await raw(d.httpPort, [
        `POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`,
      ]),
      400,
      'bad_request',
    );
    expectError(
      await raw(d.httpPort, [
        `POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n1e\r\n${body}\r\n0\r\n\r\n`,
      ]),
      400,
      'bad_request',
    );
    expectError(
      await raw(d.httpPort, [
        `POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding : chunked\r\n\r\n1e\r\n${body}\r\n0\r\n\r\n`,
      ]),
      400,
      'bad_request',
    );
  });

  it('bad chunking is 400 bad_request; good chunking is answered', async () => {
    const head =
      'POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    expectError(await raw(d.httpPort, [head, 'zz\r\n{}\r\n0\r\n\r\n']), 400, 'bad_request');
    expectError(await raw(d.httpPort, [head, 'ffffffffffffffffff\r\n{}\r\n0\r\n\r\n']), 400, 'bad_request');
    expectError(await raw(d.httpPort, [head, '2\r\n{}}}}}\r\n0\r\n\r\n']), 400, 'bad_request');
    const ok = '{"provider":"127.0.0.1:20880"}';
    const a = await raw(d.httpPort, [head, `${ok.length.toString(16)}\r\n${ok}\r\n0\r\n\r\n`]);
    expect(a.status, a.text).toBe(200);
    expect(a.body).toMatchObject({ provider: '127.0.0.1:20880', jvms: expect.any(Number) });
  });

  it('an HTTP/1.1 request without Host is 400 bad_request; HTTP/1.0 needs none', async () => {
    expectError(await raw(d.httpPort, ['GET /drains HTTP/1.1\r\nConnection: close\r\n\r\n']), 400, 'bad_request');
    expect((await raw(d.httpPort, ['GET /drains HTTP/1.0\r\n\r\n'])).status).toBe(200);
  });

  it('two Host headers are 400 bad_request', async () => {
    expectError(
      await raw(d.httpPort, ['GET /drains HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n']),
      400,
      'bad_request',
    );
  });

  it('other malformed request lines and headers are 400 bad_request: HTTP/2 preface, NUL, obs-fold, bare LF, an unknown version', async () => {
    for (const req of [
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      'GET /drains HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
      'GET /drains HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n',
      'GET /drains HTTP/1.1\nHost: x\n\n',
      'GET /drains HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /dr ains HTTP/1.1\r\nHost: x\r\n\r\n',
    ]) {
      expectError(await raw(d.httpPort, [req]), 400, 'bad_request');
    }
  });

  it('a malformed JSON body is 400 bad_request, a "__proto__" key too', async () => {
    expectError(await raw(d.httpPort, [post('/goaway', '{"provider": ')]), 400, 'bad_request');
    expectError(await raw(d.httpPort, [post('/goaway', '{"provider":"127.0.0.1:1","__proto__":{"x":1}}')]), 400, 'bad_request');
    expectError(await raw(d.httpPort, [post('/isolate', '"just a string"')]), 400, 'bad_request');
  });

  it('a body that is not application/json is 415 unsupported_media_type', async () => {
    const a = await raw(d.httpPort, [post('/goaway', '{"provider":"127.0.0.1:20880"}', 'text/plain')]);
    expectError(a, 415, 'unsupported_media_type');
    expect((a.body as { error: { message: string } }).error.message).toContain('text/plain');
    expectError(await raw(d.httpPort, [post('/offline', 'pid=1', 'application/x-www-form-urlencoded')]), 415, 'unsupported_media_type');
    // The type's parameters do not matter.
    expect((await raw(d.httpPort, [post('/goaway', '{"provider":"127.0.0.1:20880"}', 'application/json; charset=utf-8')])).status).toBe(
      200,
    );
  });
});

describe('bounded input', () => {
  it('a body past the limit is 413 body_too_large, declared or chunked', async () => {
    const big = JSON.stringify({ provider: '127.0.0.1:20880', services: ['x'.repeat(200 * 1024)] });
    expectError(await raw(d.httpPort, [post('/goaway', big)]), 413, 'body_too_large');
    const head =
      'POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const chunk = 'a'.repeat(64 * 1024);
    expectError(
      await raw(d.httpPort, [head, ...Array.from({ length: 4 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`), '0\r\n\r\n']),
      413,
      'body_too_large',
    );
  });

  it('deeply nested JSON is 400 bad_request, not a 500; nesting within the cap is parsed', async () => {
    for (const body of [
      '['.repeat(50_000) + ']'.repeat(50_000),
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
      '['.repeat(33) + ']'.repeat(33),
    ]) {
      expectError(await raw(d.httpPort, [post('/isolate', body)]), 400, 'bad_request');
    }
    // Brackets inside strings are not nesting.
    const a = await raw(d.httpPort, [post('/goaway', JSON.stringify({ provider: '127.0.0.1:20880', services: ['['.repeat(100)] }))]);
    expect(a.status, a.text).toBe(200);
  });

  it('a client that trickles its headers is cut off with 408 request_timeout', async () => {
    const started = Date.now();
    const a = await raw(
      d.httpPort,
      [
        'GET /drains HTTP/1.1\r\n',
        'Host: 127.0.0.1\r\n',
        'X-A: 1\r\n',
        'X-B: 1\r\n',
        'X-C: 1\r\n',
        'X-D: 1\r\n',
        'X-E: 1\r\n',
        'X-F: 1\r\n',
      ],
      { gapMs: 500, waitMs: 10_000 },
    );
    expectError(a, 408, 'request_timeout');
    expect(a.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 3_000);
  });

  it('a client that sends its body too slowly is cut off with 408; a whole request is answered', async () => {
    const head =
      'POST /goaway HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n';
    const a = await raw(d.httpPort, [head, ...Array.from({ length: 20 }, () => ' ')], { gapMs: 400, waitMs: 12_000 });
    expectError(a, 408, 'request_timeout');
    // The bound is on receiving the request, not on answering it.
    const b = await raw(d.httpPort, [get('/status?refresh=1')], { waitMs: 10_000 });
    expect(b.status).toBe(200);
  });

  it('after all of the above the daemon answers, and none of it was logged as its own failure', async () => {
    const r = await d.get<{ drains: unknown[] }>('/drains');
    expect(r.status).toBe(200);
    expect(d.logs()).not.toContain('"code":"internal"');
    expect(d.logs()).not.toMatch(/"level":50/);
  });
});

describe('limits are settings', () => {
  it('a limit out of its range stops the daemon at start, naming the variable', async () => {
    await expect(startDaemon({ env: { QUIESCE_HTTP_BODY_LIMIT: '12abc' } })).rejects.toThrow(/QUIESCE_HTTP_BODY_LIMIT/);
  });

  it('a raised body limit is honoured', async () => {
    const d2 = await startDaemon({ env: { QUIESCE_HTTP_BODY_LIMIT: String(1024 * 1024) } });
    try {
      const big = JSON.stringify({ provider: '127.0.0.1:20880', services: ['x'.repeat(200 * 1024)] });
      // Past the body limit now, the body reaches GoAway's own bounds.
      const a = await raw(d2.httpPort, [post('/goaway', big)]);
      expectError(a, 400, 'bad_request');
      expect((a.body as { error: { message: string } }).error.message).toMatch(/256/);
    } finally {
      await d2.stop();
    }
  });
});
