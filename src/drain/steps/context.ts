/**
 * What every step of a drain works with: the JVM's agent, resolved once per drain, and its
 * inventory, read once (the GoAway does not wait for it: a registry round trip under load).
 */
import type { AgentClient } from '../../agent/client.js';
import type { ConsumerTracker } from '../../consumers/tracker.js';
import type { InventoryReport } from '../../gen/quiesce/agent/v1/agent.js';
import type { PeerResolver } from '../../goaway/peer-resolver.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/registry.js';
import type { DrainRecord } from '../../store/drains.js';
import type { TrafficKind } from '../../traffic/kinds.js';
import type { PerJvmSerial } from '../../traffic/serial.js';

export const STEPS = ['deregister', 'read_only', 'goaway', 'wait', 'events'] as const;
export type StepName = (typeof STEPS)[number];

export interface StepDeps {
  log: Logger;
  metrics: Metrics;
  consumers: ConsumerTracker;
  resolver: PeerResolver;
  serial: PerJvmSerial;
  goawayTtlSeconds: number;
  goawayTimeoutMs: number;
}

export interface StepContext {
  readonly record: DrainRecord;
  readonly client: AgentClient;
  readonly inventory: Promise<InventoryReport | null>;
  /** Past it the wait gives up and nothing more is sent. */
  readonly deadline: number;
  /** Aborted when the daemon stops: the drain stays running in the journal for the next daemon to resume. */
  readonly signal: AbortSignal;
  readonly deps: StepDeps;
}

export interface StepResult {
  /** One line: what happened. */
  outcome: string;
  detail: unknown;
  skipped?: boolean;
  /** The wait ended at the deadline with work still in flight. */
  timedOut?: boolean;
}

export type Step = (ctx: StepContext) => Promise<StepResult>;

/** The kinds among `wanted` that the JVM has, in a version the agent supports. */
export async function presentKinds(ctx: StepContext, wanted: readonly TrafficKind[]): Promise<TrafficKind[]> {
  const frameworks = (await ctx.inventory)?.frameworks ?? [];
  return wanted.filter((k) => frameworks.some((f) => f.supported && f.traffic === k));
}
