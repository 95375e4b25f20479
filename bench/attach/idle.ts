/**
 * Waiting until processes are idle, so that one measurement does not run while an earlier JVM is
 * still starting (JIT) or an agent loaded a moment ago is still initialising: on a 2-CPU host
 * either would steal the CPU the measured attach needs.
 */
import { readFileSync } from 'node:fs';
import { sleep } from '../../testkit/poll.js';

/** utime + stime of a process in clock ticks (10 ms each); 0 once it is gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

let timedOut = 0;

/** How many waits ended at their bound rather than on idle processes. */
export function idleTimeouts(): number {
  return timedOut;
}

/**
 * Resolves once `pids` together used at most one clock tick of CPU in a 200 ms window, or after
 * `maxMs` (counted by `idleTimeouts`).
 */
export async function waitIdle(pids: readonly number[], maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  const total = (): number => pids.reduce((s, p) => s + cpuTicks(p), 0);
  let before = total();
  for (;;) {
    await sleep(200);
    const now = total();
    if (now - before <= 1) return;
    if (Date.now() >= deadline) {
      timedOut++;
      return;
    }
    before = now;
  }
}

/** Share of the host's CPU time that was busy (not idle/iowait) over `ms`, from /proc/stat. */
export async function hostBusy(ms = 1000): Promise<number> {
  const read = (): { busy: number; total: number } => {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = cpu.reduce((a, b) => a + b, 0);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    return { busy: total - idle, total };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return b.total === a.total ? 0 : (b.busy - a.busy) / (b.total - a.total);
}
