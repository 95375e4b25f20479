/**
 * A JVM's inbound TCP connections, read from /proc with no agent: which of its sockets
 * listen, and which established connections arrived on those ports. Works for any
 * protocol (Dubbo, HTTP, gRPC), and across network namespaces (/proc/<pid>/net is the
 * JVM's own namespace).
 */
import { readdir, readlink } from 'node:fs/promises';
import { LIMITS, readBoundedText, withTimeout } from './bounded-read.js';
import { procPath } from './procfs.js';

export interface TcpSocket {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Kernel TCP state: 0x01 ESTABLISHED, 0x0A LISTEN, ... */
  state: number;
  inode: number;
}

export interface InboundConnection {
  /** The consumer's address as the JVM sees it (IPv4 dotted, or IPv6; IPv4-mapped IPv6 shown as IPv4). */
  remoteAddress: string;
  remotePort: number;
  /** The JVM's listening port the connection arrived on. */
  localPort: number;
  /** The JVM's address on that connection (what the consumer dialled). */
  localAddress: string;
}

const TCP_ESTABLISHED = 0x01;
const TCP_LISTEN = 0x0a;

/** Parses /proc/net/tcp or tcp6 text. */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, st, , , , , , inode] = f.slice(1);
    if (!local || !remote || !st || !inode) continue;
    const [la, lp] = local.split(':');
    const [ra, rp] = remote.split(':');
    if (!la || !lp || !ra || !rp) continue;
    out.push({
      localAddress: decodeAddress(la),
      localPort: parseInt(lp, 16),
      remoteAddress: decodeAddress(ra),
      remotePort: parseInt(rp, 16),
      state: parseInt(st, 16),
      inode: Number(inode),
    });
  }
  return out;
}

/** A row with its owner: the uid the kernel prints for the socket (0 for a socket no process holds). */
export interface OwnedTcpSocket extends TcpSocket {
  uid: number;
}

const ADDR = '([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})';
/** sl: local rem st tx:rx tr:when retrnsmt uid timeout inode */
const ROW = new RegExp(`^\\s*\\d+:\\s+${ADDR}\\s+${ADDR}\\s+([0-9A-Fa-f]{2})\\s+\\S+\\s+\\S+\\s+\\S+\\s+(\\d+)\\s+\\d+\\s+(\\d+)(?:\\s|$)`);

/**
 * Parses /proc/net/tcp or tcp6 text with the uid column ("sl local rem st tx:rx tr:when retrnsmt
 * uid timeout inode ..."). Strict where parseProcNetTcp is lenient: a row that does not have this
 * exact shape is left out rather than guessed at, so a malformed row never yields an owner.
 */
export function parseProcNetTcpOwned(text: string): OwnedTcpSocket[] {
  const out: OwnedTcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = ROW.exec(line);
    if (!m) continue;
    const [, la, lp, ra, rp, st, uid, inode] = m as unknown as [string, string, string, string, string, string, string, string];
    if (la.length !== ra.length) continue;
    out.push({
      localAddress: decodeAddress(la),
      localPort: parseInt(lp, 16),
      remoteAddress: decodeAddress(ra),
      remotePort: parseInt(rp, 16),
      state: parseInt(st, 16),
      inode: Number(inode),
      uid: Number(uid),
    });
  }
  return out;
}

/**
 * The kernel prints addresses as 32-bit words in host byte order (little-endian here):
 * IPv4 "0100007F" is 127.0.0.1; IPv6 is four such words.
 */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) return wordToBytes(hex).join('.');
  if (hex.length === 32) {
    const bytes = [0, 8, 16, 24].flatMap((i) => wordToBytes(hex.slice(i, i + 8)));
    const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    if (mapped) return bytes.slice(12).join('.');
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
    return compressIpv6(groups);
  }
  throw new Error(`not a /proc/net/tcp address: ${hex}`);
}

function wordToBytes(word: string): number[] {
  const n = parseInt(word, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function compressIpv6(groups: string[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/**
 * A net/tcp or tcp6 file (under /proc/<pid>/net, or any procfs net directory), at most
 * LIMITS.netTcp: a namespace with more sockets than that is seen in part, the rows past the cap
 * are not counted; '' when it cannot be read.
 */
export async function readNetTcpFile(path: string): Promise<string> {
  try {
    const r = await readBoundedText(path, LIMITS.netTcp);
    // A row cut by the cap would parse into a wrong inode: only whole rows count.
    return r.truncated ? r.text.slice(0, r.text.lastIndexOf('\n') + 1) : r.text;
  } catch {
    return '';
  }
}

export function readNetTcp(pid: number, file: 'tcp' | 'tcp6'): Promise<string> {
  return readNetTcpFile(procPath(pid, 'net', file));
}

/** A JVM with more open files than this is read in part; each readlink is one thread-pool job. */
const MAX_FDS = 65_536;
const FD_BATCH = 256;
const FDS_TIMEOUT_MS = 5_000;

/** Inodes of the sockets the process holds open. */
export async function socketInodes(pid: number): Promise<Set<number>> {
  const out = new Set<number>();
  let fds: string[];
  try {
    fds = (await withTimeout(readdir(procPath(pid, 'fd')), FDS_TIMEOUT_MS, procPath(pid, 'fd'))).slice(0, MAX_FDS);
  } catch {
    return out;
  }
  const until = Date.now() + FDS_TIMEOUT_MS;
  // In batches: one Promise per fd at once would queue tens of thousands of jobs ahead of every other file operation.
  for (let i = 0; i < fds.length && Date.now() < until; i += FD_BATCH) {
    await Promise.all(
      fds.slice(i, i + FD_BATCH).map(async (fd) => {
        const target = await readlink(procPath(pid, 'fd', fd)).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m) out.add(Number(m[1]));
      }),
    );
  }
  return out;
}

/**
 * Established connections that arrived on one of the JVM's listening ports. Outbound
 * connections (the JVM as a client) are left out: their local port is not one it listens on.
 */
export async function inboundConnections(pid: number): Promise<InboundConnection[]> {
  const [inodes, v4, v6] = await Promise.all([socketInodes(pid), readNetTcp(pid, 'tcp'), readNetTcp(pid, 'tcp6')]);
  const own = [...parseProcNetTcp(v4), ...parseProcNetTcp(v6)].filter((s) => inodes.has(s.inode));
  const listening = new Set(own.filter((s) => s.state === TCP_LISTEN).map((s) => s.localPort));
  return own
    .filter((s) => s.state === TCP_ESTABLISHED && listening.has(s.localPort))
    .map((s) => ({ remoteAddress: s.remoteAddress, remotePort: s.remotePort, localPort: s.localPort, localAddress: s.localAddress }));
}
