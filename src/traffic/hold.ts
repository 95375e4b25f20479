/**
 * Holding traffic out: on an interval, every JVM that an isolation or a drain took out of its
 * registries (or whose event clients it holds) gets Isolate again, so a framework that registers
 * again on its own (session recovery, heartbeat re-registration, a redeploy) is taken out again and
 * counted. Level-triggered: each pass reads what should be held from the journals, whatever
 * happened in between.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { AgentClient } from '../agent/client.js';
import type { Fleet } from '../agent/fleet.js';
import type { TrafficChange } from '../gen/quiesce/agent/v1/agent.js';
import type { TrafficKind } from './kinds.js';
import type { PerJvmSerial } from './serial.js';

/** One JVM whose traffic a journal says is held. */
export interface Hold {
  pid: number;
  startTime: number;
  /** Re-read under the JVM's lock: the kinds still held, or none when it was restored meanwhile. */
  current(): TrafficKind[];
  /** Called with what came back and was removed again. */
  reapplied(changes: TrafficChange[], count: number): void;
}

export type HoldSource = (connected: ReadonlyArray<{ pid: number; startTime: number }>) => Hold[];

export interface TrafficHolderOptions {
  log: Logger;
  metrics: Metrics;
  fleet: Fleet;
  serial: PerJvmSerial;
  intervalMs?: number;
}

export class TrafficHolder {
  private readonly sources: HoldSource[] = [];
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private holding: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: TrafficHolderOptions) {
    this.log = opts.log.child({ part: 'hold' });
  }

  addSource(source: HoldSource): void {
    this.sources.push(source);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.holding ??= this.pass().finally(() => {
        this.holding = null;
      });
    }, this.opts.intervalMs ?? 2_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.holding;
  }

  /** One pass: every held JVM whose agent is connected gets Isolate again. */
  private async pass(): Promise<void> {
    const connected = this.opts.fleet.connected();
    for (const hold of this.sources.flatMap((s) => s(connected))) {
      if (this.closed) return;
      const client = connected.find((c) => c.pid === hold.pid && c.startTime === hold.startTime)?.client;
      if (!client) continue;
      await this.opts.serial
        .run(hold.pid, () => this.reapply(hold, client))
        .catch((e: unknown) =>
          this.log.warn({ pid: hold.pid, err: (e as Error).message, step: 'hold' }, 'could not re-apply held traffic'),
        );
    }
  }

  private async reapply(hold: Hold, client: AgentClient): Promise<void> {
    const traffic = hold.current();
    if (traffic.length === 0) return;
    const changes = await isolateCounted(client, traffic, this.opts.metrics);
    const reapplied = changes.reduce((n, c) => n + c.reapplied, 0);
    if (reapplied === 0) return;
    for (const c of changes) if (c.reapplied > 0) this.opts.metrics.reapplied.inc({ traffic: c.traffic }, c.reapplied);
    hold.reapplied(changes, reapplied);
    this.log.warn(
      { pid: hold.pid, reapplied, registries: changes.filter((c) => c.reapplied > 0).map((c) => c.registry) },
      'registrations came back while held; removed again',
    );
  }
}

/** Isolate through the agent, counting the RocketMQ channels it closed. */
export async function isolateCounted(client: AgentClient, traffic: readonly TrafficKind[], metrics: Metrics): Promise<TrafficChange[]> {
  const changes = await client.isolate(traffic);
  const closed = changes.reduce((n, c) => n + (c.traffic === 'rocketmq' ? c.deregistered.length : 0), 0);
  if (closed > 0) metrics.rocketmqChannelsClosed.inc(closed);
  return changes;
}
