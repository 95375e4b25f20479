/**
 * A real ZooKeeper server (Apache ZooKeeper 3.9 from Maven Central) in its own JVM on
 * 127.0.0.1, for the registry tests, and a client to read what the applications registered.
 * Start one per test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jdk17 } from './java-homes.js';
import { buildMavenFixture } from './maven-fixtures.js';
import { freePort } from './ports.js';

export interface ZooKeeper {
  readonly port: number;
  /** "127.0.0.1:<port>" */
  readonly connectString: string;
  /** Children of a node, sorted, decoded (Dubbo URL-encodes its provider nodes); [] when the node is absent. */
  children(path: string): Promise<string[]>;
  /** The node's data as UTF-8, or null when the node is absent. */
  data(path: string): Promise<string | null>;
  /** Every path under root (depth first), for debugging a failed assertion. */
  tree(root?: string): Promise<string[]>;
  /** Creates an ephemeral node (and its parents) owned by the reader's own session. */
  createEphemeral(path: string): Promise<void>;
  /**
   * Expires every client session: the server is restarted on the same port with an empty data
   * directory, so each client that reconnects is told its session expired and must start a new
   * one (Dubbo and Curator then re-register what they hold).
   */
  expireAllSessions(): Promise<void>;
  stop(): Promise<void>;
}

function startServer(classpath: string, host: string, port: number): { proc: ChildProcess; ready: Promise<void>; dataDir: string } {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'quiesce-zk-'));
  const cfg = path.join(dataDir, 'zoo.cfg');
  // tickTime 500: sessions time out in 1 to 10 s (2 to 20 ticks), so expiry tests stay short.
  writeFileSync(
    cfg,
    [
      `tickTime=500`,
      `dataDir=${dataDir}/data`,
      `clientPort=${port}`,
      `clientPortAddress=${host}`,
      `admin.enableServer=false`,
      `4lw.commands.whitelist=*`,
      `maxClientCnxns=0`,
    ].join('\n') + '\n',
  );
  const proc = spawn(
    jdk17().java,
    [
      '-Xmx128m',
      '-XX:+UseSerialGC',
      '-Dzookeeper.jmx.log4j.disable=true',
      '-cp',
      classpath,
      'org.apache.zookeeper.server.ZooKeeperServerMain',
      cfg,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const ready = (async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`ZooKeeper exited with ${proc.exitCode}:\n${out}`);
      if (await ruok(host, port)) return;
      if (Date.now() > deadline) throw new Error(`ZooKeeper did not answer on ${host}:${port} within 30 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { proc, ready, dataDir };
}

async function ruok(host: string, port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let reply = '';
    s.setTimeout(1000, () => s.destroy());
    s.on('connect', () => s.write('ruok'));
    s.on('data', (d) => (reply += d.toString()));
    s.on('close', () => resolve(reply === 'imok'));
    s.on('error', () => resolve(false));
  });
}

async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await exited;
}

/** ZooKeeper's own Java client in a JVM of its own, answering one request per line. */
class Reader {
  private readonly proc: ChildProcess;
  private buffer = '';
  private readonly waiting: Array<(line: string) => void> = [];
  private chain: Promise<unknown> = Promise.resolve();
  readonly ready: Promise<void>;

  constructor(classpath: string, connectString: string) {
    this.proc = spawn(
      jdk17().java,
      ['-Xmx64m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'fixtures.ZkReader', connectString],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    this.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    this.ready = new Promise((resolve, reject) => {
      this.waiting.push((line) => (line === 'READY' ? resolve() : reject(new Error(`ZkReader said ${line}`))));
      this.proc.once('exit', (code) => reject(new Error(`ZkReader exited with ${code}: ${stderr}`)));
    });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  /** Requests are answered in order: one at a time. */
  ask(op: string, path: string): Promise<unknown> {
    const next = this.chain.then(
      () =>
        new Promise<unknown>((resolve, reject) => {
          this.waiting.push((line) => {
            if (line.startsWith('ok ')) resolve(JSON.parse(line.slice(3)));
            else reject(new Error(`ZooKeeper ${op} ${path}: ${line}`));
          });
          this.proc.stdin!.write(`${op} ${path}\n`);
        }),
    );
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await stopProc(this.proc);
  }
}

/** `host`: the address to listen on (default 127.0.0.1; the switch address for multi-host tests). */
export async function startZooKeeper(opts: { host?: string } = {}): Promise<ZooKeeper> {
  const host = opts.host ?? '127.0.0.1';
  const fixture = buildMavenFixture('zookeeper-server');
  const port = await freePort(host);
  let server = startServer(fixture.classpath, host, port);
  await server.ready;
  const connectString = `${host}:${port}`;
  const reader = new Reader(fixture.classpath, connectString);
  await reader.ready;

  const children = async (p: string): Promise<string[]> => {
    const kids = (await reader.ask('children', p)) as string[] | null;
    return (kids ?? []).map((k) => decodeURIComponent(k)).sort();
  };
  const data = async (p: string): Promise<string | null> => (await reader.ask('data', p)) as string | null;
  const tree = async (root = '/'): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (p: string): Promise<void> => {
      const kids = ((await reader.ask('children', p)) as string[] | null) ?? [];
      for (const k of kids) {
        const child = p === '/' ? `/${k}` : `${p}/${k}`;
        out.push(decodeURIComponent(child));
        await walk(child);
      }
    };
    await walk(root);
    return out;
  };

  return {
    port,
    connectString,
    children,
    data,
    tree,
    createEphemeral: async (p: string) => {
      await reader.ask('ephemeral', p);
    },
    expireAllSessions: async () => {
      await stopProc(server.proc);
      rmSync(server.dataDir, { recursive: true, force: true });
      server = startServer(fixture.classpath, host, port);
      await server.ready;
    },
    stop: async () => {
      await reader.close();
      await stopProc(server.proc);
      rmSync(server.dataDir, { recursive: true, force: true });
    },
  };
}
