/**
 * Starting a JVM's attach listener: create `.attach_pid<nspid>` where the JVM looks for it,
 * send SIGQUIT, wait for `/tmp/.java_pid<nspid>` to appear.
 */
import { constants } from 'node:fs';
import { lstat, open, rm, stat, unlink } from 'node:fs/promises';
import { QuiesceError } from '../../errors.js';
import { hasSignal, readStatus } from '../procfs.js';
import type { JvmProcess } from '../types.js';
import { socketHostPath, tmpHostPath, triggerHostPaths } from './paths.js';

const SIGQUIT = 3;

export interface TriggerTiming {
  /** True when the socket existed already (no trigger file, no signal). */
  readonly warm: boolean;
  readonly signalled: boolean;
}

async function isSocket(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isSocket();
  } catch {
    return false;
  }
}

/** Root can write anywhere except on a read-only mount: EROFS is what we look for. */
export async function tmpWritable(jvm: Pick<JvmProcess, 'pid' | 'nspid'>): Promise<{ ok: boolean; error: string | null }> {
  const probe = `${tmpHostPath(jvm)}/.quiesce-probe-${process.pid}-${Date.now()}`;
  try {
    const fh = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    await fh.close();
    await rm(probe, { force: true });
    return { ok: true, error: null };
  } catch (e) {
    return { ok: false, error: (e as NodeJS.ErrnoException).code ?? String(e) };
  }
}

/**
 * Creates the trigger file, owned by the JVM's euid/egid (JDK 8 requires its own euid; JDK 11+ also
 * accept root). The directories are the target user's: O_EXCL|O_NOFOLLOW and fchown, so a symlink
 * planted under that name cannot make root create or chown a file elsewhere.
 */
async function createTrigger(jvm: JvmProcess): Promise<string> {
  const errors: string[] = [];
  for (const p of triggerHostPaths(jvm)) {
    try {
      await unlink(p).catch(() => undefined);
      const fh = await open(p, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
      try {
        await fh.chown(jvm.uid, jvm.gid);
      } finally {
        await fh.close();
      }
      return p;
    } catch (e) {
      errors.push(`${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  throw new QuiesceError('attach_timeout', `pid ${jvm.pid}: attach trigger: cannot create .attach_pid${jvm.nspid} (${errors.join('; ')})`, {
    pid: jvm.pid,
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Makes sure the listener socket exists. Signals only when the JVM catches SIGQUIT: with -Xrs or
 * before HotSpot installed its handlers the default action would kill it (and the JDK's own
 * client applies the same rule since JDK 21).
 */
export async function ensureListener(jvm: JvmProcess, timeoutMs: number): Promise<TriggerTiming> {
  const sock = socketHostPath(jvm);
  if (await isSocket(sock)) return { warm: true, signalled: false };
  const deadline = Date.now() + timeoutMs;
  const where = `pid ${jvm.pid} (nspid ${jvm.nspid})`;

  // An absolute symlink as the target's /tmp would resolve against the host's root from here.
  const tmp = await lstat(tmpHostPath(jvm)).catch(() => null);
  if (tmp === null || !tmp.isDirectory()) {
    const what = tmp === null ? 'missing' : 'not a real directory (a symlink?)';
    throw new QuiesceError('attach_timeout', `${where}: attach: the JVM's /tmp is ${what}, so its attach socket cannot be reached`, {
      pid: jvm.pid,
    });
  }
  const writable = await tmpWritable(jvm);
  if (!writable.ok) {
    throw new QuiesceError(
      'attach_timeout',
      `${where}: attach: the JVM's /tmp is not writable (${writable.error}), ` +
        `so its attach listener cannot create its socket /tmp/.java_pid${jvm.nspid}`,
      { pid: jvm.pid },
    );
  }

  const trigger = await createTrigger(jvm);
  try {
    // Wait (bounded) for HotSpot to install its SIGQUIT handler, e.g. a JVM that just started.
    let delay = 20;
    for (;;) {
      const st = await readStatus(jvm.pid);
      if (st === null) throw new QuiesceError('not_found', `${where}: attach: the process exited`, { pid: jvm.pid });
      if (hasSignal(st.sigIgn, SIGQUIT)) {
        throw new QuiesceError(
          'attach_timeout',
          `${where}: attach: the JVM ignores SIGQUIT (-Xrs?), so its attach listener cannot be started`,
          { pid: jvm.pid },
        );
      }
      if (hasSignal(st.sigCgt, SIGQUIT)) break;
      if (Date.now() >= deadline) {
        throw new QuiesceError(
          'attach_timeout',
          `${where}: attach: the JVM does not catch SIGQUIT after ${timeoutMs} ms, not signalling it`,
          { pid: jvm.pid },
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 500);
    }
    process.kill(jvm.pid, 'SIGQUIT');
    delay = 20;
    for (;;) {
      if (await isSocket(sock)) return { warm: false, signalled: true };
      if (Date.now() >= deadline) {
        throw new QuiesceError(
          'attach_timeout',
          `${where}: attach: socket /tmp/.java_pid${jvm.nspid} did not appear within ${timeoutMs} ms after SIGQUIT (trigger ${trigger})`,
          { pid: jvm.pid },
        );
      }
      await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
      delay = Math.min(delay * 2, 500);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') {
      throw new QuiesceError('not_found', `${where}: attach: the process exited`, { pid: jvm.pid }, { cause: e });
    }
    throw e;
  } finally {
    await unlink(trigger).catch(() => undefined);
  }
}
