/** Step 1: take the JVM out of every service registry it is in (Dubbo, Spring Cloud). */
import { toChangeView } from '../../traffic/isolator.js';
import { isolateCounted } from '../../traffic/hold.js';
import { SERVICE_KINDS } from '../../traffic/kinds.js';
import { presentKinds, type Step } from './context.js';

export const deregister: Step = async (ctx) => {
  const kinds = await presentKinds(ctx, SERVICE_KINDS);
  if (kinds.length === 0) return { outcome: 'no service registry in this JVM', detail: { kinds: [] }, skipped: true };
  const changes = await ctx.deps.serial.run(ctx.record.pid, () => isolateCounted(ctx.client, kinds, ctx.deps.metrics));
  const n = changes.reduce((a, c) => a + c.deregistered.length, 0);
  return { outcome: `deregistered ${n} registration(s) from ${kinds.join(', ')}`, detail: { kinds, changes: changes.map(toChangeView) } };
};
