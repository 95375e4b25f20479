/** The real daemon (dist/src/cli/main.js) as a child process, spoken to over its HTTP API. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI } from './paths.js';

export interface Daemon {
  readonly pid: number;
  /** The last lines of its JSON log, for error messages. */
  logTail(lines?: number): string;
  post<T>(p: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

let running: ChildProcess | undefined;
let runningStateDir: string | undefined;

/** SIGKILLs the daemon if it still runs (synchronous: usable in process.on('exit')). */
export function killDaemonSync(): void {
  if (running?.pid !== undefined && running.exitCode === null && running.signalCode === null) {
    try {
      process.kill(running.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (runningStateDir !== undefined) rmSync(runningStateDir, { recursive: true, force: true });
}

export async function startDaemon(): Promise<Daemon> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'quiesce-bench-'));
  const proc = spawn(process.execPath, [CLI, 'daemon', '--http-port', '0', '--grpc-port', '0', '--state-dir', stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running = proc;
  runningStateDir = stateDir;
  let log = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    log = (log + d).slice(-64_000);
  });
  const tail = (lines = 15): string => log.trimEnd().split('\n').slice(-lines).join('\n');
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the daemon did not print "quiesce listening" in 20 s; its log:\n${tail()}`)), 20_000);
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /quiesce listening http=(\d+) grpc=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited (${code ?? sig}) before listening; its log:\n${tail()}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    pid: proc.pid as number,
    logTail: tail,
    post: async <T>(p: string, body?: unknown, timeoutMs = 60_000) => {
      const res = await fetch(base + p, {
        method: 'POST',
        signal: AbortSignal.timeout(timeoutMs),
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text for the error message
      }
      return { status: res.status, body: parsed as T };
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(stateDir, { recursive: true, force: true });
      runningStateDir = undefined;
    },
  };
}
