/**
 * One connected agent: the Hello it sent, and commands sent to it with their answers
 * matched by id. A session ends when the stream ends; pending commands then fail.
 */
import { randomUUID } from 'node:crypto';
import { QuiesceError } from '../errors.js';
import type { Command, CommandResult, DaemonMessage, Hello } from '../gen/quiesce/agent/v1/agent.js';
import { AsyncQueue } from './async-queue.js';

export type CommandKind = NonNullable<Command['kind']>;

interface Pending {
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class AgentSession {
  readonly hello: Hello;
  readonly connectedAt: number;
  lastHeartbeatAt: number;
  private readonly outgoing = new AsyncQueue<DaemonMessage>();
  private readonly pending = new Map<string, Pending>();
  private ended = false;

  constructor(
    hello: Hello,
    readonly label: string,
  ) {
    this.hello = hello;
    this.connectedAt = Date.now();
    this.lastHeartbeatAt = this.connectedAt;
  }

  /** What the gRPC handler streams back to the agent. */
  get messages(): AsyncIterable<DaemonMessage> {
    return this.outgoing;
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  send(message: DaemonMessage): void {
    this.outgoing.push(message);
  }

  /** Sends a command and resolves with the agent's result; an agent-side error rejects. */
  async command(kind: CommandKind, timeoutMs = 10_000): Promise<CommandResult> {
    if (this.ended) throw new QuiesceError('agent_not_connected', `agent of ${this.label} is not connected`);
    const id = randomUUID();
    const result = await new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QuiesceError('agent_command_failed', `${kind.$case} to agent of ${this.label}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.outgoing.push({ body: { $case: 'command', value: { id, kind } } });
    });
    if (result.error) {
      throw new QuiesceError('agent_command_failed', `${kind.$case} in ${this.label}: ${result.error.code}: ${result.error.message}`, {
        agentCode: result.error.code,
      });
    }
    return result;
  }

  onResult(result: CommandResult): void {
    const p = this.pending.get(result.id);
    if (!p) return;
    this.pending.delete(result.id);
    clearTimeout(p.timer);
    p.resolve(result);
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.outgoing.close();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new QuiesceError('agent_not_connected', `agent of ${this.label} disconnected (${reason})`));
      this.pending.delete(id);
    }
  }
}
