/**
 * Lossless offline for Dubbo, for real: two hosts (network namespaces on a bridge), a real
 * ZooKeeper on the switch, a quiesce daemon per host. Provider 1 of demo.GreetingService runs on
 * host A; provider 2 and a consumer (through the registry, retries=0, timeout 3 s, a call every
 * 15 ms) run on host B. Every app binds and registers its host's own address (-Ddemo.host).
 * One file per Dubbo line (test/offline-dubbo*.test.ts).
 *
 * With quiesce: /offline on A (deregister + read-only event on P1's channels + GoAway to B's
 * daemon, whose agent evicts P1 in the consumer: Dubbo 3.1+ disables P1's invokers in its
 * directories, Dubbo 2.x marks their channels read-only → wait until idle), then SIGTERM, as
 * kubelet would: no request fails. The consumer reaches ZooKeeper through a proxy that holds
 * ZooKeeper's pushes back REGISTRY_DELAY_MS while the drain runs: a registry slower than the
 * direct notifications, which is what they are for (on this network ZooKeeper's watch is as fast
 * as they are, and would otherwise remove P1's invokers first about half of the time, leaving the
 * GoAway nothing to evict). Then /online after an /offline without SIGTERM: P1 is
 * registered again and the writeable event (Dubbo 3.2.1+; reported as skipped before) lets the
 * consumer call it again. Baselines (fresh provider 1 and consumer each): SIGTERM alone (Dubbo's
 * own shutdown hook, which sends the read-only event itself), and deregistration alone (/isolate)
 * followed by SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from './container.js';
import { startDaemon, type DaemonProcess } from './daemon.js';
import { createNetwork, type TestNetwork } from './hosts.js';
import { jdk17 } from './java-homes.js';
import { buildMavenFixture, type MavenFixture } from './maven-fixtures.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';
import { agentLog, calls, connectionsTo, sigterm } from './offline-scenario.js';
import { sleep, until } from './poll.js';
import { dubboJvmFlags } from './dubbo-flags.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';
import type { DrainJson, OnlineJson } from './api-types.js';

export interface OfflineDubboOptions {
  /** A Maven fixture with demo.Provider and demo.Consumer (zk direct-port interval, -Ddemo.host, -Ddemo.timeout). */
  fixture: string;
  label: string;
  /** The agent's name for it: alibaba-dubbo (com.alibaba.dubbo 2.6) or apache-dubbo. */
  framework: 'alibaba-dubbo' | 'apache-dubbo';
  version: RegExp;
  /** Dubbo 3.1+: B's agent finds the consumer's directories by a heap walk at attach time (2.x needs none: static DubboProtocol). */
  directories: boolean;
  /** Dubbo 3.2.1+: the writeable event (W) that /online sends; before, /online reports it skipped. */
  writeableEvent: boolean;
}

const FLAGS = dubboJvmFlags('192m');
const SERVICE = 'demo.GreetingService';
const PROVIDERS = `/dubbo/${SERVICE}/providers`;
const INTERVAL_MS = 15;
/**
 * The consumer's call timeout: 3 s rather than the fixture's 1 s, so that a CPU-starved test
 * machine does not count as lost requests; a call to a provider that is gone still fails at once.
 */
const CALL_TIMEOUT_MS = 3_000;
/** How late ZooKeeper's pushes reach the consumer during /offline in the quiesce test (see above). */
const REGISTRY_DELAY_MS = 500;

/** When Dubbo's consumer logged "ChannelReadOnly set true" (its log lines start with a time of day), relative to t0. */
function readOnlyMarks(consumer: ContainerJvm, t0: number): string {
  const lines = (consumer.stdout() + consumer.stderr()).split('\n').filter((l) => l.includes('ChannelReadOnly set true'));
  if (lines.length === 0) return 'not logged';
  return lines
    .map((l) => {
      const m = /(\d{2}):(\d{2}):(\d{2})[.,](\d{3})/.exec(l);
      if (!m) return l.slice(0, 80);
      const d = new Date(t0);
      d.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
      return `+${d.getTime() - t0}`;
    })
    .join(' ');
}

export function offlineDubboSuite(o: OfflineDubboOptions): void {
  const token = randomBytes(24).toString('hex');
  let net: TestNetwork;
  let zk: ZooKeeper;
  /** ZooKeeper as host B's consumer reaches it: through a proxy that can hold its pushes back. */
  let zkForConsumer: DelayProxy;
  let fixture: MavenFixture;
  let daemonA: DaemonProcess;
  let daemonB: DaemonProcess;
  /** Provider 2 on host B, started in beforeAll and awaited by the first round. */
  let provider2: Promise<ContainerJvm>;
  const jvms: ContainerJvm[] = [];
  let nextPort = 20881;

  const hostA = (): string => net.hosts[0]!.address;
  const hostB = (): string => net.hosts[1]!.address;

  function start(host: 0 | 1, mainClass: string, args: string[], flags: string[] = []): Promise<ContainerJvm> {
    const h = net.hosts[host]!;
    return startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: fixture.classpath,
      mainClass,
      args,
      // Dubbo registers and binds this host's own address, never loopback (demo.Loopback).
      jvmFlags: [...FLAGS, `-Ddemo.host=${h.address}`, ...flags],
      netns: h.netns,
      readyLine: 'READY',
      readyTimeoutMs: 120_000,
    }).then((j) => (jvms.push(j), j));
  }

  /** A provider on that host; a port of its own each time (a previous provider 1 may still hold its port). */
  function startProvider(name: string, host: 0 | 1): Promise<{ jvm: ContainerJvm; port: number }> {
    const port = nextPort++;
    return start(host, 'demo.Provider', [name, String(port), zk.connectString]).then((jvm) => ({ jvm, port }));
  }

  /**
   * The consumer on host B: through the registry, retries=0, a call every INTERVAL_MS. With
   * `direct`, also a reference straight to that provider (a call every 5th round, logged apart as
   * DIRECT and not counted): its connection stays open whatever the registry says.
   */
  function startConsumer(direct?: { host: string; port: number }): Promise<ContainerJvm> {
    const flags = [`-Ddemo.timeout=${CALL_TIMEOUT_MS}`, ...(direct ? [`-Ddemo.direct-host=${direct.host}`] : [])];
    return start(1, 'demo.Consumer', [zkForConsumer.connectString, String(direct?.port ?? 0), String(INTERVAL_MS)], flags);
  }

  /** Attaches the agent ahead of time; once more when a loaded machine made it miss the daemon's 15 s. */
  async function attach(daemon: DaemonProcess, pid: number): Promise<void> {
    let r = await daemon.post(`/jvms/${pid}/attach`);
    if (r.status !== 200) r = await daemon.post(`/jvms/${pid}/attach`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }

  /**
   * Both agents attached ahead of time (as the adopt policy does: /offline spends no time
   * attaching), daemon A seeing the consumer on host B, and B's agent having found the consumer's
   * directories at attach time (warm-up), not in the GoAway.
   */
  async function attachBoth(provider1: ContainerJvm, consumer: ContainerJvm): Promise<void> {
    await Promise.all([attach(daemonA, provider1.pid), attach(daemonB, consumer.pid)]);
    await until('daemon A to see the consumer on host B', 15_000, async () => {
      const r = await daemonA.get<{ consumers?: Array<{ address: string }> }>(`/jvms/${provider1.pid}/consumers`);
      return r.body.consumers?.some((c) => c.address === hostB());
    });
    if (o.directories)
      await until("B's agent to have found the consumer's directories", 15_000, () =>
        /goaway: dubbo found [1-9]\d* directories/.test(agentLog(consumer)),
      );
  }

  /**
   * A fresh provider 1 on host A and a fresh consumer on host B, calling both providers. `since`:
   * when both had answered (the consumer's calls before, while it waited for the registry, are not
   * counted: setCheck(false) makes them fail with "No provider available").
   */
  async function round(
    name: string,
    directToProvider1 = false,
  ): Promise<{ provider1: ContainerJvm; port1: number; consumer: ContainerJvm; since: number }> {
    const port1 = nextPort;
    const [p1, consumer] = await Promise.all([
      startProvider(name, 0),
      startConsumer(directToProvider1 ? { host: hostA(), port: port1 } : undefined),
      provider2,
    ]);
    const since = await until(`the consumer calling ${name} and P2`, 60_000, () => {
      const all = calls(consumer);
      const first = (who: string): number | undefined => all.find((c) => c.who === who)?.at;
      const a = first(name);
      const b = first('P2');
      return a !== undefined && b !== undefined ? Math.max(a, b) : undefined;
    });
    return { provider1: p1.jvm, port1: p1.port, consumer, since };
  }

  const providerNode = async (port: number): Promise<string | undefined> =>
    (await zk.children(PROVIDERS)).find((u) => decodeURIComponent(u).startsWith(`dubbo://${hostA()}:${port}/`));

  const summary: string[] = [];

  beforeAll(async () => {
    net = createNetwork(2);
    const env = { QUIESCE_ADMIN_TOKEN: token };
    fixture = buildMavenFixture(o.fixture);
    [zk, daemonA, daemonB] = await Promise.all([
      startZooKeeper({ host: net.switchAddress }),
      startDaemon({ netns: net.hosts[0]!.netns, host: hostA(), httpPort: 7370, env, extraArgs: ['--consumer-sample-interval', '200'] }),
      startDaemon({ netns: net.hosts[1]!.netns, host: hostB(), httpPort: 7370, env }),
    ]);
    zkForConsumer = await startDelayProxy(net.switchAddress, { host: net.switchAddress, port: zk.port });
    provider2 = startProvider('P2', 1).then((p) => p.jvm);
    provider2.catch(() => undefined);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(jvms.map((j) => j.kill()));
    await Promise.all([daemonA?.stop(), daemonB?.stop()]);
    await zkForConsumer?.close();
    await zk?.stop();
    net?.close();
    if (summary.length) console.log(`[offline-dubbo, ${o.label}]\n  ${summary.join('\n  ')}`);
  });

  describe(`lossless offline, ${o.label} (ZooKeeper registry, retries=0) across two hosts`, () => {
    it('with quiesce: /offline then SIGTERM loses no request; the consumer stops calling provider 1 within 1 s', async () => {
      const { provider1, port1, consumer, since } = await round('P1');
      await attachBoth(provider1, consumer);
      await sleep(1_000);

      zkForConsumer.setDelay(REGISTRY_DELAY_MS);
      const t0 = Date.now();
      const r = await daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=20&quiet=1`);
      const t1 = Date.now();
      zkForConsumer.setDelay(0);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const logA = agentLog(provider1);
      const exitMs = await sigterm(provider1);
      await sleep(2_000);

      const all = calls(consumer);
      const counted = all.filter((c) => c.at >= since);
      const failed = counted.filter((c) => c.who === null);
      const after = all.filter((c) => c.at >= t0);
      const lastP1 = Math.max(...all.filter((c) => c.who === 'P1').map((c) => c.at));
      const goaway = r.body.consumers.results[0];
      const readOnly = r.body.steps.find((s) => s.name === 'read_only');
      const announced = readOnly?.detail as { channels?: number; framework?: string; version?: string; error?: string } | null;
      const dubboEvictions = (goaway?.evicted.evicted ?? []).filter((e) => e.framework === 'dubbo');
      const log = agentLog(consumer);
      summary.push(
        `quiesce: ${failed.length} failed of ${counted.length} calls (${all.length - counted.length} start-up calls before both providers answered not counted); ` +
          `last call to P1 ${lastP1 - t0} ms after /offline; /offline answered in ${t1 - t0} ms (${r.body.outcome}; steps ${r.body.steps
            .map((s) => `${s.name}=${s.state}${s.durationSeconds !== null ? `:${s.durationSeconds}s` : ''}`)
            .join(' ')}; read_only: ${readOnly?.outcome}; wait: ${r.body.steps.find((s) => s.name === 'wait')?.outcome}); ` +
          `GoAway round trip ${goaway?.durationMs} ms, evicted ${JSON.stringify(dubboEvictions)}; P1 exited ${exitMs} ms after SIGTERM; ${after.length} calls after /offline`,
        `timeline after /offline (ms): drain started +${r.body.startedAt - t0}, phase 1 started +${(readOnly?.startedAt ?? 0) - t0}, ` +
          `read-only mark on the consumer (Dubbo's log) ${readOnlyMarks(consumer, t0)}, calls to P1 at ${all
            .filter((c) => c.who === 'P1' && c.at >= t0)
            .map((c) => `+${c.at - t0}`)
            .join(' ')}`,
        `provider's agent during /offline: ${logA
          .split('\n')
          .filter((l) => {
            const m = /^(\S+)/.exec(l);
            const t = m ? Date.parse(m[1]!) : NaN;
            return t >= t0 - 100 && t <= t1;
          })
          .map((l) => `+${Date.parse(/^(\S+)/.exec(l)![1]!) - t0} ${l.replace(/^\S+ \S+ \[[^\]]*\] /, '').slice(0, 160)}`)
          .join(' | ')}`,
        `consumer's agent (ms after /offline): ${log
          .split('\n')
          .filter((l) => l.includes('goaway:'))
          .map((l) => `+${Date.parse(/^(\S+)/.exec(l)![1]!) - t0} ${l.replace(/^\S+ INFO \[[^\]]*\] /, '')}`)
          .join(' | ')}`,
      );
      expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
      expect(lastP1 - t0).toBeLessThan(1_000);
      expect(after.filter((c) => c.at > t0 + 1_000).every((c) => c.who === 'P2')).toBe(true);
      expect(after.filter((c) => c.at > t1).length).toBeGreaterThan(50);
      expect(r.body.outcome).toBe('drained');
      expect(t1 - t0).toBeLessThan(10_000);
      expect(readOnly?.state).toBe('done');
      expect(announced).toMatchObject({ framework: o.framework, version: expect.stringMatching(o.version) });
      expect(announced?.channels).toBeGreaterThanOrEqual(1);
      expect(announced?.error ?? '').toBe('');
      expect(r.body.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
      expect(goaway).toMatchObject({ consumer: hostB(), peer: `${hostB()}:7370`, provider: `${hostA()}:${port1}`, result: 'notified' });
      // The GoAway finds P1 in the consumer (the registry's push comes later) and drops it: 3.1+ disables its
      // invokers; 2.x marks their channels read-only, or finds them so already (P1's read-only event came first).
      expect(dubboEvictions).toContainEqual(
        expect.objectContaining({ pid: consumer.pid, framework: 'dubbo', service: SERVICE, error: null }),
      );
      expect(dubboEvictions.find((e) => e.service === SERVICE)?.removed).toBeGreaterThanOrEqual(1);
      expect((await daemonB.get<string>('/metrics')).body).toMatch(/quiesce_goaway_received_total\{result="ok"\} 1\b/);
      expect(log).toMatch(new RegExp(`goaway: dubbo dropped ${hostA().replace(/\./g, '\\.')}:${port1} from `));
      await consumer.kill();
    }, 240_000);

    it(
      o.writeableEvent
        ? '/online after /offline: provider 1 is registered again, the writeable event reaches the consumer, which calls it again'
        : '/online after /offline: provider 1 is registered again, the writeable event is reported skipped (this Dubbo has none), and the consumer calls it again',
      async () => {
        // Dubbo 3 closes a connection once no invoker uses it, sooner or later after the deregistration:
        // a direct reference to O1 keeps it open, so the writeable event has a channel to clear.
        // (Not for Dubbo < 3.2.1: without that event such a kept connection would stay read-only.)
        const { provider1, port1, consumer, since } = await round('O1', o.writeableEvent);
        // B's agent stays detached: the writeable event alone is under test, not the GoAway's eviction.
        await attach(daemonA, provider1.pid);
        expect(await providerNode(port1)).toBeDefined();
        const conns = (): number[] => connectionsTo(consumer, hostA(), port1);
        const connsBefore = conns();
        const off = await daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=10&quiet=0.5`);
        expect(off.status, JSON.stringify(off.body)).toBe(200);
        expect(off.body.steps.find((s) => s.name === 'read_only')?.state).toBe('done');
        expect(await providerNode(port1)).toBeUndefined();
        await until('the consumer to stop calling O1', 5_000, () => {
          const last = calls(consumer).at(-1);
          return last !== undefined && last.at > off.body.startedAt + 500 && last.who === 'P2';
        });

        const connsAtOnline = conns();
        const t0 = Date.now();
        const on = await daemonA.get<OnlineJson>(`/online?pid=${provider1.pid}`);
        const t1 = Date.now();
        expect(on.status, JSON.stringify(on.body)).toBe(200);
        const back = await until('the provider node back in ZooKeeper', 10_000, () => providerNode(port1)).then(() => Date.now());
        const again = await until(
          'the consumer to call O1 again',
          15_000,
          () => calls(consumer).find((c) => c.who === 'O1' && c.at >= t0)?.at,
        );
        const failed = calls(consumer).filter((c) => c.at >= since && c.who === null);
        const connsAfter = conns();
        summary.push(
          `/online: answered in ${t1 - t0} ms, writeable ${JSON.stringify(on.body.writeable)}; provider node back +${back - t0} ms; ` +
            `the consumer called O1 again +${again - t0} ms after /online; ${failed.length} failed calls; the consumer's connections to O1 ` +
            `(its local ports): before /offline ${JSON.stringify(connsBefore)}, at /online ${JSON.stringify(connsAtOnline)}, after ${JSON.stringify(connsAfter)}`,
        );
        expect(on.body).toMatchObject({ pid: provider1.pid, undone: true });
        expect(on.body.restored.length).toBeGreaterThan(0);
        if (o.writeableEvent) {
          expect(on.body.writeable).toMatchObject({ framework: o.framework, version: expect.stringMatching(o.version) });
          expect(on.body.writeable?.channels).toBeGreaterThanOrEqual(1);
          expect(on.body.writeable?.error).toBeUndefined();
          expect(on.body.writeable?.skipped).toBeUndefined();
          // Dubbo 3.3 keeps the connection the read-only event marked through the drain, and the new invoker
          // shares it: only the writeable event's clearing that mark lets the consumer choose O1 again.
          expect(connsAtOnline.length).toBeGreaterThan(0);
          expect(connsAfter).toEqual(expect.arrayContaining(connsAtOnline));
        } else {
          expect(on.body.writeable).toMatchObject({
            channels: 0,
            framework: o.framework,
            skipped: expect.stringMatching(/has no writeable event/),
          });
          expect(on.body.writeable?.error).toBeUndefined();
        }
        expect(again - t0).toBeLessThan(5_000);
        expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
        await consumer.kill();
        await provider1.kill();
      },
      240_000,
    );

    if (o.writeableEvent) {
      it("/online with the consumer's agent attached too: the GoAway is released, and the consumer calls provider 1 again", async () => {
        // The direct reference keeps O2 listed in one of the consumer's directories, so the GoAway's keep
        // lasts through the drain and the release has disabled invokers to recover. (Through the registry,
        // O2's new registration is a new invoker that Dubbo 3 would use by itself: a release matters most
        // to load balancers that cache lists, Spring Cloud's and Ribbon, tested in their own files.)
        const { provider1, consumer, since } = await round('O2', true);
        await attachBoth(provider1, consumer);
        const off = await daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=10&quiet=0.5`);
        expect(off.status, JSON.stringify(off.body)).toBe(200);
        expect(off.body.consumers).toMatchObject({ notified: 1 });
        await until('the consumer to stop calling O2', 5_000, () => {
          const last = calls(consumer).at(-1);
          return last !== undefined && last.at > off.body.startedAt + 500 && last.who === 'P2';
        });
        await sleep(1_000);
        const t0 = Date.now();
        const on = await daemonA.get<OnlineJson>(`/online?pid=${provider1.pid}`);
        expect(on.status, JSON.stringify(on.body)).toBe(200);
        expect(on.body.consumers).toMatchObject({ released: 1, failed: 0, unreachable: 0 });
        expect(on.body.consumers!.results[0]!.evicted.evicted).toContainEqual(
          expect.objectContaining({ framework: 'dubbo', released: expect.any(Number) }),
        );
        const released = on.body
          .consumers!.results[0]!.evicted.evicted!.filter((e) => e.framework === 'dubbo')
          .reduce((n, e) => n + e.released, 0);
        expect(released).toBeGreaterThanOrEqual(1);
        const again = await until(
          'the consumer to call O2 again',
          10_000,
          () => calls(consumer).find((c) => c.who === 'O2' && c.at >= t0)?.at,
        );
        const failed = calls(consumer).filter((c) => c.at >= since && c.who === null);
        summary.push(
          `/online with the consumer's agent attached: ${released} invoker(s) given back by the release; the consumer called O2 again +${again - t0} ms after /online; ${failed.length} failed calls`,
        );
        expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
        expect(again - t0).toBeLessThan(5_000);
        expect(agentLog(consumer)).toMatch(/goaway: dubbo gave \S+ back \([1-9]\d* invoker\(s\) recovered/);
        await consumer.kill();
        await provider1.kill();
      }, 240_000);
    }

    it("baseline, SIGTERM only: Dubbo's own shutdown hook — what happens without quiesce", async () => {
      const { provider1, consumer, since } = await round('S1');
      const t0 = Date.now();
      const exitMs = await sigterm(provider1);
      await sleep(3_000);
      const all = calls(consumer);
      const failed = all.filter((c) => c.at >= since && c.who === null);
      const lastS1 = Math.max(...all.filter((c) => c.who === 'S1').map((c) => c.at));
      summary.push(
        `SIGTERM only: ${failed.length} failed of ${all.filter((c) => c.at >= t0).length} calls after SIGTERM; last call to S1 ${lastS1 - t0} ms after SIGTERM; ` +
          `S1 exited after ${exitMs} ms${failed[0] ? `; first error: ${failed[0].error}` : ''}`,
      );
      // Without a preStop, S1 takes new requests until SIGTERM itself; then Dubbo's shutdown hook
      // unregisters and sends the read-only event itself (3.3: first thing on SIGTERM).
      expect(lastS1 - t0).toBeGreaterThan(-500);
      expect(lastS1 - t0).toBeLessThan(exitMs + 100);
      await consumer.kill();
    }, 240_000);

    it('baseline, deregister only (/isolate, then SIGTERM): the registry push moves the consumer off', async () => {
      const { provider1, consumer, since } = await round('D1');
      const t0 = Date.now();
      const iso = await daemonA.post<{ changes: Array<{ deregistered: string[] }> }>('/isolate', {
        pid: provider1.pid,
        traffic: ['dubbo'],
      });
      expect(iso.status, JSON.stringify(iso.body)).toBe(200);
      const t1 = Date.now();
      await sleep(3_000);
      const toD1 = calls(consumer).filter((c) => c.at >= t0 && c.who === 'D1');
      const lastD1 = Math.max(t0, ...toD1.map((c) => c.at));
      const t2 = Date.now();
      const exitMs = await sigterm(provider1);
      await sleep(2_000);
      const failed = calls(consumer).filter((c) => c.at >= since && c.who === null);
      summary.push(
        `deregister only: /isolate answered in ${t1 - t0} ms; ${toD1.length} calls reached D1 after /isolate was sent, the last ${lastD1 - t0} ms after it (${lastD1 - t1} ms after its answer); ` +
          `${failed.length} failed calls in all (D1 exited ${exitMs} ms after SIGTERM, sent ${t2 - t0} ms after /isolate)${failed[0] ? `; first error: ${failed[0].error}` : ''}`,
      );
      // D1 keeps taking new requests while the deregistration runs; Dubbo's registry push (ZooKeeper
      // watch) moves the consumer off soon after it ends.
      expect(toD1.length).toBeGreaterThan(0);
      expect(lastD1 - t1).toBeLessThan(1_500);
      await consumer.kill();
    }, 240_000);
  });
}
