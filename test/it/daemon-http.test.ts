/**
 * The HTTP contract on a real daemon started on port 0: the listening line, the error
 * shape, the status codes, /metrics. No JVM is needed here (the JVM paths have their
 * own files).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';

let d: DaemonProcess;

beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  await d?.stop();
});

describe('daemon HTTP API', () => {
  it('prints the chosen ports and answers /healthz', async () => {
    expect(d.httpPort).toBeGreaterThan(0);
    expect(d.grpcPort).toBeGreaterThan(0);
    const r = await d.get<{ ok: boolean; version: string }>('/healthz');
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(true);
  });

  it('/status lists JVMs with their agent state', async () => {
    const r = await d.get<{ version: string; jvms: Array<{ pid: number; agent: { state: string } }> }>('/status?refresh=1');
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body.jvms)).toBe(true);
    for (const j of r.body.jvms) expect(['none', 'attaching', 'connected', 'failed']).toContain(j.agent.state);
  });

  it('a malformed pid is a 400 bad_request', async () => {
    const r = await d.post<{ error: { code: string; message: string } }>('/jvms/abc/attach');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toContain('abc');
  });

  it('a pid that does not exist is a 404 not_found naming the pid', async () => {
    const r = await d.post<{ error: { code: string; message: string } }>('/jvms/999999999/attach');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    expect(r.body.error.message).toContain('999999999');
  });

  it('a non-Java process is a 409 not_a_jvm', async () => {
    // This test's own process is node, not a JVM.
    const r = await d.post<{ error: { code: string } }>(`/jvms/${process.pid}/attach`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('not_a_jvm');
  });

  it('a body that is not JSON is a 400 bad_request', async () => {
    const res = await fetch(`${d.base}/jvms/1/instances`, {
      method: 'POST',
      body: '{nope',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe('bad_request');
  });

  it('an unknown endpoint is a 404 unknown_endpoint in the error shape', async () => {
    const r = await d.get<{ error: { code: string } }>('/nope');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('unknown_endpoint');
  });

  it('/metrics exposes the quiesce_ metrics and counts failed attaches by code', async () => {
    const r = await d.get<string>('/metrics');
    expect(r.status).toBe(200);
    for (const name of ['quiesce_jvms', 'quiesce_agents_connected', 'quiesce_attach_total', 'quiesce_attach_duration_seconds']) {
      expect(r.body).toContain(name);
    }
    expect(r.body).toMatch(/quiesce_attach_total\{result="not_found"\} [1-9]/);
    expect(r.body).toMatch(/quiesce_attach_total\{result="not_a_jvm"\} [1-9]/);
  });

  it('logs every refusal with its code', () => {
    expect(d.logs()).toContain('"code":"not_found"');
  });
});
