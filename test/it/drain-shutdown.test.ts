/**
 * A daemon stopped gracefully (SIGTERM, as Kubernetes stops the DaemonSet's pod on an upgrade)
 * in the middle of a drain. Regression: the drain kept writing its journal while the daemon closed
 * the database under it. Now the drainer is closed first: the drain stops between steps, stays
 * `running` in the journal, the /offline that waited on it is answered, and the next daemon
 * resumes it from its first unfinished step.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { newStateDir, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';

interface DrainJson {
  id: number;
  outcome: string;
  steps: Array<{ name: string; state: string; detail: unknown }>;
}

const sockets: Socket[] = [];
const daemons: DaemonProcess[] = [];
let jvm: ContainerJvm | undefined;

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  await jvm?.kill();
});

describe('a daemon stopped mid-drain', () => {
  it('answers the waiting /offline, leaves the drain running in its journal, and the next daemon resumes it', async () => {
    jvm = await startContainerJvm({ javaHome: jdk17().home, classpath: buildFixtures().classes, mainClass: 'EchoServer', network: 'host' });
    const jvmPort = Number(/READY (\d+)/.exec(jvm.stdout())![1]);
    // The consumer's "daemon" accepts and never answers: the GoAway step lasts its timeout and one retry (~3 s).
    const silent = createServer((c) => sockets.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const args = ['--peer-port', String((silent.address() as { port: number }).port), '--consumer-sample-interval', '200'];
    const stateDir = newStateDir();
    try {
      const first = await startDaemon({ stateDir, extraArgs: args });
      daemons.push(first);
      const client = connect({ host: '127.0.0.1', port: jvmPort });
      sockets.push(client);
      await until(
        () => first.get<{ consumers: unknown[] }>(`/jvms/${jvm!.pid}/consumers`),
        (r) => r.body.consumers.length > 0,
      );
      const pending = first.get<DrainJson>(`/offline?pid=${jvm.pid}&timeout=20&quiet=0.2`);
      await until(
        () => first.get<{ drains: DrainJson[] }>(`/drains?pid=${jvm!.pid}`),
        (r) => r.body.drains[0]?.steps.find((s) => s.name === 'goaway')?.state === 'running',
      );
      const t0 = Date.now();
      await first.stop('SIGTERM');
      const stoppedMs = Date.now() - t0;
      // The request that waited on the drain got an answer, not a reset connection.
      const answered = await pending;
      expect(answered.status, JSON.stringify(answered.body)).toBe(200);
      expect(answered.body.outcome).toBe('running');
      expect(first.logs()).toContain('drain left running for the next daemon to resume');
      // Bounded by the step under way (the GoAway's timeout and retry), not by the drain's 20 s timeout.
      expect(stoppedMs).toBeLessThan(8_000);

      const next = await startDaemon({ stateDir, extraArgs: args });
      daemons.push(next);
      const ended = await until(
        () => next.get<{ drains: DrainJson[] }>(`/drains?pid=${jvm!.pid}`),
        (r) => r.body.drains[0]?.outcome !== 'running',
        20_000,
      );
      const d = ended.body.drains[0]!;
      expect(d.id).toBe(answered.body.id);
      expect(d.outcome).toBe('drained');
      expect(d.steps.map((s) => s.state)).toEqual(['skipped', 'skipped', 'done', 'done', 'skipped']);
      expect(next.logs()).toContain('resuming a drain interrupted by a daemon restart');
    } finally {
      silent.close();
    }
  });
});
