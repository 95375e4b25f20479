import { QuiesceError } from '../errors.js';

/** The kinds of traffic /isolate and /restore act on. */
export const TRAFFIC_KINDS = ['dubbo', 'springcloud', 'rocketmq'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/** Service traffic: consumers find the JVM through a registry. */
export const SERVICE_KINDS: readonly TrafficKind[] = ['dubbo', 'springcloud'];
/** Event traffic: the JVM's own clients pull from a broker. */
export const EVENT_KINDS: readonly TrafficKind[] = ['rocketmq'];

export function isTrafficKind(k: unknown): k is TrafficKind {
  return typeof k === 'string' && (TRAFFIC_KINDS as readonly string[]).includes(k);
}

/** The known kinds among strings read back from a journal (anything else is dropped). */
export function trafficKinds(list: readonly string[]): TrafficKind[] {
  return list.filter(isTrafficKind);
}

/** Validates a request's `traffic` field: absent or empty means every kind the JVM has. */
export function parseTraffic(raw: unknown): TrafficKind[] {
  if (raw === undefined || raw === null) return [];
  const list: unknown =
    typeof raw === 'string'
      ? raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : raw;
  if (!Array.isArray(list)) throw new QuiesceError('bad_request', `"traffic" must be an array of ${TRAFFIC_KINDS.join(', ')}`);
  const out: TrafficKind[] = [];
  for (const k of list as unknown[]) {
    if (!isTrafficKind(k))
      throw new QuiesceError('bad_request', `unknown traffic kind ${JSON.stringify(k)}; known: ${TRAFFIC_KINDS.join(', ')}`);
    if (!out.includes(k)) out.push(k);
  }
  return out;
}
