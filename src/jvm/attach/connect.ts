/**
 * Sends one request to the listener's socket and reads the reply to EOF, either from this
 * process (as root) or from a short-lived child running as the JVM's uid/gid.
 *
 * JDK 8's listener (LinuxAttachListener::dequeue) accepts only peers whose SO_PEERCRED uid AND
 * gid equal its euid/egid; anyone else, root included, sees the socket closed with no reply.
 * JDK 11+ also accept root. So JDK 8 goes through the relay child, and a root connect that gets
 * an immediate EOF with no bytes (an unknown JDK version) is retried through it.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

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
      if (e.code === 'ECONNREFUSED') return finish(new ConnectError(`socket ${socketPath} refused the connection (stale socket?)`, 'refused'));
      finish(new ConnectError(`${e.code ?? 'error'} on ${socketPath}: ${e.message}`, 'io'));
    });
  });
}

/**
 * The relay run by the child (plain JavaScript, so it needs no build step): reads the request from
 * stdin, connects to argv[1], writes the reply to stdout. Exit 3 = no socket, 4 = refused, 2 = other.
 */
const RELAY_SOURCE = `
const net = require('node:net');
const path = process.argv[1];
const input = [];
process.stdin.on('data', (c) => input.push(c));
process.stdin.on('end', () => {
  const s = net.connect({ path });
  s.on('connect', () => s.end(Buffer.concat(input)));
  s.on('data', (c) => process.stdout.write(c));
  s.on('end', () => process.stdout.end());
  s.on('error', (e) => {
    if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return process.stdout.end();
    process.stderr.write(String(e.code) + ' ' + e.message);
    process.exitCode = e.code === 'ENOENT' ? 3 : e.code === 'ECONNREFUSED' ? 4 : 2;
  });
});
`;

/** Connects from a child process running as uid/gid (supplementary groups cleared by libuv). */
export function exchangeAs(socketPath: string, request: Buffer, uid: number, gid: number, timeoutMs: number): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', RELAY_SOURCE, socketPath], {
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
    const timer = setTimeout(() => finish(new ConnectError(`no reply within ${timeoutMs} ms (relay as ${uid}:${gid})`, 'timeout')), timeoutMs);
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
