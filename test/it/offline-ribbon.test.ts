/**
 * Lossless offline for Spring Cloud Netflix Ribbon (Hoxton, Boot 2.3), for real: two hosts
 * (network namespaces on a bridge), a real ZooKeeper on the switch, a quiesce daemon per host.
 * Provider instance 1 of "greeter" runs on host A; provider 2 and a @LoadBalanced consumer (Ribbon,
 * its server list fetched every 30 s by default, no retry, a call every 20 ms) run on host B.
 *
 * With quiesce: /offline on A (deregister → GoAway to B's daemon, whose agent takes provider 1 out
 * of the consumer's Ribbon load balancer and wraps its server list filter so that the next refresh
 * does not bring it back → wait until idle), then SIGTERM: no request fails. Baseline: SIGTERM
 * alone (Ribbon keeps choosing the dead instance until its next refresh). Then the daemon on A is
 * killed in the middle of a drain: the restarted one reports the drain from its journal, and
 * /online puts everything back (the registry node, and with it the consumer's traffic).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLog, calls, sigterm } from '../../testkit/offline-scenario.js';
import { sleep, until } from '../../testkit/poll.js';
import type { DrainJson } from '../../testkit/api-types.js';
import { SpringCloudTwoHosts } from '../../testkit/springcloud-two-hosts.js';

const SERVICE = '/services/greeter';

// The consumers: Ribbon with its default 30 s refresh unless a round says otherwise; no spring-retry, so no retry.
const env = new SpringCloudTwoHosts('springcloud-ribbon', []);
const summary: string[] = [];

/** The ZooKeeper nodes under /services/greeter whose payload names this host. */
async function nodesOn(address: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of await env.zk.children(SERVICE)) {
    const data = await env.zk.data(`${SERVICE}/${id}`);
    if (data && (JSON.parse(data) as { address: string }).address === address) out.set(id, data);
  }
  return out;
}

beforeAll(() => env.setUp(), 180_000);

afterAll(async () => {
  await env.tearDown();
  if (summary.length) console.log(`[offline-ribbon]\n  ${summary.join('\n  ')}`);
});

describe('lossless offline, Spring Cloud Netflix Ribbon (30 s refresh) across two hosts', () => {
  it('with quiesce: /offline then SIGTERM loses no request; the consumer stops calling provider 1 within 1 s', async () => {
    summary.push(...(await env.quiesceRelease('ribbon')));
  }, 180_000);

  it('/offline then /online: the consumer calls provider 1 again at once, not at its next refresh', async () => {
    summary.push(await env.offlineThenOnline('ribbon'));
  }, 180_000);

  it('baseline, SIGTERM only: Ribbon keeps choosing the dead instance until its next refresh, and calls fail', async () => {
    const { failed, line } = await env.sigtermOnlyRelease();
    summary.push(line);
    expect(failed).toBeGreaterThan(0);
  }, 180_000);

  it('the daemon killed mid-drain: the restarted one reports the drain, and /online puts the registration and the traffic back', async () => {
    // A 2 s refresh here, so that the consumer finds provider 1 again soon after /online (the default is 30 s).
    const { provider1, consumer } = await env.round('K1', ['--greeter.ribbon.ServerListRefreshInterval=2000']);
    await env.attachBoth(provider1, consumer);
    const before = await nodesOn(env.hostA);
    expect(before.size).toBe(1);
    const [nodeId, payload] = [...before][0]!;

    // A long quiet window keeps the drain in its wait step long enough to kill the daemon there.
    const pending = env.daemonA.get(`/offline?pid=${provider1.pid}&timeout=30&quiet=8`).catch((e: unknown) => e);
    const drain = await until('the drain to reach its wait step', 15_000, async () => {
      const d = await env.daemonA.get<{ drains: DrainJson[] }>(`/drains?pid=${provider1.pid}`);
      const latest = d.body.drains[0];
      return latest?.steps.find((s) => s.name === 'wait')?.state === 'running' ? latest : null;
    });
    expect(drain.steps.find((s) => s.name === 'deregister')).toMatchObject({ state: 'done' });
    expect((await nodesOn(env.hostA)).size).toBe(0);
    const stateDir = env.daemonA.stateDir;
    await env.daemonA.stop('SIGKILL');
    await pending;
    const tKilled = Date.now();
    await sleep(500);
    expect((await nodesOn(env.hostA)).size).toBe(0);

    env.daemonA = await env.startDaemonA(stateDir);
    const reported = await until('the restarted daemon to report the drain', 30_000, async () => {
      const d = await env.daemonA.get<{ drains: DrainJson[] }>(`/drains?pid=${provider1.pid}`);
      return d.body.drains.find((x) => x.id === drain.id);
    });
    const reportedMs = Date.now() - tKilled;
    expect(['running', 'drained', 'timeout']).toContain(reported.outcome);
    // Taken out, and kept out, while the daemon was down and since.
    expect((await nodesOn(env.hostA)).size).toBe(0);
    const failedBefore = calls(consumer).filter((c) => c.who === null).length;

    const tOnline = Date.now();
    const on = await env.daemonA.get<{ undone: boolean; drain: number; restored: Array<{ traffic: string; restored: string[] }> }>(
      `/online?pid=${provider1.pid}`,
    );
    const onlineMs = Date.now() - tOnline;
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body).toMatchObject({ undone: true, drain: drain.id });
    expect(on.body.restored).toContainEqual(
      expect.objectContaining({ traffic: 'springcloud', restored: [expect.stringContaining(env.hostA)] }),
    );
    // The same node, with the same payload, as before the drain.
    expect(await nodesOn(env.hostA)).toEqual(new Map([[nodeId, payload]]));
    const back = await until('the consumer to call K1 again', 30_000, () => calls(consumer).find((c) => c.at > tOnline && c.who === 'K1'));
    const after = await env.daemonA.get<{ drains: DrainJson[] }>(`/drains?pid=${provider1.pid}`);
    const final = after.body.drains.find((x) => x.id === drain.id)!;
    summary.push(
      `daemon killed mid-drain: reported by the restarted daemon as '${reported.outcome}' ${reportedMs} ms after the kill ` +
        `(final: ${final.outcome}); /online answered in ${onlineMs} ms (it waits for the resumed drain), the consumer called K1 again ${back.at - tOnline} ms after it was called`,
    );
    expect(['drained', 'timeout']).toContain(final.outcome);
    expect(calls(consumer).filter((c) => c.who === null).length).toBe(failedBefore);
    // The isolation is gone too: nothing holds the node out any more.
    await sleep(3_000);
    expect((await nodesOn(env.hostA)).size).toBe(1);
    // Once a refresh no longer listed K1, the consumer's balancer got its own filter back: nothing of ours stays in it.
    const log = agentLog(consumer);
    expect(log).toMatch(/goaway: ribbon no longer keeps \S+ out of greeter \(the registry no longer lists it\)/);
    expect(log).toMatch(/goaway: ribbon put back greeter's own server list filter/);
    await consumer.kill();
    await sigterm(provider1);
  }, 180_000);
});
