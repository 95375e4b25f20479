/**
 * Issue 10, item 1: one table (src/http/authorize.ts) says who may call every HTTP route and gRPC
 * method. A route registered without an entry fails the server's construction; an entry without
 * a route, or a gRPC method without an entry, fails here.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DaemonDefinition } from '../../src/gen/quiesce/daemon/v1/daemon.js';
import { GRPC_ACCESS, HTTP_ACCESS, httpAccess } from '../../src/http/authorize.js';
import { buildHttpServer, type HttpDeps } from '../../src/http/server.js';
import { Metrics } from '../../src/metrics/registry.js';

// Building the server reaches none of the parts; no request is made to a guarded route.
const server = (): ReturnType<typeof buildHttpServer> =>
  buildHttpServer({ log: pino({ level: 'silent' }), metrics: new Metrics(), startedAt: Date.now() } as unknown as HttpDeps);

describe('the access table', () => {
  it('every entry is a registered route', async () => {
    const app = server();
    await app.ready();
    for (const key of Object.keys(HTTP_ACCESS)) {
      const [method, url] = key.split(' ') as [string, string];
      expect(app.hasRoute({ method: method, url }), key).toBe(true);
    }
  });

  it('a route without an entry cannot be registered', () => {
    const app = server();
    expect(() => app.get('/new-route', async () => ({}))).toThrow(/no entry in HTTP_ACCESS/);
    expect(() => app.post('/healthz', async () => ({}))).toThrow(/no entry in HTTP_ACCESS/);
  });

  it('HEAD is decided as GET', () => {
    expect(httpAccess('HEAD', '/status')).toBe('read');
    expect(httpAccess('HEAD', '/healthz')).toBe('public');
  });

  it('the only open doors are the probe, the metrics, GoAway and the self-drains', () => {
    const open = Object.entries(HTTP_ACCESS)
      .filter(([, a]) => a !== 'read' && a !== 'admin')
      .map(([k]) => k)
      .sort();
    expect(open).toEqual(['GET /healthz', 'GET /metrics', 'GET /offline', 'GET /online', 'POST /goaway', 'POST /offline', 'POST /online']);
  });

  it('every gRPC method has an entry, and every entry is a method', () => {
    const paths = Object.values(DaemonDefinition.methods).map((m) => `/${DaemonDefinition.fullName}/${m.name}`);
    expect(Object.keys(GRPC_ACCESS).sort()).toEqual(paths.sort());
  });
});
