/**
 * Sends one request to the listener's socket and reads the reply to EOF, either from this
 * process (as root) or from a short-lived child running as the JVM's uid/gid.
 *
 * JDK 8's listener (LinuxAttachListener::dequeue) accepts only peers whose SO_PEERCRED uid AND
 * gid equal its euid/egid; anyone else, root included, sees the socket closed with no reply.
 * JDK 11+ also accept root. So JDK 8 goes through the relay child, and a root connect that gets
 * an immediate EOF with no bytes (an unknown JDK version) is retried through it. The child runs
 * relay.ts (compiled to relay.js beside this file).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RawExchange {
  /** Everything the JVM wrote before closing; empty when it closed without a reply. */
  readonly data: Buffer;
}

export class ConnectError extends Error {
  constructor(
    message: string,
    readonly reason: 'no_socket' | 'refused' | 'timeout' | 'io',
  ) {
    super(message);
  }
}

/** Connects as this process; resolves with whatever arrives until EOF. */
export function exchangeDirect(socketPath: string, request: Buffer, timeoutMs: number): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const sock = net.connect({ path: socketPath });
    const timer = setTimeout(() => finish(new ConnectError(`no reply within ${timeoutMs} ms`, 'timeout')), timeoutMs);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve({ data: Buffer.concat(chunks) });
    };
    sock.on('connect', () => sock.end(request));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // A listener that drops the peer (JDK 8 with a wrong uid) may reset the write: same as EOF.
      if ((e.code === 'EPIPE' || e.code === 'ECONNRESET') && chunks.length === 0) return finish();
      if (e.code === 'ENOENT') return finish(new ConnectError(`socket ${socketPath} does not exist`, 'no_socket'));
      if (e.code === 'ECONNREFUSED')
        return finish(new ConnectError(`socket ${socketPath} refused the connection (stale socket?)`, 'refused'));
      finish(new ConnectError(`${e.code ?? 'error'} on ${socketPath}: ${e.message}`, 'io'));
    });
  });
}

/** The compiled relay (relay.ts) beside this module, found from this module's own location. */
export function relayScript(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (!here.endsWith('.ts')) return path.join(dir, 'relay.js');
  // Run from source (vitest imports src/*.ts, which Node 20 cannot execute): tsc's build of it in dist/.
  const root = path.resolve(dir, '../../..');
  return path.join(root, 'dist', path.relative(root, dir), 'relay.js');
}

/**
 * Whether uid:gid can read `file`: r on it and x on every directory above it, through symlinks too.
 * The child has no supplementary groups (libuv clears them), so only owner, group and other bits
 * count; ACLs are ignored, which can only make this say false where reading would have worked.
 */
export function readableBy(file: string, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  const allows = (p: string, bit: number): boolean => {
    const st = statSync(p);
    const shift = st.uid === uid ? 6 : st.gid === gid ? 3 : 0;
    return ((st.mode >> shift) & bit) !== 0;
  };
  const dirsAbove = (p: string): string[] => {
    const out: string[] = [];
    for (let d = path.dirname(p); ; d = path.dirname(d)) {
      out.push(d);
      if (d === path.dirname(d)) return out;
    }
  };
  try {
    const real = realpathSync(file);
    return allows(real, 4) && [...new Set([...dirsAbove(file), ...dirsAbove(real)])].every((d) => allows(d, 1));
  } catch {
    return false;
  }
}

/**
 * The child's arguments. `node relay.js <socket>` when the JVM user can read the file (and the
 * package.json that makes it ESM: Node before 20.19 would otherwise run it as CommonJS and fail).
 * Otherwise — a checkout under /root (0700), a umask of 077 — the daemon reads the text as root and
 * passes it with -e: same code, same exit codes, only the way it reaches the child differs.
 */
export function relayArgs(script: string, socketPath: string, uid: number, gid: number): string[] {
  const pkg = nearestPackageJson(path.dirname(script));
  if (readableBy(script, uid, gid) && (pkg === undefined || readableBy(pkg, uid, gid))) return [script, socketPath];
  return ['--input-type=module', '-e', readFileSync(script, 'utf8'), socketPath];
}

function nearestPackageJson(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    const p = path.join(d, 'package.json');
    if (existsSync(p)) return p;
    if (d === path.dirname(d)) return undefined;
  }
}

/** Connects from a child process running as uid/gid (supplementary groups cleared by libuv). */
export function exchangeAs(
  socketPath: string,
  request: Buffer,
  uid: number,
  gid: number,
  timeoutMs: number,
  script: string = relayScript(),
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    let args: string[];
    try {
      args = relayArgs(script, socketPath, uid, gid);
    } catch (e) {
      return reject(new ConnectError(`relay ${script} cannot be read (was the TypeScript built?): ${(e as Error).message}`, 'io'));
    }
    const child = spawn(process.execPath, args, {
      uid,
      gid,
      cwd: '/',
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const finish = (e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      if (e) reject(e);
      else resolve({ data: Buffer.concat(out) });
    };
    const timer = setTimeout(
      () => finish(new ConnectError(`no reply within ${timeoutMs} ms (relay as ${uid}:${gid})`, 'timeout')),
      timeoutMs,
    );
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => finish(new ConnectError(`relay child as ${uid}:${gid} failed to start: ${e.message}`, 'io')));
    child.on('close', (code) => {
      const msg = Buffer.concat(err).toString('utf8').trim();
      if (code === 0) return finish();
      if (code === 3) return finish(new ConnectError(`socket ${socketPath} does not exist (relay: ${msg})`, 'no_socket'));
      if (code === 4) return finish(new ConnectError(`socket ${socketPath} refused the connection (relay: ${msg})`, 'refused'));
      finish(new ConnectError(`relay as ${uid}:${gid} exited with ${code ?? 'a signal'}: ${msg}`, 'io'));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(request);
  });
}
