/**
 * Step 3: tell every recent consumer's daemon now, instead of waiting for the registry to
 * propagate (30 s to minutes). Consumers come from /proc and the agent's reports, each mapped to
 * its daemon; the provider's ip:port names it on the consumer's side.
 */
import type { InventoryReport } from '../../gen/quiesce/agent/v1/agent.js';
import { joinHostPort } from '../../goaway/address.js';
import { MAX_GOAWAY_SERVICES, MAX_SERVICE_LENGTH } from '../../goaway/receive.js';
import { sendGoAways, type GoAwayTarget } from '../../goaway/send.js';
import { countResults } from '../summary.js';
import type { Step, StepContext } from './context.js';

export const goaway: Step = async (ctx) => {
  const targets = await targetsOf(ctx);
  if (targets.length === 0) return { outcome: 'no recent consumer', detail: { results: [] }, skipped: true };
  const results = await sendGoAways(targets, {
    ttlSeconds: ctx.deps.goawayTtlSeconds,
    timeoutMs: ctx.deps.goawayTimeoutMs,
    concurrency: 8,
    deadline: ctx.deadline,
  });
  for (const r of results) ctx.deps.metrics.goawaySent.inc({ result: r.result });
  const n = countResults(results);
  return { outcome: `${n.notified} notified, ${n.failed} failed, ${n.unreachable} unreachable`, detail: { results } };
};

async function targetsOf(ctx: StepContext): Promise<GoAwayTarget[]> {
  const { record, deps } = ctx;
  const seen = await deps.consumers.recent(record.pid, record.startTime);
  // Services narrow the eviction down only when already known: the GoAway never waits for the inventory.
  const known = await Promise.race([ctx.inventory, Promise.resolve(null)]);
  const services = servicesOf(known);
  const out = new Map<string, GoAwayTarget>();
  for (const c of seen) {
    if (!c.localAddress) continue;
    const peer = deps.resolver.resolve({ address: c.address, consumerNode: c.consumerNode });
    if (!peer) continue;
    const provider = joinHostPort(c.localAddress, c.localPort);
    out.set(`${peer}\u0000${provider}`, { peer, consumer: c.address, provider, services });
  }
  return [...out.values()];
}

/** The services to name, or none (every service of the provider) past what a receiver accepts. */
function servicesOf(inv: InventoryReport | null): string[] {
  const regs = (inv?.frameworks ?? []).flatMap((f) => f.registries.flatMap((r) => [...r.registered, ...r.removed]));
  const services = [...new Set(regs.map(serviceOf).filter((s): s is string => !!s))];
  const fits = services.length <= MAX_GOAWAY_SERVICES && services.every((s) => s.length <= MAX_SERVICE_LENGTH);
  return fits ? services : [];
}

/** The service a registration names: a Dubbo URL's path (interface), or a Spring Cloud serviceId. */
function serviceOf(registration: string): string | null {
  const dubbo = /^[a-z0-9]+:\/\/[^/]+\/([^?]+)/.exec(registration);
  if (dubbo) return dubbo[1] ?? null;
  const sc = /^(\S+) \S+:\d+$/.exec(registration);
  return sc?.[1] ?? null;
}
