// The Java agent (agent-jvm/) and the JVMTI library (native/jvmti/) in a real JVM, talking to a real
// gRPC server on a unix socket. Independent of the daemon's own code: the server here is a bare
// nice-grpc implementation of AgentChannel.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentChannelDefinition,
  type AgentMessage,
  type Command,
  type CommandResult,
  type DaemonMessage,
  type Hello,
} from '../../src/gen/quiesce/agent/v1/agent.js';
import { sleep } from '../../testkit/poll.js';
import { ROOT } from '../../testkit/root.js';

const AGENT_JAR = join(ROOT, 'agent-jvm/dist/quiesce-agent.jar');
const CORE_JAR = join(ROOT, 'agent-jvm/dist/quiesce-agent-core.jar');
const NATIVE_LIB = join(ROOT, 'build/Release/libquiesce_jvmti.so');
const FIXTURE_SRC = join(ROOT, 'test/fixtures/agent-jvm');
// The JVM under test: QUIESCE_TEST_JAVA (e.g. a JDK 25's bin/java), else the java on PATH.
const JAVA = process.env.QUIESCE_TEST_JAVA ?? 'java';

// ---------------------------------------------------------------------------------------------
// Small async plumbing

/** A queue to await items from, with a predicate and a deadline. */
class Inbox<T> {
  private items: T[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Removes and returns the first item matching `pred`, waiting up to `timeoutMs`. */
  async take<U extends T>(pred: (item: T) => item is U, timeoutMs: number, what: string): Promise<U>;
  async take(pred: (item: T) => boolean, timeoutMs: number, what: string): Promise<T>;
  async take(pred: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.items.findIndex(pred);
      if (i >= 0) return this.items.splice(i, 1)[0] as T;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async *drain(): AsyncGenerator<T> {
    for (;;) {
      while (this.items.length > 0) yield this.items.shift() as T;
      if (this.closed) return;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

/** One agent stream as the server sees it. */
class AgentConnection {
  readonly incoming = new Inbox<AgentMessage>();
  readonly outgoing = new Inbox<DaemonMessage>();
  private nextId = 1;

  async hello(): Promise<Hello> {
    const m = await this.incoming.take((x) => x.body?.$case === 'hello', 10_000, 'hello');
    if (m.body?.$case !== 'hello') throw new Error('unreachable');
    return m.body.value;
  }

  welcome(heartbeatIntervalMillis: number): void {
    this.outgoing.push({ body: { $case: 'welcome', value: { daemonVersion: 'test', heartbeatIntervalMillis } } });
  }

  async command(kind: Command['kind'], timeoutMs = 30_000): Promise<CommandResult> {
    const id = `c${this.nextId++}`;
    this.outgoing.push({ body: { $case: 'command', value: { id, kind } } });
    const m = await this.incoming.take((x) => x.body?.$case === 'result' && x.body.value.id === id, timeoutMs, `result of ${id}`);
    if (m.body?.$case !== 'result') throw new Error('unreachable');
    return m.body.value;
  }

  close(): void {
    this.outgoing.close();
  }
}

/** A bare AgentChannel server on a unix socket; every accepted stream lands in `connections`. */
async function startServer(socketPath: string): Promise<{ server: Server; connections: Inbox<AgentConnection> }> {
  rmSync(socketPath, { force: true });
  const connections = new Inbox<AgentConnection>();
  const server = createServer();
  server.add(AgentChannelDefinition, {
    async *connect(requests: AsyncIterable<AgentMessage>) {
      const conn = new AgentConnection();
      connections.push(conn);
      void (async () => {
        try {
          for await (const m of requests) conn.incoming.push(m);
        } catch {
          // stream cancelled
        } finally {
          conn.incoming.close();
          conn.outgoing.close();
        }
      })();
      yield* conn.outgoing.drain();
    },
  });
  await server.listen(`unix:${socketPath}`);
  return { server, connections };
}

// ---------------------------------------------------------------------------------------------
// Build inputs: agent jars, native library, fixture classes

function run(cmd: string, args: string[], cwd = ROOT): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_nodedir: '/usr' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

function ensureBuilt(): void {
  if (!existsSync(AGENT_JAR) || !existsSync(CORE_JAR)) run('mvn', ['-B', '-q', '-f', 'agent-jvm/pom.xml', 'package']);
  // configure + build (not rebuild): leaves any other target's fresh output alone.
  if (!existsSync(NATIVE_LIB)) run('npx', ['node-gyp', 'configure', 'build']);
}

/** javac the fixture once per content: .cache/agent-jvm-fixture/<hash of the sources>. */
function compileFixture(): string {
  const files = (readdirSync(FIXTURE_SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.java')).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(FIXTURE_SRC, f)));
  const out = join(ROOT, '.cache/agent-jvm-fixture', hash.digest('hex').slice(0, 16));
  if (!existsSync(join(out, 'fixture/Zoo.class'))) {
    mkdirSync(out, { recursive: true });
    // Release 11: the oldest JDK with jdk.attach as a module (fixture.Attach); JDK 8 is not tested here.
    run('javac', ['--release', '11', '-d', out, ...files.map((f) => join(FIXTURE_SRC, f))]);
  }
  return out;
}

/** The fixture JVM; stdout/stderr kept whole so the test can prove the agent printed nothing. */
class Zoo {
  stdout = '';
  stderr = '';
  private readonly lines = new Inbox<string>();
  readonly proc: ChildProcessWithoutNullStreams;

  constructor(classes: string, javaArgs: string[]) {
    this.proc = spawn(JAVA, [...javaArgs, '-cp', classes, 'fixture.Zoo'], { cwd: ROOT });
    let partial = '';
    this.proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) this.lines.push(l);
    });
    this.proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  line(prefix: string, timeoutMs = 15_000): Promise<string> {
    return this.lines.take((l) => l.startsWith(prefix), timeoutMs, `fixture line "${prefix}"`);
  }

  async threads(): Promise<string[]> {
    this.proc.stdin.write('threads\n');
    return (await this.line('fixture: threads ')).slice('fixture: threads '.length).split('|');
  }

  /** Loads a class through the application's class loader: "ok" or "missing". */
  async load(name: string): Promise<string> {
    this.proc.stdin.write(`load ${name}\n`);
    return (await this.line(`fixture: load ${name} `)).split(' ').pop() as string;
  }

  /** Lines on stdout that the fixture did not print itself. */
  foreignStdout(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('fixture: '));
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

function countBy(names: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of names) counts[n] = (counts[n] ?? 0) + 1;
  return counts;
}

/** Dynamic attach, as the daemon does it (here through the JDK's own attach API). */
function attachAgent(classes: string, zoo: Zoo, options: string): void {
  const r = spawnSync(JAVA, ['-cp', classes, 'fixture.Attach', String(zoo.proc.pid), AGENT_JAR, options], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
}

async function agentThreads(zoo: Zoo): Promise<string[]> {
  return (await zoo.threads()).filter((n) => n.startsWith('quiesce-'));
}

// ---------------------------------------------------------------------------------------------

describe('agent-jvm in a real JVM', () => {
  let dir: string;
  let socket: string;
  let classes: string;
  let srv: Awaited<ReturnType<typeof startServer>>;
  let zoo: Zoo;
  let conn: AgentConnection;
  let hello: Hello;
  let javaVersion: string;

  const attach = () => attachAgent(classes, zoo, `socket=${socket},native=${NATIVE_LIB},log=${join(dir, 'agent.log')}`);
  const agentLog = () => (existsSync(join(dir, 'agent.log')) ? readFileSync(join(dir, 'agent.log'), 'utf8') : '');

  beforeAll(async () => {
    ensureBuilt();
    classes = compileFixture();
    dir = mkdtempSync(join(tmpdir(), 'quiesce-agent-'));
    socket = join(dir, 'a.sock');
    srv = await startServer(socket);
    zoo = new Zoo(classes, [
      // JDK 21+ prints its own warning on a dynamic agent load (a later test attaches again): that one
      // is the JVM's policy, not the agent's output. Older JDKs ignore the flag.
      '-XX:+IgnoreUnrecognizedVMOptions',
      '-XX:+EnableDynamicAgentLoading',
      `-javaagent:${AGENT_JAR}=socket=${socket},native=${NATIVE_LIB},log=${join(dir, 'agent.log')}`,
    ]);
    javaVersion = (await zoo.line('fixture: ready')).split('java.version=')[1] ?? '';
    conn = await srv.connections
      .take(() => true, 15_000, 'agent connection')
      .catch((e: Error) => {
        throw new Error(`${e.message}\nagent log:\n${agentLog()}\nstderr:\n${zoo.stderr}`);
      });
    hello = await conn.hello();
    conn.welcome(200);
  });

  afterAll(async () => {
    zoo?.kill();
    srv?.server.forceShutdown();
    if (dir && !process.env.QUIESCE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  });

  it('says hello with the JVM it runs in', () => {
    expect(hello.jdkVersion).toBe(javaVersion);
    expect(hello.pid).toBe(zoo.proc.pid);
    expect(hello.agentVersion).toBe('0.1.0');
    expect(hello.agentInstanceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(hello.reconnects).toBe(0);
    expect(hello.jvmStartTimeMillis).toBeGreaterThan(Date.now() - 120_000);
    // The fixture loads a framework landmark in main(), possibly after this first Hello (premain):
    // the Hello after a re-attach below checks detection.
  });

  it('sends heartbeats at the welcomed interval, with few threads of its own', async () => {
    const m = await conn.incoming.take((x) => x.body?.$case === 'heartbeat', 3_000, 'heartbeat');
    if (m.body?.$case !== 'heartbeat') throw new Error('unreachable');
    expect(m.body.value.agentThreads).toBeGreaterThan(0);
    expect(m.body.value.agentThreads).toBeLessThanOrEqual(2);
  });

  it('answers Ping', async () => {
    const r = await conn.command({ $case: 'ping', value: {} });
    expect(r.error).toBeUndefined();
    expect(r.body?.$case).toBe('pong');
  });

  it('finds instances of a class and of its subclasses, and leaves no tag behind', async () => {
    const r = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Animal', limit: 0 } });
    expect(r.error).toBeUndefined();
    if (r.body?.$case !== 'instancesFound') throw new Error(`unexpected ${JSON.stringify(r)}`);
    const found = r.body.value;
    expect(found.count).toBe(15);
    expect(countBy(found.instanceClasses)).toEqual({ 'fixture.Animal': 3, 'fixture.Dog': 5, 'fixture.Cat': 7 });
    expect(found.tagsLeft).toBe(0);
    expect(found.truncated).toBe(false);
  });

  it('finds only the subclass when asked for the subclass', async () => {
    const r = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Dog', limit: 0 } });
    if (r.body?.$case !== 'instancesFound') throw new Error(`unexpected ${JSON.stringify(r)}`);
    expect(r.body.value.count).toBe(5);
    expect(new Set(r.body.value.instanceClasses)).toEqual(new Set(['fixture.Dog']));
    expect(r.body.value.tagsLeft).toBe(0);
  });

  it('truncates at the limit and still clears every tag', async () => {
    const r = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Animal', limit: 4 } });
    if (r.body?.$case !== 'instancesFound') throw new Error(`unexpected ${JSON.stringify(r)}`);
    expect(r.body.value.count).toBe(4);
    expect(r.body.value.instanceClasses).toHaveLength(4);
    expect(r.body.value.truncated).toBe(true);
    expect(r.body.value.tagsLeft).toBe(0);
  });

  it('reports an unknown class as class_not_found', async () => {
    const r = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Unicorn', limit: 0 } });
    expect(r.error?.code).toBe('class_not_found');
    expect(r.body).toBeUndefined();
  });

  it('looks the class up in every class loader that defines it', async () => {
    zoo.proc.stdin.write('isolate\n');
    expect(await zoo.line('fixture: isolated ')).toBe('fixture: isolated 2 true');
    const dogs = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Dog', limit: 0 } });
    if (dogs.body?.$case !== 'instancesFound') throw new Error(`unexpected ${JSON.stringify(dogs)}`);
    expect(dogs.body.value.count).toBe(7);
    expect(dogs.body.value.tagsLeft).toBe(0);
  });

  it('reconnects to a restarted daemon within 5 s, as the same agent instance', async () => {
    srv.server.forceShutdown();
    await sleep(1_500); // the agent backs off to its 1 s cap meanwhile
    srv = await startServer(socket);
    const started = Date.now();
    conn = await srv.connections.take(() => true, 5_000, 'reconnection');
    const again = await conn.hello();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(again.agentInstanceId).toBe(hello.agentInstanceId);
    expect(again.reconnects).toBe(1);
    conn.welcome(5_000);
    const r = await conn.command({ $case: 'ping', value: {} });
    expect(r.body?.$case).toBe('pong');
  });

  it('prints nothing on the application stdout or stderr', () => {
    expect(zoo.foreignStdout()).toEqual([]);
    expect(zoo.stderr).toBe('');
  });

  it('keeps its classes off the application class path except the bootstrap', async () => {
    expect(await zoo.load('dev.quiesce.agent.bootstrap.AgentBootstrap')).toBe('ok');
    expect(await zoo.load('dev.quiesce.agent.core.Agent')).toBe('missing');
    expect(await zoo.load('dev.quiesce.shaded.io.grpc.ManagedChannel')).toBe('missing');
    expect(await zoo.load('io.grpc.ManagedChannel')).toBe('missing');
    expect(await zoo.load('com.google.protobuf.Message')).toBe('missing');
  });

  it('ignores a second attach while it runs', async () => {
    attach();
    await expect(srv.connections.take(() => true, 1_500, 'no second agent')).rejects.toThrow(/timed out/);
    expect(agentLog()).toContain('agent already running, attach ignored');
  });

  it('stops on Stop: answers Stopped, then its threads are gone', async () => {
    const r = await conn.command({ $case: 'stop', value: {} });
    expect(r.body?.$case).toBe('stopped');
    let left: string[] = [];
    for (let i = 0; i < 40; i++) {
      await sleep(250);
      left = await agentThreads(zoo);
      if (left.length === 0) break;
    }
    expect(left).toEqual([]);
    const all = await zoo.threads();
    if (process.env.QUIESCE_DEBUG) console.log('threads after stop:', all);
    expect(all.filter((n) => /grpc|netty|epoll|globalEventExecutor|ObjectCleaner|Cleaner-/i.test(n))).toEqual([]);
    // No reconnection after a stop.
    await expect(srv.connections.take(() => true, 1_500, 'no reconnection')).rejects.toThrow(/timed out/);
  });

  it('starts again on a later dynamic attach, as a new agent instance', async () => {
    attach();
    conn = await srv.connections.take(() => true, 10_000, 'connection after re-attach');
    const second = await conn.hello();
    expect(second.agentInstanceId).not.toBe(hello.agentInstanceId);
    expect(second.reconnects).toBe(0);
    expect(second.frameworks).toEqual([
      { name: 'rocketmq', version: '', landmark: 'org.apache.rocketmq.remoting.netty.NettyRemotingClient' },
    ]);
    conn.welcome(5_000);
    // The JVMTI library is loaded again from a new class loader.
    const found = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Cat', limit: 0 } });
    if (found.body?.$case !== 'instancesFound') throw new Error(`unexpected ${JSON.stringify(found)}`);
    expect(found.body.value.count).toBe(7);
    expect(found.body.value.tagsLeft).toBe(0);
    const stop = await conn.command({ $case: 'stop', value: {} });
    expect(stop.body?.$case).toBe('stopped');
    expect(zoo.foreignStdout()).toEqual([]);
    expect(zoo.stderr).toBe('');
  });
});

describe('agent-jvm without its native library', () => {
  let dir: string;
  let srv: Awaited<ReturnType<typeof startServer>>;
  let zoo: Zoo;

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'quiesce-agent-'));
    const socket = join(dir, 'a.sock');
    srv = await startServer(socket);
    zoo = new Zoo(compileFixture(), [
      `-javaagent:${AGENT_JAR}=socket=${socket},native=${join(dir, 'missing.so')},log=${join(dir, 'agent.log')}`,
    ]);
  });

  afterAll(() => {
    zoo?.kill();
    srv?.server.forceShutdown();
    if (dir && !process.env.QUIESCE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  });

  it('answers FindInstances with native_unavailable, and still everything else', async () => {
    const conn = await srv.connections.take(() => true, 15_000, 'agent connection');
    await conn.hello();
    conn.welcome(5_000);
    await zoo.line('fixture: ready');
    const r = await conn.command({ $case: 'findInstances', value: { className: 'fixture.Animal', limit: 0 } });
    expect(r.error?.code).toBe('native_unavailable');
    expect(r.error?.message).toContain('missing.so');
    expect((await conn.command({ $case: 'ping', value: {} })).body?.$case).toBe('pong');
    expect(zoo.foreignStdout()).toEqual([]);
    expect(zoo.stderr).toBe('');
  });
});

describe('agent-jvm whose core cannot start', () => {
  let dir: string;
  let srv: Awaited<ReturnType<typeof startServer>>;
  let zoo: Zoo;
  let classes: string;

  beforeAll(async () => {
    ensureBuilt();
    classes = compileFixture();
    dir = mkdtempSync(join(tmpdir(), 'quiesce-agent-'));
    srv = await startServer(join(dir, 'a.sock'));
    zoo = new Zoo(classes, [
      '-XX:+IgnoreUnrecognizedVMOptions',
      '-XX:+EnableDynamicAgentLoading',
      `-javaagent:${AGENT_JAR}=socket=${join(dir, 'a.sock')},core=${join(dir, 'missing.jar')},log=${join(dir, 'agent.log')}`,
    ]);
    await zoo.line('fixture: ready');
  });

  afterAll(() => {
    zoo?.kill();
    srv?.server.forceShutdown();
    if (dir && !process.env.QUIESCE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the application running and silent, logs why, and lets a later attach start', async () => {
    await sleep(500);
    expect(readFileSync(join(dir, 'agent.log'), 'utf8')).toContain('core failed to start');
    expect(zoo.foreignStdout()).toEqual([]);
    expect(zoo.stderr).toBe('');
    attachAgent(classes, zoo, `socket=${join(dir, 'a.sock')},native=${NATIVE_LIB},log=${join(dir, 'agent.log')}`);
    const conn = await srv.connections.take(() => true, 10_000, 'agent connection');
    expect((await conn.hello()).reconnects).toBe(0);
    conn.welcome(5_000);
    expect((await conn.command({ $case: 'stop', value: {} })).body?.$case).toBe('stopped');
    expect(zoo.stderr).toBe('');
  });
});
