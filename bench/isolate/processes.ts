/**
 * The bench's own processes, found as the descendants of this Node process: for the CPU they use
 * (load.ts) and for the last-resort cleanup. Everything the bench starts is a direct child of it
 * (the ZooKeeper server and its reader JVM, the daemon, `unshare` for each container JVM), so
 * SIGKILL to those children ends all of it: `unshare --kill-child` takes the container's init and
 * with it every process of the container. Synchronous, so usable in process.on('exit').
 */
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';

export function childrenOf(pid: number): number[] {
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

export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of childrenOf(queue.shift() as number)) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

export function isJava(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).endsWith('/bin/java');
  } catch {
    return false;
  }
}

/** Directories to remove at exit however the bench ends (the daemon's state directory). */
const leftovers = new Set<string>();

export function removeAtExit(dir: string): () => void {
  leftovers.add(dir);
  return () => {
    rmSync(dir, { recursive: true, force: true });
    leftovers.delete(dir);
  };
}

/**
 * SIGKILLs every child of this process, and removes the data directory of a ZooKeeper server
 * among them (testkit/zookeeper.ts starts it as `java ... <dataDir>/zoo.cfg` and only its
 * own stop() removes that directory).
 */
export function killChildrenSync(): void {
  for (const pid of childrenOf(process.pid)) {
    let zooCfg: string | undefined;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
      const last = argv[argv.length - 1];
      if (isJava(pid) && last?.endsWith('/zoo.cfg')) zooCfg = last;
    } catch {
      // gone
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    if (zooCfg !== undefined && path.basename(path.dirname(zooCfg)).startsWith('quiesce-zk-')) rmSync(path.dirname(zooCfg), { recursive: true, force: true });
  }
  for (const d of leftovers) rmSync(d, { recursive: true, force: true });
}
