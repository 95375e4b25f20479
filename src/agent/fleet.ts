/**
 * The JVMs of this host and the agent in each: discovery on an interval, attach on request or by
 * the adopt policy (the flow itself is attach-flow.ts), and typed clients for the agents that are
 * connected. Everything else reaches a JVM's agent through here, by pid, once per operation.
 */
import { QuiesceError, toQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { AgentStore } from '../store/agents.js';
import type { LimitNotice } from '../jvm/bounded-read.js';
import { discoverJvms, inspectPid, type DiscoveryOptions } from '../jvm/discovery.js';
import type { AgentFiles } from '../jvm/deliver.js';
import type { JvmProcess } from '../jvm/types.js';
import { shouldAdopt, type AdoptPolicy } from './adopt-policy.js';
import { attachAgent } from './attach-flow.js';
import { AgentClient } from './client.js';
import type { AgentHub } from './hub.js';
import type { AgentSession } from './session.js';
import { healthBoundMs, ScanHealth, type FleetHealth } from './scan-health.js';
import { jvmView, type AttachOutcome, type JvmView } from './views.js';

export type { AgentState, AgentView, AttachOutcome, JvmView } from './views.js';
export { healthBoundMs, type FleetHealth } from './scan-health.js';

export interface FleetOptions {
  log: Logger;
  metrics: Metrics;
  hub: AgentHub;
  agents: AgentStore;
  agentFiles: AgentFiles;
  adopt: AdoptPolicy;
  refreshIntervalMs?: number;
  attachTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Unhealthy once the last completed scan is older than this (default: see healthBoundMs). */
  healthMaxAgeMs?: number;
  /** The scan itself; tests stand in one that stalls. */
  discover?: (opts: DiscoveryOptions) => Promise<JvmProcess[]>;
}

/** A JVM by identity (pid + start time) with its connected agent. */
export interface ConnectedJvm {
  pid: number;
  startTime: number;
  client: AgentClient;
}

export class Fleet {
  private readonly goneListeners: Array<(pid: number) => void> = [];
  private readonly jvms = new Map<number, JvmProcess>();
  private readonly attaching = new Map<number, Promise<AttachOutcome>>();
  private readonly failures = new Map<number, { startTime: number; error: QuiesceError }>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private closed = false;
  private readonly scans: ScanHealth;
  private readonly discovery: DiscoveryOptions;

  constructor(private readonly opts: FleetOptions) {
    this.log = opts.log.child({ part: 'fleet' });
    this.scans = new ScanHealth(opts.healthMaxAgeMs ?? healthBoundMs(opts.refreshIntervalMs ?? 5_000));
    // A hostile file is logged each time a process is inspected, which discovery does once per JVM.
    this.discovery = { onLimit: (n: LimitNotice) => this.log.warn({ path: n.path, reason: n.reason }, n.message) };
    opts.hub.on('connected', (pid, s) => this.onConnected(pid, s));
    opts.hub.on('disconnected', () => this.opts.metrics.agentsConnected.set(this.connectedCount()));
  }

  async start(): Promise<void> {
    await this.refresh();
    await this.rebindJournaled();
    const every = this.opts.refreshIntervalMs ?? 5_000;
    this.timer = setInterval(() => void this.refresh().catch((e: unknown) => this.log.error({ err: e }, 'discovery failed')), every);
    this.timer.unref();
  }

  /** Re-scans /proc; concurrent callers share one scan. */
  refresh(): Promise<void> {
    this.refreshing ??= this.scan().then(
      () => {
        this.scans.completed();
        this.refreshing = null;
      },
      (e: unknown) => {
        this.scans.failed(e);
        this.refreshing = null;
        throw e;
      },
    );
    return this.refreshing;
  }

  /** Healthy while scans complete: the liveness probe's answer. */
  health(now = Date.now()): FleetHealth {
    return this.scans.now(now);
  }

  list(): JvmView[] {
    return [...this.jvms.values()].sort((a, b) => a.pid - b.pid).map((j) => this.view(j));
  }

  get(pid: number): JvmView | undefined {
    const j = this.jvms.get(pid);
    return j && this.view(j);
  }

  /** pid + start time of the JVMs discovered now. */
  identities(): Array<{ pid: number; startTime: number }> {
    return [...this.jvms.values()].map((j) => ({ pid: j.pid, startTime: j.startTime }));
  }

  /** Puts the agent into the JVM; joins an attach already under way; does nothing if one is connected. */
  attach(pid: number): Promise<AttachOutcome> {
    const running = this.attaching.get(pid);
    if (running) return running;
    const p = this.doAttach(pid).finally(() => this.attaching.delete(pid));
    this.attaching.set(pid, p);
    return p;
  }

  /** The JVM's connected agent, attaching first when it has none: what an operation resolves once and then uses. */
  async ensureAgent(pid: number): Promise<{ client: AgentClient; jvm: JvmProcess }> {
    if (!this.opts.hub.session(pid)) await this.attach(pid);
    const client = this.client(pid);
    const jvm = this.jvms.get(pid) ?? (await inspectPid(pid, this.discovery));
    return { client, jvm };
  }

  /** The connected agent of a JVM, or a clear error naming why there is none. */
  client(pid: number): AgentClient {
    const session = this.opts.hub.session(pid);
    if (!session) {
      if (!this.jvms.has(pid)) throw new QuiesceError('not_found', `no JVM with pid ${pid} on this host`);
      throw new QuiesceError('agent_not_connected', `pid ${pid} has no connected agent; attach first (POST /jvms/${pid}/attach)`);
    }
    return new AgentClient(pid, session);
  }

  /** The connected agent of a JVM whose identity (pid + start time) is known, or undefined. */
  connectedClient(pid: number, startTime: number): AgentClient | undefined {
    const jvm = this.jvms.get(pid);
    const session = jvm && jvm.startTime === startTime ? this.opts.hub.session(pid) : undefined;
    return session && new AgentClient(pid, session);
  }

  /** Every JVM whose agent is connected now. */
  connected(): ConnectedJvm[] {
    const out: ConnectedJvm[] = [];
    for (const j of this.jvms.values()) {
      const session = this.opts.hub.session(j.pid);
      if (session) out.push({ pid: j.pid, startTime: j.startTime, client: new AgentClient(j.pid, session) });
    }
    return out;
  }

  /** Tells the agent to stop and release everything in the JVM. */
  async detach(pid: number): Promise<void> {
    await this.client(pid).stop();
    const jvm = this.jvms.get(pid);
    if (jvm) this.opts.agents.setState(pid, jvm.startTime, 'stopped');
    await this.opts.hub.unlisten(pid);
  }

  /** Called with the pid of every JVM that exited (or whose pid now names another process). */
  onGone(listener: (pid: number) => void): void {
    this.goneListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing?.catch(() => undefined);
    await Promise.allSettled([...this.attaching.values()]);
  }

  private async doAttach(pid: number): Promise<AttachOutcome> {
    let jvm: JvmProcess;
    try {
      jvm = await inspectPid(pid, this.discovery);
    } catch (e) {
      const err = toQuiesceError(e);
      this.opts.metrics.attachTotal.inc({ result: err.code });
      this.log.warn({ pid, code: err.code, err: err.message, step: 'attach' }, 'attach failed');
      throw err;
    }
    this.jvms.set(pid, jvm);
    this.failures.delete(pid);
    try {
      const r = await attachAgent(jvm, {
        log: this.log,
        metrics: this.opts.metrics,
        hub: this.opts.hub,
        agents: this.opts.agents,
        agentFiles: this.opts.agentFiles,
        attachTimeoutMs: this.opts.attachTimeoutMs ?? 10_000,
        connectTimeoutMs: this.opts.connectTimeoutMs ?? 15_000,
      });
      return { jvm: this.view(jvm), alreadyAttached: r.alreadyAttached, durationSeconds: r.seconds };
    } catch (e) {
      const error = toQuiesceError(e);
      this.failures.set(pid, { startTime: jvm.startTime, error });
      throw error;
    }
  }

  private async scan(): Promise<void> {
    const found = await (this.opts.discover ?? discoverJvms)(this.discovery);
    const seen = new Set<number>();
    for (const j of found) {
      seen.add(j.pid);
      const prev = this.jvms.get(j.pid);
      if (prev && prev.startTime !== j.startTime) await this.forget(j.pid);
      this.jvms.set(j.pid, j);
    }
    for (const pid of [...this.jvms.keys()]) if (!seen.has(pid)) await this.forget(pid);
    this.opts.agents.removeExcept(found);
    this.updateGauges();
    if (this.opts.adopt.kind !== 'none' && !this.closed) this.adoptNew(found);
  }

  private adoptNew(found: JvmProcess[]): void {
    for (const j of found) {
      if (!shouldAdopt(this.opts.adopt, j)) continue;
      if (this.opts.hub.session(j.pid) || this.attaching.has(j.pid)) continue;
      const failed = this.failures.get(j.pid);
      if (failed && failed.startTime === j.startTime) continue;
      void this.attach(j.pid).catch(() => undefined);
    }
  }

  private async rebindJournaled(): Promise<void> {
    for (const r of this.opts.agents.live()) {
      const j = this.jvms.get(r.pid);
      if (!j || j.startTime !== r.startTime) continue;
      try {
        await this.opts.hub.listen({ pid: r.pid, hostSocketPath: r.hostSocketPath, uid: r.uid, gid: r.gid });
        this.log.info({ pid: r.pid, socket: r.hostSocketPath }, 'rebound agent socket from the journal');
      } catch (e) {
        this.log.warn({ pid: r.pid, err: (e as Error).message }, 'could not rebind a journaled agent socket');
      }
    }
  }

  private async forget(pid: number): Promise<void> {
    this.jvms.delete(pid);
    this.failures.delete(pid);
    await this.opts.hub.unlisten(pid);
    for (const l of this.goneListeners) {
      try {
        l(pid);
      } catch (e) {
        this.log.warn({ pid, err: (e as Error).message }, 'a listener failed on a JVM that is gone');
      }
    }
  }

  private onConnected(pid: number, s: AgentSession): void {
    const jvm = this.jvms.get(pid);
    if (jvm) this.opts.agents.setInstance(pid, jvm.startTime, s.hello.agentInstanceId);
    this.opts.metrics.agentReconnects.inc({ kind: s.hello.reconnects > 0 ? 'reconnect' : 'first' });
    this.opts.metrics.agentsConnected.set(this.connectedCount());
  }

  private connectedCount(): number {
    let n = 0;
    for (const pid of this.jvms.keys()) if (this.opts.hub.session(pid)) n++;
    return n;
  }

  private updateGauges(): void {
    const byVm = new Map<string, number>();
    for (const j of this.jvms.values()) byVm.set(j.vm, (byVm.get(j.vm) ?? 0) + 1);
    this.opts.metrics.jvms.reset();
    for (const [vm, n] of byVm) this.opts.metrics.jvms.set({ vm }, n);
    this.opts.metrics.agentsConnected.set(this.connectedCount());
  }

  private view(j: JvmProcess): JvmView {
    const failed = this.failures.get(j.pid);
    return jvmView(j, {
      session: this.opts.hub.session(j.pid),
      attaching: this.attaching.has(j.pid),
      failure: failed && failed.startTime === j.startTime ? failed.error : undefined,
    });
  }
}
