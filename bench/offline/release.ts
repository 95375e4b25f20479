/**
 * One release of provider 1, in one of three modes, then its replacement: a fresh provider 1 that
 * the consumer calls again, so every release starts from the same state (both instances in the
 * consumer's cache, agents attached ahead of time as the adopt policy does).
 *
 * - quiesce: `GET /offline` on host A's daemon (deregister, GoAway to host B's daemon, wait until
 *   idle), then SIGTERM — a preStop hook, then kubelet.
 * - sigterm: SIGTERM alone.
 * - deregister: `POST /isolate` (deregistration only), a preStop-style sleep, then SIGTERM.
 *
 * Every time is measured from the release start (the /offline or /isolate request, or the SIGTERM)
 * with the host's clock, which the consumer's lines are stamped with too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ContainerJvm } from '../../testkit/container.js';
import { sleep, until } from '../../testkit/poll.js';
import { alive } from '../../testkit/procs.js';
import type { Provider1, Scenario } from './scenario.js';
import type { DrainJson } from '../../testkit/api-types.js';

export type Mode = 'quiesce' | 'sigterm' | 'deregister';

export const MODES: readonly Mode[] = ['quiesce', 'sigterm', 'deregister'];

export const MODE_TITLES: Record<Mode, string> = {
  quiesce: 'quiesce (/offline, then SIGTERM)',
  sigterm: 'SIGTERM only',
  deregister: 'deregister only (/isolate, preStop sleep, then SIGTERM)',
};

export interface ReleaseOptions {
  readonly offlineTimeoutSeconds: number;
  readonly quietSeconds: number;
  readonly prestopSleepMs: number;
  /** Longest wait for the consumer to call the fresh provider 1. */
  readonly replaceTimeoutMs: number;
}

export interface Release {
  readonly mode: Mode;
  /** The instance released. */
  readonly name: string;
  /** Release start minus the consumer's first call to this instance (its cache refresh). */
  readonly phaseMs: number;
  /** Calls and failed calls from the release start until the consumer first called the fresh instance. */
  readonly calls: number;
  readonly failed: number;
  /** Failed calls per error message. */
  readonly errors: ReadonlyMap<string, number>;
  /** The consumer's call rate over that window. */
  readonly perSecond: number;
  /** Release start → the last call the released instance answered. */
  readonly lastCallMs: number | null;
  /** Release start → the last failed call (the dead instance left the consumer's list). */
  readonly lastFailMs: number | null;
  /** Client wall time of /offline (quiesce) or /isolate (deregister). */
  readonly requestMs: number | null;
  readonly offlineOutcome: string | null;
  readonly sigtermToExitMs: number;
  readonly startToExitMs: number;
  /** Release start → the consumer's first call to the fresh instance. */
  readonly replacedMs: number;
}

const MAX_START_ATTEMPTS = 3;
const WARM_UP_REQUESTS = 200;
const execFileAsync = promisify(execFile);

/** quiesce's agent into provider 1, as the adopt policy would attach it when the JVM starts (a no-op when attached). */
async function attach(s: Scenario, pid: number, name: string): Promise<void> {
  const att = await s.daemonA!.post(`/jvms/${pid}/attach`);
  if (att.status !== 200) throw new Error(`attaching ${name}'s agent: HTTP ${att.status} ${JSON.stringify(att.body)}`);
}

/** Agent attached, and host A's daemon knows the consumer on host B (the GoAway's address). */
async function prepare(s: Scenario, p1: Provider1): Promise<void> {
  await attach(s, p1.jvm.pid, p1.name);
  await until(
    `host A's daemon to see the consumer calling ${p1.name}`,
    15_000,
    async () => {
      const r = await s.daemonA!.get<{ consumers?: Array<{ address: string }> }>(`/jvms/${p1.jvm.pid}/consumers`);
      return r.body.consumers?.some((c) => c.address === s.hostB);
    },
    100,
  );
  await sleep(1_000);
}

/** SIGTERM (kubelet's), then the JVM's exit; SIGKILL after 30 s, which is an error. */
async function sigterm(p1: Provider1): Promise<number> {
  const t = Date.now();
  process.kill(p1.jvm.pid, 'SIGTERM');
  try {
    await until(`${p1.name} (pid ${p1.jvm.pid}) to exit after SIGTERM`, 30_000, () => !alive(p1.jvm.pid), 10);
  } catch (e) {
    await p1.jvm.kill();
    throw e;
  }
  return Date.now() - t;
}

/**
 * Requests straight to a fresh instance before the consumer's cache lists it, as a readiness probe
 * would send: its first requests initialise Spring MVC and run cold code, and under load took
 * more than the consumer's 2 s read timeout — failures of the new instance, not of the release.
 * Sent from host B (one curl, one connection), so the only caller host A's daemon records is the
 * consumer's host, as without them.
 */
async function warmUp(s: Scenario, jvm: ContainerJvm, name: string): Promise<void> {
  const port = /READY port=(\d+)/.exec(jvm.stdout())?.[1];
  if (port === undefined) throw new Error(`${name} printed no "READY port=<port>"`);
  const url = `http://${s.hostA}:${port}/hello`;
  const { stdout } = await execFileAsync(
    'ip',
    [
      'netns',
      'exec',
      s.net!.hosts[1]!.netns,
      'curl',
      '-sS',
      '--fail',
      '--max-time',
      '60',
      '-w',
      '\\n',
      ...Array<string>(WARM_UP_REQUESTS).fill(url),
    ],
    {
      timeout: 90_000,
      maxBuffer: 1 << 20,
    },
  );
  const answers = stdout.split('\n').filter((l) => l.startsWith(`${name} `)).length;
  if (answers !== WARM_UP_REQUESTS)
    throw new Error(`warming ${name} up: ${answers} of ${WARM_UP_REQUESTS} answers; curl printed ${stdout.slice(0, 200)}`);
}

/**
 * A fresh provider 1 the consumer calls; a JVM that does not start is retried. Its agent is attached
 * and it is warmed up as soon as it is up, while the consumer's cache still has to refresh before
 * it calls it.
 */
export async function replaceProvider1(s: Scenario, timeoutMs: number, onRetry: (e: unknown) => void): Promise<Provider1> {
  for (let attempt = 1; ; attempt++) {
    try {
      const next = await s.startProvider1();
      try {
        await attach(s, next.jvm.pid, next.name);
        await warmUp(s, next.jvm, next.name);
        return { ...next, firstCalled: await s.calledBy(next.name, timeoutMs) };
      } catch (e) {
        await s.killJvm(next.jvm);
        throw e;
      }
    } catch (e) {
      if (attempt >= MAX_START_ATTEMPTS) throw e;
      onRetry(e);
    }
  }
}

export async function release(s: Scenario, mode: Mode, o: ReleaseOptions, onRetry: (e: unknown) => void): Promise<Release> {
  const p1 = s.provider1!;
  await prepare(s, p1);
  const t0 = Date.now();
  let requestMs: number | null = null;
  let offlineOutcome: string | null = null;
  if (mode === 'quiesce') {
    const r = await s.daemonA!.get<DrainJson>(`/offline?pid=${p1.jvm.pid}&timeout=${o.offlineTimeoutSeconds}&quiet=${o.quietSeconds}`);
    requestMs = Date.now() - t0;
    if (r.status !== 200) throw new Error(`/offline: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    offlineOutcome = `${r.body.outcome}, consumers notified ${r.body.consumers.notified} failed ${r.body.consumers.failed} unreachable ${r.body.consumers.unreachable}`;
  } else if (mode === 'deregister') {
    const r = await s.daemonA!.post<{ changes?: Array<{ deregistered: string[] }> }>('/isolate', {
      pid: p1.jvm.pid,
      traffic: ['springcloud'],
    });
    requestMs = Date.now() - t0;
    if (r.status !== 200 || r.body.changes?.[0]?.deregistered.length !== 1)
      throw new Error(`/isolate: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    await sleep(o.prestopSleepMs);
  }
  const sigtermToExitMs = await sigterm(p1);
  const startToExitMs = Date.now() - t0;
  await s.killJvm(p1.jvm);

  const next = await replaceProvider1(s, o.replaceTimeoutMs, onRetry);
  s.provider1 = next;
  // Calls still under way when the fresh instance was first called: let their lines arrive.
  await sleep(500);
  s.calls!.update();
  const w = s.calls!.window(t0, next.firstCalled);
  const last = s.calls!.lastCall(p1.name);
  return {
    mode,
    name: p1.name,
    phaseMs: t0 - p1.firstCalled,
    calls: w.calls,
    failed: w.failed,
    errors: w.errors,
    perSecond: (w.calls * 1000) / Math.max(1, next.firstCalled - t0),
    lastCallMs: last === undefined ? null : last - t0,
    lastFailMs: w.lastFail === null ? null : w.lastFail - t0,
    requestMs,
    offlineOutcome,
    sigtermToExitMs,
    startToExitMs,
    replacedMs: next.firstCalled - t0,
  };
}
