/**
 * /healthz as a liveness probe (issue 10, item 5): it answered 200 while every scanning request
 * hung behind a discovery stuck on a FIFO. Now it follows whether scans still complete: 200 while
 * they do, 503 in the error shape once the last completed scan is older than the bound.
 * A real Fleet and the real HTTP server; the scan is stood in by one that can be made to stall.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, healthBoundMs } from '../../src/agent/fleet.js';
import type { AgentHub } from '../../src/agent/hub.js';
import { buildHttpServer, type HttpDeps } from '../../src/http/server.js';
import type { JvmProcess } from '../../src/jvm/types.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { AgentStore } from '../../src/store/agents.js';

const log = pino({ level: 'silent' });

/** The parts of the hub and the agent store a scan touches, with no agent connected. */
const hub = {
  on: () => undefined,
  session: () => undefined,
  unlisten: async () => undefined,
  listen: async () => undefined,
} as unknown as AgentHub;
const agents = {
  removeExcept: () => undefined,
  live: () => [],
  setState: () => undefined,
  setInstance: () => undefined,
} as unknown as AgentStore;

const fleets: Fleet[] = [];
afterEach(async () => {
  await Promise.all(fleets.splice(0).map((f) => Promise.race([f.close(), new Promise((r) => setTimeout(r, 100))])));
});

/** A fleet whose scans complete until `stall()` is called; from then on each scan hangs. */
function fleet(healthMaxAgeMs: number): { fleet: Fleet; stall: () => void; scans: () => number } {
  let stalled = false;
  let scans = 0;
  const f = new Fleet({
    log,
    metrics: new Metrics(),
    hub,
    agents,
    agentFiles: { jar: '', coreJar: '', nativeLib: '' },
    adopt: { kind: 'none' },
    refreshIntervalMs: 50,
    healthMaxAgeMs,
    discover: () => {
      scans++;
      return stalled ? new Promise<JvmProcess[]>(() => undefined) : Promise.resolve([]);
    },
  });
  fleets.push(f);
  return { fleet: f, stall: () => (stalled = true), scans: () => scans };
}

function server(f: Fleet): ReturnType<typeof buildHttpServer> {
  // /healthz reads only the fleet; the other parts are never reached by these requests.
  const deps = { log, metrics: new Metrics(), fleet: f, startedAt: Date.now() } as unknown as HttpDeps;
  return buildHttpServer(deps);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('/healthz follows the discovery loop', () => {
  it('200 with the last scan while scans complete', async () => {
    const { fleet: f } = fleet(400);
    await f.start();
    const app = server(f);
    await sleep(150);
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    const body = r.json<{ ok: boolean; lastScanAt: number; lastScanAgeMs: number; stalledPids: number[] }>();
    expect(body.ok).toBe(true);
    expect(body.lastScanAgeMs).toBeLessThan(400);
    expect(Date.now() - body.lastScanAt).toBeLessThan(400);
    expect(Array.isArray(body.stalledPids)).toBe(true);
  });

  it('503 internal in the error shape once a scan hangs past the bound', async () => {
    const { fleet: f, stall, scans } = fleet(300);
    await f.start();
    const app = server(f);
    stall();
    await sleep(500);
    expect(scans()).toBeGreaterThan(1);
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(503);
    const body = r.json<{ error: { code: string; message: string; lastScanAgeMs: number; maxAgeMs: number } }>();
    expect(body.error.code).toBe('internal');
    expect(body.error.message).toMatch(/^stuck: no discovery scan completed for \d+ ms, more than 300 ms/);
    expect(body.error.lastScanAgeMs).toBeGreaterThan(300);
    expect(body.error.maxAgeMs).toBe(300);
  });

  it('a scan that fails is not a completed one, and its error is named', async () => {
    let fail = false;
    const f = new Fleet({
      log,
      metrics: new Metrics(),
      hub,
      agents,
      agentFiles: { jar: '', coreJar: '', nativeLib: '' },
      adopt: { kind: 'none' },
      refreshIntervalMs: 50,
      healthMaxAgeMs: 200,
      discover: async () => {
        if (fail) throw new Error('/proc: no answer within 5000 ms');
        return [];
      },
    });
    fleets.push(f);
    await f.start();
    fail = true;
    await sleep(400);
    const r = await server(f).inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(503);
    expect(r.json<{ error: { message: string } }>().error.message).toContain('(last attempt: /proc: no answer within 5000 ms)');
    fail = false;
    await sleep(200);
    expect((await server(f).inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('the default bound leaves room for a slow scan: three intervals on top of a whole scan budget', () => {
    expect(healthBoundMs(5_000)).toBe(40_000);
  });
});
