/**
 * How busy the host was while a series ran, and how much of that was the bench's own processes
 * (its JVMs, ZooKeeper, the daemon, itself): the rest is other work on the machine, which these
 * figures cannot exclude on a shared 2-CPU host, so they print it.
 */
import { readFileSync } from 'node:fs';
import { descendantsOf } from '../../testkit/procs.js';

/** utime + stime of a process in clock ticks; undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** All CPUs together, in the same clock ticks as /proc/<pid>/stat. */
function hostTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

function ourTicks(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of [process.pid, ...descendantsOf(process.pid)]) {
    const t = cpuTicks(pid);
    if (t !== undefined) out.set(pid, t);
  }
  return out;
}

export interface Load {
  /** Share of all CPUs' time that was busy. */
  readonly busy: number;
  /** Share of all CPUs' time used by this bench's processes. */
  readonly ours: number;
  readonly seconds: number;
}

/** Starts measuring; the function returned ends the window. */
export function measureLoad(): () => Load {
  const startedAt = Date.now();
  const host0 = hostTicks();
  const ours0 = ourTicks();
  return () => {
    const host1 = hostTicks();
    let ours = 0;
    for (const [pid, t] of ourTicks()) ours += t - (ours0.get(pid) ?? 0);
    const total = host1.total - host0.total;
    return {
      busy: total > 0 ? (host1.busy - host0.busy) / total : 0,
      ours: total > 0 ? Math.min(1, ours / total) : 0,
      seconds: (Date.now() - startedAt) / 1000,
    };
  };
}

export function describeLoad(l: Load): string {
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `host CPU over these ${l.seconds.toFixed(0)} s: ${pct(l.busy)} busy (2 CPUs = 100%), ${pct(l.ours)} by this bench's processes, ${pct(Math.max(0, l.busy - l.ours))} by other work; load average now ${loadavg}`;
}
