/**
 * /offline and /online on one host, end to end through real daemons: the journaled steps,
 * GoAway to the consumer's daemon (here, a second daemon on this host), joining, undoing,
 * refusals, and a daemon killed mid-drain. The registry and in-flight parts are proven with
 * real frameworks in their own files.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { newStateDir, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { settle } from '../../testkit/poll.js';
import { freePort } from '../../testkit/ports.js';
import type { DrainJson, ErrorJson } from '../../testkit/api-types.js';

let provider: ContainerJvm;
let isolatedJvm: ContainerJvm;
let port: number;
let peerPort: number;
let consumerDaemon: DaemonProcess;
let providerDaemon: DaemonProcess;
const stateDir = newStateDir();
const sockets: Socket[] = [];
const extra: DaemonProcess[] = [];

const providerArgs = (): string[] => ['--peer-port', String(peerPort), '--consumer-sample-interval', '200'];

beforeAll(async () => {
  peerPort = await freePort();
  const classes = buildFixtures().classes;
  [provider, isolatedJvm, consumerDaemon, providerDaemon] = await Promise.all([
    startContainerJvm({ javaHome: jdk17().home, classpath: classes, mainClass: 'EchoServer', network: 'host' }),
    startContainerJvm({ javaHome: jdk17().home, classpath: classes, mainClass: 'SteadyApp' }),
    startDaemon({ extraArgs: ['--http-port', String(peerPort)] }),
    startDaemon({ stateDir, extraArgs: providerArgs() }),
  ]);
  port = Number(/READY (\d+)/.exec(provider.stdout())![1]);
  // A consumer of the provider: a connection from this host, so its daemon is the one on peerPort.
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve());
    s.on('error', reject);
    sockets.push(s);
  });
  await settle(
    () => providerDaemon.get<{ consumers: unknown[] }>(`/jvms/${provider.pid}/consumers`),
    (r) => r.body.consumers.length > 0,
    15_000,
  );
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([consumerDaemon?.stop(), providerDaemon?.stop('SIGKILL'), ...extra.map((d) => d.stop('SIGKILL'))]);
  await Promise.all([provider?.kill(), isolatedJvm?.kill()]);
});

describe('/offline', () => {
  let first: DrainJson;

  it('GET /offline drains: every step journaled, consumers told through their daemon', async () => {
    const r = await providerDaemon.get<DrainJson>(`/offline?pid=${provider.pid}&timeout=10&quiet=0.5`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    first = r.body;
    expect(first.outcome).toBe('drained');
    expect(first.steps.map((s) => s.name)).toEqual(['deregister', 'read_only', 'goaway', 'wait', 'events']);
    expect(first.steps.find((s) => s.name === 'deregister')?.state).toBe('skipped');
    const goaway = first.steps.find((s) => s.name === 'goaway')!;
    expect(goaway.state).toBe('done');
    expect(first.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
    expect(first.consumers.results[0]).toMatchObject({ consumer: '127.0.0.1', provider: `127.0.0.1:${port}`, result: 'notified' });
    expect(first.durationSeconds).toBeLessThan(5);
    const m = (await consumerDaemon.get<string>('/metrics')).body;
    expect(m).toMatch(/quiesce_goaway_received_total\{result="ok"\} 1/);
    const pm = (await providerDaemon.get<string>('/metrics')).body;
    expect(pm).toMatch(/quiesce_goaway_sent_total\{result="notified"\} 1/);
    expect(pm).toMatch(/quiesce_drain_duration_seconds_count\{outcome="drained"\} 1/);
    expect(pm).toMatch(/quiesce_drain_step_duration_seconds_count\{step="goaway"\} 1/);
    // Per JVM: the phase (6: ended) and the in-flight requests its agent counted at the end of the wait.
    expect(pm).toContain(`quiesce_drain_phase{pid="${provider.pid}"} 6`);
    expect(pm).toContain(`quiesce_inflight_requests{pid="${provider.pid}"} 0`);
    expect(pm).toMatch(/quiesce_consumers_tracked [1-9]/);
  });

  it('a repeated /offline joins the drain instead of starting another', async () => {
    const r = await providerDaemon.post<DrainJson>('/offline', { pid: provider.pid });
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(first.id);
    expect(r.body.joined).toBe(true);
  });

  it('GET /drains/:id is the timeline', async () => {
    const r = await providerDaemon.get<DrainJson>(`/drains/${first.id}`);
    expect(r.status).toBe(200);
    expect(r.body.steps.every((s) => ['done', 'skipped'].includes(s.state))).toBe(true);
    expect((await providerDaemon.get<ErrorJson>('/drains/999999')).status).toBe(404);
  });

  it('/online undoes the drain; a consumer whose daemon is down counts as unreachable and the drain still completes', async () => {
    const on = await providerDaemon.get<{
      undone: boolean;
      drain: number;
      consumers: { released: number; results: Array<{ consumer: string; provider: string; result: string }> } | null;
    }>(`/online?pid=${provider.pid}`);
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ undone: true, drain: first.id });
    // The consumer the GoAway reached is told the provider is back, through the same daemon.
    expect(on.body.consumers).toMatchObject({ released: 1, failed: 0, unreachable: 0 });
    expect(on.body.consumers?.results[0]).toMatchObject({ consumer: '127.0.0.1', provider: `127.0.0.1:${port}`, result: 'notified' });
    expect((await consumerDaemon.get<string>('/metrics')).body).toMatch(/quiesce_goaway_received_total\{result="released"\} 1/);
    expect(consumerDaemon.logs()).toContain('"goaway release received"');
    await consumerDaemon.stop();
    const r = await providerDaemon.get<DrainJson>(`/offline?pid=${provider.pid}&timeout=10&quiet=0.2`);
    expect(r.status).toBe(200);
    expect(r.body.id).not.toBe(first.id);
    expect(r.body.outcome).toBe('drained');
    expect(r.body.consumers).toMatchObject({ notified: 0, unreachable: 1 });
    await providerDaemon.get(`/online?pid=${provider.pid}`);
  });

  it("refuses bad parameters and other callers' JVMs with a reason", async () => {
    const bad = await providerDaemon.get<ErrorJson>(`/offline?pid=${provider.pid}&timeout=-1`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('timeout');
    // A JVM in another network namespace is not the caller's own.
    const other = await providerDaemon.get<ErrorJson>(`/offline?pid=${isolatedJvm.pid}`);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');
    expect(other.body.error.message).toContain('admin token');
  });

  it("a GoAway may only remove its sender's own address", async () => {
    const r = await providerDaemon.post<ErrorJson>('/goaway', { provider: '10.1.2.3:20880', ttl: 30 });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    const own = await providerDaemon.post<{ provider: string; evicted: unknown[] }>('/goaway', { provider: '127.0.0.1:20880', ttl: 30 });
    expect(own.status).toBe(200);
    const release = await providerDaemon.post<ErrorJson>('/goaway', { provider: '10.1.2.3:20880', release: true });
    expect(release.status).toBe(403);
    expect(release.body.error.message).toContain('give back');
    const badRelease = await providerDaemon.post<ErrorJson>('/goaway', { provider: '127.0.0.1:20880', release: 'yes' });
    expect(badRelease.status).toBe(400);
    const malformed = await providerDaemon.post<ErrorJson>('/goaway', { provider: 'nope' });
    expect(malformed.status).toBe(400);
  });

  it('a daemon killed mid-drain: the next one resumes or reports it, and /online restores', async () => {
    const started = (): number => providerDaemon.logs().match(/"msg":"drain started"/g)?.length ?? 0;
    const before = started();
    const pending = providerDaemon.get(`/offline?pid=${provider.pid}&timeout=10&quiet=0.2`).catch((e: unknown) => e);
    const deadline = Date.now() + 10_000;
    while (started() === before) {
      if (Date.now() > deadline) throw new Error(providerDaemon.logs());
      await new Promise((r) => setTimeout(r, 5));
    }
    await providerDaemon.stop('SIGKILL');
    await pending;
    const next = await startDaemon({ stateDir, extraArgs: providerArgs() });
    extra.push(next);
    const drains = await settle(
      () => next.get<{ drains: DrainJson[] }>(`/drains?pid=${provider.pid}`),
      (r) => r.body.drains[0]?.outcome !== 'running',
      15_000,
    );
    const last = drains.body.drains[0]!;
    expect(['drained', 'timeout']).toContain(last.outcome);
    const on = await next.get<{ undone: boolean; drain: number }>(`/online?pid=${provider.pid}`);
    expect(on.body).toMatchObject({ undone: true, drain: last.id });
    expect(() => process.kill(provider.pid, 0)).not.toThrow();
  });

  it('a drain whose JVM exited while the daemon was down is ended as failed, never resumed into another process', async () => {
    // In the host's network namespace, as the caller: a self-drain, no admin token needed.
    const jvm = await startContainerJvm({
      javaHome: jdk17().home,
      classpath: buildFixtures().classes,
      mainClass: 'EchoServer',
      network: 'host',
    });
    const jvmPort = Number(/READY (\d+)/.exec(jvm.stdout())![1]);
    // The consumer's "daemon" accepts and never answers: the GoAway step holds the drain for its timeout and retry.
    const silent = createServer((c) => sockets.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const silentPort = (silent.address() as { port: number }).port;
    const dir = newStateDir();
    const args = ['--peer-port', String(silentPort), '--consumer-sample-interval', '200'];
    const first = await startDaemon({ stateDir: dir, extraArgs: args });
    extra.push(first);
    try {
      const client = connect({ host: '127.0.0.1', port: jvmPort });
      sockets.push(client);
      await settle(
        () => first.get<{ consumers: unknown[] }>(`/jvms/${jvm.pid}/consumers`),
        (r) => r.body.consumers.length > 0,
        15_000,
      );
      const pending = first.get(`/offline?pid=${jvm.pid}&timeout=20&quiet=0.2`).catch((e: unknown) => e);
      const seen = await settle(
        () => first.get<{ drains: DrainJson[] }>(`/drains?pid=${jvm.pid}`),
        (r) => r.body.drains[0]?.steps.find((s) => s.name === 'goaway')?.state === 'running',
        15_000,
      );
      expect(seen.body.drains[0]?.outcome).toBe('running');
      await first.stop('SIGKILL');
      await pending;
      await jvm.kill();
      const next = await startDaemon({ stateDir: dir, extraArgs: args });
      extra.push(next);
      const d = (await next.get<{ drains: DrainJson[] }>(`/drains?pid=${jvm.pid}`)).body.drains[0]!;
      expect(d.outcome).toBe('failed');
      for (const name of ['goaway', 'wait', 'events']) {
        expect(d.steps.find((s) => s.name === name)).toMatchObject({
          state: 'failed',
          outcome: 'the JVM exited while the daemon was down',
        });
      }
      expect(next.logs()).toContain('was not resumed: the JVM exited while the daemon was down');
      expect(next.logs()).not.toContain('resuming a drain');
    } finally {
      silent.close();
      await jvm.kill();
    }
  });

  it('a JVM that exits leaves /metrics: no series keeps its pid', async () => {
    const daemon = extra.find((d) => d.stateDir === stateDir && d.proc.exitCode === null && d.proc.signalCode === null)!;
    const label = `pid="${provider.pid}"`;
    expect((await daemon.get<string>('/metrics')).body).toContain(`quiesce_drain_phase{${label}}`);
    await provider.kill();
    const m = await settle(
      () => daemon.get<string>('/metrics'),
      (r) => !r.body.includes(label),
      15_000,
    );
    expect(m.body).not.toContain(label);
    expect(m.body).toContain('quiesce_jvms');
  });
});
