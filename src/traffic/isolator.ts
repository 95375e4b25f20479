/**
 * Traffic isolation (/isolate, /restore): the agent takes the JVM out of its registries,
 * the daemon journals what was removed and holds it — re-sending Isolate on an interval,
 * so a framework that registers again on its own (session recovery, heartbeat
 * re-registration, a redeploy) is taken out again and counted — until /restore.
 */
import { QuiesceError, isQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { Fleet } from '../agent/fleet.js';
import type { AgentSession, CommandKind } from '../agent/session.js';
import type { CommandResult, InventoryReport, TrafficChange } from '../gen/quiesce/agent/v1/agent.js';
import type { IsolationRecord, IsolationStore, RemovedEntry } from '../store/isolations.js';
import type { TrafficKind } from './kinds.js';

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
  holdIntervalMs?: number;
}

/** Agent refusals that are the caller's to fix, mapped onto the daemon's own codes. */
const AGENT_CODES: Record<string, 'no_framework' | 'unsupported_version' | 'bad_request'> = {
  no_framework: 'no_framework',
  unsupported_version: 'unsupported_version',
  unknown_traffic: 'bad_request',
};

export class Isolator {
  private readonly log: Logger;
  private readonly locks = new Map<number, Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private holding: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: IsolatorOptions) {
    this.log = opts.log.child({ part: 'isolation' });
  }

  start(): void {
    for (const r of this.opts.store.allActive()) this.setIsolatedGauge(r, 1);
    this.timer = setInterval(() => {
      this.holding ??= this.hold().finally(() => {
        this.holding = null;
      });
    }, this.opts.holdIntervalMs ?? 2_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.holding;
  }

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
    this.log.warn({ pid, traffic: r.traffic, removed: r.removed }, 'isolation abandoned: its agent was stopped; what it deregistered stays deregistered');
  }

  async inventory(pid: number): Promise<InventoryReport> {
    const { session } = await this.opts.fleet.ensureAgent(pid);
    const r = await this.command(session, pid, { $case: 'inventory', value: {} });
    if (r.body?.$case !== 'inventory') throw new QuiesceError('agent_command_failed', `agent of pid ${pid} answered inventory with ${r.body?.$case ?? 'nothing'}`);
    this.recordRegistrations(pid, r.body.value);
    return r.body.value;
  }

  isolate(pid: number, traffic: TrafficKind[]): Promise<IsolateOutcome> {
    return this.serialized(pid, async () => {
      const { session, jvm } = await this.opts.fleet.ensureAgent(pid);
      const existing = this.opts.store.active(pid, jvm.startTime);
      const changes = await this.sendIsolate(session, pid, traffic);
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
      // Refreshes quiesce_registrations; the answer does not wait for it (one more agent round trip).
      void this.inventory(pid).catch(() => undefined);
      const deregistered = changes.reduce((n, c) => n + c.deregistered.length, 0);
      this.log.info({ pid, traffic: kinds, deregistered, already: existing !== undefined }, 'isolated');
      return { pid, alreadyIsolated: existing !== undefined && deregistered === 0, changes: changes.map(toChangeView), isolation: toView(record) };
    });
  }

  restore(pid: number, traffic: TrafficKind[]): Promise<RestoreOutcome> {
    return this.serialized(pid, async () => {
      const { session, jvm } = await this.opts.fleet.ensureAgent(pid);
      const existing = this.opts.store.active(pid, jvm.startTime);
      const r = await this.command(session, pid, { $case: 'restore', value: { traffic } });
      if (r.body?.$case !== 'traffic') throw new QuiesceError('agent_command_failed', `agent of pid ${pid} answered restore with ${r.body?.$case ?? 'nothing'}`);
      const changes = r.body.value.changes;
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
      // Refreshes quiesce_registrations; the answer does not wait for it (one more agent round trip).
      void this.inventory(pid).catch(() => undefined);
      const record = this.opts.store.get(existing.id)!;
      this.log.info({ pid, traffic: traffic.length ? traffic : existing.traffic, restored: changes.reduce((n, c) => n + c.restored.length, 0) }, 'restored');
      return { pid, restored: true, changes: changes.map(toChangeView), isolation: record.state === 'isolated' ? toView(record) : null };
    });
  }

  /** One pass of the hold: every isolation whose agent is connected gets Isolate again. */
  private async hold(): Promise<void> {
    for (const r of this.opts.store.allActive()) {
      if (this.closed) return;
      const session = this.opts.fleet.connectedSession(r.pid, r.startTime);
      if (!session) continue;
      await this.serialized(r.pid, async () => {
        const current = this.opts.store.get(r.id);
        if (!current || current.state !== 'isolated') return;
        const changes = await this.sendIsolate(session, r.pid, current.traffic as TrafficKind[]);
        const reapplied = changes.reduce((n, c) => n + c.reapplied, 0);
        if (reapplied > 0) {
          this.opts.store.update(r.id, { addReapplied: reapplied, removed: mergeRemoved(current.removed, changes) });
          for (const c of changes) if (c.reapplied > 0) this.opts.metrics.reapplied.inc({ traffic: c.traffic }, c.reapplied);
          this.log.warn({ pid: r.pid, reapplied, registries: changes.filter((c) => c.reapplied > 0).map((c) => c.registry) }, 'registrations came back while isolated; removed again');
        }
      }).catch((e: unknown) => this.log.warn({ pid: r.pid, err: (e as Error).message, step: 'hold' }, 'could not re-apply an isolation'));
    }
  }

  private async sendIsolate(session: AgentSession, pid: number, traffic: TrafficKind[]): Promise<TrafficChange[]> {
    const r = await this.command(session, pid, { $case: 'isolate', value: { traffic } });
    if (r.body?.$case !== 'traffic') throw new QuiesceError('agent_command_failed', `agent of pid ${pid} answered isolate with ${r.body?.$case ?? 'nothing'}`);
    const closed = r.body.value.changes.reduce((n, c) => n + (c.traffic === 'rocketmq' ? c.deregistered.length : 0), 0);
    if (closed > 0) this.opts.metrics.rocketmqChannelsClosed.inc(closed);
    return r.body.value.changes;
  }

  private async command(session: AgentSession, pid: number, kind: CommandKind): Promise<CommandResult> {
    try {
      return await session.command(kind, 30_000);
    } catch (e) {
      if (isQuiesceError(e) && typeof e.details['agentCode'] === 'string') {
        const mapped = AGENT_CODES[e.details['agentCode']];
        const text = e.message.replace(/^[^:]*: [a-z_]+: /, '');
        if (mapped) throw new QuiesceError(mapped, `pid ${pid}: ${kind.$case}: ${text}`, { pid });
      }
      throw e;
    }
  }

  /** Per JVM, one operation at a time: a hold pass never races a restore. */
  private serialized<T>(pid: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(pid) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(pid, settled);
    void settled.then(() => {
      if (this.locks.get(pid) === settled) this.locks.delete(pid);
    });
    return next;
  }

  private setIsolatedGauge(r: Pick<IsolationRecord, 'pid' | 'traffic'>, value: 0 | 1): void {
    for (const t of r.traffic) {
      if (value) this.opts.metrics.isolated.set({ pid: String(r.pid), traffic: t }, 1);
      else this.opts.metrics.isolated.remove({ pid: String(r.pid), traffic: t });
    }
  }

  private readonly registrations = new Map<number, Map<string, number>>();

  /** A JVM that is gone no longer counts in quiesce_registrations. */
  forget(pid: number): void {
    if (this.registrations.delete(pid)) this.publishRegistrations();
  }

  private recordRegistrations(pid: number, inv: InventoryReport): void {
    const counts = new Map<string, number>();
    for (const f of inv.frameworks) {
      for (const reg of f.registries) {
        const add = (state: string, n: number): void => {
          const key = `${f.traffic}\u0000${state}`;
          counts.set(key, (counts.get(key) ?? 0) + n);
        };
        add('registered', reg.registered.length);
        add('removed', reg.removed.length);
      }
    }
    this.registrations.set(pid, counts);
    this.publishRegistrations();
  }

  private publishRegistrations(): void {
    const total = new Map<string, number>();
    for (const m of this.registrations.values()) for (const [k, n] of m) total.set(k, (total.get(k) ?? 0) + n);
    this.opts.metrics.registrations.reset();
    for (const [k, n] of total) {
      const [framework, state] = k.split('\u0000') as [string, string];
      this.opts.metrics.registrations.set({ framework, state }, n);
    }
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function mergeRemoved(prev: RemovedEntry[], changes: TrafficChange[]): RemovedEntry[] {
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

function toChangeView(c: TrafficChange): TrafficChangeView {
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
