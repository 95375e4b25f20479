/**
 * One round: take provider A out of traffic with one tool, time what follows, put it back, time
 * that too. Every time is in ms after the command was sent (Date.now(), the clock the consumer's
 * lines are stamped with):
 *
 *  - the command's answer (HTTP 200 from the daemon, "OK" from Dubbo's QoS);
 *  - each registry node gone, from a ZooKeeper poll every `pollMs` (one request at a time through
 *    testkit/zookeeper.ts's reader, about 1 ms each);
 *  - the consumer's last call to A: the start of the last call A answered, once A has answered
 *    none for `quietMs` (negative when that call began before the command was sent);
 *  - then, after the restore command: each node back, and the consumer's first call to A again.
 *
 * Resolution: a call every `interval` ms spread over two providers, so the last/first call to A is
 * known within about two intervals; node times within `pollMs` plus one request.
 */

import { sleep, until } from '../../testkit/poll.js';
import type { CallLog } from './calls.js';

export interface Probe {
  /** "provider node", "instance node" ... */
  readonly name: string;
  /** Whether A's node is in ZooKeeper now. */
  present(): Promise<boolean>;
}

export interface Tool {
  /** "quiesce", "QoS" */
  readonly name: string;
  /** Resolves when the command has answered successfully; rejects otherwise. */
  isolate(): Promise<void>;
  restore(): Promise<void>;
}

export interface Round {
  readonly tool: string;
  readonly isolateAnswered: number;
  /** Per probe: ms until the node was gone, or null if it never went within the bound. */
  readonly gone: readonly (number | null)[];
  readonly lastCall: number | null;
  readonly restoreAnswered: number;
  readonly back: readonly (number | null)[];
  readonly firstCall: number | null;
  /** Consumer calls that failed during the round (isolation should cause none). */
  readonly failedCalls: number;
  /** Calls A answered after its last node was gone (in flight, or the consumer's cache). */
  readonly callsToAAfterGone: number;
}

export interface RoundOptions {
  readonly pollMs: number;
  readonly quietMs: number;
  /** Longest wait for a node to go or come back. */
  readonly nodeTimeoutMs: number;
  /** Longest wait for the consumer to stop calling A, or to call it again. */
  readonly callTimeoutMs: number;
  /** Pause after the consumer calls A again, before the next round. */
  readonly settleMs: number;
  /**
   * Least time between a registry change and the next command. Dubbo 3's consumer delays a
   * registry notification that comes within 5 s of its previous one (RegistryNotifier, default
   * delay 5000 ms) until those 5 s are over: without the gap, each round would time that delay.
   */
  readonly gapMs: number;
}

/** Polls until every probe reads `want`; ms after t0 for each, null for one that never did. */
async function pollProbes(probes: readonly Probe[], want: boolean, t0: number, o: RoundOptions): Promise<(number | null)[]> {
  const out: (number | null)[] = probes.map(() => null);
  const deadline = t0 + o.nodeTimeoutMs;
  for (;;) {
    for (const [i, p] of probes.entries()) {
      if (out[i] !== null) continue;
      if ((await p.present()) === want) out[i] = Date.now() - t0;
    }
    if (out.every((x) => x !== null) || Date.now() > deadline) return out;
    await sleep(o.pollMs);
  }
}

/** The rounds poll every 20 ms (the default 50 would blur the times they measure). */
const POLL_MS = 20;

/** The state every round starts from: every node of A registered and the consumer calling A. */
export async function steady(probes: readonly Probe[], calls: CallLog, o: RoundOptions): Promise<void> {
  await until(
    "all of A's nodes registered",
    20_000,
    async () => {
      for (const p of probes) if (!(await p.present())) return false;
      return true;
    },
    POLL_MS,
  );
  const from = Date.now();
  await until('a call to A', o.callTimeoutMs, () => calls.firstTo('A', from) !== undefined, POLL_MS);
}

/** When the registry last changed (a node seen gone or back), for RoundOptions.gapMs. */
let lastChange = 0;

async function gap(o: RoundOptions): Promise<void> {
  const wait = lastChange + o.gapMs - Date.now();
  if (wait > 0) await sleep(wait);
}

export async function runRound(tool: Tool, probes: readonly Probe[], calls: CallLog, o: RoundOptions): Promise<Round> {
  await steady(probes, calls, o);
  await gap(o);

  const t0 = Date.now();
  const isolating = tool.isolate().then(() => Date.now() - t0);
  isolating.catch(() => undefined); // awaited below, after the poll
  const gone = await pollProbes(probes, false, t0, o);
  const isolateAnswered = await isolating;
  const goneAt = Math.max(...gone.map((g) => g ?? o.nodeTimeoutMs)) + t0;
  lastChange = goneAt;
  // A is out of the consumer's choice once it has answered nothing for quietMs.
  const last = await until(
    `the consumer to stop calling A (${tool.name})`,
    o.callTimeoutMs,
    () => {
      const l = calls.lastTo('A') ?? 0;
      return Date.now() - Math.max(l, t0) >= o.quietMs ? { at: l } : null;
    },
    POLL_MS,
  );
  const lastCall = last.at > 0 ? last.at - t0 : null;
  const callsToAAfterGone = calls.between(goneAt, Date.now()).byName.get('A') ?? 0;

  await gap(o);
  const t1 = Date.now();
  const restoring = tool.restore().then(() => Date.now() - t1);
  restoring.catch(() => undefined);
  const back = await pollProbes(probes, true, t1, o);
  const restoreAnswered = await restoring;
  lastChange = Math.max(...back.map((b) => b ?? o.nodeTimeoutMs)) + t1;
  const first = await until(`a call to A after restore (${tool.name})`, o.callTimeoutMs, () => calls.firstTo('A', t1), POLL_MS);
  const failedCalls = calls.between(t0, Date.now()).failed;
  await sleep(o.settleMs);
  return { tool: tool.name, isolateAnswered, gone, lastCall, restoreAnswered, back, firstCall: first - t1, failedCalls, callsToAAfterGone };
}
