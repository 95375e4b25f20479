/**
 * Issue 10, untrusted GoAway input: a GoAway body comes from any peer, and the node a consumer
 * announced (X-Quiesce-Node, as a provider's agent recorded it) from any client of the provider.
 * Both are bounded and checked; a claimed node is only ever the consumer's own address, and a
 * drain whose consumer claimed a foreign node does not dial it. Pure, plus loopback sockets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_GOAWAY_SERVICES, MAX_SERVICE_LENGTH, parseGoAway } from '../../src/goaway/receive.js';
import { HostModeResolver, trustedConsumerNode } from '../../src/goaway/peer-resolver.js';
import { canonicalIp, parseIpPort } from '../../src/goaway/address.js';
import { goaway } from '../../src/drain/steps/goaway.js';
import type { StepContext } from '../../src/drain/steps/context.js';
import type { ConsumerRecord } from '../../src/store/consumers.js';
import type { GoAwayResult } from '../../src/goaway/send.js';
import { Metrics } from '../../src/metrics/registry.js';
import { isQuiesceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';

const refusal = (body: unknown): string => {
  try {
    parseGoAway(body);
  } catch (e) {
    if (isQuiesceError(e)) return e.code;
    throw e;
  }
  return 'accepted';
};

describe('parseGoAway bounds', () => {
  it('happy: a GoAway and a release within the bounds are accepted as sent', () => {
    expect(parseGoAway({ provider: '10.0.0.5:20880', services: ['a.B', 'c.D'], ttl: 60 })).toEqual({
      provider: '10.0.0.5:20880',
      services: ['a.B', 'c.D'],
      ttlSeconds: 60,
      release: false,
    });
    expect(parseGoAway({ provider: '[fd00::5]:8080', release: true })).toMatchObject({
      provider: '[fd00::5]:8080',
      services: [],
      release: true,
    });
    expect(
      parseGoAway({ provider: '10.0.0.5:1', services: Array.from({ length: MAX_GOAWAY_SERVICES }, (_, i) => `s${i}`) }).services,
    ).toHaveLength(MAX_GOAWAY_SERVICES);
    expect(parseGoAway({ provider: '10.0.0.5:65535', services: ['x'.repeat(MAX_SERVICE_LENGTH)] }).services).toHaveLength(1);
  });

  it('a port outside 1–65535 is refused', () => {
    for (const provider of ['10.0.0.5:99999', '10.0.0.5:0', '10.0.0.5:65536', '[::1]:70000', '10.0.0.5:', '10.0.0.5:-1'])
      expect(refusal({ provider }), provider).toBe('bad_request');
  });

  it('a provider that is not an IP literal is refused', () => {
    for (const provider of [
      '999.1.1.1:80',
      '1.2.3:80',
      'example.com:80',
      '[fe80::1%eth0]:80',
      '[zz::1]:80',
      ' 10.0.0.5:80',
      `${'1'.repeat(100)}:80`,
      42,
      null,
    ]) {
      expect(refusal({ provider }), String(provider)).toBe('bad_request');
    }
  });

  it('too many services, a service too long, empty or with control characters are refused', () => {
    expect(refusal({ provider: '10.0.0.5:1', services: Array.from({ length: MAX_GOAWAY_SERVICES + 1 }, (_, i) => `s${i}`) })).toBe(
      'bad_request',
    );
    expect(refusal({ provider: '10.0.0.5:1', services: ['x'.repeat(MAX_SERVICE_LENGTH + 1)] })).toBe('bad_request');
    expect(refusal({ provider: '10.0.0.5:1', services: [''] })).toBe('bad_request');
    expect(refusal({ provider: '10.0.0.5:1', services: ['a\nb'] })).toBe('bad_request');
    expect(refusal({ provider: '10.0.0.5:1', services: 'a.B' })).toBe('bad_request');
  });

  it('a body that is not an object is refused, not a crash', () => {
    for (const body of [null, undefined, 'x', 7, [], [{ provider: '10.0.0.5:1' }]]) expect(refusal(body)).toBe('bad_request');
  });
});

describe('addresses', () => {
  it('one spelling per IP; names and zones are not IPs', () => {
    expect(canonicalIp('10.1.2.3')).toBe('10.1.2.3');
    expect(canonicalIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(canonicalIp('::FFFF:0a01:0203')).toBe('10.1.2.3');
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('FD00::5')).toBe('fd00::5');
    for (const a of ['localhost', 'fe80::1%eth0', '10.1.2', '', '1.2.3.4.5']) expect(canonicalIp(a), a).toBeNull();
    expect(parseIpPort('[::ffff:10.1.2.3]:7370')).toEqual({ host: '10.1.2.3', port: 7370 });
    expect(parseIpPort('10.1.2.3:07370')).toEqual({ host: '10.1.2.3', port: 7370 });
  });
});

interface Warned {
  obj: unknown;
  msg: string;
}
const recordingLog = (): { log: Logger; warned: Warned[] } => {
  const warned: Warned[] = [];
  const log = { warn: (obj: unknown, msg: string) => warned.push({ obj, msg }) } as unknown as Logger;
  return { log, warned };
};

describe('HostModeResolver (host mode)', () => {
  it('happy: no claim → the consumer address on the peer port; a claim on its own address → that port', () => {
    const r = new HostModeResolver(7370);
    expect(r.resolve({ address: '10.0.0.7', consumerNode: null })).toBe('10.0.0.7:7370');
    expect(r.resolve({ address: '::ffff:10.0.0.7', consumerNode: null })).toBe('10.0.0.7:7370');
    expect(r.resolve({ address: 'fd00::7', consumerNode: null })).toBe('[fd00::7]:7370');
    expect(r.resolve({ address: '10.0.0.7', consumerNode: '10.0.0.7:17370' })).toBe('10.0.0.7:17370');
    expect(r.resolve({ address: '::ffff:10.0.0.7', consumerNode: '10.0.0.7:17370' })).toBe('10.0.0.7:17370');
    expect(r.resolve({ address: 'fd00::7', consumerNode: '[FD00:0::7]:17370' })).toBe('[fd00::7]:17370');
  });

  it('a claimed node on another address, malformed or out of range is ignored: the consumer address is used, logged once', () => {
    const { log, warned } = recordingLog();
    const r = new HostModeResolver(7370, log);
    const claims = [
      '10.0.0.99:7370',
      '169.254.169.254:80',
      '127.0.0.1:6443',
      'kubernetes.default:443',
      '10.0.0.7:99999',
      '10.0.0.7:0',
      '10.0.0.7',
      '10.0.0.7:7370/../x',
      'x'.repeat(10_000),
      '[::1]:7370',
      '10.0.0.7:7370\r\nHost: evil',
    ];
    for (const consumerNode of claims)
      expect(r.resolve({ address: '10.0.0.7', consumerNode }), consumerNode.slice(0, 40)).toBe('10.0.0.7:7370');
    expect(warned).toHaveLength(claims.length);
    // Once: the same claim again is not logged again.
    for (const consumerNode of claims) r.resolve({ address: '10.0.0.7', consumerNode });
    expect(warned).toHaveLength(claims.length);
    // What is logged is bounded.
    expect(JSON.stringify(warned).length).toBeLessThan(claims.length * 400);
  });

  it('a consumer address that is not an IP is skipped (null), never a throw', () => {
    const { log, warned } = recordingLog();
    const r = new HostModeResolver(7370, log);
    for (const address of ['', 'evil.example', '10.0.0.7:80', 'fe80::1%eth0'])
      expect(r.resolve({ address, consumerNode: `${address}:7370` })).toBeNull();
    expect(warned.length).toBe(4);
  });

  it('trustedConsumerNode rebuilds the node from its parsed parts', () => {
    expect(trustedConsumerNode('10.0.0.7:07370', '10.0.0.7')).toBe('10.0.0.7:7370');
    expect(trustedConsumerNode('10.0.0.8:17370', '10.0.0.7')).toBeNull();
  });
});

describe('a drain whose consumer claimed a foreign node', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A fake peer daemon on `host`, counting the GoAways it is sent. */
  const peer = async (host: string): Promise<{ port: number; hits: string[] }> => {
    const hits: string[] = [];
    const s = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hits.push(`${req.socket.remoteAddress} ${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"evicted":[],"jvms":0}');
      });
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, host, r));
    return { port: (s.address() as AddressInfo).port, hits };
  };

  const ctxFor = (consumers: ConsumerRecord[], resolver: HostModeResolver, registered: string[] = []): StepContext =>
    ({
      record: {
        id: 1,
        pid: 4242,
        startTime: 1,
        state: 'running',
        params: { timeoutMs: 5_000, quietMs: 0 },
        steps: [],
        summary: null,
        startedAt: Date.now(),
        endedAt: null,
        undoneAt: null,
      },
      client: {},
      inventory: Promise.resolve(
        registered.length ? { frameworks: [{ traffic: 'dubbo', supported: true, registries: [{ registered, removed: [] }] }] } : null,
      ),
      deadline: Date.now() + 5_000,
      signal: new AbortController().signal,
      deps: {
        log: recordingLog().log,
        metrics: new Metrics(),
        consumers: { recent: async () => consumers },
        resolver,
        serial: {},
        goawayTtlSeconds: 30,
        goawayTimeoutMs: 2_000,
      },
    }) as unknown as StepContext;

  const consumer = (over: Partial<ConsumerRecord>): ConsumerRecord => ({
    pid: 4242,
    startTime: 1,
    address: '127.0.0.1',
    localPort: 20880,
    localAddress: '127.0.0.1',
    sources: ['agent'],
    consumerNode: null,
    firstSeen: Date.now(),
    lastSeen: Date.now(),
    ...over,
  });

  it('does not dial the foreign node: its own daemon is told instead, and the step succeeds', async () => {
    const own = await peer('127.0.0.1');
    const foreign = await peer('127.0.0.2');
    const { log, warned } = recordingLog();
    const ctx = ctxFor([consumer({ consumerNode: `127.0.0.2:${foreign.port}` })], new HostModeResolver(own.port, log));
    const r = await goaway(ctx);
    expect(foreign.hits).toEqual([]);
    expect(own.hits).toHaveLength(1);
    expect(own.hits[0]).toContain('/goaway');
    const results = (r.detail as { results: GoAwayResult[] }).results;
    expect(results).toEqual([expect.objectContaining({ peer: `127.0.0.1:${own.port}`, result: 'notified' })]);
    expect(warned).toHaveLength(1);
  });

  it('happy: a node claimed on the consumer own address (another port) is dialled', async () => {
    const announced = await peer('127.0.0.1');
    const ctx = ctxFor([consumer({ consumerNode: `127.0.0.1:${announced.port}` })], new HostModeResolver(1, recordingLog().log));
    const r = await goaway(ctx);
    expect(announced.hits).toHaveLength(1);
    expect((r.detail as { results: GoAwayResult[] }).results).toEqual([expect.objectContaining({ result: 'notified' })]);
  });

  it("names the provider's services while a receiver accepts them, and none (every service) past its bounds", async () => {
    const own = await peer('127.0.0.1');
    const urls = (n: number): string[] => Array.from({ length: n }, (_, i) => `dubbo://127.0.0.1:20880/demo.S${i}?side=provider`);
    const sent = async (registered: string[]): Promise<unknown> => {
      own.hits.length = 0;
      const ctx = ctxFor([consumer({})], new HostModeResolver(own.port, recordingLog().log), registered);
      await ctx.inventory;
      await goaway(ctx);
      return (JSON.parse(own.hits[0]!.slice(own.hits[0]!.indexOf('{'))) as { services: unknown }).services;
    };
    expect(await sent(urls(2))).toEqual(['demo.S0', 'demo.S1']);
    expect(await sent(urls(MAX_GOAWAY_SERVICES + 1))).toEqual([]);
    expect(await sent([`dubbo://127.0.0.1:20880/${'x'.repeat(MAX_SERVICE_LENGTH + 1)}?side=provider`])).toEqual([]);
  });

  it('malformed claims and a consumer address that is not an IP never fail the step', async () => {
    const own = await peer('127.0.0.1');
    const ctx = ctxFor(
      [
        consumer({ consumerNode: 'not a node' }),
        consumer({ address: 'evil.example', consumerNode: 'evil.example:1' }),
        consumer({ localPort: 20881, consumerNode: '127.0.0.1:99999' }),
      ],
      new HostModeResolver(own.port, recordingLog().log),
    );
    const r = await goaway(ctx);
    // Both valid consumers (two provider ports) reach the consumer's own daemon; the non-IP one is skipped.
    expect(own.hits).toHaveLength(2);
    expect((r.detail as { results: GoAwayResult[] }).results.map((x) => x.result)).toEqual(['notified', 'notified']);
  });
});
