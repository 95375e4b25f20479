import type { Db } from './db.js';

export type DrainState = 'running' | 'drained' | 'timeout' | 'failed' | 'undone';
export type StepState = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface StepRecord {
  name: string;
  state: StepState;
  startedAt: number | null;
  endedAt: number | null;
  /** One line: what happened. */
  outcome: string | null;
  detail: unknown;
}

export interface DrainParams {
  timeoutMs: number;
  quietMs: number;
}

export interface DrainRecord {
  id: number;
  pid: number;
  startTime: number;
  state: DrainState;
  params: DrainParams;
  steps: StepRecord[];
  summary: unknown;
  startedAt: number;
  endedAt: number | null;
  undoneAt: number | null;
}

interface Row {
  id: number;
  pid: number;
  start_time: number;
  state: DrainState;
  params: string;
  steps: string;
  summary: string | null;
  started_at: number;
  ended_at: number | null;
  undone_at: number | null;
}

/** The drain journal: every step written as it starts and ends. */
export class DrainStore {
  constructor(private readonly db: Db) {}

  create(pid: number, startTime: number, params: DrainParams, steps: StepRecord[]): DrainRecord {
    const r = this.db
      .prepare(`INSERT INTO drains (pid, start_time, state, params, steps, started_at) VALUES (?, ?, 'running', ?, ?, ?)`)
      .run(pid, startTime, JSON.stringify(params), JSON.stringify(steps), Date.now());
    return this.get(Number(r.lastInsertRowid))!;
  }

  saveSteps(id: number, steps: StepRecord[]): void {
    this.db.prepare(`UPDATE drains SET steps = ? WHERE id = ?`).run(JSON.stringify(steps), id);
  }

  /** Ends the drain once, with the summary it answered (written with the same end time). */
  end(id: number, state: Exclude<DrainState, 'running' | 'undone'>, summary: unknown, endedAt: number): void {
    this.db.prepare(`UPDATE drains SET state = ?, summary = ?, ended_at = ? WHERE id = ?`).run(state, JSON.stringify(summary), endedAt, id);
  }

  markUndone(id: number): void {
    this.db.prepare(`UPDATE drains SET state = 'undone', undone_at = ? WHERE id = ?`).run(Date.now(), id);
  }

  get(id: number): DrainRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM drains WHERE id = ?`).get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** The JVM's latest drain. */
  latest(pid: number, startTime: number): DrainRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM drains WHERE pid = ? AND start_time = ? ORDER BY id DESC LIMIT 1`).get(pid, startTime) as
      Row | undefined;
    return row && fromRow(row);
  }

  running(): DrainRecord[] {
    return (this.db.prepare(`SELECT * FROM drains WHERE state = 'running' ORDER BY id`).all() as Row[]).map(fromRow);
  }

  list(pid?: number, limit = 50): DrainRecord[] {
    const rows = (
      pid === undefined
        ? this.db.prepare(`SELECT * FROM drains ORDER BY id DESC LIMIT ?`).all(limit)
        : this.db.prepare(`SELECT * FROM drains WHERE pid = ? ORDER BY id DESC LIMIT ?`).all(pid, limit)
    ) as Row[];
    return rows.map(fromRow);
  }
}

function fromRow(r: Row): DrainRecord {
  return {
    id: r.id,
    pid: r.pid,
    startTime: r.start_time,
    state: r.state,
    params: JSON.parse(r.params) as DrainParams,
    steps: JSON.parse(r.steps) as StepRecord[],
    summary: r.summary === null ? null : (JSON.parse(r.summary) as unknown),
    startedAt: r.started_at,
    endedAt: r.ended_at,
    undoneAt: r.undone_at,
  };
}
