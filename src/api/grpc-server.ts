/**
 * The daemon's own gRPC API (proto/quiesce/daemon/v1), used by the CLI and peers.
 * Failures become gRPC statuses whose message starts with the error code.
 * Every call passes the same check as the HTTP API (http/authorize.ts, GRPC_ACCESS): the admin
 * token in the `authorization` metadata, or, where the table allows it, root on this host.
 */
import { createServer, ServerError, type CallContext, type Server, type ServerMiddlewareCall } from 'nice-grpc';
import { isQuiesceError, QuiesceError, toQuiesceError } from '../errors.js';
import type { Fleet, JvmView } from '../agent/fleet.js';
import { DaemonDefinition, type Jvm } from '../gen/quiesce/daemon/v1/daemon.js';
import { GRPC_ACCESS, type Authorizer } from '../http/authorize.js';
import type { CallerSocket } from '../http/caller.js';
import { normalizeAddress } from '../goaway/address.js';
import { parseProcNetTcp, readNetTcpFile } from '../jvm/tcp.js';
import { VERSION } from '../version.js';

export interface GrpcAuth {
  auth: Authorizer;
  /** The port the server listens on (known once it does). */
  port(): number;
}

export function buildGrpcServer(fleet: Fleet, startedAt: number, access: GrpcAuth): Server {
  const server = createServer().use(authorizeCalls(access));
  server.add(DaemonDefinition, {
    listJvms: (req) =>
      guard(async () => {
        if (req.refresh) await fleet.refresh();
        return { jvms: fleet.list().map(toProto) };
      }),
    attach: (req) =>
      guard(async () => {
        const r = await fleet.attach(req.pid);
        return { jvm: toProto(r.jvm), alreadyAttached: r.alreadyAttached, durationSeconds: r.durationSeconds };
      }),
    getStatus: () => guard(async () => ({ version: VERSION, startedAtMillis: startedAt, jvms: fleet.list().map(toProto) })),
  });
  return server;
}

/** Refuses a call before its handler runs, as the HTTP API's onRequest hook does; a method without an entry is refused. */
function authorizeCalls(access: GrpcAuth) {
  return async function* authorize<Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext) {
    const path = call.method.path;
    try {
      const needs = GRPC_ACCESS[path];
      if (!needs) throw new QuiesceError('forbidden', `${path} has no entry in the daemon's access table`);
      const authorization = context.metadata.get('authorization');
      await access.auth.allow(
        needs,
        {
          authorization: typeof authorization === 'string' ? authorization : undefined,
          socket: await peerSocket(context.peer, access.port()),
        },
        path,
      );
    } catch (e) {
      const err = isQuiesceError(e) ? e : toQuiesceError(e);
      throw new ServerError(err.grpcStatus, `${err.code}: ${err.message}`);
    }
    return yield* call.next(call.request, context);
  };
}

/**
 * The caller's connection from grpc-js's peer ("1.2.3.4:5678", "::1:5678"). grpc-js does not say
 * which of our addresses it reached, so the accepted socket is found in our own socket table by
 * its remote end and our port; with no such row, or several, the caller cannot be told.
 */
export async function peerSocket(peer: string, localPort: number): Promise<CallerSocket | null> {
  const m = /^\[?(.+?)\]?:(\d+)$/.exec(peer);
  if (!m?.[1] || !m[2] || localPort <= 0) return null;
  const remoteAddress = normalizeAddress(m[1]);
  const remotePort = Number(m[2]);
  const [v4, v6] = await Promise.all([readNetTcpFile('/proc/self/net/tcp'), readNetTcpFile('/proc/self/net/tcp6')]);
  const accepted = [...parseProcNetTcp(v4), ...parseProcNetTcp(v6)].filter(
    (r) => r.localPort === localPort && r.remoteAddress === remoteAddress && r.remotePort === remotePort,
  );
  const locals = new Set(accepted.map((r) => r.localAddress));
  if (locals.size !== 1) return null;
  return { remoteAddress, remotePort, localAddress: [...locals][0]!, localPort };
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = isQuiesceError(e) ? e : toQuiesceError(e);
    throw new ServerError(err.grpcStatus, `${err.code}: ${err.message}`);
  }
}

export function toProto(j: JvmView): Jvm {
  return {
    pid: j.pid,
    nspid: j.nspid,
    uid: j.uid,
    gid: j.gid,
    jdk: j.jdk ?? '',
    vendor: j.vendor ?? '',
    main: j.main ?? '',
    containerId: j.containerId ?? '',
    foreignMountNs: j.foreignMountNs,
    vm: j.vm,
    supported: j.supported,
    unsupportedReason: j.unsupportedReason ?? '',
    agent: {
      state: j.agent.state,
      error: j.agent.error ?? '',
      version: j.agent.version ?? '',
      frameworks: j.agent.frameworks,
      connectedAtMillis: j.agent.connectedAt ?? 0,
    },
  };
}
