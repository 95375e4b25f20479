/**
 * The /isolate and /restore contract on a real JVM that runs no service framework: the
 * refusals a user meets first, each a clear 4xx that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';
import type { ErrorJson } from '../../testkit/api-types.js';

let daemon: DaemonProcess;
let jvm: ContainerJvm;

beforeAll(async () => {
  [daemon, jvm] = await Promise.all([
    startDaemon(),
    startContainerJvm({ javaHome: jdk17().home, classpath: buildFixtures().classes, mainClass: 'SteadyApp' }),
  ]);
});
afterAll(async () => {
  await daemon?.stop();
  await jvm?.kill();
});

describe('/isolate and /restore on a JVM without service frameworks', () => {
  it('a body without a pid is a 400 naming the expected shape', async () => {
    const r = await daemon.post<ErrorJson>('/isolate', { traffic: ['dubbo'] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toContain('"pid"');
  });

  it('an unknown traffic kind is a 400 naming the known ones', async () => {
    const r = await daemon.post<ErrorJson>('/isolate', { pid: jvm.pid, traffic: ['kafka'] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/kafka.*dubbo, springcloud/);
  });

  it('isolating a JVM with no framework attaches, then is a 409 no_framework naming what was looked for', async () => {
    const r = await daemon.post<ErrorJson>('/isolate', { pid: jvm.pid });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe('no_framework');
    expect(r.body.error.message).toMatch(/dubbo/);
    expect(r.body.error.message).toMatch(/springcloud/);
    const named = await daemon.post<ErrorJson>('/isolate', { pid: jvm.pid, traffic: ['springcloud'] });
    expect(named.status).toBe(409);
    expect(named.body.error.message).toContain('springcloud');
    const status = await daemon.get<{ jvms: Array<{ pid: number; isolation: unknown; agent: { state: string } }> }>('/status');
    const view = status.body.jvms.find((j) => j.pid === jvm.pid);
    expect(view?.agent.state).toBe('connected');
    expect(view?.isolation).toBeNull();
  });

  it('the inventory is empty, and restoring what is not isolated does nothing', async () => {
    const inv = await daemon.get<{ frameworks: unknown[] }>(`/jvms/${jvm.pid}/inventory`);
    expect(inv.status).toBe(200);
    expect(inv.body.frameworks).toEqual([]);
    const r = await daemon.post<{ restored: boolean; changes: unknown[] }>('/restore', { pid: jvm.pid });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ restored: false, changes: [] });
  });

  it('the JVM kept running and printed nothing', () => {
    expect(jvm.stdout()).toBe('READY\n');
    expect(jvm.stderr()).toBe('');
  });
});
