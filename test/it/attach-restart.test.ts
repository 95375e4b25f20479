/**
 * The daemon can die at any moment without harming the JVMs, and its agents come back
 * to the next daemon by themselves: no second attach.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { newStateDir, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { sleep } from '../../testkit/poll.js';
import type { JvmJson } from '../../testkit/api-types.js';

async function waitConnected(d: DaemonProcess, pid: number, withinMs: number): Promise<JvmJson> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const s = await d.get<{ jvms: JvmJson[] }>('/status');
    const j = s.body.jvms.find((x) => x.pid === pid);
    if (j?.agent.state === 'connected') return j;
    if (Date.now() > deadline)
      throw new Error(`agent of pid ${pid} not connected within ${withinMs} ms: ${JSON.stringify(j)}\n${d.logs()}`);
    await sleep(50);
  }
}

function agentStarts(jvm: ContainerJvm): number {
  const log = readFileSync(`/proc/${jvm.pid}/root/tmp/.quiesce/0.1.0/agent-${jvm.nspid}.log`, 'utf8');
  return log.split('\n').filter((l) => / agent \S+ starting/.test(l)).length;
}

let jvm: ContainerJvm;
const daemons: DaemonProcess[] = [];

beforeAll(async () => {
  jvm = await startContainerJvm({ javaHome: jdk17().home, classpath: buildFixtures().classes, mainClass: 'SteadyApp' });
});

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  await jvm?.kill();
});

describe('daemon restarts', () => {
  const stateDir = newStateDir();

  it('SIGKILL during an attach leaves the JVM running, and the restarted daemon sees the agent reconnect within 5 s without attaching again', async () => {
    const first = await startDaemon({ stateDir });
    daemons.push(first);
    const pending = first.post(`/jvms/${jvm.pid}/attach`).catch((e: unknown) => e);
    const deadline = Date.now() + 30_000;
    while (!first.logs().includes('agent loaded; waiting for it to connect')) {
      if (Date.now() > deadline) throw new Error(`attach never reached the load step:\n${first.logs()}`);
      await sleep(5);
    }
    await first.stop('SIGKILL');
    await pending;
    expect(() => process.kill(jvm.pid, 0)).not.toThrow();

    const second = await startDaemon({ stateDir });
    daemons.push(second);
    const t0 = Date.now();
    const j = await waitConnected(second, jvm.pid, 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(j.agent.instanceId).toBeTruthy();
    const metrics = (await second.get<string>('/metrics')).body;
    expect(metrics).not.toMatch(/quiesce_attach_total\{result="ok"\}/);
    expect(agentStarts(jvm)).toBe(1);
    expect(jvm.stdout()).toBe('READY\n');
    expect(jvm.stderr()).toBe('');
  });

  it('an attach request to the restarted daemon finds the running agent and does nothing else', async () => {
    const d = daemons.at(-1)!;
    const r = await d.post<{ alreadyAttached: boolean }>(`/jvms/${jvm.pid}/attach`);
    expect(r.status).toBe(200);
    expect(r.body.alreadyAttached).toBe(true);
    expect(agentStarts(jvm)).toBe(1);
  });

  it('after a SIGKILL of a daemon with a connected agent, the next one has it back within 5 s, same agent instance', async () => {
    const prev = daemons.at(-1)!;
    const before = (await waitConnected(prev, jvm.pid, 5_000)).agent.instanceId;
    await prev.stop('SIGKILL');
    const next = await startDaemon({ stateDir });
    daemons.push(next);
    const j = await waitConnected(next, jvm.pid, 5_000);
    expect(j.agent.instanceId).toBe(before);
    expect((await next.get<string>('/metrics')).body).toMatch(/quiesce_agent_connections_total\{kind="reconnect"\} 1/);
  });

  it('a graceful stop (SIGTERM) and start also brings the agent back', async () => {
    const prev = daemons.at(-1)!;
    await prev.stop('SIGTERM');
    expect(prev.logs()).toContain('quiesce stopped');
    const next = await startDaemon({ stateDir });
    daemons.push(next);
    await waitConnected(next, jvm.pid, 5_000);
    expect(agentStarts(jvm)).toBe(1);
  });
});
