/**
 * The daemon's HTTP answers as a client reads them: the tests' and benchmarks' one copy. Written
 * from the wire (README's API table), not imported from src/, so that a change to the answers
 * shows up here as a decision and not silently through a shared type. Only the fields some test
 * or benchmark reads; JSON has more.
 */

/** Every error answer: `{ error: { code, message } }` (codes in src/errors.ts, documented in README). */
export interface ErrorJson {
  error: { code: string; message: string };
}

export interface AgentJson {
  state: string;
  error: string | null;
  instanceId: string | null;
  version: string | null;
}

/** One JVM, as `/status`'s `jvms[]` and `/jvms/:pid` show it. */
export interface JvmJson {
  pid: number;
  nspid: number;
  uid: number;
  jdk: string | null;
  foreignMountNs: boolean;
  main: string | null;
  agent: AgentJson;
}

/** `POST /jvms/:pid/attach`. */
export interface AttachJson {
  jvm: JvmJson;
  alreadyAttached: boolean;
  durationSeconds: number;
}

/** `/jvms/:pid/consumers`. */
export interface ConsumersJson {
  consumers: Array<{ address: string; localPort: number; sources: string[]; firstSeen: number; lastSeen: number }>;
}

/** One step of a drain (deregister, read_only, goaway, wait, events). */
export interface StepJson {
  name: string;
  state: string;
  outcome: string | null;
  startedAt: number | null;
  durationSeconds: number | null;
  detail: unknown;
}

/** What a consumer's daemon evicted (GoAway) or released (/online), per consumer JVM. */
export interface EvictedJson {
  pid: number;
  framework: string;
  service: string;
  removed: number;
  released: number;
  error: string | null;
}

/** One GoAway (or release) sent to a consumer's daemon. */
export interface GoAwayResultJson {
  result: string;
  consumer: string;
  provider: string;
  peer: string;
  durationMs: number;
  evicted: { evicted?: EvictedJson[] };
}

/** A drain: `/offline`'s answer, `/drains/:id`, `/drains?pid=`'s `drains[]`. */
export interface DrainJson {
  id: number;
  pid: number;
  outcome: string;
  joined: boolean;
  undone: boolean;
  startedAt: number;
  durationSeconds: number;
  steps: StepJson[];
  consumers: { notified: number; failed: number; unreachable: number; results: GoAwayResultJson[] };
}

/** `/online`. */
export interface OnlineJson {
  pid: number;
  drain: number | null;
  undone: boolean;
  restored: unknown[];
  writeable: { channels?: number; framework?: string; version?: string; skipped?: string; error?: string } | null;
  consumers: { released: number; failed: number; unreachable: number; results: GoAwayResultJson[] } | null;
}
