/**
 * The daemon's end of every agent channel. Each adopted JVM gets its own gRPC server on
 * a unix socket bound inside that JVM's filesystem (through /proc/<pid>/root), so the
 * agent reaches it from any mount or network namespace without a TCP port. One socket
 * per JVM also tells the daemon, with no trust in what the agent says, which JVM is on
 * the other end.
 */
import { EventEmitter } from 'node:events';
import { chmod, lchown, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type CallContext } from 'nice-grpc';
import { QuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { AgentChannelDefinition, type AgentMessage, type DaemonMessage, type Hello } from '../gen/quiesce/agent/v1/agent.js';
import { AgentSession } from './session.js';

export const HEARTBEAT_INTERVAL_MS = 2_000;

export interface AgentEndpoint {
  /** Host pid of the JVM. */
  pid: number;
  /** The socket path as the daemon sees it (usually under /proc/<pid>/root). */
  hostSocketPath: string;
  uid: number;
  gid: number;
}

interface Listener {
  endpoint: AgentEndpoint;
  server: Server;
}

export interface AgentHubEvents {
  connected: [pid: number, session: AgentSession];
  disconnected: [pid: number, session: AgentSession, reason: string];
}

export class AgentHub extends EventEmitter<AgentHubEvents> {
  private readonly bound = new Map<number, Listener>();
  private readonly sessions = new Map<number, AgentSession>();
  private closed = false;

  constructor(private readonly log: Logger) {
    super();
  }

  isListening(pid: number): boolean {
    return this.bound.has(pid);
  }

  session(pid: number): AgentSession | undefined {
    const s = this.sessions.get(pid);
    return s?.isOpen ? s : undefined;
  }

  /** Binds the JVM's agent socket; calling it again for the same socket does nothing. */
  async listen(endpoint: AgentEndpoint): Promise<void> {
    if (this.closed) throw new QuiesceError('internal', 'agent hub is closed');
    const existing = this.bound.get(endpoint.pid);
    if (existing && existing.endpoint.hostSocketPath === endpoint.hostSocketPath) return;
    if (existing) await this.unlisten(endpoint.pid);

    await removeStaleSocket(endpoint.hostSocketPath);
    const server = createServer();
    server.add(AgentChannelDefinition, {
      connect: (requests: AsyncIterable<AgentMessage>, ctx: CallContext) => this.connect(endpoint.pid, requests, ctx),
    });
    await server.listen(`unix://${endpoint.hostSocketPath}`);
    // The agent runs as the JVM's user: the socket must be theirs to connect to. Paths
    // under /proc/<pid>/root are the container's to play with: never follow a link there.
    if (!(await lstat(endpoint.hostSocketPath)).isSocket()) {
      server.forceShutdown();
      throw new QuiesceError('internal', `${endpoint.hostSocketPath} is not the socket just bound; refusing to change its owner`);
    }
    await lchown(endpoint.hostSocketPath, endpoint.uid, endpoint.gid);
    await chmod(endpoint.hostSocketPath, 0o600);
    this.bound.set(endpoint.pid, { endpoint, server });
    this.log.debug({ pid: endpoint.pid, socket: endpoint.hostSocketPath }, 'agent socket bound');
  }

  async unlisten(pid: number): Promise<void> {
    const l = this.bound.get(pid);
    if (!l) return;
    this.bound.delete(pid);
    this.sessions.get(pid)?.end('daemon stopped listening');
    this.sessions.delete(pid);
    l.server.forceShutdown();
    await unlink(l.endpoint.hostSocketPath).catch(() => undefined);
  }

  /** Resolves with the JVM's session as soon as its agent says hello. */
  waitForSession(pid: number, timeoutMs: number): Promise<AgentSession> {
    const current = this.session(pid);
    if (current) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      const onConnected = (p: number, s: AgentSession): void => {
        if (p !== pid) return;
        clearTimeout(timer);
        this.off('connected', onConnected);
        resolve(s);
      };
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new QuiesceError('agent_failed', `the agent loaded into pid ${pid} did not connect back within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('connected', onConnected);
    });
  }

  /** Stops accepting, ends every session, removes the sockets; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.bound.keys()].map((pid) => this.unlisten(pid)));
  }

  private async *connect(pid: number, requests: AsyncIterable<AgentMessage>, ctx: CallContext): AsyncIterable<DaemonMessage> {
    const it = requests[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done || first.value.body?.$case !== 'hello') {
      this.log.warn({ pid }, 'agent stream did not start with hello; closing it');
      return;
    }
    const hello: Hello = first.value.body.value;
    const session = new AgentSession(hello, `pid ${pid}`);
    this.sessions.get(pid)?.end('replaced by a new connection');
    this.sessions.set(pid, session);
    session.send({ body: { $case: 'welcome', value: { daemonVersion: VERSION, heartbeatIntervalMillis: HEARTBEAT_INTERVAL_MS } } });
    this.log.info(
      {
        pid,
        nspid: hello.pid,
        jdk: hello.jdkVersion,
        agent: hello.agentVersion,
        instance: hello.agentInstanceId,
        reconnects: hello.reconnects,
      },
      'agent connected',
    );
    this.emit('connected', pid, session);

    const finish = (reason: string): void => {
      if (!session.isOpen) return;
      session.end(reason);
      if (this.sessions.get(pid) === session) this.sessions.delete(pid);
      this.log.info({ pid, reason }, 'agent disconnected');
      this.emit('disconnected', pid, session, reason);
    };
    ctx.signal.addEventListener('abort', () => finish('stream aborted'), { once: true });
    void (async () => {
      try {
        for (;;) {
          const next = await it.next();
          if (next.done) break;
          const body = next.value.body;
          if (body?.$case === 'heartbeat') session.lastHeartbeatAt = Date.now();
          else if (body?.$case === 'result') session.onResult(body.value);
        }
        finish('agent closed the stream');
      } catch (e) {
        finish(e instanceof Error ? e.message : String(e));
      }
    })();
    yield* session.messages;
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new QuiesceError('internal', `${path} exists and is not a socket; refusing to replace it`);
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
