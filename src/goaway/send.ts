/**
 * Sends GoAway to consumers' daemons: in parallel with a bound, each call with a total deadline
 * and one retry, its answer capped, from the provider's own address (a GoAway may only remove its sender).
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
  /** Bound on each attempt as a whole (connect, request, the full answer), not on silence between bytes. */
  timeoutMs: number;
  concurrency: number;
  /** Latest moment to still send (the drain's deadline). */
  deadline: number;
  /** Send a release ("the provider is back", /online) instead of a GoAway. */
  release?: boolean;
}

export async function sendGoAways(targets: GoAwayTarget[], opts: GoAwayOptions): Promise<GoAwayResult[]> {
  const results = new Array<GoAwayResult>(targets.length);
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

/** Bytes of a peer's answer kept; a longer answer is discarded and the call failed (README "Limits"). */
export const MAX_ANSWER_BYTES = 64 << 10;

interface Attempt {
  status: number | null;
  error: string | null;
  body: unknown;
  unreachable: boolean;
  /** The peer answered but the answer is unusable (over the cap, or not complete in time): not retried. */
  broken: boolean;
}

async function sendOne(t: GoAwayTarget, opts: GoAwayOptions): Promise<GoAwayResult> {
  const started = Date.now();
  let last: Attempt = { status: null, error: 'not sent', body: null, unreachable: true, broken: false };
  let attempts = 0;
  for (; attempts < 2;) {
    const left = opts.deadline - Date.now();
    if (left <= 0) break;
    attempts++;
    last = await post(t, opts, Math.min(opts.timeoutMs, left));
    if (last.broken || (last.status !== null && last.status < 500)) break;
  }
  const ok = !last.broken && last.status !== null && last.status >= 200 && last.status < 300;
  const result: GoAwayResultKind = ok ? 'notified' : last.unreachable ? 'unreachable' : 'failed';
  return {
    peer: t.peer,
    consumer: t.consumer,
    provider: t.provider,
    result,
    status: last.status,
    error: last.error,
    attempts,
    evicted: last.body,
    durationMs: Date.now() - started,
  };
}

const UNREACHABLE = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EADDRNOTAVAIL'];

/**
 * One attempt. `timeoutMs` bounds the whole exchange (connect, request, every byte of the
 * answer), not the silence between bytes: a peer trickling a byte a second is cut at the bound.
 */
function post(t: GoAwayTarget, opts: GoAwayOptions, timeoutMs: number): Promise<Attempt> {
  const [host, port] = splitHostPort(t.peer);
  const providerHost = splitHostPort(t.provider)[0];
  const body = JSON.stringify(
    opts.release
      ? { provider: t.provider, services: t.services, release: true }
      : { provider: t.provider, services: t.services, ttl: opts.ttlSeconds },
  );
  return new Promise((resolve) => {
    let settled = false;
    let status: number | null = null;
    const settle = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const req = request(
      {
        host,
        port,
        method: 'POST',
        path: '/goaway',
        // The consumer's daemon checks that a GoAway comes from the provider's own address.
        localAddress: providerHost,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        status = res.statusCode ?? null;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            settle({
              status,
              error: `answer larger than ${MAX_ANSWER_BYTES} bytes: discarded`,
              body: null,
              unreachable: false,
              broken: true,
            });
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep the text
          }
          const ok = status !== null && status >= 200 && status < 300;
          settle({ status, error: ok ? null : text.slice(0, 500), body: parsed, unreachable: false, broken: false });
        });
        res.on('error', (e) => settle({ status, error: `answer cut: ${e.message}`, body: null, unreachable: false, broken: true }));
      },
    );
    const timer = setTimeout(() => {
      if (status === null)
        settle({ status: null, error: `TIMEOUT: no answer within ${timeoutMs} ms`, body: null, unreachable: true, broken: false });
      else settle({ status, error: `answer not complete within ${timeoutMs} ms: discarded`, body: null, unreachable: false, broken: true });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      settle({
        status: null,
        error: `${e.code ?? 'error'}: ${e.message}`,
        body: null,
        unreachable: UNREACHABLE.includes(e.code ?? ''),
        broken: false,
      });
    });
    req.end(body);
  });
}
