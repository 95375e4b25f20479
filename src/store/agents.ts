import type { Db } from './db.js';

export type AgentRecordState = 'attaching' | 'loaded' | 'failed' | 'stopped';

export interface AgentRecord {
  pid: number;
  startTime: number;
  nspid: number;
  uid: number;
  gid: number;
  hostSocketPath: string;
  state: AgentRecordState;
  errorCode: string | null;
  errorMessage: string | null;
  agentInstanceId: string | null;
  updatedAt: number;
}

interface Row {
  pid: number;
  start_time: number;
  nspid: number;
  uid: number;
  gid: number;
  host_socket_path: string;
  state: AgentRecordState;
  error_code: string | null;
  error_message: string | null;
  agent_instance_id: string | null;
  updated_at: number;
}

/** The journal of agents put into JVMs: what a restarted daemon rebinds. */
export class AgentStore {
  constructor(private readonly db: Db) {}

  upsert(r: Omit<AgentRecord, 'updatedAt' | 'errorCode' | 'errorMessage' | 'agentInstanceId'> & Partial<AgentRecord>): void {
    this.db
      .prepare(
        `INSERT INTO agents (pid, start_time, nspid, uid, gid, host_socket_path, state,
                             error_code, error_message, agent_instance_id, updated_at)
         VALUES (@pid, @startTime, @nspid, @uid, @gid, @hostSocketPath, @state, @errorCode, @errorMessage, @agentInstanceId, @updatedAt)
         ON CONFLICT (pid, start_time) DO UPDATE SET
           nspid = excluded.nspid, uid = excluded.uid, gid = excluded.gid, host_socket_path = excluded.host_socket_path,
           state = excluded.state, error_code = excluded.error_code, error_message = excluded.error_message,
           agent_instance_id = COALESCE(excluded.agent_instance_id, agents.agent_instance_id), updated_at = excluded.updated_at`,
      )
      .run({
        errorCode: null,
        errorMessage: null,
        agentInstanceId: null,
        ...r,
        updatedAt: Date.now(),
      });
  }

  setState(pid: number, startTime: number, state: AgentRecordState, error?: { code: string; message: string }): void {
    this.db
      .prepare(`UPDATE agents SET state = ?, error_code = ?, error_message = ?, updated_at = ? WHERE pid = ? AND start_time = ?`)
      .run(state, error?.code ?? null, error?.message ?? null, Date.now(), pid, startTime);
  }

  setInstance(pid: number, startTime: number, agentInstanceId: string): void {
    this.db
      .prepare(`UPDATE agents SET agent_instance_id = ?, updated_at = ? WHERE pid = ? AND start_time = ?`)
      .run(agentInstanceId, Date.now(), pid, startTime);
  }

  /** Agents that are, or may be, running: the daemon rebinds their sockets on start. */
  live(): AgentRecord[] {
    const rows = this.db.prepare(`SELECT * FROM agents WHERE state IN ('attaching', 'loaded')`).all() as Row[];
    return rows.map(fromRow);
  }

  get(pid: number, startTime: number): AgentRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM agents WHERE pid = ? AND start_time = ?`).get(pid, startTime) as Row | undefined;
    return row && fromRow(row);
  }

  /** Forgets JVMs that are gone. */
  removeExcept(alive: ReadonlyArray<{ pid: number; startTime: number }>): number {
    const keep = new Set(alive.map((a) => `${a.pid}:${a.startTime}`));
    const rows = this.db.prepare(`SELECT pid, start_time FROM agents`).all() as Array<{ pid: number; start_time: number }>;
    const del = this.db.prepare(`DELETE FROM agents WHERE pid = ? AND start_time = ?`);
    let n = 0;
    for (const r of rows) {
      if (!keep.has(`${r.pid}:${r.start_time}`)) n += del.run(r.pid, r.start_time).changes;
    }
    return n;
  }
}

function fromRow(r: Row): AgentRecord {
  return {
    pid: r.pid,
    startTime: r.start_time,
    nspid: r.nspid,
    uid: r.uid,
    gid: r.gid,
    hostSocketPath: r.host_socket_path,
    state: r.state,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    agentInstanceId: r.agent_instance_id,
    updatedAt: r.updated_at,
  };
}
