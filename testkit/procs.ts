/**
 * Processes as /proc shows them, for finding and ending what a test or benchmark started.
 * Synchronous, so usable in process.on('exit').
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children, from every thread's `children` file (a thread's children are listed there only). */
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

/** Children, their children and so on, breadth first. */
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
