/**
 * Who calls each JVM: a drain tells these consumers to go away before the registry would.
 * Every interval, the established inbound connections of every JVM are read from /proc
 * (any protocol, no agent needed) and written to SQLite in one batch; sightings older than
 * the window expire, and each JVM keeps at most a bounded number.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { ConsumerRecord, ConsumerSighting, ConsumerStore } from '../store/consumers.js';
import { inboundConnections } from '../jvm/tcp.js';
import type { AgentClient } from '../agent/client.js';

export interface ConsumerTrackerOptions {
  log: Logger;
  metrics: Metrics;
  store: ConsumerStore;
  /**
   * The JVMs to watch on every pass, by identity: those with an agent (adopted). A JVM without
   * one is watched once someone asked for its consumers, for a window.
   */
  jvms: () => Array<{ pid: number; startTime: number }>;
  /** The agents connected now, asked for the peers their inbound entry points saw. */
  agents?: () => Array<{ pid: number; startTime: number; client: AgentClient }>;
  intervalMs?: number;
  /** How long a consumer counts as recent after it was last seen. */
  windowMs?: number;
  maxPerJvm?: number;
}

export class ConsumerTracker {
  private timer: NodeJS.Timeout | null = null;
  private readonly interest = new Map<number, { startTime: number; until: number }>();
  private running: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: ConsumerTrackerOptions) {
    this.log = opts.log.child({ part: 'consumers' });
  }

  get windowMs(): number {
    return this.opts.windowMs ?? 10 * 60_000;
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs ?? 2_000);
    this.timer.unref();
    this.opts.metrics.consumersTracked.set(this.opts.store.count());
  }

  /** One sampling pass; concurrent callers share it. */
  sample(): Promise<void> {
    this.running ??= this.pass()
      .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'consumer sampling failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** Recent consumers of a JVM (that JVM sampled once more first, so a caller sees the latest). */
  async recent(pid: number, startTime: number): Promise<ConsumerRecord[]> {
    this.interest.set(pid, { startTime, until: Date.now() + this.windowMs });
    await this.pass([{ pid, startTime }]).catch((e: unknown) =>
      this.log.warn({ pid, err: (e as Error).message }, 'consumer sampling failed'),
    );
    return this.opts.store.list(pid, startTime, Date.now() - this.windowMs);
  }

  private watched(now: number): Array<{ pid: number; startTime: number }> {
    const out = new Map<number, { pid: number; startTime: number }>();
    for (const j of this.opts.jvms()) out.set(j.pid, j);
    for (const [pid, i] of this.interest) {
      if (i.until < now) this.interest.delete(pid);
      else if (!out.has(pid)) out.set(pid, { pid, startTime: i.startTime });
    }
    return [...out.values()];
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Samples the given JVMs (default: all); expires and counts only on a full pass. */
  private async pass(only?: Array<{ pid: number; startTime: number }>): Promise<void> {
    const now = Date.now();
    const sightings: ConsumerSighting[] = [];
    const jvms = only ?? this.watched(now);
    const wanted = (pid: number): boolean => jvms.some((j) => j.pid === pid);
    await Promise.all(
      jvms.map(async ({ pid, startTime }) => {
        for (const c of await inboundConnections(pid)) {
          sightings.push({
            pid,
            startTime,
            address: c.remoteAddress,
            localPort: c.localPort,
            localAddress: c.localAddress,
            source: 'tcp',
            seenAt: now,
          });
        }
      }),
    );
    // The agents' own reports: callers that came through a proxy or closed their connection
    // between two samples, and consumers whose agent announced their node.
    await Promise.all(
      (this.opts.agents?.() ?? [])
        .filter((a) => wanted(a.pid))
        .map(async ({ pid, startTime, client }) => {
          try {
            const inbound = await client.inbound(true);
            for (const p of inbound?.peers ?? []) {
              if (p.lastSeenMillis < now - this.windowMs || !p.address) continue;
              sightings.push({
                pid,
                startTime,
                address: p.address,
                localPort: p.localPort,
                source: 'agent',
                consumerNode: p.consumerNode || null,
                seenAt: Math.min(now, p.lastSeenMillis),
              });
            }
          } catch {
            // An agent that did not answer this time: /proc is the only source of this pass.
          }
        }),
    );
    this.opts.store.record(dedupe(sightings));
    if (!only) this.opts.store.expire(now - this.windowMs, this.opts.maxPerJvm ?? 4096);
    this.opts.metrics.consumersTracked.set(this.opts.store.count());
  }
}

/** Many connections from one consumer to one port are one consumer. */
function dedupe(s: ConsumerSighting[]): ConsumerSighting[] {
  const seen = new Map<string, ConsumerSighting>();
  for (const x of s) seen.set(`${x.pid}\u0000${x.startTime}\u0000${x.address}\u0000${x.localPort}\u0000${x.source}`, x);
  return [...seen.values()];
}
