/**
 * The JVMs of this host and the agent in each: discovery on an interval, attach on
 * request or by the adopt policy, and the view that /status and the gRPC API show.
 * Attaching is: deliver the agent files into the JVM's filesystem, bind its socket,
 * journal it, `load instrument`, then wait for the agent to say hello.
 */
import { QuiesceError, toQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { AgentStore } from '../store/agents.js';
import { VERSION } from '../version.js';
import { discoverJvms, inspectPid } from '../jvm/discovery.js';
import { loadAgent, preflight } from '../jvm/attach/index.js';
import { deliverAgent, type AgentFiles } from '../jvm/deliver.js';
import type { JvmProcess } from '../jvm/types.js';
import { shouldAdopt, type AdoptPolicy } from './adopt-policy.js';
import type { AgentHub } from './hub.js';
import type { AgentSession } from './session.js';
import type { InboundReport } from '../gen/quiesce/agent/v1/agent.js';

export type AgentState = 'none' | 'attaching' | 'connected' | 'failed';

export interface AgentView {
  state: AgentState;
  error: string | null;
  version: string | null;
  instanceId: string | null;
  frameworks: string[];
  connectedAt: number | null;
}

export interface JvmView {
  pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat): with pid, tells a restarted JVM apart. */
  startTime: number;
  nspid: number;
  uid: number;
  gid: number;
  jdk: string | null;
  vendor: string | null;
  main: string | null;
  containerId: string | null;
  foreignMountNs: boolean;
  vm: string;
  supported: boolean;
  unsupportedReason: string | null;
  agent: AgentView;
}

export interface AttachOutcome {
  jvm: JvmView;
  alreadyAttached: boolean;
  durationSeconds: number;
}

export interface InstancesView {
  pid: number;
  className: string;
  count: number;
  instanceClasses: string[];
  tagsLeft: number;
  truncated: boolean;
  durationMicros: number;
}

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
}

/** After a daemon restart, how long an attach waits for a journaled agent to come back before loading again. */
const RECONNECT_GRACE_MS = 2_500;

export class Fleet {
  private readonly goneListeners: Array<(pid: number) => void> = [];
  private readonly jvms = new Map<number, JvmProcess>();
  private readonly attaching = new Map<number, Promise<AttachOutcome>>();
  private readonly failures = new Map<number, { startTime: number; error: QuiesceError }>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: FleetOptions) {
    this.log = opts.log.child({ part: 'fleet' });
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
    this.refreshing ??= this.scan().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  list(): JvmView[] {
    return [...this.jvms.values()].sort((a, b) => a.pid - b.pid).map((j) => this.view(j));
  }

  get(pid: number): JvmView | undefined {
    const j = this.jvms.get(pid);
    return j && this.view(j);
  }

  /** Puts the agent into the JVM; joins an attach already under way; does nothing if one is connected. */
  attach(pid: number): Promise<AttachOutcome> {
    const running = this.attaching.get(pid);
    if (running) return running;
    const p = this.doAttach(pid).finally(() => this.attaching.delete(pid));
    this.attaching.set(pid, p);
    return p;
  }

  async findInstances(pid: number, className: string, limit: number): Promise<InstancesView> {
    const session = this.requireSession(pid);
    const r = await session.command({ $case: 'findInstances', value: { className, limit } }, 60_000);
    if (r.body?.$case !== 'instancesFound') throw new QuiesceError('agent_command_failed', `agent of pid ${pid} answered find_instances with ${r.body?.$case ?? 'nothing'}`);
    const f = r.body.value;
    return {
      pid,
      className: f.className,
      count: f.count,
      instanceClasses: f.instanceClasses,
      tagsLeft: f.tagsLeft,
      truncated: f.truncated,
      durationMicros: f.durationMicros,
    };
  }

  /** The agent's inbound-request counters (GetInbound); `drainPeers` also returns and forgets the peers seen. */
  async inbound(pid: number, drainPeers = false): Promise<InboundReport & { pid: number }> {
    const session = this.requireSession(pid);
    const r = await session.command({ $case: 'getInbound', value: { drainPeers } });
    if (r.body?.$case !== 'inbound') throw new QuiesceError('agent_command_failed', `agent of pid ${pid} answered get_inbound with ${r.body?.$case ?? 'nothing'}`);
    return { pid, ...r.body.value };
  }

  /** The JVM's connected agent, attaching first when it has none. */
  async ensureAgent(pid: number): Promise<{ session: AgentSession; jvm: JvmProcess }> {
    let session = this.opts.hub.session(pid);
    if (!session) {
      await this.attach(pid);
      session = this.requireSession(pid);
    }
    const jvm = this.jvms.get(pid) ?? (await inspectPid(pid));
    return { session, jvm };
  }

  /** The connected agent of a JVM whose identity (pid + start time) is known, or undefined. */
  connectedSession(pid: number, startTime: number): AgentSession | undefined {
    const jvm = this.jvms.get(pid);
    if (!jvm || jvm.startTime !== startTime) return undefined;
    return this.opts.hub.session(pid);
  }

  /** Every JVM whose agent is connected now. */
  connectedSessions(): Array<{ pid: number; session: AgentSession }> {
    const out: Array<{ pid: number; session: AgentSession }> = [];
    for (const pid of this.jvms.keys()) {
      const session = this.opts.hub.session(pid);
      if (session) out.push({ pid, session });
    }
    return out;
  }

  /** pid + start time of the JVMs discovered now. */
  identities(): Array<{ pid: number; startTime: number }> {
    return [...this.jvms.values()].map((j) => ({ pid: j.pid, startTime: j.startTime }));
  }

  /** Tells the agent to stop and release everything in the JVM. */
  async detach(pid: number): Promise<void> {
    const session = this.requireSession(pid);
    await session.command({ $case: 'stop', value: {} }, 10_000);
    const jvm = this.jvms.get(pid);
    if (jvm) this.opts.agents.setState(pid, jvm.startTime, 'stopped');
    await this.opts.hub.unlisten(pid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing?.catch(() => undefined);
    await Promise.allSettled([...this.attaching.values()]);
  }

  private requireSession(pid: number): AgentSession {
    const session = this.opts.hub.session(pid);
    if (!session) {
      if (!this.jvms.has(pid)) throw new QuiesceError('not_found', `no JVM with pid ${pid} on this host`);
      throw new QuiesceError('agent_not_connected', `pid ${pid} has no connected agent; attach first (POST /jvms/${pid}/attach)`);
    }
    return session;
  }

  private async doAttach(pid: number): Promise<AttachOutcome> {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    const { metrics, hub, agents } = this.opts;
    let jvm: JvmProcess | undefined;
    try {
      jvm = await inspectPid(pid);
      this.jvms.set(pid, jvm);
      if (hub.session(pid)) {
        metrics.attachTotal.inc({ result: 'already_attached' });
        return { jvm: this.view(jvm), alreadyAttached: true, durationSeconds: seconds() };
      }
      // Refuse what the flags already tell, before leaving any file in the JVM.
      preflight(jvm);
      if (jvm.dynamicAgentsDisabled) {
        throw new QuiesceError('dynamic_agents_disabled', `pid ${pid}: the JVM was started with -XX:-EnableDynamicAgentLoading; it refuses agents loaded at run time`, { pid });
      }
      this.failures.delete(pid);
      this.log.info({ pid, nspid: jvm.nspid, jdk: jvm.jdkVersion }, 'attaching');

      const delivered = await deliverAgent(jvm, this.opts.agentFiles, VERSION);
      const journaled = agents.get(pid, jvm.startTime);
      agents.upsert({ pid, startTime: jvm.startTime, nspid: jvm.nspid, uid: jvm.uid, gid: jvm.gid, hostSocketPath: delivered.socket.hostPath, state: 'attaching' });
      await hub.listen({ pid, hostSocketPath: delivered.socket.hostPath, uid: jvm.uid, gid: jvm.gid });

      // An agent already loaded by an earlier daemon redials this socket on its own.
      let session: AgentSession | undefined;
      if (journaled && (journaled.state === 'loaded' || journaled.state === 'attaching')) {
        session = await hub.waitForSession(pid, RECONNECT_GRACE_MS).catch(() => undefined);
      }
      const alreadyAttached = session !== undefined;
      if (!session) {
        const options = [
          `socket=${delivered.socket.targetPath}`,
          `core=${delivered.coreJar.targetPath}`,
          `native=${delivered.nativeLib.targetPath}`,
          `log=${delivered.dir.targetPath}/agent-${jvm.nspid}.log`,
        ].join(',');
        await loadAgent(jvm, delivered.jar.targetPath, options, { timeoutMs: this.opts.attachTimeoutMs ?? 10_000 });
        this.log.debug({ pid }, 'agent loaded; waiting for it to connect');
        session = await hub.waitForSession(pid, this.opts.connectTimeoutMs ?? 15_000);
      }
      agents.setState(pid, jvm.startTime, 'loaded');
      const result = alreadyAttached ? 'already_attached' : 'ok';
      metrics.attachTotal.inc({ result });
      metrics.attachDuration.observe({ result }, seconds());
      this.log.info({ pid, seconds: seconds(), result }, 'attached');
      return { jvm: this.view(jvm), alreadyAttached, durationSeconds: seconds() };
    } catch (e) {
      const err = toQuiesceError(e);
      metrics.attachTotal.inc({ result: err.code });
      metrics.attachDuration.observe({ result: err.code }, seconds());
      if (jvm) {
        this.failures.set(pid, { startTime: jvm.startTime, error: err });
        this.opts.agents.setState(pid, jvm.startTime, 'failed', { code: err.code, message: err.message });
      }
      this.log.warn({ pid, code: err.code, err: err.message, step: 'attach' }, 'attach failed');
      throw err;
    }
  }

  private async scan(): Promise<void> {
    const found = await discoverJvms();
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

  /** Called with the pid of every JVM that exited (or whose pid now names another process). */
  onGone(listener: (pid: number) => void): void {
    this.goneListeners.push(listener);
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
    return {
      pid: j.pid,
      startTime: j.startTime,
      nspid: j.nspid,
      uid: j.uid,
      gid: j.gid,
      jdk: j.jdkVersion,
      vendor: j.vendor,
      main: j.main,
      containerId: j.containerId,
      foreignMountNs: j.foreignMountNs,
      vm: j.vm,
      supported: j.supported,
      unsupportedReason: j.unsupportedReason ?? null,
      agent: this.agentView(j),
    };
  }

  private agentView(j: JvmProcess): AgentView {
    const s = this.opts.hub.session(j.pid);
    if (s) {
      return {
        state: 'connected',
        error: null,
        version: s.hello.agentVersion,
        instanceId: s.hello.agentInstanceId,
        frameworks: s.hello.frameworks.map((f) => (f.version ? `${f.name}@${f.version}` : f.name)),
        connectedAt: s.connectedAt,
      };
    }
    const none: AgentView = { state: 'none', error: null, version: null, instanceId: null, frameworks: [], connectedAt: null };
    if (this.attaching.has(j.pid)) return { ...none, state: 'attaching' };
    const failed = this.failures.get(j.pid);
    if (failed && failed.startTime === j.startTime) return { ...none, state: 'failed', error: `${failed.error.code}: ${failed.error.message}` };
    return none;
  }
}
