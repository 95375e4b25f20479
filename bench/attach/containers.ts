/**
 * JVMs in stand-in containers, as in test/support/container.ts: their own pid, mount and network
 * namespaces, a private tmpfs /tmp, uid 1000 with no passwd entry. One difference: `unshare
 * --kill-child`, so that killing unshare (even with SIGKILL, even from an exit handler) takes the
 * namespace's init and with it every process of the container. Every JVM started here is
 * registered until it exits; `killAllSync` is safe in a process 'exit' handler.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ContainerJvmOptions {
  readonly java: string;
  /** Host directory with the classes; copied into the container's /tmp/app. */
  readonly classpath: string;
  readonly mainClass: string;
  readonly args?: readonly string[];
  readonly jvmFlags: readonly string[];
  /** Size of the container's /tmp tmpfs (must hold the 14 MB agent files). */
  readonly tmpSize?: string;
  readonly readyLine?: string;
  readonly readyTimeoutMs?: number;
}

export interface ContainerJvm {
  /** The java process's pid on the host. */
  readonly pid: number;
  /** Its pid inside the container. */
  readonly nspid: number;
  readonly stdout: () => string;
  /** Kills the whole namespace; safe to call twice. */
  readonly kill: () => Promise<void>;
}

const live = new Set<ChildProcess>();

/** SIGKILLs every container still running (synchronous: usable in process.on('exit')). */
export function killAllSync(): void {
  for (const c of live) if (c.pid !== undefined) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
}

export function liveCount(): number {
  return live.size;
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

function findJava(root: number): number | undefined {
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const c of children(p)) {
      try {
        if (readlinkSync(`/proc/${c}/exe`).endsWith('/bin/java')) return c;
      } catch {
        // gone
      }
      queue.push(c);
    }
  }
  return undefined;
}

function nspidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:')) ?? '';
  const ids = line.slice('NSpid:'.length).trim().split(/\s+/).map(Number);
  return ids[ids.length - 1] ?? pid;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SCRIPT = `
set -e
mount -t tmpfs -o mode=1777,size="$BENCH_TMP_SIZE" tmpfs /tmp
mkdir /tmp/app
cp -r "$BENCH_CLASSES"/. /tmp/app/
chmod -R a+rX /tmp/app
cd /tmp
unset BENCH_CLASSES BENCH_TMP_SIZE
set +e
setpriv --reuid 1000 --regid 1000 --clear-groups "$@"
exit $?
`;

export async function startContainerJvm(o: ContainerJvmOptions): Promise<ContainerJvm> {
  const argv = [o.java, ...o.jvmFlags, '-cp', '/tmp/app', o.mainClass, ...(o.args ?? [])];
  const child = spawn('unshare', ['--pid', '--kill-child', '--mount', '--net', '--mount-proc', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp', BENCH_CLASSES: o.classpath, BENCH_TMP_SIZE: o.tmpSize ?? '64m' },
  });
  live.add(child);
  let out = '';
  let err = '';
  let exited: string | null = null;
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const closed = new Promise<void>((resolve) => child.on('close', (code, sig) => {
    exited = `exited with ${code ?? sig}`;
    live.delete(child);
    resolve();
  }));
  child.on('error', (e) => (exited = `could not start unshare: ${e.message}`));

  const kill = async (): Promise<void> => {
    if (exited === null) try { child.kill('SIGKILL'); } catch { /* gone */ }
    await closed;
  };

  const ready = o.readyLine ?? 'READY';
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  try {
    while (!out.includes(ready)) {
      if (exited !== null) throw new Error(`container JVM ${exited} before printing "${ready}"\nstdout: ${out}\nstderr: ${err}`);
      if (Date.now() > deadline) throw new Error(`container JVM did not print "${ready}" in time\nstdout: ${out}\nstderr: ${err}`);
      await sleep(10);
    }
    const pid = findJava(child.pid ?? -1);
    if (pid === undefined) throw new Error(`no java process under unshare ${child.pid}`);
    return { pid, nspid: nspidOf(pid), stdout: () => out, kill };
  } catch (e) {
    await kill();
    throw e;
  }
}
