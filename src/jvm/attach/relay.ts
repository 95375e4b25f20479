/**
 * The attach relay: a short-lived child that connect.ts spawns as the JVM's uid/gid, because a
 * JDK 8 listener answers only peers with its own uid and gid. Reads the request from stdin,
 * connects to the socket given as the last argument, copies the reply to stdout.
 * Exit 0 = reply relayed (maybe empty), 3 = no socket, 4 = refused, 2 = any other error.
 *
 * Self-contained on purpose (node: built-ins only, no project import): when the JVM user cannot
 * read this file, connect.ts runs its text with `node -e`, where relative imports would not resolve.
 * The socket is the LAST argument, so both `node relay.js <socket>` and `node -e <text> <socket>` work.
 */
import net from 'node:net';

// Never undefined: argv holds at least the node binary; connect.ts always passes the socket.
const socketPath = process.argv.at(-1) ?? '';

function fail(code: number, message: string): void {
  process.stderr.write(message);
  process.exitCode = code;
}

function relay(path: string, request: Buffer): void {
  const s = net.connect({ path });
  s.on('connect', () => s.end(request));
  s.on('data', (c: Buffer) => process.stdout.write(c));
  s.on('end', () => process.stdout.end());
  s.on('error', (e: NodeJS.ErrnoException) => {
    // A listener that drops the peer may reset our write: that is an empty reply, not an error.
    if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return void process.stdout.end();
    fail(e.code === 'ENOENT' ? 3 : e.code === 'ECONNREFUSED' ? 4 : 2, `${e.code ?? 'error'} ${e.message}`);
  });
}

const input: Buffer[] = [];
process.stdin.on('data', (c: Buffer) => input.push(c));
process.stdin.on('end', () => relay(socketPath, Buffer.concat(input)));
