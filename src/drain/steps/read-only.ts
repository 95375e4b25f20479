/** Step 2: Dubbo providers tell the consumers on their channels they are read-only (event "R"). */
import { presentKinds, type Step } from './context.js';

export const readOnly: Step = async (ctx) => {
  if ((await presentKinds(ctx, ['dubbo'])).length === 0) return { outcome: 'no Dubbo provider', detail: null, skipped: true };
  const a = await ctx.client.announceReadOnly(false);
  return { outcome: `read-only event sent on ${a.channels} channel(s)`, detail: a };
};
