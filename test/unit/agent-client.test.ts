/**
 * The typed agent client over a real AgentSession (the daemon's end of the channel, driven here
 * by answering its commands directly): answers of the wrong kind and the agent's own error codes
 * become the daemon's documented errors, in this one place.
 */
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/agent/client.js';
import { AgentSession } from '../../src/agent/session.js';
import { Hello, type CommandResult } from '../../src/gen/quiesce/agent/v1/agent.js';
import { isQuiesceError } from '../../src/errors.js';

/** A session whose agent answers every command with `answer(kind)`. */
function agent(answer: (kind: string) => Omit<CommandResult, 'id'>): AgentClient {
  const session = new AgentSession(Hello.fromPartial({ pid: 7, agentVersion: 'test' }), 'pid 7');
  void (async () => {
    for await (const m of session.messages) {
      if (m.body?.$case !== 'command') continue;
      const { id, kind } = m.body.value;
      session.onResult({ id, ...answer(kind?.$case ?? '') });
    }
  })();
  return new AgentClient(7, session);
}

const error = (code: string, message: string): Omit<CommandResult, 'id'> => ({ error: { code, message }, body: undefined });

describe('AgentClient', () => {
  it('returns the typed body of the answer the command asked for', async () => {
    const c = agent(() => ({ error: undefined, body: { $case: 'traffic', value: { changes: [] } } }));
    await expect(c.isolate(['dubbo'])).resolves.toEqual([]);
  });

  it('an answer of another kind is agent_command_failed naming both', async () => {
    const c = agent(() => ({ error: undefined, body: { $case: 'pong', value: { agentTimeMillis: 1 } } }));
    const e: unknown = await c.inventory().catch((x: unknown) => x);
    expect(isQuiesceError(e) && e.code).toBe('agent_command_failed');
    expect((e as Error).message).toBe('agent of pid 7 answered inventory with pong');
  });

  it("the agent's refusals that are the caller's to fix become the daemon's codes, with the agent's text", async () => {
    for (const [agentCode, code] of [
      ['no_framework', 'no_framework'],
      ['unsupported_version', 'unsupported_version'],
      ['unknown_traffic', 'bad_request'],
    ] as const) {
      const c = agent(() => error(agentCode, 'Dubbo 3.1.11 is not supported'));
      const e: unknown = await c.isolate(['dubbo']).catch((x: unknown) => x);
      expect(isQuiesceError(e) && e.code, agentCode).toBe(code);
      expect((e as Error).message).toBe('pid 7: isolate: Dubbo 3.1.11 is not supported');
    }
  });

  it('any other agent error stays agent_command_failed with the agent code in its details', async () => {
    const c = agent(() => error('class_not_found', 'no such class'));
    const e: unknown = await c.findInstances('x.Y', 1).catch((x: unknown) => x);
    expect(isQuiesceError(e) && e.code).toBe('agent_command_failed');
    expect(isQuiesceError(e) && e.details['agentCode']).toBe('class_not_found');
  });

  it('an agent without inbound counters answers inbound() with null; other failures still throw', async () => {
    await expect(agent(() => error('inbound_unavailable', 'not woven')).inbound(false)).resolves.toBeNull();
    await expect(agent(() => error('unknown_command', 'old agent')).inbound(false)).resolves.toBeNull();
    await expect(agent(() => error('internal', 'boom')).inbound(false)).rejects.toMatchObject({ code: 'agent_command_failed' });
  });
});
