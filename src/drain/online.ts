/**
 * /online: undoes a JVM's latest drain, exactly what it did. Re-registers what its deregister and
 * events steps removed or held, sends Dubbo's writeable event when its read-only step ran, and
 * tells the consumers its GoAway reached that the provider is back.
 */
import { toQuiesceError } from '../errors.js';
import type { AgentClient } from '../agent/client.js';
import { sendGoAways, type GoAwayResult, type GoAwayTarget } from '../goaway/send.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { DrainRecord, DrainStore } from '../store/drains.js';
import { toChangeView, type TrafficChangeView } from '../traffic/isolator.js';
import { trafficKinds } from '../traffic/kinds.js';
import type { PerJvmSerial } from '../traffic/serial.js';
import { countResults, isGoAwayDetail, isKindsDetail } from './summary.js';

/**
 * What /online's writeable event did (Dubbo providers whose drain sent the read-only event):
 * `channels` it was sent on, per the agent; `skipped` when a Dubbo has no such event (before
 * 3.2.1: its consumers clear the mark when they reconnect) or the drain sent no read-only event;
 * `error` when sending failed (the agent's code and message). Null when nothing was undone.
 */
export interface WriteableReport {
  channels?: number;
  framework?: string;
  version?: string;
  skipped?: string;
  error?: string;
}

/** What /online's release did: the consumers the drain's GoAway notified, told the provider is back. */
export interface ReleaseReport {
  released: number;
  failed: number;
  unreachable: number;
  results: GoAwayResult[];
}

export interface OnlineResult {
  pid: number;
  drain: number | null;
  restored: TrafficChangeView[];
  writeable: WriteableReport | null;
  /** Null when the drain notified no consumer (or nothing was undone). */
  consumers: ReleaseReport | null;
  undone: boolean;
}

export interface UndoDeps {
  log: Logger;
  metrics: Metrics;
  store: DrainStore;
  serial: PerJvmSerial;
  goawayTimeoutMs: number;
}

/** Undoes `latest` (not yet undone) through the JVM's agent. */
export async function undoDrain(latest: DrainRecord, client: AgentClient, deps: UndoDeps): Promise<OnlineResult> {
  const pid = latest.pid;
  const kinds = trafficKinds([
    ...new Set(latest.steps.flatMap((s) => (s.state === 'done' && isKindsDetail(s.detail) ? s.detail.kinds : []))),
  ]);
  // Restored and marked undone under the JVM's lock: a hold pass never takes it out again after this.
  const restored = await deps.serial.run(pid, async () => {
    const changes = kinds.length > 0 ? await client.restore(kinds) : [];
    deps.store.markUndone(latest.id);
    return changes.map(toChangeView);
  });
  const writeable = await announceWriteable(latest, client);
  if (writeable.error) deps.log.warn({ pid, err: writeable.error }, 'could not announce writeable');
  const consumers = await release(latest, deps.goawayTimeoutMs);
  deps.metrics.drainPhase.set({ pid: String(pid) }, 0);
  deps.log.info({ pid, drain: latest.id, kinds, writeable, released: consumers?.released ?? 0 }, 'drain undone');
  return { pid, drain: latest.id, restored, writeable, consumers, undone: true };
}

async function announceWriteable(latest: DrainRecord, client: AgentClient): Promise<WriteableReport> {
  const readOnly = latest.steps.find((s) => s.name === 'read_only');
  if (readOnly?.state !== 'done') {
    const why = readOnly?.outcome ? `: ${readOnly.outcome}` : '';
    return { skipped: `the drain sent no read-only event (read_only ${readOnly?.state ?? 'absent'}${why})` };
  }
  try {
    const a = await client.announceReadOnly(true);
    return {
      channels: a.channels,
      framework: a.framework,
      version: a.version,
      ...(a.skipped ? { skipped: a.skipped } : {}),
      ...(a.error ? { error: a.error } : {}),
    };
  } catch (e) {
    const err = toQuiesceError(e);
    return { error: `${err.code}: ${err.message}` };
  }
}

/**
 * After the registration is back: the consumers the drain's GoAway reached are told the provider
 * is back, so their load balancers list it again now instead of at their next refresh (or the
 * GoAway's TTL). A consumer that does not answer only waits for that refresh.
 */
async function release(latest: DrainRecord, timeoutMs: number): Promise<ReleaseReport | null> {
  const goaway = latest.steps.find((s) => s.name === 'goaway');
  const sent =
    goaway?.state === 'done' && isGoAwayDetail(goaway.detail) ? goaway.detail.results.filter((r) => r.result === 'notified') : [];
  if (sent.length === 0) return null;
  const targets: GoAwayTarget[] = sent.map((r) => ({ peer: r.peer, consumer: r.consumer, provider: r.provider, services: [] }));
  const results = await sendGoAways(targets, { ttlSeconds: 0, timeoutMs, concurrency: 8, deadline: Date.now() + 5_000, release: true });
  const n = countResults(results);
  return { released: n.notified, failed: n.failed, unreachable: n.unreachable, results };
}
