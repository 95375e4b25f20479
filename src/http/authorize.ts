/**
 * Who may do what, on every door: one table of every HTTP route and gRPC method, and one check
 * for both. A caller may drain only itself: a JVM in its own network namespace (its pod, or on
 * the host its own processes), and only as root or as the JVM's owner. Reads that reveal what
 * runs on the node need the admin token, or root on this host. Anything that attaches, mutates
 * or erases needs the admin token, when one is set; without one, root callers on this host are
 * the admins. Every refusal is a 403 (gRPC PERMISSION_DENIED) `forbidden` with the reason.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { QuiesceError } from '../errors.js';
import type { Fleet, JvmView } from '../agent/fleet.js';
import { identifyCaller, netnsOf, type Caller, type CallerSocket } from './caller.js';

/**
 * - `public`: anyone (the liveness probe; Prometheus, whose text holds counts and pids only).
 * - `peer`: any network peer; the handler checks what it may ask by its sender address (GoAway).
 * - `self`: a caller acting on its own JVM; the handler finds which (`selfTarget`).
 * - `read`: reads that reveal the node's JVMs, consumers and drains: the admin token, or root on
 *   this host (who can read all of that in /proc anyway) whether or not a token is set.
 * - `admin`: attaches, mutates or erases: the admin token; root on this host only when no token is set.
 */
export type Access = 'public' | 'peer' | 'self' | 'read' | 'admin';

/** Every HTTP route ("METHOD /pattern", as registered), and who may call it. A route missing here cannot be registered. */
export const HTTP_ACCESS: Readonly<Record<string, Access>> = {
  'GET /healthz': 'public',
  'GET /metrics': 'public',
  'POST /goaway': 'peer',
  'GET /offline': 'self',
  'POST /offline': 'self',
  'GET /online': 'self',
  'POST /online': 'self',
  'GET /status': 'read',
  'GET /jvms': 'read',
  'GET /jvms/:pid': 'read',
  'GET /jvms/:pid/consumers': 'read',
  'GET /drains': 'read',
  'GET /drains/:id': 'read',
  'GET /jvms/:pid/inventory': 'admin',
  'GET /jvms/:pid/inbound': 'admin',
  'POST /jvms/:pid/attach': 'admin',
  'POST /jvms/:pid/detach': 'admin',
  'POST /jvms/:pid/instances': 'admin',
  'POST /isolate': 'admin',
  'POST /restore': 'admin',
};

/** Every gRPC method (its path), and who may call it. A method missing here is refused. */
export const GRPC_ACCESS: Readonly<Record<string, Access>> = {
  '/quiesce.daemon.v1.Daemon/ListJvms': 'read',
  '/quiesce.daemon.v1.Daemon/GetStatus': 'read',
  '/quiesce.daemon.v1.Daemon/Attach': 'admin',
};

/** The entry for an HTTP request's route; HEAD is answered by its GET route. */
export function httpAccess(method: string, routeUrl: string): Access | undefined {
  return HTTP_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${routeUrl}`];
}

/** What a caller presents, whatever the door: its `authorization` value and its TCP connection. */
export interface Presented {
  authorization: string | undefined;
  /** The connection as the daemon sees it; null when it cannot be told (then only the token counts). */
  socket: CallerSocket | null;
}

export interface Authorizer {
  /** Refuses unless the caller may use a route or method of this access; `what` names it in the refusal. */
  allow(access: Access, who: Presented, what: string): Promise<void>;
  /** The JVM a self-drain (/offline, /online) acts on: the given pid, or the caller's own. */
  selfTarget(req: FastifyRequest, pid: number | undefined): Promise<number>;
  /** Refuses unless the caller is an admin (token, or root on this host without a token). */
  requireAdmin(req: FastifyRequest, what: string): Promise<void>;
}

/** An HTTP request as a `Presented`. */
export function presentedBy(req: FastifyRequest): Presented {
  const s = req.socket;
  const h = req.headers.authorization;
  return {
    authorization: typeof h === 'string' ? h : undefined,
    socket:
      s.remoteAddress && s.remotePort && s.localAddress && s.localPort
        ? { remoteAddress: s.remoteAddress, remotePort: s.remotePort, localAddress: s.localAddress, localPort: s.localPort }
        : null,
  };
}

export function createAuthorizer(fleet: Fleet, adminToken: string | null): Authorizer {
  /** 'none' without an authorization; 'ok' with the admin token; 'wrong' with anything else. */
  const token = (authorization: string | undefined): 'none' | 'ok' | 'wrong' => {
    if (authorization === undefined) return 'none';
    const m = /^Bearer (.+)$/.exec(authorization);
    if (!adminToken || !m?.[1]) return 'wrong';
    const a = Buffer.from(m[1]);
    const b = Buffer.from(adminToken);
    return a.length === b.length && timingSafeEqual(a, b) ? 'ok' : 'wrong';
  };

  /**
   * Root in the daemon's own network namespace: only the daemon's own socket table is searched.
   * Null when it is; otherwise why not, for the refusal (a caller that could not be identified is never root).
   */
  const notLocalRoot = async (socket: CallerSocket | null): Promise<string | null> => {
    if (!socket) return 'the connection has no addresses';
    let c: Caller;
    try {
      c = await identifyCaller(socket, []);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    if (c.uid !== 0) return `the caller is uid ${c.uid}`;
    return c.netns === (await netnsOf(process.pid)) ? null : "the caller is not in the daemon's network namespace";
  };

  const allow = async (access: Access, who: Presented, what: string): Promise<void> => {
    if (access === 'public' || access === 'peer' || access === 'self') return;
    const t = token(who.authorization);
    if (t === 'ok') return;
    if (t === 'wrong')
      throw new QuiesceError(
        'forbidden',
        adminToken ? `${what}: wrong admin token` : `${what}: this daemon has no admin token; send no Authorization`,
      );
    if (access === 'admin' && adminToken) throw new QuiesceError('forbidden', `${what} needs the admin token (Authorization: Bearer …)`);
    const why = await notLocalRoot(who.socket);
    if (why === null) return;
    throw new QuiesceError(
      'forbidden',
      adminToken
        ? `${what} needs the admin token (Authorization: Bearer …), or root on the daemon's host (${why})`
        : `${what} is for root on the daemon's host, or needs the admin token (--admin-token-file) (${why})`,
    );
  };

  const caller = async (req: FastifyRequest): Promise<Caller | null> => {
    const s = presentedBy(req).socket;
    if (!s) return null;
    await fleet.refresh();
    return identifyCaller(
      s,
      fleet.list().map((j) => j.pid),
    );
  };

  return {
    allow,

    async selfTarget(req, pid) {
      if (token(presentedBy(req).authorization) === 'ok') {
        if (pid === undefined) throw new QuiesceError('bad_request', 'with the admin token, say which JVM: pid');
        return pid;
      }
      const c = await caller(req);
      if (!c)
        throw new QuiesceError(
          'forbidden',
          `cannot tell who is calling from ${req.socket.remoteAddress}:${req.socket.remotePort}; ` +
            'a drain of another JVM needs the admin token',
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

    requireAdmin: (req, what) => allow('admin', presentedBy(req), what),
  };
}
