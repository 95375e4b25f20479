/**
 * Every attach refusal, each produced by a real case, through the daemon's HTTP API:
 * a 4xx/5xx with the error shape, a log line naming the pid and the code, a metric label.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadPid, startContainerJvm, startPlainProcess, type ContainerJvm, type PlainProcess } from '../../testkit/container.js';
import { ROOT, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17, temurin } from '../../testkit/java-homes.js';
import type { ErrorJson } from '../../testkit/api-types.js';

let daemon: DaemonProcess;
let badAgentDaemon: DaemonProcess;
const started: Array<ContainerJvm | PlainProcess> = [];

beforeAll(async () => {
  const fx = buildFixtures();
  // An agent directory whose bootstrap jar's agentmain throws: JPLIS answers 102.
  const badDir = mkdtempSync(join(tmpdir(), 'quiesce-bad-agent-'));
  copyFileSync(fx.badAgentJar, join(badDir, 'quiesce-agent.jar'));
  copyFileSync(join(ROOT, 'dist/agent/quiesce-agent-core.jar'), join(badDir, 'quiesce-agent-core.jar'));
  copyFileSync(join(ROOT, 'dist/agent/libquiesce_jvmti.so'), join(badDir, 'libquiesce_jvmti.so'));
  [daemon, badAgentDaemon] = await Promise.all([
    startDaemon({ extraArgs: ['--attach-timeout', '2000'] }),
    startDaemon({ extraArgs: ['--agent-dir', badDir] }),
  ]);
});

afterAll(async () => {
  await Promise.all([daemon?.stop(), badAgentDaemon?.stop()]);
  await Promise.all(started.map((p) => p.kill()));
});

async function jvm(opts: Partial<Parameters<typeof startContainerJvm>[0]> = {}): Promise<ContainerJvm> {
  const j = await startContainerJvm({ javaHome: jdk17().home, classpath: buildFixtures().classes, mainClass: 'SteadyApp', ...opts });
  started.push(j);
  return j;
}

async function expectLoggedAndCounted(d: DaemonProcess, pid: number, code: string): Promise<void> {
  // The log line may reach this process through the pipe a moment after the answer.
  const line = new RegExp(`"pid":${pid},"code":"${code}"`);
  for (let i = 0; i < 40 && !line.test(d.logs()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(d.logs()).toMatch(line);
  const m = await d.get<string>('/metrics');
  expect(m.body).toMatch(new RegExp(`quiesce_attach_total\\{result="${code}"\\} [1-9]`));
}

describe('attach errors', () => {
  it('not_found: a pid that does not exist', async () => {
    const pid = deadPid();
    const r = await daemon.post<ErrorJson>(`/jvms/${pid}/attach`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    expect(r.body.error.message).toContain(String(pid));
  });

  it('not_a_jvm: a process that is not Java', async () => {
    const p = await startPlainProcess();
    started.push(p);
    const r = await daemon.post<ErrorJson>(`/jvms/${p.pid}/attach`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('not_a_jvm');
    expect(r.body.error.message).toContain(String(p.pid));
  });

  it('attach_disabled: -XX:+DisableAttachMechanism, detected without a signal (no thread dump in the app output)', async () => {
    const j = await jvm({ jvmFlags: ['-Xmx64m', '-XX:+UseSerialGC', '-XX:+DisableAttachMechanism'] });
    const r = await daemon.post<ErrorJson>(`/jvms/${j.pid}/attach`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('attach_disabled');
    expect(r.body.error.message).toContain(`pid ${j.pid}`);
    await new Promise((res) => setTimeout(res, 300));
    expect(j.stdout()).toBe('READY\n');
    expect(j.stderr()).not.toContain('Full thread dump');
    await expectLoggedAndCounted(daemon, j.pid, 'attach_disabled');
  });

  it('dynamic_agents_disabled: -XX:-EnableDynamicAgentLoading on the newer JDK', async () => {
    const j = await jvm({ javaHome: temurin().home, jvmFlags: ['-Xmx64m', '-XX:+UseSerialGC', '-XX:-EnableDynamicAgentLoading'] });
    const r = await daemon.post<ErrorJson>(`/jvms/${j.pid}/attach`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('dynamic_agents_disabled');
    await expectLoggedAndCounted(daemon, j.pid, 'dynamic_agents_disabled');
  });

  it('attach_timeout: a JVM whose /tmp is read-only cannot open its attach socket, and the message says so', async () => {
    const j = await jvm({ readOnlyTmp: true, cwd: '/srv/app' });
    const t0 = Date.now();
    const r = await daemon.post<ErrorJson>(`/jvms/${j.pid}/attach`);
    expect(r.status).toBe(504);
    expect(r.body.error.code).toBe('attach_timeout');
    expect(r.body.error.message).toMatch(/\/tmp/);
    expect(r.body.error.message).toMatch(/read-only|not writable/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(() => process.kill(j.pid, 0)).not.toThrow();
    await expectLoggedAndCounted(daemon, j.pid, 'attach_timeout');
  });

  it('agent_failed: an agent whose agentmain throws gives the JPLIS return code', async () => {
    const j = await jvm();
    const r = await badAgentDaemon.post<ErrorJson>(`/jvms/${j.pid}/attach`);
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe('agent_failed');
    expect(r.body.error.message).toContain('102');
    expect(() => process.kill(j.pid, 0)).not.toThrow();
    await expectLoggedAndCounted(badAgentDaemon, j.pid, 'agent_failed');
    const s = await badAgentDaemon.get<{ jvms: Array<{ pid: number; agent: { state: string; error: string } }> }>('/status');
    const view = s.body.jvms.find((x) => x.pid === j.pid);
    expect(view?.agent.state).toBe('failed');
    expect(view?.agent.error).toMatch(/^agent_failed: /);
  });
});
