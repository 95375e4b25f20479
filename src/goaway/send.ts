/**
 * Sends GoAway to consumers' daemons: in parallel with a bound, each call with a timeout
 * and one retry, from the provider's own address (a GoAway may only remove its sender).
 */
import { request } from 'node:http';
import { splitHostPort } from './address.js';

export type GoAwayResultKind = 'notified' | 'failed' | 'unreachable';

export interface GoAwayTarget {
  /** "host:port" of the consumer's daemon. */
  peer: string;
  /** The consumer's address, for the report. */
  consumer: string;
  /** "ip:port" of the provider going away, as the consumer dialled it. */
  provider: string;
  services: string[];
}

export interface GoAwayResult {
  peer: string;
  consumer: string;
  provider: string;
  result: GoAwayResultKind;
  status: number | null;
  error: string | null;
  attempts: number;
  evicted: unknown;
  durationMs: number;
}

export interface GoAwayOptions {
  ttlSeconds: number;
  timeoutMs: number;
  concurrency: number;
  /** Latest moment to still send (the drain's deadline). */
  deadline: number;
  /** Send a release ("the provider is back", /online) instead of a GoAway. */
  release?: boolean;
}

export async function sendGoAways(targets: GoAwayTarget[], opts: GoAwayOptions): Promise<GoAwayResult[]> {
  const results: GoAwayResult[] = new Array(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      results[i] = await sendOne(targets[i]!, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, targets.length) }, worker));
  return results;
}

async function sendOne(t: GoAwayTarget, opts: GoAwayOptions): Promise<GoAwayResult> {
  const started = Date.now();
  let last: { status: number | null; error: string | null; body: unknown; unreachable: boolean } = { status: null, error: 'not sent', body: null, unreachable: true };
  let attempts = 0;
  for (; attempts < 2; ) {
    const left = opts.deadline - Date.now();
    if (left <= 0) break;
    attempts++;
    last = await post(t, opts, Math.min(opts.timeoutMs, left));
    if (last.status !== null && last.status < 500) break;
  }
  const result: GoAwayResultKind = last.status !== null && last.status >= 200 && last.status < 300 ? 'notified' : last.unreachable ? 'unreachable' : 'failed';
  return { peer: t.peer, consumer: t.consumer, provider: t.provider, result, status: last.status, error: last.error, attempts, evicted: last.body, durationMs: Date.now() - started };
}

function post(t: GoAwayTarget, opts: GoAwayOptions, timeoutMs: number): Promise<{ status: number | null; error: string | null; body: unknown; unreachable: boolean }> {
  const [host, port] = splitHostPort(t.peer);
  const providerHost = splitHostPort(t.provider)[0];
  const body = JSON.stringify(opts.release ? { provider: t.provider, services: t.services, release: true } : { provider: t.provider, services: t.services, ttl: opts.ttlSeconds });
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port,
        method: 'POST',
        path: '/goaway',
        // The consumer's daemon checks that a GoAway comes from the provider's own address.
        localAddress: providerHost,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep the text
          }
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
          resolve({ status: res.statusCode ?? null, error: ok ? null : text.slice(0, 500), body: parsed, unreachable: false });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const unreachable = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EADDRNOTAVAIL'].includes(e.code ?? '') || /no answer/.test(e.message);
      resolve({ status: null, error: `${e.code ?? 'error'}: ${e.message}`, body: null, unreachable });
    });
    req.end(body);
  });
}
