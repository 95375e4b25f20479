/**
 * Wires the parts into one running daemon, and takes them down again in order:
 * stop accepting, finish, release. `close()` may be called any number of times.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Server } from 'nice-grpc';
import { AgentHub } from './agent/hub.js';
import { Fleet } from './agent/fleet.js';
import { describeAdoptPolicy, type AdoptPolicy } from './agent/adopt-policy.js';
import { buildGrpcServer } from './api/grpc-server.js';
import { buildHttpServer } from './http/server.js';
import type { AgentFiles } from './jvm/deliver.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics/registry.js';
import { AgentStore } from './store/agents.js';
import { IsolationStore } from './store/isolations.js';
import { ConsumerStore } from './store/consumers.js';
import { ConsumerTracker } from './consumers/tracker.js';
import { Drainer } from './drain/drainer.js';
import { HostModeResolver } from './goaway/peer-resolver.js';
import { DrainStore } from './store/drains.js';
import { GoAwayReceiver } from './goaway/receive.js';
import { createAuthorizer } from './http/authorize.js';
import { TrafficHolder } from './traffic/hold.js';
import { Isolator } from './traffic/isolator.js';
import { TRAFFIC_KINDS } from './traffic/kinds.js';
import { RegistrationGauge } from './traffic/registrations.js';
import { PerJvmSerial } from './traffic/serial.js';
import { openDb, type Db } from './store/db.js';

export interface DaemonOptions {
  host: string;
  httpPort: number;
  grpcPort: number;
  stateDir: string;
  adopt: AdoptPolicy;
  /** Where quiesce-agent.jar, quiesce-agent-core.jar and libquiesce_jvmti.so are. */
  agentDir?: string;
  refreshIntervalMs?: number;
  /** Bound on waiting for a JVM's attach listener. */
  attachTimeoutMs?: number;
  /** How often held isolations are re-applied. */
  holdIntervalMs?: number;
  /** How often inbound connections are sampled, and how long a consumer counts as recent. */
  consumerSampleMs?: number;
  consumerWindowMs?: number;
  /** The port peer daemons listen on (GoAway targets, host mode). */
  peerPort?: number;
  /** Bearer token that may act on any JVM; null: root callers on this host are the admins. */
  adminToken?: string | null;
  log?: Logger;
}

export interface RunningDaemon {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly fleet: Fleet;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

const PACKAGE_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

export function defaultAgentDir(): string {
  return process.env.QUIESCE_AGENT_DIR ?? join(PACKAGE_ROOT, 'dist', 'agent');
}

export function agentFilesIn(dir: string): AgentFiles {
  const files: AgentFiles = {
    jar: join(dir, 'quiesce-agent.jar'),
    coreJar: join(dir, 'quiesce-agent-core.jar'),
    nativeLib: join(dir, 'libquiesce_jvmti.so'),
  };
  for (const f of [files.jar, files.coreJar, files.nativeLib]) {
    if (!existsSync(f)) throw new Error(`agent file ${f} is missing: run "npm run build" (or point --agent-dir at a built agent)`);
  }
  return files;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const log = opts.log ?? createLogger();
  const startedAt = Date.now();
  const agentFiles = agentFilesIn(opts.agentDir ?? defaultAgentDir());
  const metrics = new Metrics();
  const db: Db = openDb(opts.stateDir);
  const hub = new AgentHub(log.child({ part: 'agents' }));
  const fleet = new Fleet({
    log,
    metrics,
    hub,
    agents: new AgentStore(db),
    agentFiles,
    adopt: opts.adopt,
    ...(opts.refreshIntervalMs !== undefined ? { refreshIntervalMs: opts.refreshIntervalMs } : {}),
    ...(opts.attachTimeoutMs !== undefined ? { attachTimeoutMs: opts.attachTimeoutMs } : {}),
  });

  const serial = new PerJvmSerial();
  const registrations = new RegistrationGauge(metrics);
  const isolator = new Isolator({ log, metrics, fleet, store: new IsolationStore(db), serial, registrations });
  const holder = new TrafficHolder({
    log,
    metrics,
    fleet,
    serial,
    ...(opts.holdIntervalMs !== undefined ? { intervalMs: opts.holdIntervalMs } : {}),
  });

  const consumers = new ConsumerTracker({
    log,
    metrics,
    store: new ConsumerStore(db),
    jvms: () => fleet.connected().map(({ pid, startTime }) => ({ pid, startTime })),
    agents: () => fleet.connected(),
    ...(opts.consumerSampleMs !== undefined ? { intervalMs: opts.consumerSampleMs } : {}),
    ...(opts.consumerWindowMs !== undefined ? { windowMs: opts.consumerWindowMs } : {}),
  });

  const goaway = new GoAwayReceiver(fleet, metrics, log);
  const drainer = new Drainer({
    log,
    metrics,
    fleet,
    consumers,
    resolver: new HostModeResolver(opts.peerPort ?? 7370, log),
    store: new DrainStore(db),
    serial,
    registrations,
  });
  holder.addSource(isolator.holds);
  holder.addSource(drainer.holds);
  fleet.onGone((pid) => {
    metrics.forgetJvm(pid, TRAFFIC_KINDS);
    registrations.forget(pid);
  });

  let http: FastifyInstance | undefined;
  let grpc: Server | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Drains first: an /offline request waiting on one answers, and the journal keeps it for the next daemon.
      await drainer.close();
      await http?.close();
      if (grpc) await Promise.race([grpc.shutdown(), new Promise((r) => setTimeout(r, 2_000))]).then(() => grpc?.forceShutdown());
      await consumers.close();
      await holder.close();
      await fleet.close();
      await hub.close();
      db.close();
      log.info('quiesce stopped');
    })());

  try {
    await fleet.start();
    isolator.start();
    holder.start();
    consumers.start();
    drainer.resume();
    // One authorizer for both doors: the same table decides who may call a route and an RPC.
    const auth = createAuthorizer(fleet, opts.adminToken ?? null);
    http = buildHttpServer({
      log,
      metrics,
      fleet,
      isolator,
      consumers,
      drainer,
      goaway,
      auth,
      startedAt,
    });
    await http.listen({ host: opts.host, port: opts.httpPort });
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : opts.httpPort;
    let boundGrpcPort = 0;
    grpc = buildGrpcServer(fleet, startedAt, { auth, port: () => boundGrpcPort });
    const grpcPort = (boundGrpcPort = await grpc.listen(`${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.grpcPort}`));
    log.info({ host: opts.host, httpPort, grpcPort, stateDir: opts.stateDir, adopt: describeAdoptPolicy(opts.adopt) }, 'quiesce started');
    return { httpPort, grpcPort, fleet, metrics, close };
  } catch (e) {
    await close();
    throw e;
  }
}
