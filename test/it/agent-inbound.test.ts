/**
 * Inbound request counting (issue 5): the agent weaves HttpServlet.service (javax and jakarta) in
 * a running embedded Tomcat, and Spring WebFlux's HttpWebHandlerAdapter.handle on Reactor Netty
 * (where a request stays in flight until its Mono ends, not when the method returns), the daemon reads the counters through GET /jvms/:pid/inbound, and a
 * detach puts the original bytes back. Real JVMs in stand-in containers; Tomcat binds 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute } from '../../src/jvm/attach/index.js';
import { inspectPid } from '../../src/jvm/discovery.js';
import { SMALL_JVM_FLAGS, startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { jdk17, temurin, type JavaHome } from '../../testkit/java-homes.js';
import { buildMavenFixture } from '../../testkit/maven-fixtures.js';
import { sleep } from '../../testkit/poll.js';

interface InboundJson {
  pid: number;
  inFlight: number;
  total: number;
  lastRequestMillis: number;
  entries: { kind: string; inFlight: number; total: number }[];
  peers: { address: string; localPort: number; requests: number; consumerNode: string; lastSeenMillis: number }[];
  instrumented: string[];
}

interface Case {
  readonly fixture: string;
  readonly entry: string;
  /** The InboundEntry kind the entry point counts under. */
  readonly kind: string;
  readonly home: () => JavaHome;
}

const CASES: readonly Case[] = [
  { fixture: 'inbound-servlet', entry: 'servlet-javax', kind: 'servlet', home: jdk17 },
  { fixture: 'inbound-servlet-jakarta', entry: 'servlet-jakarta', kind: 'servlet', home: temurin },
  { fixture: 'inbound-webflux', entry: 'webflux', kind: 'webflux', home: jdk17 },
];

let daemon: DaemonProcess;
const apps = new Map<string, { jvm: ContainerJvm; port: number }>();

beforeAll(async () => {
  // The daemon's consumer tracker drains the agents' peers too: keep it out of this file's way.
  daemon = await startDaemon({ extraArgs: ['--consumer-sample-interval', '3600000'] });
  await Promise.all(
    CASES.map(async (c) => {
      const fixture = buildMavenFixture(c.fixture);
      const jvm = await startContainerJvm({
        javaHome: c.home().home,
        hostClasspath: fixture.classpath,
        mainClass: 'demo.SlowApp',
        network: 'host',
        readyLine: 'READY',
        readyTimeoutMs: 60_000,
        // JDK 21+ would print its own warning for a dynamically loaded agent (JEP 451): not ours.
        jvmFlags: [...SMALL_JVM_FLAGS, '-XX:+IgnoreUnrecognizedVMOptions', '-XX:+EnableDynamicAgentLoading'],
      });
      const port = Number(/READY port=(\d+)/.exec(jvm.stdout())![1]);
      apps.set(c.fixture, { jvm, port });
    }),
  );
}, 240_000);

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([...apps.values()].map((a) => a.jvm.kill()));
});

describe.each(CASES)('inbound requests, $fixture', (c) => {
  const app = (): { jvm: ContainerJvm; port: number } => apps.get(c.fixture)!;
  const url = (path: string): string => `http://127.0.0.1:${app().port}${path}`;
  const inbound = async (drainPeers = false): Promise<InboundJson> => {
    const r = await daemon.get<InboundJson>(`/jvms/${app().jvm.pid}/inbound${drainPeers ? '?drainPeers=1' : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const entry = (r: InboundJson): { inFlight: number; total: number } => r.entries.find((e) => e.kind === c.kind)!;
  const waitFor = async (what: string, check: (r: InboundJson) => boolean, timeoutMs = 5_000): Promise<InboundJson> => {
    const until = Date.now() + timeoutMs;
    let last = await inbound();
    while (!check(last)) {
      if (Date.now() > until) throw new Error(`${what}: still ${JSON.stringify(last)}`);
      await sleep(50);
      last = await inbound();
    }
    return last;
  };
  const agentThreadsGone = async (): Promise<void> => {
    const target = await inspectPid(app().jvm.pid);
    for (let i = 0; i < 100; i++) {
      const dump = await execute(target, 'threaddump');
      if (!dump.body.split('\n').some((l) => l.startsWith('"quiesce-'))) return;
      await sleep(100);
    }
    throw new Error('agent threads still running after detach');
  };

  it('attach weaves the entry point once, with nothing counted yet', async () => {
    const r = await daemon.post(`/jvms/${app().jvm.pid}/attach`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const report = await inbound();
    expect(report.instrumented).toEqual([c.entry]);
    expect(report).toMatchObject({ inFlight: 0, total: 0, lastRequestMillis: 0 });
    expect(report.entries.map((e) => e.kind).sort()).toEqual(['dubbo', 'servlet', 'webflux']);
  });

  it('counts 5 slow requests in flight, then none; total and last_request_millis move', async () => {
    const before = Date.now();
    const slow = Array.from({ length: 5 }, () => fetch(url('/slow?ms=2000')).then((r) => r.text()));
    const during = await waitFor('5 in flight', (r) => r.inFlight === 5, 1_800);
    expect(entry(during)).toEqual({ kind: c.kind, inFlight: 5, total: 5 });
    expect(during.lastRequestMillis).toBeGreaterThanOrEqual(before - 1_000);
    expect(await Promise.all(slow)).toEqual(Array(5).fill('slow'));
    const after = await waitFor('none in flight', (r) => r.inFlight === 0);
    expect(after.total).toBe(5);
    expect(entry(after)).toMatchObject({ inFlight: 0, total: 5 });

    const last = after.lastRequestMillis;
    await sleep(20);
    expect(await (await fetch(url('/fast'))).text()).toBe('fast');
    // WebFlux ends a request when its Mono terminates, just after the client has the last byte: wait for both.
    const moved = await waitFor('total 6, none in flight', (r) => r.total === 6 && r.inFlight === 0);
    expect(moved.lastRequestMillis).toBeGreaterThan(last);
  });

  it('reports the peers (address, local port, announced node) and forgets them on drain', async () => {
    await fetch(url('/fast'), { headers: { 'X-Quiesce-Node': '10.9.8.7:7370' } }).then((r) => r.text());
    const r = await inbound(true);
    const plain = r.peers.find((p) => p.consumerNode === '');
    const announced = r.peers.find((p) => p.consumerNode === '10.9.8.7:7370');
    expect(plain).toMatchObject({ address: '127.0.0.1', localPort: app().port });
    expect(plain!.requests).toBeGreaterThanOrEqual(6);
    expect(announced).toMatchObject({ address: '127.0.0.1', localPort: app().port, requests: 1 });
    expect(announced!.lastSeenMillis).toBeGreaterThan(Date.now() - 60_000);
    expect((await inbound(true)).peers).toEqual([]);
    // Without drainPeers no peers are returned (nor forgotten).
    expect((await inbound()).peers).toEqual([]);
  });

  it('a request that fails inside the application still leaves in_flight at 0', async () => {
    const total = (await inbound()).total;
    const r = await fetch(url('/boom'));
    expect(r.status).toBe(500);
    await r.text();
    const after = await waitFor('boom counted and ended', (x) => x.total === total + 1 && x.inFlight === 0);
    expect(after.total).toBe(total + 1);
  });

  if (c.kind === 'servlet') {
    it('an async request (startAsync) stays in flight until its AsyncContext completes, then counts once', async () => {
      const total = (await inbound()).total;
      const pending = Array.from({ length: 3 }, () => fetch(url('/async?ms=1500')).then((r) => r.text()));
      // The servlet thread is long gone: only the AsyncContext holds these requests.
      const during = await waitFor('3 async in flight', (r) => r.inFlight === 3, 1_400);
      expect(entry(during)).toMatchObject({ inFlight: 3, total: total + 3 });
      expect(await Promise.all(pending)).toEqual(Array(3).fill('async'));
      const after = await waitFor('none in flight', (r) => r.inFlight === 0);
      expect(after.total).toBe(total + 3);
    });

    it('an async request finished by an ASYNC dispatch is one request, in flight until the dispatch completes it', async () => {
      const total = (await inbound()).total;
      const pending = Array.from({ length: 2 }, () => fetch(url('/async?ms=1200&dispatch=1')).then((r) => r.text()));
      await waitFor('2 async in flight', (r) => r.inFlight === 2, 1_100);
      expect(await Promise.all(pending)).toEqual(Array(2).fill('fast'));
      const after = await waitFor('none in flight', (r) => r.inFlight === 0);
      expect(after.total).toBe(total + 2);
    });
  }

  it('/offline waits for the requests in flight, and ends in timeout when one outlasts it', async () => {
    interface Drain {
      outcome: string;
      durationSeconds: number;
      inFlightAtEnd: number | null;
      steps: Array<{ name: string; outcome: string | null }>;
    }
    const wait = (d: Drain): string | null | undefined => d.steps.find((x) => x.name === 'wait')?.outcome;
    const two = Array.from({ length: 2 }, () => fetch(url('/slow?ms=2500')).then((r) => r.text()));
    await waitFor('2 in flight', (r) => r.inFlight === 2, 2_000);
    const t0 = Date.now();
    const drained = await daemon.get<Drain>(`/offline?pid=${app().jvm.pid}&timeout=10&quiet=0.3`);
    const took = Date.now() - t0;
    expect(drained.status, JSON.stringify(drained.body)).toBe(200);
    expect(drained.body).toMatchObject({ outcome: 'drained', inFlightAtEnd: 0 });
    expect(wait(drained.body)).toMatch(/^idle: nothing in flight/);
    // It waited for the two requests (about 2 s left of their 2.5 s), not a fixed time.
    expect(took).toBeGreaterThan(1_500);
    expect(took).toBeLessThan(6_000);
    expect(await Promise.all(two)).toEqual(['slow', 'slow']);
    expect((await daemon.get<{ undone: boolean }>(`/online?pid=${app().jvm.pid}`)).body.undone).toBe(true);

    const long = fetch(url('/slow?ms=5000')).then((r) => r.text());
    await waitFor('1 in flight', (r) => r.inFlight === 1, 2_000);
    const timedOut = await daemon.get<Drain>(`/offline?pid=${app().jvm.pid}&timeout=1.5&quiet=0.3`);
    expect(timedOut.status, JSON.stringify(timedOut.body)).toBe(200);
    expect(timedOut.body).toMatchObject({ outcome: 'timeout', inFlightAtEnd: 1 });
    expect(wait(timedOut.body)).toBe('timeout with 1 request(s) in flight');
    expect(timedOut.body.durationSeconds).toBeLessThan(4);
    expect(await long).toBe('slow');
    expect((await daemon.get<{ undone: boolean }>(`/online?pid=${app().jvm.pid}`)).body.undone).toBe(true);
  }, 30_000);

  it('detach restores the original class; a new attach weaves it once again', async () => {
    const d = await daemon.post(`/jvms/${app().jvm.pid}/detach`);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    await agentThreadsGone();
    // Started with no agent: if HttpServlet were still woven, the counters (which outlive the
    // agent, in the bootstrap jar) would count them and the next agent would see them in flight.
    const unseen = Array.from({ length: 3 }, () => fetch(url('/slow?ms=8000')).then((r) => r.text()));
    await sleep(300);
    const again = await daemon.post<{ alreadyAttached: boolean }>(`/jvms/${app().jvm.pid}/attach`);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.alreadyAttached).toBe(false);
    const fresh = await inbound();
    expect(fresh.instrumented).toEqual([c.entry]);
    expect(fresh).toMatchObject({ inFlight: 0, total: 0 });

    // Woven once, not twice: two requests are two in flight.
    const counted = Array.from({ length: 2 }, () => fetch(url('/slow?ms=1500')).then((r) => r.text()));
    const during = await waitFor('2 in flight', (r) => r.inFlight === 2, 1_400);
    expect(during.total).toBe(2);
    await Promise.all(counted);
    expect(await Promise.all(unseen)).toEqual(Array(3).fill('slow'));
    const after = await waitFor('none in flight', (r) => r.inFlight === 0);
    expect(after.total).toBe(2);
  }, 30_000);

  it("leaves the application's stdout and stderr alone", () => {
    expect(app().jvm.stdout()).toBe(`READY port=${app().port}\n`);
    expect(app().jvm.stderr()).toBe('');
  });
});
