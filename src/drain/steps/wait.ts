/**
 * Step 4: wait adaptively, until nothing is in flight and nothing new arrived for the quiet
 * window, or the deadline. An agent without inbound counters leaves only the quiet window to wait.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Step, StepResult } from './context.js';

const POLL_MS = 100;

export const wait: Step = async (ctx): Promise<StepResult> => {
  const quiet = ctx.record.params.quietMs;
  const gauge = { pid: String(ctx.record.pid) };
  let polls = 0;
  for (;;) {
    polls++;
    const inbound = await ctx.client.inbound(false);
    if (!inbound) {
      await sleep(Math.min(quiet, Math.max(0, ctx.deadline - Date.now())), undefined, { signal: ctx.signal });
      return { outcome: `no inbound counters in this agent; waited the quiet window (${quiet} ms)`, detail: { polls } };
    }
    const { inFlight, lastRequestMillis } = inbound;
    ctx.deps.metrics.inflight.set(gauge, inFlight);
    const now = Date.now();
    const idleFor = lastRequestMillis === 0 ? Number.POSITIVE_INFINITY : now - lastRequestMillis;
    if (inFlight === 0 && idleFor >= quiet) {
      const last = lastRequestMillis ? `${idleFor} ms` : 'never';
      return { outcome: `idle: nothing in flight, last request ${last} ago`, detail: { inFlight, lastRequestMillis, polls } };
    }
    if (now >= ctx.deadline) {
      return { outcome: `timeout with ${inFlight} request(s) in flight`, detail: { inFlight, lastRequestMillis, polls }, timedOut: true };
    }
    await sleep(Math.min(POLL_MS, ctx.deadline - now), undefined, { signal: ctx.signal });
  }
};
