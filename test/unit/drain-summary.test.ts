/** A drain's answer is read from its journal record alone, as a restarted daemon reads it. */
import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/drain/summary.js';
import type { DrainRecord } from '../../src/store/drains.js';

const record = (over: Partial<DrainRecord>): DrainRecord => ({
  id: 3,
  pid: 42,
  startTime: 1000,
  state: 'drained',
  params: { timeoutMs: 25_000, quietMs: 1_000 },
  steps: [
    {
      name: 'goaway',
      state: 'done',
      startedAt: 10,
      endedAt: 20,
      outcome: '2 notified',
      detail: {
        results: [
          {
            peer: 'a:7370',
            consumer: 'a',
            provider: 'p:1',
            result: 'notified',
            status: 200,
            error: null,
            attempts: 1,
            evicted: null,
            durationMs: 3,
          },
          {
            peer: 'b:7370',
            consumer: 'b',
            provider: 'p:1',
            result: 'unreachable',
            status: null,
            error: 'ECONNREFUSED',
            attempts: 2,
            evicted: null,
            durationMs: 3,
          },
        ],
      },
    },
    { name: 'wait', state: 'done', startedAt: 20, endedAt: 1020, outcome: 'idle', detail: { inFlight: 0, lastRequestMillis: 0, polls: 1 } },
    { name: 'events', state: 'pending', startedAt: null, endedAt: null, outcome: null, detail: null },
  ],
  summary: null,
  startedAt: 0,
  endedAt: 2_000,
  undoneAt: null,
  ...over,
});

describe('summarize', () => {
  it('counts consumers by result, reads in-flight from the wait, times each step', () => {
    const s = summarize(record({}));
    expect(s).toMatchObject({ id: 3, pid: 42, outcome: 'drained', durationSeconds: 2, inFlightAtEnd: 0, undone: false, joined: false });
    expect(s.params).toEqual({ timeoutSeconds: 25, quietSeconds: 1 });
    expect(s.consumers).toMatchObject({ notified: 1, failed: 0, unreachable: 1 });
    expect(s.steps.map((x) => x.durationSeconds)).toEqual([0.01, 1, null]);
  });

  it('an undone drain still answers with how it had ended', () => {
    expect(summarize(record({ state: 'undone', summary: { outcome: 'timeout' } })).outcome).toBe('timeout');
    expect(summarize(record({ state: 'undone', summary: null })).outcome).toBe('drained');
  });

  it('a wait that never counted leaves inFlightAtEnd null', () => {
    const r = record({ state: 'running', endedAt: null });
    r.steps[1]!.detail = { polls: 1 };
    expect(summarize(r)).toMatchObject({ outcome: 'running', inFlightAtEnd: null, endedAt: null });
  });
});
