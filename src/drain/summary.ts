/** A drain as /offline, /drains and /drains/:id answer it: read from its journal record. */
import type { GoAwayResult } from '../goaway/send.js';
import type { DrainRecord } from '../store/drains.js';

export type DrainOutcome = 'drained' | 'timeout' | 'failed';

export interface StepView {
  name: string;
  state: string;
  outcome: string | null;
  startedAt: number | null;
  durationSeconds: number | null;
  detail: unknown;
}

export interface ConsumersReport {
  notified: number;
  failed: number;
  unreachable: number;
  results: GoAwayResult[];
}

export interface DrainSummary {
  id: number;
  pid: number;
  outcome: DrainOutcome | 'running';
  startedAt: number;
  endedAt: number | null;
  durationSeconds: number;
  params: { timeoutSeconds: number; quietSeconds: number };
  steps: StepView[];
  consumers: ConsumersReport;
  inFlightAtEnd: number | null;
  /** True when this answer joined a drain that was already running or already ended. */
  joined: boolean;
  undone: boolean;
}

/** How many GoAway results ended each way. */
export function countResults(results: readonly GoAwayResult[]): { notified: number; failed: number; unreachable: number } {
  const count = (k: GoAwayResult['result']): number => results.filter((r) => r.result === k).length;
  return { notified: count('notified'), failed: count('failed'), unreachable: count('unreachable') };
}

export function isGoAwayDetail(d: unknown): d is { results: GoAwayResult[] } {
  return typeof d === 'object' && d !== null && Array.isArray((d as { results?: unknown }).results);
}

export function isKindsDetail(d: unknown): d is { kinds: string[] } {
  return typeof d === 'object' && d !== null && Array.isArray((d as { kinds?: unknown }).kinds);
}

export function summarize(r: DrainRecord): DrainSummary {
  const goaway = r.steps.find((s) => s.name === 'goaway');
  const results = isGoAwayDetail(goaway?.detail) ? goaway.detail.results : [];
  const wait = r.steps.find((s) => s.name === 'wait');
  const inFlight = (wait?.detail as { inFlight?: number } | null)?.inFlight;
  // An undone drain still answers with how it had ended.
  const outcome = r.state === 'undone' ? ((r.summary as DrainSummary | null)?.outcome ?? 'drained') : r.state;
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
    consumers: { ...countResults(results), results },
    inFlightAtEnd: typeof inFlight === 'number' && inFlight >= 0 ? inFlight : null,
    joined: false,
    undone: r.state === 'undone',
  };
}
