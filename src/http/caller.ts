/**
 * Who is calling: the caller's TCP socket is found in the kernel's tables — the daemon's own
 * network namespace, or a JVM's — which gives its network namespace and its uid. A preStop
 * hook runs inside the pod, so its connection lives in the pod's network namespace, beside the
 * JVM it may drain.
 */
import { readFile, readlink } from 'node:fs/promises';
import { parseProcNetTcp } from '../jvm/tcp.js';
import { normalizeAddress } from '../goaway/address.js';

export interface CallerSocket {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

export interface Caller {
  /** The caller's network namespace ("net:[4026531840]"). */
  netns: string;
  uid: number;
}

interface TcpRowWithUid {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  uid: number;
}

function withUid(text: string): TcpRowWithUid[] {
  const uids = text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 10)
    .map((f) => Number(f[7]));
  return parseProcNetTcp(text).map((s, i) => ({ ...s, uid: uids[i] ?? -1 }));
}

async function findIn(procDir: string, sock: CallerSocket): Promise<number | null> {
  const [v4, v6] = await Promise.all([
    readFile(`${procDir}/net/tcp`, 'utf8').catch(() => ''),
    readFile(`${procDir}/net/tcp6`, 'utf8').catch(() => ''),
  ]);
  const want = { ra: normalizeAddress(sock.remoteAddress), la: normalizeAddress(sock.localAddress) };
  for (const row of [...withUid(v4), ...withUid(v6)]) {
    // The caller's side of the connection: its local end is our remote end.
    if (
      row.localPort === sock.remotePort &&
      row.remotePort === sock.localPort &&
      row.localAddress === want.ra &&
      row.remoteAddress === want.la
    )
      return row.uid;
  }
  return null;
}

/** Finds the caller among the daemon's own and the given processes' network namespaces. */
export async function identifyCaller(sock: CallerSocket, candidatePids: readonly number[]): Promise<Caller | null> {
  const own = await findIn('/proc/self', sock);
  if (own !== null) return { netns: await readlink('/proc/self/ns/net'), uid: own };
  const tried = new Set<string>([await readlink('/proc/self/ns/net').catch(() => '')]);
  for (const pid of candidatePids) {
    const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => null);
    if (!ns || tried.has(ns)) continue;
    tried.add(ns);
    const uid = await findIn(`/proc/${pid}`, sock);
    if (uid !== null) return { netns: ns, uid };
  }
  return null;
}

export async function netnsOf(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/ns/net`).catch(() => null);
}
