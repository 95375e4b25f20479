/**
 * Who may do what. A caller may drain only itself: a JVM in its own network namespace (its pod,
 * or on the host its own processes), and only as root or as the JVM's owner. Anything else —
 * another JVM, isolation for diagnosis, attach — needs the admin token, when one is set; without
 * one, root callers on this host are the admins. Every refusal is a 403 with the reason.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { QuiesceError } from '../errors.js';
import type { Fleet, JvmView } from '../agent/fleet.js';
import { identifyCaller, netnsOf, type Caller } from './caller.js';

export interface Authorizer {
  /** The JVM a self-drain (/offline, /online) acts on: the given pid, or the caller's own. */
  selfTarget(req: FastifyRequest, pid: number | undefined): Promise<number>;
  /** Refuses unless the caller is an admin (token, or root on this host without a token). */
  requireAdmin(req: FastifyRequest, what: string): Promise<void>;
}

export function createAuthorizer(fleet: Fleet, adminToken: string | null): Authorizer {
  const bearer = (req: FastifyRequest): boolean => {
    if (!adminToken) return false;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer (.+)$/.exec(h) : null;
    if (!m?.[1]) return false;
    const a = Buffer.from(m[1]);
    const b = Buffer.from(adminToken);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const caller = async (req: FastifyRequest): Promise<Caller | null> => {
    const s = req.socket;
    if (!s.remoteAddress || !s.remotePort || !s.localAddress || !s.localPort) return null;
    await fleet.refresh();
    return identifyCaller(
      { remoteAddress: s.remoteAddress, remotePort: s.remotePort, localAddress: s.localAddress, localPort: s.localPort },
      fleet.list().map((j) => j.pid),
    );
  };

  return {
    async selfTarget(req, pid) {
      if (bearer(req)) {
        if (pid === undefined) throw new QuiesceError('bad_request', 'with the admin token, say which JVM: pid');
        return pid;
      }
      const c = await caller(req);
      if (!c)
        throw new QuiesceError(
          'forbidden',
          `cannot tell who is calling from ${req.socket.remoteAddress}:${req.socket.remotePort}; a drain of another JVM needs the admin token`,
        );
      const mine: JvmView[] = [];
      for (const j of fleet.list()) {
        if ((await netnsOf(j.pid)) === c.netns && (c.uid === 0 || c.uid === j.uid) && j.supported) mine.push(j);
      }
      if (pid !== undefined) {
        if (mine.some((j) => j.pid === pid)) return pid;
        throw new QuiesceError(
          'forbidden',
          `pid ${pid} is not a JVM of uid ${c.uid} in the caller's network namespace; acting on another JVM needs the admin token`,
        );
      }
      if (mine.length === 1) return mine[0]!.pid;
      if (mine.length === 0) throw new QuiesceError('forbidden', `no JVM of uid ${c.uid} in the caller's network namespace`);
      throw new QuiesceError(
        'bad_request',
        `several JVMs in the caller's network namespace (${mine.map((j) => j.pid).join(', ')}): say which with pid`,
      );
    },

    async requireAdmin(req, what) {
      if (bearer(req)) return;
      if (adminToken) throw new QuiesceError('forbidden', `${what} needs the admin token (Authorization: Bearer …)`);
      const c = await caller(req);
      if (c?.uid === 0 && c.netns === (await netnsOf(process.pid))) return;
      throw new QuiesceError('forbidden', `${what} is for root on this host, or needs the admin token (--admin-token)`);
    },
  };
}
