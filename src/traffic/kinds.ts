import { QuiesceError } from '../errors.js';

/** The kinds of traffic /isolate and /restore act on. */
export const TRAFFIC_KINDS = ['dubbo', 'springcloud', 'rocketmq'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/** Validates a request's `traffic` field: absent or empty means every kind the JVM has. */
export function parseTraffic(raw: unknown): TrafficKind[] {
  if (raw === undefined || raw === null) return [];
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
  if (!Array.isArray(list)) throw new QuiesceError('bad_request', `"traffic" must be an array of ${TRAFFIC_KINDS.join(', ')}`);
  const out: TrafficKind[] = [];
  for (const k of list) {
    if (typeof k !== 'string' || !(TRAFFIC_KINDS as readonly string[]).includes(k)) {
      throw new QuiesceError('bad_request', `unknown traffic kind ${JSON.stringify(k)}; known: ${TRAFFIC_KINDS.join(', ')}`);
    }
    if (!out.includes(k as TrafficKind)) out.push(k as TrafficKind);
  }
  return out;
}
