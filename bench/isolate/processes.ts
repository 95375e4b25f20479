/**
 * The last-resort cleanup of the bench's own processes (finding them, and their CPU for load.ts,
 * is testkit/procs.ts). Everything the bench starts is a direct child of it
 * (the ZooKeeper server and its reader JVM, the daemon, `unshare` for each container JVM), so
 * SIGKILL to those children ends all of it: `unshare --kill-child` takes the container's init and
 * with it every process of the container. Synchronous, so usable in process.on('exit').
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { childrenOf, isJava } from '../../testkit/procs.js';

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
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a.length > 0);
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
    if (zooCfg !== undefined && path.basename(path.dirname(zooCfg)).startsWith('quiesce-zk-'))
      rmSync(path.dirname(zooCfg), { recursive: true, force: true });
  }
  for (const d of leftovers) rmSync(d, { recursive: true, force: true });
}
