/** Step 5, once nothing is in flight: stop event traffic (hold RocketMQ clients off their brokers). */
import { toChangeView } from '../../traffic/isolator.js';
import { isolateCounted } from '../../traffic/hold.js';
import { EVENT_KINDS } from '../../traffic/kinds.js';
import { presentKinds, type Step } from './context.js';

export const events: Step = async (ctx) => {
  const kinds = await presentKinds(ctx, EVENT_KINDS);
  if (kinds.length === 0) return { outcome: 'no event client in this JVM', detail: { kinds: [] }, skipped: true };
  const changes = await ctx.deps.serial.run(ctx.record.pid, () => isolateCounted(ctx.client, kinds, ctx.deps.metrics));
  const closed = changes.reduce((a, c) => a + c.deregistered.length, 0);
  return { outcome: `held ${kinds.join(', ')}: ${closed} channel(s) closed`, detail: { kinds, changes: changes.map(toChangeView) } };
};
