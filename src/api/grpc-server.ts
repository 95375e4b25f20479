/**
 * The daemon's own gRPC API (proto/quiesce/daemon/v1), used by the CLI and peers.
 * Failures become gRPC statuses whose message starts with the error code.
 */
import { createServer, ServerError, type Server } from 'nice-grpc';
import { isQuiesceError, toQuiesceError } from '../errors.js';
import type { Fleet, JvmView } from '../agent/fleet.js';
import { DaemonDefinition, type Jvm } from '../gen/quiesce/daemon/v1/daemon.js';
import { VERSION } from '../version.js';

export function buildGrpcServer(fleet: Fleet, startedAt: number): Server {
  const server = createServer();
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
