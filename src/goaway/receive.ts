/**
 * GoAway, consumer side: a provider's daemon says "I am going away"; every local JVM's agent
 * evicts that provider from its load-balancer caches at once and keeps it out for the TTL
 * (or until the registry stops listing it). A GoAway may only remove its sender's address.
 * A release (`"release": true`, sent by /online) says "I am back": the agents stop keeping it
 * out and have their frameworks list it again now, from the registry.
 */
import { QuiesceError, isQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { Fleet } from '../agent/fleet.js';
import { hostOf, normalizeAddress, parseIpPort } from './address.js';

export interface GoAwayRequest {
  provider: string;
  services: string[];
  ttlSeconds: number;
  /** The provider is back: give it back to the consumers' lists instead of removing it. */
  release: boolean;
}

export interface EvictionView {
  pid: number;
  framework: string;
  service: string;
  removed: number;
  /** On a release: lists / balancers / invokers given the provider back. */
  released: number;
  error: string | null;
}

export interface GoAwayAnswer {
  provider: string;
  release: boolean;
  evicted: EvictionView[];
  jvms: number;
}

export const MAX_TTL_SECONDS = 3600;
/** More services than any provider exports: each is a command to every agent on the node. */
export const MAX_GOAWAY_SERVICES = 512;
/** Longer than any interface name or serviceId. */
export const MAX_SERVICE_LENGTH = 256;

const SHAPE = 'body must be {"provider": "ip:port", "services"?: [...], "ttl"?: seconds, "release"?: boolean}';

/** A GoAway comes from any peer on the network: everything in it is checked and bounded before an agent sees it. */
export function parseGoAway(body: unknown): GoAwayRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new QuiesceError('bad_request', SHAPE);
  const b = body as Record<string, unknown>;
  const provider = b['provider'];
  if (typeof provider !== 'string') throw new QuiesceError('bad_request', SHAPE);
  if (!parseIpPort(provider))
    throw new QuiesceError(
      'bad_request',
      '"provider" must be an IP address and a port from 1 to 65535 ("ip:port" or "[ip6]:port"), ' +
        `got ${JSON.stringify(provider.slice(0, 80))}`,
    );
  const services: unknown = b['services'] ?? [];
  if (!isStringArray(services)) throw new QuiesceError('bad_request', '"services" must be an array of strings');
  if (services.length > MAX_GOAWAY_SERVICES)
    throw new QuiesceError('bad_request', `"services" lists ${services.length} services, more than ${MAX_GOAWAY_SERVICES}`);
  const bad = services.find((s) => s.length === 0 || s.length > MAX_SERVICE_LENGTH || hasControlCharacter(s));
  if (bad !== undefined)
    throw new QuiesceError(
      'bad_request',
      `every service must be 1 to ${MAX_SERVICE_LENGTH} printable characters, got one of ${bad.length}`,
    );
  const release = b['release'] ?? false;
  if (typeof release !== 'boolean') throw new QuiesceError('bad_request', '"release" must be true or false');
  const ttl = b['ttl'] ?? 60;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS)
    throw new QuiesceError('bad_request', `"ttl" must be whole seconds from 1 to ${MAX_TTL_SECONDS}`);
  return { provider, services: [...new Set(services)], ttlSeconds: ttl, release };
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** C0 controls and DEL: a service name is printed into logs and agent messages. */
function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export class GoAwayReceiver {
  private readonly log: Logger;

  constructor(
    private readonly fleet: Fleet,
    private readonly metrics: Metrics,
    log: Logger,
  ) {
    this.log = log.child({ part: 'goaway' });
  }

  /** `sender` is the caller's address; null for the daemon's own, in-process calls. */
  async receive(req: GoAwayRequest, sender: string | null): Promise<GoAwayAnswer> {
    if (sender !== null && normalizeAddress(sender) !== hostOf(req.provider)) {
      this.metrics.goawayReceived.inc({ result: 'forbidden' });
      throw new QuiesceError(
        'forbidden',
        `a GoAway may only ${req.release ? 'give back' : 'remove'} its sender's own address: ` +
          `${normalizeAddress(sender)} asked about ${req.provider}`,
      );
    }
    const evicted: EvictionView[] = [];
    const jvms = this.fleet.connected();
    await Promise.all(
      jvms.map(async ({ pid, client }) => {
        try {
          const evictions = await client.evict({
            provider: req.provider,
            services: req.services,
            ttlSeconds: req.ttlSeconds,
            release: req.release,
          });
          for (const e of evictions)
            evicted.push({
              pid,
              framework: e.framework,
              service: e.service,
              removed: e.removed,
              released: e.released,
              error: e.error || null,
            });
        } catch (e) {
          const message = isQuiesceError(e) ? e.message : String(e);
          evicted.push({ pid, framework: '', service: '', removed: 0, released: 0, error: message });
        }
      }),
    );
    this.metrics.goawayReceived.inc({ result: req.release ? 'released' : 'ok' });
    if (req.release) {
      const released = evicted.reduce((n, e) => n + e.released, 0);
      this.log.info({ provider: req.provider, sender, jvms: jvms.length, released }, 'goaway release received');
    } else {
      const removed = evicted.reduce((n, e) => n + e.removed, 0);
      this.log.info({ provider: req.provider, sender, jvms: jvms.length, removed }, 'goaway received');
    }
    return { provider: req.provider, release: req.release, evicted, jvms: jvms.length };
  }
}
