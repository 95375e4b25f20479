import type { Db } from './db.js';

export interface RemovedEntry {
  traffic: string;
  framework: string;
  version: string;
  registry: string;
  kind: string;
  items: string[];
}

export interface IsolationRecord {
  id: number;
  pid: number;
  startTime: number;
  traffic: string[];
  state: 'isolated' | 'restored';
  removed: RemovedEntry[];
  reapplied: number;
  createdAt: number;
  updatedAt: number;
  restoredAt: number | null;
}

interface Row {
  id: number;
  pid: number;
  start_time: number;
  traffic: string;
  state: 'isolated' | 'restored';
  removed: string;
  reapplied: number;
  created_at: number;
  updated_at: number;
  restored_at: number | null;
}

/** The journal of traffic isolations: what a restarted daemon still holds and can undo. */
export class IsolationStore {
  constructor(private readonly db: Db) {}

  /** The JVM's isolation in force, if any. */
  active(pid: number, startTime: number): IsolationRecord | undefined {
    const row = this.db
      .prepare(`SELECT * FROM isolations WHERE pid = ? AND start_time = ? AND state = 'isolated' ORDER BY id DESC LIMIT 1`)
      .get(pid, startTime) as Row | undefined;
    return row && fromRow(row);
  }

  allActive(): IsolationRecord[] {
    return (this.db.prepare(`SELECT * FROM isolations WHERE state = 'isolated' ORDER BY id`).all() as Row[]).map(fromRow);
  }

  create(pid: number, startTime: number, traffic: string[], removed: RemovedEntry[]): IsolationRecord {
    const now = Date.now();
    const r = this.db
      .prepare(
        `INSERT INTO isolations (pid, start_time, traffic, state, removed, created_at, updated_at) VALUES (?, ?, ?, 'isolated', ?, ?, ?)`,
      )
      .run(pid, startTime, JSON.stringify(traffic), JSON.stringify(removed), now, now);
    return this.get(Number(r.lastInsertRowid))!;
  }

  update(id: number, changes: { traffic?: string[]; removed?: RemovedEntry[]; addReapplied?: number }): void {
    const cur = this.get(id);
    if (!cur) return;
    this.db
      .prepare(`UPDATE isolations SET traffic = ?, removed = ?, reapplied = reapplied + ?, updated_at = ? WHERE id = ?`)
      .run(
        JSON.stringify(changes.traffic ?? cur.traffic),
        JSON.stringify(changes.removed ?? cur.removed),
        changes.addReapplied ?? 0,
        Date.now(),
        id,
      );
  }

  markRestored(id: number): void {
    const now = Date.now();
    this.db.prepare(`UPDATE isolations SET state = 'restored', restored_at = ?, updated_at = ? WHERE id = ?`).run(now, now, id);
  }

  get(id: number): IsolationRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM isolations WHERE id = ?`).get(id) as Row | undefined;
    return row && fromRow(row);
  }
}

function fromRow(r: Row): IsolationRecord {
  return {
    id: r.id,
    pid: r.pid,
    startTime: r.start_time,
    traffic: JSON.parse(r.traffic) as string[],
    state: r.state,
    removed: JSON.parse(r.removed) as RemovedEntry[],
    reapplied: r.reapplied,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    restoredAt: r.restored_at,
  };
}
