/**
 * HotSpot dynamic attach, spoken directly (no jattach, no jcmd): works across pid and mount
 * namespaces through /proc/<pid>/root, as root or as the JVM's own uid/gid.
 */
import { unlink } from 'node:fs/promises';
import { QuiesceError } from '../../errors.js';
import { isSameProcess } from '../discovery.js';
import type { JvmProcess } from '../types.js';
import { ConnectError, exchangeAs, exchangeDirect, type RawExchange } from './connect.js';
import { interpretLoadReply } from './load-reply.js';
import { socketHostPath } from './paths.js';
import { encodeRequest, parseReply, type AttachReply } from './protocol.js';
import { ensureListener } from './trigger.js';

export { encodeRequest, parseReply, type AttachReply } from './protocol.js';
export { interpretLoadReply, type LoadOutcome } from './load-reply.js';

export interface AttachOptions {
  /** Bound on the whole operation: starting the listener, connecting and reading the reply. */
  readonly timeoutMs?: number;
  /** Always connect through a child running as the JVM's uid/gid (the JDK 8 way). */
  readonly asTargetUser?: boolean;
}

export interface ExecuteResult extends AttachReply {
  /** The listener was already running: no trigger file, no signal. */
  readonly warm: boolean;
  /** How the socket was reached: as the daemon (root) or through a child as the JVM's user. */
  readonly via: 'direct' | 'relay';
  readonly durationMs: number;
}

export interface LoadResult {
  readonly rc: 0;
  readonly warm: boolean;
  readonly via: 'direct' | 'relay';
  readonly durationMs: number;
}

export const DEFAULT_EXECUTE_TIMEOUT_MS = 10_000;
/** `load` returns only after agentmain returns, which may include the agent's start-up work. */
export const DEFAULT_LOAD_TIMEOUT_MS = 30_000;

function describe(jvm: JvmProcess): string {
  const jdk = jvm.jdkVersion === null ? 'JDK ?' : `JDK ${jvm.jdkVersion}`;
  return `pid ${jvm.pid} (nspid ${jvm.nspid}, ${jdk})`;
}

/** Refusals known without touching the JVM: never signal a JVM that cannot answer. */
export function preflight(jvm: JvmProcess): void {
  if (jvm.vm !== 'hotspot' || !jvm.supported) {
    throw new QuiesceError('unsupported_jvm', `${describe(jvm)}: attach: ${jvm.unsupportedReason ?? `${jvm.vm} is not supported`}`, {
      pid: jvm.pid,
    });
  }
  if (jvm.attachDisabled) {
    // SIGQUIT would only print a thread dump into the application's stdout.
    throw new QuiesceError(
      'attach_disabled',
      `${describe(jvm)}: attach: the JVM was started with -XX:+DisableAttachMechanism; not signalling it`,
      { pid: jvm.pid },
    );
  }
}

/** One attach operation at a time per JVM, so concurrent callers do not race on the trigger file. */
const queues = new Map<number, Promise<unknown>>();

function serialized<T>(pid: number, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(pid) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  queues.set(pid, tail);
  void tail.then(() => {
    if (queues.get(pid) === tail) queues.delete(pid);
  });
  return run;
}

/** JDK 8 rejects root peers; JDK 9+ accept them (unknown version: try root first). */
function needsTargetUser(jvm: JvmProcess): boolean {
  return jvm.jdkFeature !== null && jvm.jdkFeature <= 8 && (jvm.uid !== 0 || jvm.gid !== 0);
}

async function exchange(
  jvm: JvmProcess,
  request: Buffer,
  timeoutMs: number,
  asTargetUser: boolean,
): Promise<{ raw: RawExchange; via: 'direct' | 'relay' }> {
  const sock = socketHostPath(jvm);
  if (asTargetUser || needsTargetUser(jvm)) {
    return { raw: await exchangeAs(sock, request, jvm.uid, jvm.gid, timeoutMs), via: 'relay' };
  }
  const started = Date.now();
  const raw = await exchangeDirect(sock, request, timeoutMs);
  if (raw.data.length > 0 || (jvm.uid === 0 && jvm.gid === 0)) return { raw, via: 'direct' };
  // Closed with no reply: a listener that checks peer credentials strictly (JDK 8).
  const left = Math.max(1, timeoutMs - (Date.now() - started));
  return { raw: await exchangeAs(sock, request, jvm.uid, jvm.gid, left), via: 'relay' };
}

async function executeOnce(jvm: JvmProcess, cmd: string, args: readonly string[], opts: AttachOptions): Promise<ExecuteResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXECUTE_TIMEOUT_MS;
  const left = (): number => Math.max(1, timeoutMs - (Date.now() - started));
  const where = describe(jvm);
  const request = encodeRequest(cmd, args, `${where}: attach ${cmd}`);
  preflight(jvm);
  if (!(await isSameProcess(jvm))) {
    throw new QuiesceError('not_found', `${where}: attach ${cmd}: the process exited (or its pid was reused)`, { pid: jvm.pid });
  }
  let retriedStale = false;
  for (;;) {
    const { warm } = await ensureListener(jvm, left());
    try {
      const { raw, via } = await exchange(jvm, request, left(), opts.asTargetUser === true);
      const reply = parseReply(raw.data);
      if (reply === null) {
        const what =
          raw.data.length === 0
            ? 'the listener closed the connection without a reply (peer credentials refused?)'
            : `unparsable reply ${JSON.stringify(raw.data.subarray(0, 120).toString('utf8'))}`;
        throw new QuiesceError('attach_timeout', `${where}: attach ${cmd}: ${what}`, { pid: jvm.pid });
      }
      return { ...reply, warm, via, durationMs: Date.now() - started };
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      // A socket left by an earlier JVM with the same nspid (a restarted container keeping /tmp): remove it, start over once.
      if (warm && !retriedStale && (e.reason === 'refused' || e.reason === 'no_socket')) {
        retriedStale = true;
        if (e.reason === 'refused') await unlink(socketHostPath(jvm)).catch(() => undefined);
        continue;
      }
      if (e.reason === 'timeout') {
        throw new QuiesceError('attach_timeout', `${where}: attach ${cmd}: ${e.message}`, { pid: jvm.pid }, { cause: e });
      }
      if (!(await isSameProcess(jvm))) {
        throw new QuiesceError('not_found', `${where}: attach ${cmd}: the process exited`, { pid: jvm.pid }, { cause: e });
      }
      throw new QuiesceError('attach_timeout', `${where}: attach ${cmd}: ${e.message}`, { pid: jvm.pid }, { cause: e });
    }
  }
}

/**
 * Runs one attach command (`properties`, `threaddump`, `jcmd`, `load`, …) and returns the raw
 * status and body. Throws `unsupported_jvm`, `attach_disabled`, `not_found` or `attach_timeout`.
 */
export function execute(jvm: JvmProcess, cmd: string, args: readonly string[] = [], opts: AttachOptions = {}): Promise<ExecuteResult> {
  return serialized(jvm.pid, () => executeOnce(jvm, cmd, args, opts));
}

/**
 * Loads a Java agent: `load instrument false <jar>[=<options>]`. `jarPathInTarget` is resolved in the
 * JVM's mount namespace (deliver the files first). Throws `dynamic_agents_disabled` (known from the
 * flags before any signal, or refused by the JVM) and `agent_failed` with the JPLIS rc.
 */
export async function loadAgent(jvm: JvmProcess, jarPathInTarget: string, options: string, opts: AttachOptions = {}): Promise<LoadResult> {
  const where = `${describe(jvm)}: load agent ${jarPathInTarget}`;
  preflight(jvm);
  if (jvm.dynamicAgentsDisabled) {
    throw new QuiesceError(
      'dynamic_agents_disabled',
      `${where}: the JVM was started with -XX:-EnableDynamicAgentLoading; not signalling it`,
      { pid: jvm.pid },
    );
  }
  if (!jarPathInTarget.startsWith('/')) {
    throw new QuiesceError('bad_request', `${where}: the jar path must be absolute in the target`, { pid: jvm.pid });
  }
  const arg = options === '' ? jarPathInTarget : `${jarPathInTarget}=${options}`;
  const res = await execute(jvm, 'load', ['instrument', 'false', arg], {
    timeoutMs: opts.timeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS,
    asTargetUser: opts.asTargetUser,
  });
  const outcome = interpretLoadReply(res.status, res.body);
  if (outcome.ok) return { rc: 0, warm: res.warm, via: res.via, durationMs: res.durationMs };
  const rc = outcome.rc === null ? '' : ` (rc ${outcome.rc})`;
  throw new QuiesceError(
    outcome.kind,
    `${where}: ${outcome.detail}${outcome.kind === 'agent_failed' && !outcome.detail.includes('rc ') ? rc : ''}`,
    {
      pid: jvm.pid,
      rc: outcome.rc,
    },
  );
}
