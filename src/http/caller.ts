/**
 * Who is calling: the caller's TCP socket is found in the kernel's tables — the daemon's own
 * network namespace, or a JVM's — which gives its network namespace and its uid. A preStop
 * hook runs inside the pod, so its connection lives in the pod's network namespace, beside the
 * JVM it may drain.
 *
 * The uid is only believed from a row that a live socket owns. The kernel lists a socket that
 * no process holds any more (closed while FIN_WAIT1/FIN_WAIT2, or TIME_WAIT) with uid 0 and
 * inode 0: a client that sends its request and closes at once would otherwise be taken for
 * root. So the caller's row must be connected (ESTABLISHED, or FIN_WAIT1/FIN_WAIT2 after a
 * half-close: such a socket is still held and still has its owner), have an inode, and be the
 * only such row for the connection across every namespace searched. Anything else is refused
 * with the reason, never guessed.
 *
 * The owning process is not looked up through /proc/<pid>/fd: the socket's uid is its creator's,
 * which only a process of that uid (or root) can be, and one that hands its socket to another
 * process has delegated its identity; a scan of every process's fds on each request would cost
 * far more than it proves.
 */
import { readlink } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { QuiesceError } from '../errors.js';
import { parseProcNetTcpOwned, readNetTcp, type OwnedTcpSocket } from '../jvm/tcp.js';
import { canonicalIp, joinHostPort } from '../goaway/address.js';

/** The server's accepted socket. Node gives no addresses for a socket it has already closed: undefined. */
export interface CallerSocket {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
}

export interface Caller {
  /** The caller's network namespace ("net:[4026531840]"). */
  netns: string;
  uid: number;
}

/** One network namespace's TCP tables, as read from /proc/<pid>/net/tcp and tcp6. */
export interface NetTables {
  netns: string;
  tcp: string;
  tcp6: string;
}

export type CallerMatch = { caller: Caller } | { refused: string };

const TCP_ESTABLISHED = 0x01;
const TCP_FIN_WAIT1 = 0x04;
const TCP_FIN_WAIT2 = 0x05;
/** States of a client socket whose request the daemon is still answering, while a process may hold it. */
const CONNECTED = new Set([TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2]);
const STATE_NAMES: Record<number, string> = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
};
/** Namespaces whose tables are read at once. */
const READ_BATCH = 8;

/** One spelling per address (IPv4-mapped IPv6 as IPv4, IPv6 compressed, no zone index); null: not an IP. */
function canonical(a: string | undefined): string | null {
  if (a === undefined) return null;
  return canonicalIp(a.replace(/%.*$/, ''));
}

function isLoopback(a: string): boolean {
  return (isIPv4(a) && a.startsWith('127.')) || (isIPv6(a) && a === '::1');
}

function describe(sock: CallerSocket): string {
  const end = (a: string | undefined, p: number | undefined): string => joinHostPort(String(a), p ?? 0);
  return `${end(sock.remoteAddress, sock.remotePort)} → ${end(sock.localAddress, sock.localPort)}`;
}

/** The rows of the caller's side of the connection (its local end is our remote end), in any state. */
export function callerRows(text: string, sock: CallerSocket): OwnedTcpSocket[] {
  const ra = canonical(sock.remoteAddress);
  const la = canonical(sock.localAddress);
  if (ra === null || la === null) return [];
  return parseProcNetTcpOwned(text).filter(
    (row) =>
      row.localPort === sock.remotePort &&
      row.remotePort === sock.localPort &&
      canonical(row.localAddress) === ra &&
      canonical(row.remoteAddress) === la,
  );
}

/** A row a live socket owns: connected, and held by a process (an inode; an orphaned socket has none). */
export function isLiveOwner(row: OwnedTcpSocket): boolean {
  return CONNECTED.has(row.state) && row.inode !== 0;
}

/**
 * The caller among the tables of the namespaces searched: exactly one live row for the
 * connection, or a refusal that says why not.
 */
export function matchCaller(tables: readonly NetTables[], sock: CallerSocket): CallerMatch {
  if (sock.remoteAddress === undefined || sock.localAddress === undefined || !sock.remotePort || !sock.localPort)
    return { refused: 'cannot tell who is calling: the connection was closed before the caller could be identified' };
  if (canonical(sock.remoteAddress) === null || canonical(sock.localAddress) === null)
    return { refused: `cannot tell who is calling from ${describe(sock)}: not an IP connection` };
  const live: Array<{ netns: string; row: OwnedTcpSocket }> = [];
  const dead: OwnedTcpSocket[] = [];
  for (const t of tables) {
    for (const row of [...callerRows(t.tcp, sock), ...callerRows(t.tcp6, sock)]) {
      if (!isLiveOwner(row)) dead.push(row);
      // The same socket (namespace + inode) printed twice: /proc/net/tcp is not read atomically, and a
      // socket that moves in the kernel's hash between two reads of the file shows up again.
      else if (!live.some((m) => m.netns === t.netns && m.row.inode === row.inode)) live.push({ netns: t.netns, row });
    }
  }
  if (live.length === 1) return { caller: { netns: live[0]!.netns, uid: live[0]!.row.uid } };
  if (live.length > 1)
    return {
      refused: `cannot tell who is calling from ${describe(sock)}: ${live.length} sockets match the connection (${live
        .map((m) => `${m.netns} uid ${m.row.uid} inode ${m.row.inode}`)
        .join(', ')})`,
    };
  if (dead.length > 0) {
    const states = [...new Set(dead.map((r) => STATE_NAMES[r.state] ?? `state ${r.state}`))].join(', ');
    return {
      refused:
        `cannot tell who is calling from ${describe(sock)}: the caller's socket is no longer held by any process (${states}); ` +
        'keep the connection open until the answer',
    };
  }
  return {
    refused: `cannot tell who is calling from ${describe(sock)}: no socket of the caller in this host's or any JVM's network namespace`,
  };
}

async function tablesOf(pid: number, netns: string): Promise<NetTables> {
  const [tcp, tcp6] = await Promise.all([readNetTcp(pid, 'tcp'), readNetTcp(pid, 'tcp6')]);
  return { netns, tcp, tcp6 };
}

/**
 * Finds the caller among the daemon's own and the given processes' network namespaces, each
 * namespace read once. A connection to a loopback address can only come from the daemon's own
 * namespace, so only that one is searched for it. Throws `forbidden` with the reason when the
 * caller cannot be told: it is never taken for anyone, least of all root.
 */
export async function identifyCaller(sock: CallerSocket, candidatePids: readonly number[]): Promise<Caller> {
  const own = await readlink(`/proc/${process.pid}/ns/net`);
  const pids = new Map<string, number>([[own, process.pid]]);
  const la = canonical(sock.localAddress);
  if (la === null || !isLoopback(la)) {
    for (const pid of candidatePids) {
      const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => null);
      if (ns && !pids.has(ns)) pids.set(ns, pid);
    }
  }
  const entries = [...pids];
  const tables: NetTables[] = [];
  for (let i = 0; i < entries.length; i += READ_BATCH) {
    tables.push(...(await Promise.all(entries.slice(i, i + READ_BATCH).map(([ns, pid]) => tablesOf(pid, ns)))));
  }
  // A process that exited (or whose pid was reused) while being read would lend its tables to another namespace.
  const still = await Promise.all(
    tables.map(async (t) => (await readlink(`/proc/${pids.get(t.netns)!}/ns/net`).catch(() => null)) === t.netns),
  );
  const m = matchCaller(
    tables.filter((_, i) => still[i]),
    sock,
  );
  if ('refused' in m) throw new QuiesceError('forbidden', m.refused);
  return m.caller;
}

export async function netnsOf(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/ns/net`).catch(() => null);
}
