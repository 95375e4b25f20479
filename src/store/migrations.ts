/**
 * The schema, as an append-only list. A migration, once released, is never edited:
 * a change is a new entry. `PRAGMA user_version` records how far a database got.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'agents',
    sql: `
      -- One row per JVM the daemon has put an agent into (or tried to). Written before
      -- the load command is sent, so a daemon killed mid-attach still knows which
      -- socket to bind for the agent that may already be running.
      CREATE TABLE agents (
        pid               INTEGER NOT NULL,
        start_time        INTEGER NOT NULL,  -- field 22 of /proc/<pid>/stat: tells pid reuse apart
        nspid             INTEGER NOT NULL,
        uid               INTEGER NOT NULL,
        gid               INTEGER NOT NULL,
        host_socket_path  TEXT    NOT NULL,
        state             TEXT    NOT NULL CHECK (state IN ('attaching', 'loaded', 'failed', 'stopped')),
        error_code        TEXT,
        error_message     TEXT,
        agent_instance_id TEXT,
        updated_at        INTEGER NOT NULL,
        PRIMARY KEY (pid, start_time)
      );
    `,
  },
  {
    version: 2,
    name: 'isolations',
    sql: `
      -- Traffic isolations (/isolate): held until /restore, across daemon restarts.
      CREATE TABLE isolations (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        pid         INTEGER NOT NULL,
        start_time  INTEGER NOT NULL,
        traffic     TEXT    NOT NULL,  -- JSON array of the kinds isolated, e.g. ["dubbo"]
        state       TEXT    NOT NULL CHECK (state IN ('isolated', 'restored')),
        removed     TEXT    NOT NULL,  -- JSON: what the agent deregistered, per framework and registry
        reapplied   INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        restored_at INTEGER
      );
      CREATE INDEX isolations_by_jvm ON isolations (pid, start_time, state);
    `,
  },
  {
    version: 3,
    name: 'consumers',
    sql: `
      -- Recent consumers of each provider JVM: whom a drain tells to go away. Kept across
      -- daemon restarts; expired after a window; bounded per JVM.
      CREATE TABLE consumers (
        pid           INTEGER NOT NULL,
        start_time    INTEGER NOT NULL,
        address       TEXT    NOT NULL,  -- the consumer's IP as the provider sees it
        local_port    INTEGER NOT NULL,  -- the provider's port it called
        local_address TEXT,              -- the provider's address the consumer called (last seen)
        sources       TEXT    NOT NULL,  -- comma-separated: tcp (from /proc/<pid>/net/tcp), agent
        consumer_node TEXT,              -- the consumer's own quiesce daemon, when it announced one
        first_seen    INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL,
        PRIMARY KEY (pid, start_time, address, local_port)
      );
      CREATE INDEX consumers_by_last_seen ON consumers (last_seen);
    `,
  },
  {
    version: 4,
    name: 'drains',
    sql: `
      -- Lossless-offline drains: a journaled state machine per JVM. Each step is written when it
      -- starts and when it ends, so a restarted daemon resumes a running drain or reports it.
      CREATE TABLE drains (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        pid         INTEGER NOT NULL,
        start_time  INTEGER NOT NULL,
        state       TEXT    NOT NULL CHECK (state IN ('running', 'drained', 'timeout', 'failed', 'undone')),
        params      TEXT    NOT NULL,  -- JSON: timeout, quiet
        steps       TEXT    NOT NULL,  -- JSON array of steps with their timing and outcome
        summary     TEXT,              -- JSON: the answer to /offline, once ended
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        undone_at   INTEGER
      );
      CREATE INDEX drains_by_jvm ON drains (pid, start_time, id);
    `,
  },
];
