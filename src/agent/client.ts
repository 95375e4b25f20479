/**
 * Typed commands to one JVM's agent. The only place that checks an answer is of the kind the
 * command asked for, and that turns the agent's own error codes into the daemon's: callers get a
 * typed value or a QuiesceError with a code README documents, never a raw CommandResult.
 */
import { QuiesceError, isQuiesceError, type ErrorCode } from '../errors.js';
import type {
  AnnounceReport,
  CommandResult,
  Eviction,
  InboundReport,
  InstancesFound,
  InventoryReport,
  TrafficChange,
} from '../gen/quiesce/agent/v1/agent.js';
import type { TrafficKind } from '../traffic/kinds.js';
import type { AgentSession, CommandKind } from './session.js';

type ResultBody = NonNullable<CommandResult['body']>;
type BodyOf<C extends ResultBody['$case']> = Extract<ResultBody, { $case: C }>['value'];

/** Agent refusals that are the caller's to fix, mapped onto the daemon's own codes. */
const CALLER_CODES: Readonly<Record<string, ErrorCode>> = {
  no_framework: 'no_framework',
  unsupported_version: 'unsupported_version',
  unknown_traffic: 'bad_request',
};

/** The agent has no inbound counters: an older agent, or counting could not be woven in. */
const NO_INBOUND = new Set(['unknown_command', 'inbound_unavailable']);

/** Per-command bounds: a registry round trip under load, a heap walk, or a counter read. */
const TIMEOUTS = {
  traffic: 30_000,
  heap: 60_000,
  announce: 5_000,
  evict: 5_000,
  stop: 10_000,
  inbound: 2_000,
} as const;

export interface EvictRequest {
  provider: string;
  services: string[];
  ttlSeconds: number;
  release: boolean;
}

export class AgentClient {
  constructor(
    readonly pid: number,
    readonly session: AgentSession,
  ) {}

  /** What the agent sees of each framework: versions, registries, what is registered or removed. */
  async inventory(): Promise<InventoryReport> {
    return this.call({ $case: 'inventory', value: {} }, 'inventory', TIMEOUTS.traffic);
  }

  async isolate(traffic: readonly TrafficKind[]): Promise<TrafficChange[]> {
    return (await this.call({ $case: 'isolate', value: { traffic: [...traffic] } }, 'traffic', TIMEOUTS.traffic)).changes;
  }

  async restore(traffic: readonly TrafficKind[]): Promise<TrafficChange[]> {
    return (await this.call({ $case: 'restore', value: { traffic: [...traffic] } }, 'traffic', TIMEOUTS.traffic)).changes;
  }

  /** Dubbo's read-only event (or, with `writeable`, its undo) on the provider's server channels. */
  async announceReadOnly(writeable: boolean): Promise<AnnounceReport> {
    return this.call({ $case: 'announceReadOnly', value: { writeable } }, 'announced', TIMEOUTS.announce);
  }

  /** The inbound-request counters; null when this agent has none. `drainPeers` also forgets the peers returned. */
  async inbound(drainPeers: boolean): Promise<InboundReport | null> {
    try {
      return await this.call({ $case: 'getInbound', value: { drainPeers } }, 'inbound', TIMEOUTS.inbound);
    } catch (e) {
      if (isQuiesceError(e) && NO_INBOUND.has(String(e.details['agentCode']))) return null;
      throw e;
    }
  }

  async evict(req: EvictRequest): Promise<Eviction[]> {
    return (await this.call({ $case: 'evict', value: req }, 'evicted', TIMEOUTS.evict)).evictions;
  }

  async findInstances(className: string, limit: number): Promise<InstancesFound> {
    return this.call({ $case: 'findInstances', value: { className, limit } }, 'instancesFound', TIMEOUTS.heap);
  }

  /** Tells the agent to release everything it holds and end itself. */
  async stop(): Promise<void> {
    await this.call({ $case: 'stop', value: {} }, 'stopped', TIMEOUTS.stop);
  }

  private async call<C extends ResultBody['$case']>(kind: CommandKind, expect: C, timeoutMs: number): Promise<BodyOf<C>> {
    let r: CommandResult;
    try {
      r = await this.session.command(kind, timeoutMs);
    } catch (e) {
      throw this.mapError(e, kind);
    }
    if (r.body?.$case !== expect) {
      throw new QuiesceError('agent_command_failed', `agent of pid ${this.pid} answered ${kind.$case} with ${r.body?.$case ?? 'nothing'}`, {
        pid: this.pid,
      });
    }
    return r.body.value as BodyOf<C>;
  }

  private mapError(e: unknown, kind: CommandKind): unknown {
    if (!isQuiesceError(e)) return e;
    const agentCode = e.details['agentCode'];
    const mapped = typeof agentCode === 'string' ? CALLER_CODES[agentCode] : undefined;
    if (!mapped) return e;
    // The session's message reads "<command> in pid N: <agent code>: <text>": keep the text.
    const text = e.message.replace(/^[^:]*: [a-z_]+: /, '');
    return new QuiesceError(mapped, `pid ${this.pid}: ${kind.$case}: ${text}`, { pid: this.pid });
  }
}
