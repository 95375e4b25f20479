/**
 * Lossless offline (/offline, /online): a journaled state machine per JVM.
 *
 *   deregister → read_only → goaway → wait → events → ended (drained | timeout)
 *
 * Every step is written to SQLite when it starts and when it ends; a repeated /offline joins
 * the running drain; a restarted daemon resumes a running one from its first unfinished step
 * (every step is idempotent); /online undoes exactly what the drain did.
 */
import { QuiesceError, isQuiesceError, toQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { Fleet } from '../agent/fleet.js';
import type { AgentSession } from '../agent/session.js';
import type { InventoryReport } from '../gen/quiesce/agent/v1/agent.js';
import type { DrainParams, DrainRecord, DrainStore, StepRecord } from '../store/drains.js';
import type { Isolator } from '../traffic/isolator.js';
import type { GoAwayReceiver } from '../traffic/goaway.js';
import type { ConsumerTracker } from './consumer-tracker.js';
import { sendGoAways, type GoAwayResult, type GoAwayTarget } from './goaway-client.js';
import type { PeerResolver } from './peer-resolver.js';

export const STEPS = ['deregister', 'read_only', 'goaway', 'wait', 'events'] as const;
export type StepName = (typeof STEPS)[number];

/**
 * Steps of one phase run together. Telling consumers does not wait for the registry write
 * (0.1–0.5 s on a loaded ZooKeeper): every consumer-side eviction keeps the provider out for
 * the GoAway's TTL even if a refetch from a lagging registry still lists it.
 */
const PHASES: ReadonlyArray<readonly StepName[]> = [['deregister', 'read_only', 'goaway'], ['wait'], ['events']];

const SERVICE_KINDS = ['dubbo', 'springcloud'];
const EVENT_KINDS = ['rocketmq'];

export interface DrainSummary {
  id: number;
  pid: number;
  outcome: 'drained' | 'timeout' | 'failed' | 'running';
  startedAt: number;
  endedAt: number | null;
  durationSeconds: number;
  params: { timeoutSeconds: number; quietSeconds: number };
  steps: StepView[];
  consumers: { notified: number; failed: number; unreachable: number; results: GoAwayResult[] };
  inFlightAtEnd: number | null;
  /** True when this answer joined a drain that was already running or already ended. */
  joined: boolean;
  undone: boolean;
}

/**
 * What /online's writeable event did (Dubbo providers whose drain sent the read-only event):
 * `channels` it was sent on, per the agent; `skipped` when a Dubbo has no such event (before
 * 3.2.1: its consumers clear the mark when they reconnect) or the drain sent no read-only event;
 * `error` when sending failed (the agent's code and message). Null when nothing was undone.
 */
export interface WriteableReport {
  channels?: number;
  framework?: string;
  version?: string;
  skipped?: string;
  error?: string;
}

/** What /online's release did: the consumers the drain's GoAway notified, told the provider is back. */
export interface ReleaseReport {
  released: number;
  failed: number;
  unreachable: number;
  results: GoAwayResult[];
}

export interface OnlineResult {
  pid: number;
  drain: number | null;
  restored: unknown[];
  writeable: WriteableReport | null;
  /** Null when the drain notified no consumer (or nothing was undone). */
  consumers: ReleaseReport | null;
  undone: boolean;
}

export interface StepView {
  name: string;
  state: string;
  outcome: string | null;
  startedAt: number | null;
  durationSeconds: number | null;
  detail: unknown;
}

export interface DrainerOptions {
  log: Logger;
  metrics: Metrics;
  fleet: Fleet;
  isolator: Isolator;
  consumers: ConsumerTracker;
  goaway: GoAwayReceiver;
  resolver: PeerResolver;
  store: DrainStore;
  goawayTtlSeconds?: number;
  goawayTimeoutMs?: number;
}

interface Context {
  record: DrainRecord;
  session: AgentSession;
  /** What the agent sees; the GoAway does not wait for it (a registry round trip under load). */
  inventory: Promise<InventoryReport | null>;
  deadline: number;
}

export class Drainer {
  private readonly log: Logger;
  private readonly running = new Map<number, Promise<DrainSummary>>();

  constructor(private readonly opts: DrainerOptions) {
    this.log = opts.log.child({ part: 'drain' });
  }

  /** Resumes drains a previous daemon left running (in the background). */
  resume(): void {
    for (const r of this.opts.store.running()) {
      const now = this.opts.fleet.get(r.pid);
      if (!now || now.startTime !== r.startTime) {
        // Never resume into whatever process holds that pid now: it is not the JVM that was draining.
        this.endGone(r);
        continue;
      }
      this.log.warn({ pid: r.pid, drain: r.id }, 'resuming a drain interrupted by a daemon restart');
      const p = this.run(r).finally(() => this.running.delete(r.pid));
      this.running.set(r.pid, p);
      p.catch(() => undefined);
    }
  }

  /** A drain whose JVM exited while no daemon ran: ended as failed, its unfinished steps saying why. */
  private endGone(r: DrainRecord): void {
    const why = 'the JVM exited while the daemon was down';
    for (const step of r.steps) {
      if (step.state === 'running' || step.state === 'pending') {
        step.state = 'failed';
        step.outcome = why;
        step.endedAt ??= Date.now();
      }
    }
    this.opts.store.saveSteps(r.id, r.steps);
    this.opts.store.end(r.id, 'failed', null);
    this.opts.store.end(r.id, 'failed', this.summarize(this.opts.store.get(r.id)!));
    this.log.warn({ pid: r.pid, drain: r.id }, `a drain interrupted by a daemon restart was not resumed: ${why}`);
  }

  /** Starts a drain, or joins the one running or already ended for this JVM. */
  async offline(pid: number, params: DrainParams): Promise<DrainSummary> {
    const joined = this.running.get(pid);
    if (joined) return { ...(await joined), joined: true };
    const { jvm } = await this.opts.fleet.ensureAgent(pid);
    const again = this.running.get(pid);
    if (again) return { ...(await again), joined: true };
    const latest = this.opts.store.latest(pid, jvm.startTime);
    if (latest && latest.state !== 'undone' && latest.state !== 'running') return { ...this.summarize(latest), joined: true };
    const steps: StepRecord[] = STEPS.map((name) => ({ name, state: 'pending', startedAt: null, endedAt: null, outcome: null, detail: null }));
    const record = this.opts.store.create(pid, jvm.startTime, params, steps);
    this.log.info({ pid, drain: record.id, timeoutMs: params.timeoutMs, quietMs: params.quietMs }, 'drain started');
    const p = this.run(record).finally(() => this.running.delete(pid));
    this.running.set(pid, p);
    return p;
  }

  /** Undoes the JVM's latest drain: restores what it removed, tells consumers it is writeable again. */
  async online(pid: number): Promise<OnlineResult> {
    const running = this.running.get(pid);
    if (running) await running.catch(() => undefined);
    const { session, jvm } = await this.opts.fleet.ensureAgent(pid);
    const latest = this.opts.store.latest(pid, jvm.startTime);
    if (!latest || latest.state === 'undone') return { pid, drain: latest?.id ?? null, restored: [], writeable: null, consumers: null, undone: false };
    const restored: unknown[] = [];
    const kinds = [...new Set(latest.steps.flatMap((s) => (s.state === 'done' && isKinds(s.detail) ? s.detail.kinds : [])))];
    if (kinds.length > 0) {
      const r = await this.opts.isolator.restore(pid, kinds as never);
      restored.push(...r.changes);
    }
    const readOnly = latest.steps.find((s) => s.name === 'read_only');
    let writeable: WriteableReport;
    if (readOnly?.state !== 'done') {
      writeable = { skipped: `the drain sent no read-only event (read_only ${readOnly?.state ?? 'absent'}${readOnly?.outcome ? `: ${readOnly.outcome}` : ''})` };
    } else {
      try {
        const r = await session.command({ $case: 'announceReadOnly', value: { writeable: true } }, 5_000);
        const a = r.body?.$case === 'announced' ? r.body.value : null;
        writeable = a
          ? { channels: a.channels, framework: a.framework, version: a.version, ...(a.skipped ? { skipped: a.skipped } : {}), ...(a.error ? { error: a.error } : {}) }
          : { error: `internal: the agent answered ${r.body?.$case ?? 'nothing'} to announceReadOnly` };
      } catch (e) {
        const err = toQuiesceError(e);
        writeable = { error: `${err.code}: ${err.message}` };
      }
      if (writeable.error) this.log.warn({ pid, err: writeable.error }, 'could not announce writeable');
    }
    const consumers = await this.release(latest);
    this.opts.store.markUndone(latest.id);
    this.opts.metrics.drainPhase.set({ pid: String(pid) }, 0);
    this.log.info({ pid, drain: latest.id, kinds, writeable, released: consumers?.released ?? 0 }, 'drain undone');
    return { pid, drain: latest.id, restored, writeable, consumers, undone: true };
  }

  /**
   * After the registration is back: the consumers the drain's GoAway reached are told the provider
   * is back, so their load balancers list it again now instead of at their next refresh (or the
   * GoAway's TTL). A consumer that does not answer only waits for that refresh.
   */
  private async release(latest: DrainRecord): Promise<ReleaseReport | null> {
    const goaway = latest.steps.find((s) => s.name === 'goaway');
    const sent = goaway?.state === 'done' && isGoAwayDetail(goaway.detail) ? goaway.detail.results.filter((r) => r.result === 'notified') : [];
    if (sent.length === 0) return null;
    const targets: GoAwayTarget[] = sent.map((r) => ({ peer: r.peer, consumer: r.consumer, provider: r.provider, services: [] }));
    const results = await sendGoAways(targets, {
      ttlSeconds: 0,
      timeoutMs: this.opts.goawayTimeoutMs ?? 1_500,
      concurrency: 8,
      deadline: Date.now() + 5_000,
      release: true,
    });
    const count = (k: string): number => results.filter((r) => r.result === k).length;
    return { released: count('notified'), failed: count('failed'), unreachable: count('unreachable'), results };
  }

  get(id: number): DrainSummary | undefined {
    const r = this.opts.store.get(id);
    return r && this.summarize(r);
  }

  list(pid?: number): DrainSummary[] {
    return this.opts.store.list(pid).map((r) => this.summarize(r));
  }

  private async run(record: DrainRecord): Promise<DrainSummary> {
    const { metrics, store } = this.opts;
    const pidLabel = { pid: String(record.pid) };
    const deadline = record.startedAt + record.params.timeoutMs;
    let outcome: 'drained' | 'timeout' | 'failed' = 'drained';
    try {
      const { session } = await this.opts.fleet.ensureAgent(record.pid);
      const ctx: Context = { record, session, inventory: this.opts.isolator.inventory(record.pid).catch(() => null), deadline };
      for (const phase of PHASES) {
        const todo = phase.map((name) => record.steps.find((s) => s.name === name)!).filter((s) => s.state !== 'done' && s.state !== 'skipped');
        if (todo.length === 0) continue;
        metrics.drainPhase.set(pidLabel, STEPS.indexOf(todo[0]!.name as StepName) + 1);
        for (const step of todo) {
          step.state = 'running';
          step.startedAt = Date.now();
        }
        store.saveSteps(record.id, record.steps);
        await Promise.all(
          todo.map(async (step) => {
            const name = step.name as StepName;
            try {
              const r = await this.step(name, ctx);
              step.state = r.skipped ? 'skipped' : 'done';
              step.outcome = r.outcome;
              step.detail = r.detail;
              if (name === 'wait' && r.timedOut) outcome = 'timeout';
            } catch (e) {
              const err = toQuiesceError(e);
              step.state = 'failed';
              step.outcome = `${err.code}: ${err.message}`;
              this.log.warn({ pid: record.pid, drain: record.id, step: name, code: err.code, err: err.message }, 'drain step failed; going on');
            }
            step.endedAt = Date.now();
            metrics.drainStepDuration.observe({ step: name }, (step.endedAt - (step.startedAt ?? step.endedAt)) / 1000);
            store.saveSteps(record.id, record.steps);
          }),
        );
      }
      if (record.steps.some((s) => s.name === 'deregister' && s.state === 'failed')) outcome = 'failed';
    } catch (e) {
      const err = toQuiesceError(e);
      outcome = 'failed';
      this.log.error({ pid: record.pid, drain: record.id, code: err.code, err: err.message }, 'drain failed');
    }
    metrics.drainPhase.set(pidLabel, STEPS.length + 1);
    store.end(record.id, outcome, null);
    const ended = store.get(record.id)!;
    const summary = this.summarize(ended);
    store.end(record.id, outcome, summary);
    metrics.drainDuration.observe({ outcome }, summary.durationSeconds);
    this.log.info({ pid: record.pid, drain: record.id, outcome, seconds: summary.durationSeconds, consumers: { notified: summary.consumers.notified, unreachable: summary.consumers.unreachable } }, 'drain ended');
    return summary;
  }

  private async step(name: StepName, ctx: Context): Promise<{ outcome: string; detail: unknown; skipped?: boolean; timedOut?: boolean }> {
    const pid = ctx.record.pid;
    const present = async (kinds: string[]): Promise<string[]> => [...new Set(((await ctx.inventory)?.frameworks ?? []).filter((f) => f.supported && kinds.includes(f.traffic)).map((f) => f.traffic))];
    switch (name) {
      case 'deregister': {
        const kinds = await present(SERVICE_KINDS);
        if (kinds.length === 0) return { outcome: 'no service registry in this JVM', detail: { kinds: [] }, skipped: true };
        const r = await this.opts.isolator.isolate(pid, kinds as never);
        const n = r.changes.reduce((a, c) => a + c.deregistered.length, 0);
        return { outcome: `deregistered ${n} registration(s) from ${kinds.join(', ')}`, detail: { kinds, changes: r.changes } };
      }
      case 'read_only': {
        if (!(await present(['dubbo'])).length) return { outcome: 'no Dubbo provider', detail: null, skipped: true };
        const r = await ctx.session.command({ $case: 'announceReadOnly', value: { writeable: false } }, 5_000);
        const a = r.body?.$case === 'announced' ? r.body.value : null;
        return { outcome: `read-only event sent on ${a?.channels ?? 0} channel(s)`, detail: a };
      }
      case 'goaway': {
        const targets = await this.goawayTargets(ctx);
        if (targets.length === 0) return { outcome: 'no recent consumer', detail: { results: [] }, skipped: true };
        const results = await sendGoAways(targets, {
          ttlSeconds: this.opts.goawayTtlSeconds ?? 120,
          timeoutMs: this.opts.goawayTimeoutMs ?? 1_500,
          concurrency: 8,
          deadline: ctx.deadline,
        });
        for (const r of results) this.opts.metrics.goawaySent.inc({ result: r.result });
        const count = (k: string): number => results.filter((r) => r.result === k).length;
        return { outcome: `${count('notified')} notified, ${count('failed')} failed, ${count('unreachable')} unreachable`, detail: { results } };
      }
      case 'wait':
        return this.waitIdle(ctx);
      case 'events': {
        const kinds = await present(EVENT_KINDS);
        if (kinds.length === 0) return { outcome: 'no event client in this JVM', detail: { kinds: [] }, skipped: true };
        const r = await this.opts.isolator.isolate(pid, kinds as never);
        return { outcome: `held ${kinds.join(', ')}: ${r.changes.reduce((a, c) => a + c.deregistered.length, 0)} channel(s) closed`, detail: { kinds, changes: r.changes } };
      }
    }
  }

  /** Recent consumers (from /proc and the agent's reports), each mapped to its daemon. */
  private async goawayTargets(ctx: Context): Promise<GoAwayTarget[]> {
    const { record } = ctx;
    const seen = await this.opts.consumers.recent(record.pid, record.startTime);
    // The provider's ip:port names it on the consumer's side; services narrow it down only when
    // already known, so the GoAway never waits for the inventory.
    const known = await Promise.race([ctx.inventory, Promise.resolve(null)]);
    const services = (known?.frameworks ?? []).flatMap((f) => f.registries.flatMap((r) => [...r.registered, ...r.removed])).map(serviceOf).filter((s): s is string => !!s);
    const out = new Map<string, GoAwayTarget>();
    for (const c of seen) {
      if (!c.localAddress) continue;
      const peer = this.opts.resolver.resolve({ address: c.address, consumerNode: c.consumerNode });
      if (!peer) continue;
      const provider = c.localAddress.includes(':') ? `[${c.localAddress}]:${c.localPort}` : `${c.localAddress}:${c.localPort}`;
      out.set(`${peer}\u0000${provider}`, { peer, consumer: c.address, provider, services: [...new Set(services)] });
    }
    return [...out.values()];
  }

  /** Until nothing is in flight and nothing new arrived for the quiet window, or the deadline. */
  private async waitIdle(ctx: Context): Promise<{ outcome: string; detail: unknown; timedOut?: boolean }> {
    const { record, session } = ctx;
    const quiet = record.params.quietMs;
    const gauge = { pid: String(record.pid) };
    let inFlight = -1;
    let lastRequest = 0;
    let polls = 0;
    for (;;) {
      polls++;
      try {
        const r = await session.command({ $case: 'getInbound', value: { drainPeers: false } }, 2_000);
        if (r.body?.$case === 'inbound') {
          inFlight = r.body.value.inFlight;
          lastRequest = r.body.value.lastRequestMillis;
          this.opts.metrics.inflight.set(gauge, inFlight);
        }
      } catch (e) {
        if (isQuiesceError(e) && ['unknown_command', 'inbound_unavailable'].includes(String(e.details['agentCode']))) {
          // An agent without inbound counters: the quiet window is all we can wait for.
          await sleep(Math.min(quiet, Math.max(0, ctx.deadline - Date.now())));
          return { outcome: `no inbound counters in this agent; waited the quiet window (${quiet} ms)`, detail: { polls } };
        }
        throw e;
      }
      const now = Date.now();
      const idleFor = lastRequest === 0 ? Number.POSITIVE_INFINITY : now - lastRequest;
      if (inFlight === 0 && idleFor >= quiet) {
        return { outcome: `idle: nothing in flight, last request ${lastRequest ? `${idleFor} ms` : 'never'} ago`, detail: { inFlight, lastRequestMillis: lastRequest, polls } };
      }
      if (now >= ctx.deadline) {
        return { outcome: `timeout with ${inFlight} request(s) in flight`, detail: { inFlight, lastRequestMillis: lastRequest, polls }, timedOut: true };
      }
      await sleep(Math.min(100, ctx.deadline - now));
    }
  }

  private summarize(r: DrainRecord): DrainSummary {
    const goaway = r.steps.find((s) => s.name === 'goaway');
    const results = (goaway?.detail as { results?: GoAwayResult[] } | null)?.results ?? [];
    const wait = r.steps.find((s) => s.name === 'wait');
    const inFlight = (wait?.detail as { inFlight?: number } | null)?.inFlight;
    const outcome = r.state === 'undone' ? ((r.summary as DrainSummary | null)?.outcome ?? 'drained') : r.state === 'running' ? 'running' : r.state;
    return {
      id: r.id,
      pid: r.pid,
      outcome,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      durationSeconds: ((r.endedAt ?? Date.now()) - r.startedAt) / 1000,
      params: { timeoutSeconds: r.params.timeoutMs / 1000, quietSeconds: r.params.quietMs / 1000 },
      steps: r.steps.map((s) => ({
        name: s.name,
        state: s.state,
        outcome: s.outcome,
        startedAt: s.startedAt,
        durationSeconds: s.startedAt !== null && s.endedAt !== null ? (s.endedAt - s.startedAt) / 1000 : null,
        detail: s.detail,
      })),
      consumers: {
        notified: results.filter((x) => x.result === 'notified').length,
        failed: results.filter((x) => x.result === 'failed').length,
        unreachable: results.filter((x) => x.result === 'unreachable').length,
        results,
      },
      inFlightAtEnd: typeof inFlight === 'number' && inFlight >= 0 ? inFlight : null,
      joined: false,
      undone: r.state === 'undone',
    };
  }
}

function isKinds(d: unknown): d is { kinds: string[] } {
  return typeof d === 'object' && d !== null && Array.isArray((d as { kinds?: unknown }).kinds);
}

/** The service a registration names: a Dubbo URL's path (interface), or a Spring Cloud serviceId. */
function serviceOf(registration: string): string | null {
  const dubbo = /^[a-z0-9]+:\/\/[^/]+\/([^?]+)/.exec(registration);
  if (dubbo) return dubbo[1] ?? null;
  const sc = /^(\S+) \S+:\d+$/.exec(registration);
  return sc?.[1] ?? null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function parseDrainParams(q: Record<string, unknown>): DrainParams {
  const seconds = (name: string, def: number, max: number): number => {
    const raw = q[name];
    if (raw === undefined || raw === '') return def * 1000;
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new QuiesceError('bad_request', `"${name}" must be seconds from 0 to ${max}, got ${JSON.stringify(raw)}`);
    return Math.round(n * 1000);
  };
  return { timeoutMs: seconds('timeout', 25, 3600), quietMs: seconds('quiet', 1, 600) };
}

function isGoAwayDetail(d: unknown): d is { results: GoAwayResult[] } {
  return typeof d === 'object' && d !== null && Array.isArray((d as { results?: unknown }).results);
}
