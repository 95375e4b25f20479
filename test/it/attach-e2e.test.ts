/**
 * The spine end to end: a real daemon, real JVMs in stand-in containers (own pid, mount
 * and network namespaces, private /tmp, uid 1000) on JDK 17 and on the newer Temurin JDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createChannel, createClient } from 'nice-grpc';
import { DaemonDefinition } from '../../src/gen/quiesce/daemon/v1/daemon.js';
import { execute } from '../../src/jvm/attach/index.js';
import { inspectPid } from '../../src/jvm/discovery.js';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, CLI, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17, temurin, type JavaHome } from '../../testkit/java-homes.js';
import type { AttachJson, JvmJson } from '../../testkit/api-types.js';

// JDK 21+ print this on the target's stderr for any dynamically loaded agent (JEP 451).
const DYNAMIC_AGENT_WARNING =
  /^WARNING: (A Java agent has been loaded dynamically|If a serviceability tool is|Dynamic loading of agents will be disallowed)/;

let daemon: DaemonProcess;
const jvms = new Map<string, { home: JavaHome; jvm: ContainerJvm }>();

beforeAll(async () => {
  const fx = buildFixtures();
  daemon = await startDaemon();
  const homes = { jdk17: jdk17(), temurin: temurin() };
  await Promise.all(
    Object.entries(homes).map(async ([name, home]) => {
      const jvm = await startContainerJvm({
        javaHome: home.home,
        classpath: fx.classes,
        mainClass: 'ZooApp',
        javaAsInit: name === 'temurin',
      });
      jvms.set(name, { home, jvm });
    }),
  );
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([...jvms.values()].map((j) => j.jvm.kill()));
});

describe.each(['jdk17', 'temurin'])('attach into a container JVM on %s', (name) => {
  const get = (): { home: JavaHome; jvm: ContainerJvm } => jvms.get(name)!;

  it('attaches, and /status shows the agent connected with the right JDK', async () => {
    const { home, jvm } = get();
    const r = await daemon.post<AttachJson>(`/jvms/${jvm.pid}/attach`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.alreadyAttached).toBe(false);
    expect(r.body.jvm.agent.state).toBe('connected');

    const s = await daemon.get<{ jvms: JvmJson[] }>('/status');
    const j = s.body.jvms.find((x) => x.pid === jvm.pid);
    expect(j).toMatchObject({ nspid: jvm.nspid, uid: 1000, jdk: home.version, foreignMountNs: true, main: 'ZooApp' });
    expect(j!.agent.state).toBe('connected');
    expect(j!.agent.version).toBe('0.1.0');
  });

  it("the application keeps running and prints nothing new but the JDK's own dynamic-agent warning", async () => {
    const { home, jvm } = get();
    expect(() => process.kill(jvm.pid, 0)).not.toThrow();
    expect(jvm.stdout()).toBe('READY\n');
    const stderr = jvm
      .stderr()
      .split('\n')
      .filter((l) => l.length > 0);
    for (const line of stderr) expect(line).toMatch(DYNAMIC_AGENT_WARNING);
    if (home.feature < 21) expect(stderr).toEqual([]);
  });

  it('attaching twice leaves one agent', async () => {
    const { jvm } = get();
    const before = (await daemon.get<JvmJson>(`/jvms/${jvm.pid}`)).body.agent.instanceId;
    const r = await daemon.post<AttachJson>(`/jvms/${jvm.pid}/attach`);
    expect(r.status).toBe(200);
    expect(r.body.alreadyAttached).toBe(true);
    expect(r.body.jvm.agent.instanceId).toBe(before);
    const dump = await execute(await inspectPid(jvm.pid), 'threaddump');
    const agentThreads = dump.body.split('\n').filter((l) => l.startsWith('"quiesce-'));
    // One event loop, one executor, perhaps the start thread: a few, not one set per attach.
    expect(agentThreads.length).toBeGreaterThan(0);
    expect(agentThreads.length).toBeLessThanOrEqual(4);
  });

  it('finds live instances of a class and its subclasses through JVMTI, and clears its tags', async () => {
    const { jvm } = get();
    const all = await daemon.post<{ count: number; instanceClasses: string[]; tagsLeft: number; truncated: boolean }>(
      `/jvms/${jvm.pid}/instances`,
      { class: 'ZooAnimal' },
    );
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(all.body.count).toBe(15);
    expect(all.body.tagsLeft).toBe(0);
    const byClass = (xs: string[]): Record<string, number> =>
      xs.reduce<Record<string, number>>((m, c) => ({ ...m, [c]: (m[c] ?? 0) + 1 }), {});
    expect(byClass(all.body.instanceClasses)).toEqual({ ZooAnimal: 5, ZooDog: 7, ZooCat: 3 });

    const dogs = await daemon.post<{ count: number; tagsLeft: number }>(`/jvms/${jvm.pid}/instances`, { class: 'ZooDog' });
    expect(dogs.body).toMatchObject({ count: 7, tagsLeft: 0 });

    const some = await daemon.post<{ count: number; truncated: boolean; tagsLeft: number }>(`/jvms/${jvm.pid}/instances`, {
      class: 'ZooAnimal',
      limit: 4,
    });
    expect(some.body).toMatchObject({ count: 4, truncated: true, tagsLeft: 0 });

    const missing = await daemon.post<{ error: { code: string; message: string } }>(`/jvms/${jvm.pid}/instances`, {
      class: 'no.such.Clazz',
    });
    expect(missing.status).toBe(502);
    expect(missing.body.error.code).toBe('agent_command_failed');
    expect(missing.body.error.message).toContain('class_not_found');
  });

  it('detach stops the agent and leaves none of its threads; a new attach starts a new one', async () => {
    const { jvm } = get();
    const before = (await daemon.get<JvmJson>(`/jvms/${jvm.pid}`)).body.agent.instanceId;
    const d = await daemon.post(`/jvms/${jvm.pid}/detach`);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    const target = await inspectPid(jvm.pid);
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      const dump = await execute(target, 'threaddump');
      left = dump.body.split('\n').filter((l) => l.startsWith('"quiesce-'));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toEqual([]);
    const again = await daemon.post<AttachJson>(`/jvms/${jvm.pid}/attach`);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.alreadyAttached).toBe(false);
    expect(again.body.jvm.agent.instanceId).not.toBe(before);
  });
});

describe('the gRPC API and the CLI', () => {
  it('lists the JVMs with their agents over gRPC', async () => {
    const channel = createChannel(`127.0.0.1:${daemon.grpcPort}`);
    try {
      const client = createClient(DaemonDefinition, channel);
      const r = await client.listJvms({ refresh: true });
      const j = r.jvms.find((x) => x.pid === jvms.get('jdk17')!.jvm.pid);
      expect(j?.agent?.state).toBe('connected');
      await expect(client.attach({ pid: 999_999_999 })).rejects.toThrow(/not_found/);
    } finally {
      channel.close();
    }
  });

  it('`quiesce jvms` and `quiesce attach` print what the daemon knows', () => {
    const pid = jvms.get('jdk17')!.jvm.pid;
    const out = execFileSync(process.execPath, [CLI, 'jvms', '--grpc', `127.0.0.1:${daemon.grpcPort}`], { encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`^${pid}\\s+\\d+\\s+1000\\s+17\\.`, 'm'));
    const attach = execFileSync(process.execPath, [CLI, 'attach', String(pid), '--grpc', `127.0.0.1:${daemon.grpcPort}`], {
      encoding: 'utf8',
    });
    expect(attach).toContain('(already attached)');
  });

  it('/metrics counts the attaches and the connected agents', async () => {
    const m = (await daemon.get<string>('/metrics')).body;
    expect(m).toMatch(/quiesce_attach_total\{result="ok"\} [1-9]/);
    expect(m).toMatch(/quiesce_attach_total\{result="already_attached"\} [1-9]/);
    expect(m).toMatch(/quiesce_agents_connected 2/);
    expect(m).toMatch(/quiesce_attach_duration_seconds_count\{result="ok"\} [1-9]/);
  });
});
