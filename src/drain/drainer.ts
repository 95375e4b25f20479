/**
 * Lossless offline (/offline, /online): a journaled state machine per JVM.
 *
 *   deregister → read_only → goaway → wait → events → ended (drained | timeout | failed)
 *
 * Every step is written to SQLite when it starts and when it ends; a repeated /offline joins
 * the running drain; a restarted daemon resumes a running one from its first unfinished step
 * (every step is idempotent); /online undoes exactly what the drain did (online.ts). The steps
 * themselves are in steps/, one file each, over one context: the agent resolved once, the
 * inventory read once.
 */
import { QuiesceError, toQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { AgentClient } from '../agent/client.js';
import type { Fleet } from '../agent/fleet.js';
import type { ConsumerTracker } from '../consumers/tracker.js';
import type { PeerResolver } from '../goaway/peer-resolver.js';
import type { DrainParams, DrainRecord, DrainStore, StepRecord } from '../store/drains.js';
import type { Hold, HoldSource } from '../traffic/hold.js';
import { trafficKinds, type TrafficKind } from '../traffic/kinds.js';
import type { RegistrationGauge } from '../traffic/registrations.js';
import type { PerJvmSerial } from '../traffic/serial.js';
import { undoDrain, type OnlineResult } from './online.js';
import { STEPS, type Step, type StepContext, type StepDeps, type StepName } from './steps/context.js';
import { deregister } from './steps/deregister.js';
import { events } from './steps/events.js';
import { goaway } from './steps/goaway.js';
import { readOnly } from './steps/read-only.js';
import { wait } from './steps/wait.js';
import { isKindsDetail, summarize, type DrainOutcome, type DrainSummary } from './summary.js';

export type { DrainSummary, StepView } from './summary.js';
export type { OnlineResult, ReleaseReport, WriteableReport } from './online.js';
export { STEPS, type StepName } from './steps/context.js';

const RUN: Record<StepName, Step> = { deregister, read_only: readOnly, goaway, wait, events };

/**
 * Steps of one phase run together. Telling consumers does not wait for the registry write
 * (0.1–0.5 s on a loaded ZooKeeper): every consumer-side eviction keeps the provider out for
 * the GoAway's TTL even if a refetch from a lagging registry still lists it.
 */
const PHASES: ReadonlyArray<readonly StepName[]> = [['deregister', 'read_only', 'goaway'], ['wait'], ['events']];

export interface DrainerOptions {
  log: Logger;
  metrics: Metrics;
  fleet: Fleet;
  consumers: ConsumerTracker;
  resolver: PeerResolver;
  store: DrainStore;
  serial: PerJvmSerial;
  registrations: RegistrationGauge;
  goawayTtlSeconds?: number;
  goawayTimeoutMs?: number;
}

export class Drainer {
  private readonly log: Logger;
  private readonly running = new Map<number, Promise<DrainSummary>>();
  private readonly deps: StepDeps;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: DrainerOptions) {
    this.log = opts.log.child({ part: 'drain' });
    this.deps = {
      log: this.log,
      metrics: opts.metrics,
      consumers: opts.consumers,
      resolver: opts.resolver,
      serial: opts.serial,
      goawayTtlSeconds: opts.goawayTtlSeconds ?? 120,
      goawayTimeoutMs: opts.goawayTimeoutMs ?? 1_500,
    };
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
      this.track(r.pid, this.resumeOne(r)).catch(() => undefined);
    }
  }

  /**
   * Interrupts the drains under way between steps, leaving them running in the journal (the next
   * daemon resumes them), and waits until none touches the journal any more.
   */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Starts a drain, or joins the one running or already ended for this JVM. */
  async offline(pid: number, params: DrainParams): Promise<DrainSummary> {
    if (this.stopping.signal.aborted) throw new QuiesceError('internal', 'the daemon is shutting down');
    const joined = this.running.get(pid);
    if (joined) return { ...(await joined), joined: true };
    const { client, jvm } = await this.opts.fleet.ensureAgent(pid);
    const again = this.running.get(pid);
    if (again) return { ...(await again), joined: true };
    const latest = this.opts.store.latest(pid, jvm.startTime);
    if (latest && latest.state !== 'undone' && latest.state !== 'running') return { ...summarize(latest), joined: true };
    const steps: StepRecord[] = STEPS.map((name) => ({
      name,
      state: 'pending',
      startedAt: null,
      endedAt: null,
      outcome: null,
      detail: null,
    }));
    const record = this.opts.store.create(pid, jvm.startTime, params, steps);
    this.log.info({ pid, drain: record.id, timeoutMs: params.timeoutMs, quietMs: params.quietMs }, 'drain started');
    return this.track(pid, this.run(record, client));
  }

  /** Undoes the JVM's latest drain: restores what it removed, tells consumers it is writeable again. */
  async online(pid: number): Promise<OnlineResult> {
    await this.running.get(pid)?.catch(() => undefined);
    const { client, jvm } = await this.opts.fleet.ensureAgent(pid);
    const latest = this.opts.store.latest(pid, jvm.startTime);
    if (!latest || latest.state === 'undone')
      return { pid, drain: latest?.id ?? null, restored: [], writeable: null, consumers: null, undone: false };
    return undoDrain(latest, client, { ...this.deps, store: this.opts.store });
  }

  get(id: number): DrainSummary | undefined {
    const r = this.opts.store.get(id);
    return r && summarize(r);
  }

  list(pid?: number): DrainSummary[] {
    return this.opts.store.list(pid).map(summarize);
  }

  /** What a JVM's drain holds out of traffic until /online (empty when nothing). */
  held(pid: number, startTime: number): TrafficKind[] {
    const latest = this.opts.store.latest(pid, startTime);
    if (!latest || latest.state === 'undone') return [];
    return trafficKinds([...new Set(latest.steps.flatMap((s) => (s.state === 'done' && isKindsDetail(s.detail) ? s.detail.kinds : [])))]);
  }

  /** What the holder re-applies: what each connected JVM's drain took out, until /online. */
  readonly holds: HoldSource = (connected) =>
    connected
      .filter((j) => this.held(j.pid, j.startTime).length > 0)
      .map((j): Hold => ({
        pid: j.pid,
        startTime: j.startTime,
        current: () => this.held(j.pid, j.startTime),
        reapplied: () => undefined,
      }));

  private track(pid: number, p: Promise<DrainSummary>): Promise<DrainSummary> {
    const tracked = p.finally(() => this.running.delete(pid));
    this.running.set(pid, tracked);
    return tracked;
  }

  private async resumeOne(record: DrainRecord): Promise<DrainSummary> {
    let client: AgentClient | undefined;
    try {
      client = (await this.opts.fleet.ensureAgent(record.pid)).client;
    } catch (e) {
      const err = toQuiesceError(e);
      this.log.error({ pid: record.pid, drain: record.id, code: err.code, err: err.message, step: 'resume' }, 'drain failed');
      return this.end(record, 'failed');
    }
    return this.run(record, client);
  }

  private async run(record: DrainRecord, client: AgentClient): Promise<DrainSummary> {
    const { metrics, store } = this.opts;
    const pidLabel = { pid: String(record.pid) };
    const ctx: StepContext = {
      record,
      client,
      inventory: client
        .inventory()
        .then((inv) => {
          this.opts.registrations.record(record.pid, inv);
          return inv;
        })
        .catch(() => null),
      deadline: record.startedAt + record.params.timeoutMs,
      signal: this.stopping.signal,
      deps: this.deps,
    };
    let outcome: DrainOutcome = 'drained';
    for (const phase of PHASES) {
      const todo = phase
        .map((name) => record.steps.find((s) => s.name === name)!)
        .filter((s) => s.state !== 'done' && s.state !== 'skipped');
      if (todo.length === 0) continue;
      metrics.drainPhase.set(pidLabel, STEPS.indexOf(todo[0]!.name as StepName) + 1);
      for (const step of todo) {
        step.state = 'running';
        step.startedAt = Date.now();
      }
      store.saveSteps(record.id, record.steps);
      const timedOut = await Promise.all(todo.map((step) => this.runStep(step, ctx)));
      if (timedOut.some(Boolean)) outcome = 'timeout';
      if (ctx.signal.aborted) {
        this.log.warn({ pid: record.pid, drain: record.id }, 'daemon stopping: drain left running for the next daemon to resume');
        return summarize(record);
      }
    }
    if (record.steps.some((s) => s.name === 'deregister' && s.state === 'failed')) outcome = 'failed';
    return this.end(record, outcome);
  }

  /** Runs one step and journals how it ended; resolves true when the step timed out. */
  private async runStep(step: StepRecord, ctx: StepContext): Promise<boolean> {
    const name = step.name as StepName;
    let timedOut = false;
    try {
      const r = await RUN[name](ctx);
      step.state = r.skipped ? 'skipped' : 'done';
      step.outcome = r.outcome;
      step.detail = r.detail;
      timedOut = r.timedOut === true;
    } catch (e) {
      // Interrupted by the daemon stopping: left running, so the resumed drain runs it again.
      if (ctx.signal.aborted) return false;
      const err = toQuiesceError(e);
      step.state = 'failed';
      step.outcome = `${err.code}: ${err.message}`;
      this.log.warn(
        { pid: ctx.record.pid, drain: ctx.record.id, step: name, code: err.code, err: err.message },
        'drain step failed; going on',
      );
    }
    step.endedAt = Date.now();
    this.opts.metrics.drainStepDuration.observe({ step: name }, (step.endedAt - (step.startedAt ?? step.endedAt)) / 1000);
    this.opts.store.saveSteps(ctx.record.id, ctx.record.steps);
    return timedOut;
  }

  /** Ends the drain in the journal, once, with the summary it answers. */
  private end(record: DrainRecord, outcome: DrainOutcome): DrainSummary {
    const endedAt = Date.now();
    const summary = summarize({ ...record, state: outcome, endedAt });
    this.opts.store.end(record.id, outcome, summary, endedAt);
    this.opts.metrics.drainPhase.set({ pid: String(record.pid) }, STEPS.length + 1);
    this.opts.metrics.drainDuration.observe({ outcome }, summary.durationSeconds);
    const { notified, unreachable } = summary.consumers;
    this.log.info(
      { pid: record.pid, drain: record.id, outcome, seconds: summary.durationSeconds, consumers: { notified, unreachable } },
      'drain ended',
    );
    return summary;
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
    const endedAt = Date.now();
    this.opts.store.end(r.id, 'failed', summarize({ ...r, state: 'failed', endedAt }), endedAt);
    this.log.warn({ pid: r.pid, drain: r.id }, `a drain interrupted by a daemon restart was not resumed: ${why}`);
  }
}

export function parseDrainParams(q: Record<string, unknown>): DrainParams {
  const seconds = (name: string, def: number, max: number): number => {
    const raw = q[name];
    if (raw === undefined || raw === '') return def * 1000;
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n) || n < 0 || n > max)
      throw new QuiesceError('bad_request', `"${name}" must be seconds from 0 to ${max}, got ${JSON.stringify(raw)}`);
    return Math.round(n * 1000);
  };
  return { timeoutMs: seconds('timeout', 25, 3600), quietMs: seconds('quiet', 1, 600) };
}
