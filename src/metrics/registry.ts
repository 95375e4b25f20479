/**
 * The daemon's metrics, in a registry it owns (never prom-client's global one), so
 * tests can run several daemons in one process and each /metrics shows only its own.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly jvms = new Gauge({
    name: 'quiesce_jvms',
    help: 'JVMs discovered on this host, by VM kind.',
    labelNames: ['vm'],
    registers: [this.registry],
  });
  readonly agentsConnected = new Gauge({
    name: 'quiesce_agents_connected',
    help: 'Agents with an open channel to this daemon.',
    registers: [this.registry],
  });
  readonly attachTotal = new Counter({
    name: 'quiesce_attach_total',
    help: 'Attach attempts by result: ok, already_attached, or the error code.',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly attachDuration = new Histogram({
    name: 'quiesce_attach_duration_seconds',
    help: 'From the attach request to the agent connected (or the failure).',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly agentReconnects = new Counter({
    name: 'quiesce_agent_connections_total',
    help: "Agent connections accepted, by whether it was the agent's first or a reconnect.",
    labelNames: ['kind'],
    registers: [this.registry],
  });

  readonly isolated = new Gauge({
    name: 'quiesce_isolated',
    help: '1 while a JVM is held out of a kind of traffic by /isolate.',
    labelNames: ['pid', 'traffic'],
    registers: [this.registry],
  });
  readonly registrations = new Gauge({
    name: 'quiesce_registrations',
    help: 'Registrations seen by the agents, by framework and state (registered, removed by quiesce).',
    labelNames: ['framework', 'state'],
    registers: [this.registry],
  });
  readonly reapplied = new Counter({
    name: 'quiesce_reapplied_total',
    help: 'Registrations that came back on their own while isolated and were removed again.',
    labelNames: ['traffic'],
    registers: [this.registry],
  });
  readonly rocketmqChannelsClosed = new Counter({
    name: 'quiesce_rocketmq_channels_closed_total',
    help: "RocketMQ broker channels closed by /isolate (the client's channel table held, so it cannot reconnect).",
    registers: [this.registry],
  });

  readonly consumersTracked = new Gauge({
    name: 'quiesce_consumers_tracked',
    help: 'Recent consumers of the JVMs on this host, as kept in the store.',
    registers: [this.registry],
  });

  readonly drainPhase = new Gauge({
    name: 'quiesce_drain_phase',
    help: "The running drain's step per JVM: 1 deregister, 2 read_only, 3 goaway, 4 wait, 5 events, 6 ended (0: none).",
    labelNames: ['pid'],
    registers: [this.registry],
  });
  readonly drainDuration = new Histogram({
    name: 'quiesce_drain_duration_seconds',
    help: "From /offline to the drain's end, by outcome (drained, timeout, failed).",
    labelNames: ['outcome'],
    buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60],
    registers: [this.registry],
  });
  readonly drainStepDuration = new Histogram({
    name: 'quiesce_drain_step_duration_seconds',
    help: "Each drain step's duration.",
    labelNames: ['step'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly inflight = new Gauge({
    name: 'quiesce_inflight_requests',
    help: 'In-flight inbound requests of a draining JVM, as its agent counts them.',
    labelNames: ['pid'],
    registers: [this.registry],
  });
  readonly goawaySent = new Counter({
    name: 'quiesce_goaway_sent_total',
    help: "GoAways sent to consumers' daemons, by result (notified, failed, unreachable).",
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly goawayReceived = new Counter({
    name: 'quiesce_goaway_received_total',
    help: "GoAways received from providers' daemons, by result (ok, released: a release from /online, forbidden).",
    labelNames: ['result'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'quiesce_daemon_' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Drops every series labelled with a JVM that is gone, so that a long-lived daemon's /metrics
   * holds only the JVMs on the node now (pids are reused: a stale series would describe another
   * process).
   */
  forgetJvm(pid: number, trafficKinds: readonly string[]): void {
    const p = String(pid);
    for (const traffic of trafficKinds) this.isolated.remove({ pid: p, traffic });
    this.drainPhase.remove({ pid: p });
    this.inflight.remove({ pid: p });
  }
}
