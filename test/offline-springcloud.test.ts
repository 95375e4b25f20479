/**
 * Lossless offline for Spring Cloud, for real: two hosts (network namespaces on a bridge), a real
 * ZooKeeper on the switch, a quiesce daemon per host. Provider instance 1 of "greeter" runs on
 * host A; provider instance 2 and a @LoadBalanced consumer (Spring Cloud LoadBalancer with its
 * default 35 s instance cache, no retry, a call every 20 ms) run on host B. Every app binds and
 * registers its host's own address.
 *
 * With quiesce: /offline on A (deregister → GoAway to B's daemon, whose agent drops provider 1
 * from the consumer's LoadBalancer cache → wait until idle), then SIGTERM, as kubelet would: no
 * request fails. Baselines (same file, fresh provider 1 and consumer each): SIGTERM alone, and
 * deregistration alone (/isolate) followed by SIGTERM — what quiesce beats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLog, calls, sigterm, sleep } from './support/offline-scenario.js';
import { SpringCloudTwoHosts } from './support/springcloud-two-hosts.js';

interface DrainJson {
  outcome: string;
  durationSeconds: number;
  steps: Array<{ name: string; state: string; outcome: string | null; durationSeconds: number | null }>;
  consumers: {
    notified: number;
    failed: number;
    unreachable: number;
    results: Array<{ result: string; consumer: string; provider: string; peer: string; durationMs: number; evicted: { evicted?: Array<{ framework: string; service: string; removed: number; error: string | null }> } }>;
  };
}

// The consumers: default cache TTL (35 s), no retry.
const env = new SpringCloudTwoHosts('springcloud-boot3', ['--spring.cloud.loadbalancer.cache.ttl=35s', '--spring.cloud.loadbalancer.retry.enabled=false']);
const summary: string[] = [];

beforeAll(() => env.setUp(), 180_000);

afterAll(async () => {
  await env.tearDown();
  if (summary.length) console.log(`[offline-springcloud]\n  ${summary.join('\n  ')}`);
});

describe('lossless offline, Spring Cloud LoadBalancer (35 s cache) across two hosts', () => {
  it('with quiesce: /offline then SIGTERM loses no request; the consumer stops calling provider 1 within 1 s', async () => {
    const { provider1, consumer } = await env.round('P1');
    await env.attachBoth(provider1, consumer);
    await sleep(1_000);

    const t0 = Date.now();
    const r = await env.daemonA.get<DrainJson>(`/offline?pid=${provider1.pid}&timeout=20&quiet=1`);
    const t1 = Date.now();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const exitMs = await sigterm(provider1);
    await sleep(2_000);

    const after = calls(consumer).filter((c) => c.at >= t0);
    const failed = calls(consumer).filter((c) => c.who === null);
    const lastP1 = Math.max(...calls(consumer).filter((c) => c.who === 'P1').map((c) => c.at));
    const goaway = r.body.consumers.results[0];
    const log = agentLog(consumer);
    summary.push(
      `quiesce: ${failed.length} failed of ${calls(consumer).length} calls; last call to P1 ${lastP1 - t0} ms after /offline; ` +
        `/offline answered in ${t1 - t0} ms (${r.body.outcome}; steps ${r.body.steps.map((s) => `${s.name}=${s.state}${s.durationSeconds !== null ? `:${s.durationSeconds}s` : ''}`).join(' ')}; ` +
        `wait: ${r.body.steps.find((s) => s.name === 'wait')?.outcome}); ` +
        `GoAway round trip ${goaway?.durationMs} ms; P1 exited ${exitMs} ms after SIGTERM; ${after.length} calls after /offline, all to P2`,
      `consumer's agent: ${log.split('\n').filter((l) => l.includes('goaway:')).map((l) => l.replace(/^\S+ INFO \[[^\]]*\] /, '')).join(' | ')}`,
    );
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(lastP1 - t0).toBeLessThan(1_000);
    expect(after.filter((c) => c.at > t0 + 1_000).every((c) => c.who === 'P2')).toBe(true);
    expect(after.filter((c) => c.at > t1).length).toBeGreaterThan(50);
    expect(r.body.outcome).toBe('drained');
    expect(t1 - t0).toBeLessThan(10_000);
    expect(r.body.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 0 });
    expect(goaway).toMatchObject({ consumer: env.hostB, peer: `${env.hostB}:7370`, result: 'notified' });
    expect(goaway!.provider).toMatch(new RegExp(`^${env.hostA.replace(/\./g, '\\.')}:\\d+$`));
    expect(goaway!.evicted.evicted).toContainEqual({ pid: consumer.pid, framework: 'springcloud-loadbalancer', service: 'greeter', removed: 1, error: null });
    expect((await env.daemonB.get<string>('/metrics')).body).toMatch(/quiesce_goaway_received_total\{result="ok"\} 1\b/);
    const received = env.daemonB.logs().split('\n').filter((l) => l.includes('"goaway received"')).map((l) => JSON.parse(l) as { sender: string; removed: number });
    expect(received).toEqual([expect.objectContaining({ sender: env.hostA, removed: 1 })]);
    expect(log).toMatch(new RegExp(`goaway: springcloud-loadbalancer dropped ${env.hostA.replace(/\./g, '\\.')}:\\d+ from \\{greeter=1\\}`));
    await consumer.kill();
  }, 180_000);

  it('baseline, SIGTERM only: the consumer keeps choosing the dead instance from its cache, and calls fail', async () => {
    const { provider1, consumer } = await env.round('S1');
    const t0 = Date.now();
    const exitMs = await sigterm(provider1);
    await sleep(4_000);
    const after = calls(consumer).filter((c) => c.at >= t0);
    const failed = after.filter((c) => c.who === null);
    summary.push(
      `SIGTERM only: ${failed.length} failed of ${after.length} calls in the ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGTERM ` +
        `(S1 exited after ${exitMs} ms; first error: ${failed[0]?.error ?? 'none'})`,
    );
    expect(failed.length).toBeGreaterThan(0);
    await consumer.kill();
  }, 180_000);

  it('baseline, deregister only (/isolate, then SIGTERM): the consumer keeps calling the instance from its cache, then fails', async () => {
    const { provider1, consumer } = await env.round('D1');
    const iso = await env.daemonA.post<{ changes: Array<{ deregistered: string[] }> }>('/isolate', { pid: provider1.pid, traffic: ['springcloud'] });
    expect(iso.status, JSON.stringify(iso.body)).toBe(200);
    expect(iso.body.changes[0]?.deregistered).toHaveLength(1);
    // Deregistered from ZooKeeper once /isolate answers.
    const t0 = Date.now();
    // A preStop that only deregisters, then waits a few seconds (what quiesce replaces).
    await sleep(6_000);
    const callsToD1 = calls(consumer).filter((c) => c.at >= t0 && c.who === 'D1');
    const lastD1 = Math.max(t0, ...callsToD1.map((c) => c.at));
    const t1 = Date.now();
    const exitMs = await sigterm(provider1);
    await sleep(3_000);
    const failed = calls(consumer).filter((c) => c.at >= t1 && c.who === null);
    summary.push(
      `deregister only: ${callsToD1.length} calls still reached D1 in the 6 s after deregistration (the last ${lastD1 - t0} ms after; the registry no longer listed it); ` +
        `then ${failed.length} failed calls in the ${((Date.now() - t1) / 1000).toFixed(1)} s after SIGTERM (D1 exited after ${exitMs} ms)`,
    );
    expect(lastD1 - t0).toBeGreaterThan(5_000);
    expect(failed.length).toBeGreaterThan(0);
    await consumer.kill();
  }, 180_000);
});
