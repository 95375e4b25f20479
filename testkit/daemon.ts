/**
 * Runs the real daemon (the built `dist/` CLI) as a child process, so tests can
 * SIGKILL it and start it again on the same state directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './root.js';

export { ROOT };
export const CLI = join(ROOT, 'dist/src/cli/main.js');

export interface DaemonProcess {
  readonly proc: ChildProcess;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly stateDir: string;
  readonly base: string;
  /** Everything the daemon wrote to stderr (its JSON log). */
  logs(): string;
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  post<T = unknown>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function newStateDir(): string {
  return mkdtempSync(join(tmpdir(), 'quiesce-state-'));
}

export interface StartDaemonOptions {
  stateDir?: string;
  adopt?: string;
  extraArgs?: string[];
  refreshMs?: number;
  /** Run inside this network namespace (a test host), listening on `host`. */
  netns?: string;
  host?: string;
  httpPort?: number;
  env?: Record<string, string>;
}

export async function startDaemon(opts: StartDaemonOptions = {}): Promise<DaemonProcess> {
  const stateDir = opts.stateDir ?? newStateDir();
  const args = [
    CLI,
    'daemon',
    '--host',
    opts.host ?? '127.0.0.1',
    '--http-port',
    String(opts.httpPort ?? 0),
    '--grpc-port',
    '0',
    '--state-dir',
    stateDir,
    '--adopt',
    opts.adopt ?? 'none',
    '--refresh-interval',
    String(opts.refreshMs ?? 1000),
    ...(opts.extraArgs ?? []),
  ];
  const env = { ...process.env, QUIESCE_LOG_LEVEL: 'debug', ...(opts.env ?? {}) };
  const proc =
    opts.netns !== undefined
      ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ports = await new Promise<{ http: number; grpc: number }>((resolvePorts, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`daemon did not start in 20 s; stderr:\n${stderr}`)), 20_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /quiesce listening http=(\d+) grpc=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePorts({ http: Number(m[1]), grpc: Number(m[2]) });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before listening; stderr:\n${stderr}`));
    });
  });
  const base = `http://${opts.host ?? '127.0.0.1'}:${ports.http}`;
  const token = opts.env?.['QUIESCE_ADMIN_TOKEN'];
  const request = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers['authorization'] = `Bearer ${token}`;
    const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    const ct = res.headers.get('content-type') ?? '';
    return { status: res.status, body: (ct.includes('json') ? JSON.parse(text) : text) as T };
  };
  return {
    proc,
    httpPort: ports.http,
    grpcPort: ports.grpc,
    stateDir,
    base,
    logs: () => stderr,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      await exited;
    },
  };
}
