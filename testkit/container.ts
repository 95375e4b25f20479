/**
 * JVMs in stand-in containers: their own pid, mount and network namespaces and a private tmpfs
 * /tmp, running as an unprivileged uid with no passwd entry (so no hsperfdata), like a pod seen
 * from a node with hostPID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROOT } from './root.js';
import { sleep } from './poll.js';
import { childrenOf, descendantsOf, isJava } from './procs.js';

export interface ContainerJvmOptions {
  readonly javaHome: string;
  /** Host directory with the classes; copied into the container's /tmp/app (readable by uid 1000). */
  readonly classpath?: string;
  /** A class path of host paths used as is, not copied (e.g. a Maven fixture's classes and jars). */
  readonly hostClasspath?: string;
  /**
   * `isolated` (default): a network namespace of its own with only a loopback. `host`: the host's
   * network, like a pod with hostNetwork, so it can reach servers the tests run on 127.0.0.1.
   */
  readonly network?: 'isolated' | 'host';
  /** Run inside this network namespace (a test host from testkit/hosts.ts) instead. */
  readonly netns?: string;
  readonly mainClass: string;
  readonly args?: readonly string[];
  readonly jvmFlags?: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  /** Remount the container's /tmp read-only after copying the classes. */
  readonly readOnlyTmp?: boolean;
  /** Extra tmpfs mount options for the container's /tmp, e.g. 'noexec'. */
  readonly tmpOptions?: string;
  /** Run java as pid 1 of the namespace (docker's exec-form ENTRYPOINT); otherwise a shell is pid 1 and java pid 2. */
  readonly javaAsInit?: boolean;
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The JVM's working directory inside the container (created if missing); default /tmp. A path
   * under the checkout is used through the checkout's mount at /mnt (see inContainer).
   */
  readonly cwd?: string;
  /** A line of stdout that means the app is ready. */
  readonly readyLine?: string;
  readonly readyTimeoutMs?: number;
}

export interface ContainerJvm {
  /** The java process's pid on the host. */
  readonly pid: number;
  /** Its pid inside the container. */
  readonly nspid: number;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when stdout contains `text` (rejects after timeoutMs). */
  readonly waitForOutput: (text: string, timeoutMs?: number) => Promise<void>;
  /** Kills the whole namespace; safe to call twice. */
  readonly kill: () => Promise<void>;
}

export const SMALL_JVM_FLAGS = ['-Xmx64m', '-XX:+UseSerialGC', '-Xshare:auto', '-XX:TieredStopAtLevel=1'];

const live = new Set<ChildProcess>();

/** SIGKILLs every container still running (synchronous: usable in process.on('exit') and signal handlers). */
export function killAllSync(): void {
  for (const c of live)
    if (c.pid !== undefined)
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
}
process.on('exit', killAllSync);

function nspidOf(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('NSpid:')) ?? '';
  const ids = line.slice('NSpid:'.length).trim().split(/\s+/).map(Number);
  return ids[ids.length - 1] ?? pid;
}

/** Host paths under the checkout (seen at /mnt inside the containers), as a container sees them. */
export function inContainer(hostPaths: string): string {
  return hostPaths
    .split(':')
    .map((p) => {
      if (p !== ROOT && !p.startsWith(`${ROOT}/`))
        throw new Error(`hostClasspath entry ${p} is not under ${ROOT}; containers only see the checkout (at /mnt)`);
      return `/mnt${p.slice(ROOT.length)}`;
    })
    .join(':');
}

// The checkout may itself live under /tmp (CI clones anywhere), which the private tmpfs
// hides: the class directory is entered before it is covered, and the checkout is
// bind-mounted at /mnt for class paths used in place.
const SCRIPT = `
set -e
if [ -n "$QUIESCE_CLASSES" ]; then cd "$QUIESCE_CLASSES"; fi
mount --bind "$QUIESCE_ROOT" /mnt
mount -t tmpfs -o "mode=1777,size=64m$QUIESCE_TMP_OPTIONS" tmpfs /tmp
mkdir /tmp/app
if [ -n "$QUIESCE_CLASSES" ]; then cp -r ./. /tmp/app/; fi
chmod -R a+rX /tmp/app
if [ "$QUIESCE_RO_TMP" = 1 ]; then mount -o remount,ro /tmp; fi
mkdir -p "$QUIESCE_CWD"
cd "$QUIESCE_CWD"
unset QUIESCE_CLASSES QUIESCE_RO_TMP QUIESCE_CWD QUIESCE_TMP_OPTIONS QUIESCE_ROOT
if [ "$QUIESCE_AS_INIT" = 1 ]; then unset QUIESCE_AS_INIT; exec setpriv --reuid "$QUIESCE_UID" --regid "$QUIESCE_GID" --clear-groups "$@"; fi
set +e
setpriv --reuid "$QUIESCE_UID" --regid "$QUIESCE_GID" --clear-groups "$@"
exit $?
`;

export async function startContainerJvm(o: ContainerJvmOptions): Promise<ContainerJvm> {
  const java = `${o.javaHome}/bin/java`;
  if ((o.classpath === undefined) === (o.hostClasspath === undefined))
    throw new Error('startContainerJvm: give exactly one of classpath and hostClasspath');
  const cp = o.hostClasspath === undefined ? '/tmp/app' : inContainer(o.hostClasspath);
  const argv = [java, ...(o.jvmFlags ?? SMALL_JVM_FLAGS), '-cp', cp, o.mainClass, ...(o.args ?? [])];
  const netns = o.network === 'host' || o.netns !== undefined ? [] : ['--net'];
  const prefix = o.netns !== undefined ? ['netns', 'exec', o.netns, 'unshare'] : [];
  const child = spawn(
    o.netns !== undefined ? 'ip' : 'unshare',
    [
      ...prefix,
      '--pid',
      '--fork',
      '--kill-child',
      '--mount',
      ...netns,
      '--mount-proc',
      '--propagation',
      'private',
      'sh',
      '-c',
      SCRIPT,
      'sh',
      ...argv,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '/tmp',
        QUIESCE_CLASSES: o.classpath ?? '',
        QUIESCE_ROOT: ROOT,
        QUIESCE_RO_TMP: o.readOnlyTmp === true ? '1' : '0',
        QUIESCE_AS_INIT: o.javaAsInit === true ? '1' : '0',
        QUIESCE_CWD: o.cwd === undefined ? '/tmp' : o.cwd === ROOT || o.cwd.startsWith(`${ROOT}/`) ? inContainer(o.cwd) : o.cwd,
        QUIESCE_TMP_OPTIONS: o.tmpOptions === undefined ? '' : `,${o.tmpOptions}`,
        QUIESCE_UID: String(o.uid ?? 1000),
        QUIESCE_GID: String(o.gid ?? 1000),
        ...(o.env ?? {}),
      },
    },
  );
  live.add(child);
  let out = '';
  let err = '';
  let exited: string | null = null;
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const closed = new Promise<void>((resolve) =>
    child.on('close', (code, sig) => {
      exited = `exited with ${code ?? sig}`;
      live.delete(child);
      resolve();
    }),
  );

  const kill = async (): Promise<void> => {
    if (exited === null) {
      // Killing the namespace's init kills every process in it.
      for (const p of childrenOf(child.pid ?? -1))
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    await closed;
  };

  const waitForOutput = async (text: string, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!out.includes(text)) {
      if (exited !== null) throw new Error(`container JVM ${exited} before printing "${text}"\nstdout: ${out}\nstderr: ${err}`);
      if (Date.now() > deadline)
        throw new Error(`container JVM did not print "${text}" within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`);
      await sleep(20);
    }
  };

  try {
    await waitForOutput(o.readyLine ?? 'READY', o.readyTimeoutMs ?? 30_000);
    const pid = descendantsOf(child.pid ?? -1).find(isJava);
    if (pid === undefined) throw new Error(`no java process under unshare ${child.pid}`);
    return { pid, nspid: nspidOf(pid), stdout: () => out, stderr: () => err, waitForOutput, kill };
  } catch (e) {
    await kill();
    throw e;
  }
}

export interface PlainProcess {
  readonly pid: number;
  readonly kill: () => Promise<void>;
}

/** A non-Java process (default `sleep 600`). */
export async function startPlainProcess(cmd = 'sleep', args: readonly string[] = ['600']): Promise<PlainProcess> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  live.add(child);
  const closed = new Promise<void>((r) =>
    child.on('close', () => {
      live.delete(child);
      r();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    pid: child.pid as number,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
    },
  };
}

/** A pid that is certainly not running right now. */
export function deadPid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  for (let p = max - 1; p > 1; p--) {
    try {
      readFileSync(`/proc/${p}/stat`);
    } catch {
      return p;
    }
  }
  throw new Error('no free pid');
}
