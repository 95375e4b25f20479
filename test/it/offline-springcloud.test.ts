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
import { calls, sigterm } from '../../testkit/offline-scenario.js';
import { sleep } from '../../testkit/poll.js';
import { SpringCloudTwoHosts } from '../../testkit/springcloud-two-hosts.js';

// The consumers: default cache TTL (35 s), no retry.
const env = new SpringCloudTwoHosts('springcloud-boot3', [
  '--spring.cloud.loadbalancer.cache.ttl=35s',
  '--spring.cloud.loadbalancer.retry.enabled=false',
]);
const summary: string[] = [];

beforeAll(() => env.setUp(), 180_000);

afterAll(async () => {
  await env.tearDown();
  if (summary.length) console.log(`[offline-springcloud]\n  ${summary.join('\n  ')}`);
});

describe('lossless offline, Spring Cloud LoadBalancer (35 s cache) across two hosts', () => {
  it('with quiesce: /offline then SIGTERM loses no request; the consumer stops calling provider 1 within 1 s', async () => {
    summary.push(...(await env.quiesceRelease('springcloud-loadbalancer')));
  }, 180_000);

  it('/offline then /online: the consumer calls provider 1 again at once, not at its next refresh', async () => {
    summary.push(await env.offlineThenOnline('springcloud-loadbalancer'));
  }, 180_000);

  it('baseline, SIGTERM only: the consumer keeps choosing the dead instance from its cache, and calls fail', async () => {
    const { failed, line } = await env.sigtermOnlyRelease();
    summary.push(line);
    expect(failed).toBeGreaterThan(0);
  }, 180_000);

  it('baseline, deregister only (/isolate, then SIGTERM): the consumer keeps calling the instance from its cache, then fails', async () => {
    const { provider1, consumer } = await env.round('D1');
    const iso = await env.daemonA.post<{ changes: Array<{ deregistered: string[] }> }>('/isolate', {
      pid: provider1.pid,
      traffic: ['springcloud'],
    });
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
