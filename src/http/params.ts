/** Reading a request's pid, traffic kinds and flags: every malformed value is a 400 naming it. */
import { QuiesceError } from '../errors.js';
import { parseTraffic, type TrafficKind } from '../traffic/kinds.js';

export function parsePid(raw: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new QuiesceError('bad_request', `pid must be a positive integer, got "${raw}"`);
  return Number(raw);
}

export function trafficRequest(body: unknown): { pid: number; traffic: TrafficKind[] } {
  const b = asObject(body);
  const pid = b['pid'];
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1)
    throw new QuiesceError('bad_request', 'body must be {"pid": N, "traffic"?: ["dubbo" | "springcloud", ...]}');
  return { pid, traffic: parseTraffic(b['traffic']) };
}

export function optionalPid(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new QuiesceError('bad_request', `pid must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function asObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new QuiesceError('bad_request', 'body must be a JSON object');
  return body as Record<string, unknown>;
}

export function queryFlag(query: unknown, name: string): boolean {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  return v === '' || v === '1' || v === 'true';
}
