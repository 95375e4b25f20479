/**
 * Traffic isolation (/isolate, /restore): the agent takes the JVM out of its registries, the
 * daemon journals what was removed, and the holder (hold.ts) keeps it out until /restore.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { Fleet } from '../agent/fleet.js';
import type { InventoryReport, TrafficChange } from '../gen/quiesce/agent/v1/agent.js';
import type { IsolationRecord, IsolationStore, RemovedEntry } from '../store/isolations.js';
import { isolateCounted, type Hold, type HoldSource } from './hold.js';
import { trafficKinds, type TrafficKind } from './kinds.js';
import type { RegistrationGauge } from './registrations.js';
import type { PerJvmSerial } from './serial.js';

export interface TrafficChangeView {
  traffic: string;
  framework: string;
  version: string;
  registry: string;
  kind: string;
  deregistered: string[];
  restored: string[];
  reapplied: number;
  error: string | null;
}

export interface IsolationView {
  id: number;
  traffic: string[];
  since: number;
  reapplied: number;
  removed: RemovedEntry[];
}

export interface IsolateOutcome {
  pid: number;
  alreadyIsolated: boolean;
  changes: TrafficChangeView[];
  isolation: IsolationView;
}

export interface RestoreOutcome {
  pid: number;
  /** False when nothing was isolated: the call did nothing. */
  restored: boolean;
  changes: TrafficChangeView[];
  isolation: IsolationView | null;
}

export interface IsolatorOptions {
  log: Logger;
  metrics: Metrics;
  fleet: Fleet;
  store: IsolationStore;
  serial: PerJvmSerial;
  registrations: RegistrationGauge;
}

export class Isolator {
  private readonly log: Logger;

  constructor(private readonly opts: IsolatorOptions) {
    this.log = opts.log.child({ part: 'isolation' });
  }

  /** Sets quiesce_isolated for what the journal holds (after a daemon restart). */
  start(): void {
    for (const r of this.opts.store.allActive()) this.setIsolatedGauge(r, 1);
  }

  /** What the holder re-applies: every isolation in the journal. */
  readonly holds: HoldSource = () =>
    this.opts.store.allActive().map((r): Hold => ({
      pid: r.pid,
      startTime: r.startTime,
      current: () => {
        const now = this.opts.store.get(r.id);
        return now?.state === 'isolated' ? trafficKinds(now.traffic) : [];
      },
      reapplied: (changes, count) => {
        const now = this.opts.store.get(r.id);
        if (now) this.opts.store.update(r.id, { addReapplied: count, removed: mergeRemoved(now.removed, changes) });
      },
    }));

  /** The isolation a JVM is under, for /status. */
  view(pid: number, startTime: number): IsolationView | null {
    const r = this.opts.store.active(pid, startTime);
    return r ? toView(r) : null;
  }

  /** Ends the journal of an isolation whose agent was stopped (forced detach): nothing holds it any more. */
  abandon(pid: number, startTime: number): void {
    const r = this.opts.store.active(pid, startTime);
    if (!r) return;
    this.setIsolatedGauge(r, 0);
    this.opts.store.markRestored(r.id);
    this.log.warn(
      { pid, traffic: r.traffic, removed: r.removed },
      'isolation abandoned: its agent was stopped; what it deregistered stays deregistered',
    );
  }

  async inventory(pid: number): Promise<InventoryReport> {
    const { client } = await this.opts.fleet.ensureAgent(pid);
    const inv = await client.inventory();
    this.opts.registrations.record(pid, inv);
    return inv;
  }

  isolate(pid: number, traffic: TrafficKind[]): Promise<IsolateOutcome> {
    return this.opts.serial.run(pid, async () => {
      const { client, jvm } = await this.opts.fleet.ensureAgent(pid);
      const existing = this.opts.store.active(pid, jvm.startTime);
      const changes = await isolateCounted(client, traffic, this.opts.metrics);
      const kinds = union(existing?.traffic ?? [], traffic.length ? traffic : changes.map((c) => c.traffic));
      const removed = mergeRemoved(existing?.removed ?? [], changes);
      let record: IsolationRecord;
      if (existing) {
        this.opts.store.update(existing.id, { traffic: kinds, removed });
        record = this.opts.store.get(existing.id)!;
      } else {
        record = this.opts.store.create(pid, jvm.startTime, kinds, removed);
      }
      this.setIsolatedGauge(record, 1);
      this.refreshRegistrations(pid);
      const deregistered = changes.reduce((n, c) => n + c.deregistered.length, 0);
      this.log.info({ pid, traffic: kinds, deregistered, already: existing !== undefined }, 'isolated');
      return {
        pid,
        alreadyIsolated: existing !== undefined && deregistered === 0,
        changes: changes.map(toChangeView),
        isolation: toView(record),
      };
    });
  }

  restore(pid: number, traffic: TrafficKind[]): Promise<RestoreOutcome> {
    return this.opts.serial.run(pid, async () => {
      const { client, jvm } = await this.opts.fleet.ensureAgent(pid);
      const existing = this.opts.store.active(pid, jvm.startTime);
      const changes = await client.restore(traffic);
      if (!existing) {
        return { pid, restored: changes.some((c) => c.restored.length > 0), changes: changes.map(toChangeView), isolation: null };
      }
      const left = traffic.length ? existing.traffic.filter((k) => !(traffic as string[]).includes(k)) : [];
      this.setIsolatedGauge(existing, 0);
      if (left.length === 0) {
        this.opts.store.markRestored(existing.id);
      } else {
        this.opts.store.update(existing.id, { traffic: left, removed: existing.removed.filter((e) => left.includes(e.traffic)) });
        this.setIsolatedGauge({ ...existing, traffic: left }, 1);
      }
      this.refreshRegistrations(pid);
      const record = this.opts.store.get(existing.id)!;
      this.log.info(
        { pid, traffic: traffic.length ? traffic : existing.traffic, restored: changes.reduce((n, c) => n + c.restored.length, 0) },
        'restored',
      );
      return { pid, restored: true, changes: changes.map(toChangeView), isolation: record.state === 'isolated' ? toView(record) : null };
    });
  }

  /** Refreshes quiesce_registrations; the answer does not wait for it (one more agent round trip). */
  private refreshRegistrations(pid: number): void {
    void this.inventory(pid).catch(() => undefined);
  }

  private setIsolatedGauge(r: Pick<IsolationRecord, 'pid' | 'traffic'>, value: 0 | 1): void {
    for (const t of r.traffic) {
      if (value) this.opts.metrics.isolated.set({ pid: String(r.pid), traffic: t }, 1);
      else this.opts.metrics.isolated.remove({ pid: String(r.pid), traffic: t });
    }
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

export function mergeRemoved(prev: RemovedEntry[], changes: TrafficChange[]): RemovedEntry[] {
  const out = prev.map((e) => ({ ...e, items: [...e.items] }));
  for (const c of changes) {
    if (c.deregistered.length === 0) continue;
    let entry = out.find((e) => e.traffic === c.traffic && e.registry === c.registry && e.kind === c.kind);
    if (!entry) {
      entry = { traffic: c.traffic, framework: c.framework, version: c.version, registry: c.registry, kind: c.kind, items: [] };
      out.push(entry);
    }
    for (const item of c.deregistered) if (!entry.items.includes(item)) entry.items.push(item);
  }
  return out;
}

export function toChangeView(c: TrafficChange): TrafficChangeView {
  return {
    traffic: c.traffic,
    framework: c.framework,
    version: c.version,
    registry: c.registry,
    kind: c.kind,
    deregistered: c.deregistered,
    restored: c.restored,
    reapplied: c.reapplied,
    error: c.error || null,
  };
}

function toView(r: IsolationRecord): IsolationView {
  return { id: r.id, traffic: r.traffic, since: r.createdAt, reapplied: r.reapplied, removed: r.removed };
}
