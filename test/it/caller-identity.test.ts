/**
 * Caller identity that cannot be borrowed (issue 10, item 2). Regression: the caller's uid came
 * from whichever /proc/net/tcp row matched the connection, whatever its state; a client that sent
 * its request and closed at once left an orphaned FIN_WAIT2 row, listed with uid 0, so an
 * unprivileged user could drain or isolate root's JVMs. Here uid 1000 does exactly that — from
 * the host (IPv4 through a dual-stack socket, so v4-mapped, and IPv6 ::1) and from another network
 * namespace — and must be refused; root and a caller that keeps its connection still work.
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { createNetwork, type TestNetwork } from '../../testkit/hosts.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { sleep, until } from '../../testkit/poll.js';
import type { DrainJson, ErrorJson } from '../../testkit/api-types.js';
import { identifyCaller, type Caller, type CallerSocket } from '../../src/http/caller.js';
import { QuiesceError } from '../../src/errors.js';

let net: TestNetwork;
let daemon: DaemonProcess;
/** Root JVMs: one on the host's network, one in the test host's namespace. */
let hostJvm: ContainerJvm;
let nsJvm: ContainerJvm;

/**
 * A raw HTTP client as another user (and optionally in another network namespace). `close`:
 * writes the request and destroys the socket at once (the attack); `keep`: writes and reads the
 * answer. (A client that only half-closes gets no answer either: Node's HTTP server ends the
 * connection when it reads the FIN; the unit tests cover the still-held FIN_WAIT2 row.)
 */
interface RawResult {
  localPort: number;
  answer: string;
}
async function raw(opts: {
  uid: number;
  netns?: string;
  host: string;
  port: number;
  mode: 'close' | 'keep';
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}): Promise<RawResult> {
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body);
  const req =
    `${opts.method} ${opts.path} HTTP/1.1\r\nHost: quiesce\r\nConnection: close\r\n` +
    (body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '') +
    `\r\n${body}`;
  const script = `
    const net = require('node:net');
    const s = net.connect({ host: ${JSON.stringify(opts.host)}, port: ${opts.port} }, () => {
      process.stdout.write('PORT ' + s.localPort + '\\n');
      s.write(${JSON.stringify(req)}, () => { ${opts.mode === 'close' ? 's.destroy(); process.exit(0);' : ''} });
    });
    let answer = '';
    s.on('data', (d) => (answer += d));
    s.on('end', () => { process.stdout.write('ANSWER ' + JSON.stringify(answer) + '\\n'); process.exit(0); });
    s.on('error', (e) => { process.stdout.write('ERROR ' + e.message + '\\n'); process.exit(1); });
    setTimeout(() => process.exit(2), 20000);`;
  const asUser = ['setpriv', '--reuid', String(opts.uid), '--regid', String(opts.uid), '--clear-groups', process.execPath, '-e', script];
  const argv = opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...asUser] : asUser;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const port = /PORT (\d+)/.exec(out);
  if (!port) throw new Error(`raw client failed (${code}): ${out}${err}`);
  const ans = /ANSWER (.*)/.exec(out);
  return { localPort: Number(port[1]), answer: ans ? (JSON.parse(ans[1]!) as string) : '' };
}

function parseAnswer(answer: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]);
  const text = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return { status, body: JSON.parse(text) as unknown };
}

/**
 * The daemon's log line refusing the next request to `url` (logged after `from`, a length of its
 * log): proof the request was handled, and refused, rather than lost.
 */
async function refusalLogged(from: number, url: string): Promise<string> {
  return until(`${url} refused`, 15_000, () =>
    daemon
      .logs()
      .slice(from)
      .split('\n')
      .find((l) => l.includes(`"url":${JSON.stringify(url)}`) && l.includes('"request failed"')),
  );
}

/** Closed-at-once callers are refused for one of two reasons, depending on which the daemon sees first. */
const CLOSED = /"code":"forbidden".*(no longer held by any process|closed before the caller could be identified)/;

async function get<T>(host: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const r = await fetch(`http://${host}:${daemon.httpPort}${path}`, init);
  return { status: r.status, body: (await r.json()) as T };
}

beforeAll(async () => {
  net = createNetwork(1);
  const classes = buildFixtures().classes;
  [hostJvm, nsJvm, daemon] = await Promise.all([
    startContainerJvm({ javaHome: jdk17().home, classpath: classes, mainClass: 'SteadyApp', network: 'host', uid: 0, gid: 0 }),
    startContainerJvm({ javaHome: jdk17().home, classpath: classes, mainClass: 'SteadyApp', netns: net.hosts[0]!.netns, uid: 0, gid: 0 }),
    // Dual-stack: IPv4 callers are seen as ::ffff:a.b.c.d, IPv6 ones on ::1; the test host reaches it on the bridge.
    startDaemon({ host: '::' }),
  ]);
});

afterAll(async () => {
  await daemon?.stop('SIGKILL');
  await Promise.all([hostJvm?.kill(), nsJvm?.kill()]);
  net?.close();
});

async function nothingHappenedTo(pid: number): Promise<void> {
  await sleep(500); // a wrongly accepted drain or isolation would have started by now
  const drains = await get<{ drains: unknown[] }>('127.0.0.1', `/drains?pid=${pid}`);
  expect(drains.body.drains).toEqual([]);
  const jvm = await get<{ isolation: unknown }>('127.0.0.1', `/jvms/${pid}`);
  expect(jvm.status).toBe(200);
  expect(jvm.body.isolation).toBeNull();
}

describe('an unprivileged caller that sends and closes at once is not taken for root', () => {
  for (const host of ['127.0.0.1', '::1']) {
    it(`from the host over ${host}: /offline of a root JVM and /isolate are refused, nothing happens`, async () => {
      let from = daemon.logs().length;
      await raw({
        uid: 1000,
        host,
        port: daemon.httpPort,
        mode: 'close',
        method: 'GET',
        path: `/offline?pid=${hostJvm.pid}&timeout=5`,
      });
      expect(await refusalLogged(from, `/offline?pid=${hostJvm.pid}&timeout=5`)).toMatch(CLOSED);
      from = daemon.logs().length;
      await raw({
        uid: 1000,
        host,
        port: daemon.httpPort,
        mode: 'close',
        method: 'POST',
        path: '/isolate',
        body: { pid: hostJvm.pid },
      });
      expect(await refusalLogged(from, '/isolate')).toMatch(CLOSED);
      await nothingHappenedTo(hostJvm.pid);
    });
  }

  it('from another network namespace (a JVM of root beside it): /offline is refused, nothing happens', async () => {
    const h = net.hosts[0]!;
    const from = daemon.logs().length;
    await raw({
      uid: 1000,
      netns: h.netns,
      host: net.switchAddress,
      port: daemon.httpPort,
      mode: 'close',
      method: 'GET',
      path: `/offline?pid=${nsJvm.pid}&timeout=5`,
    });
    expect(await refusalLogged(from, `/offline?pid=${nsJvm.pid}&timeout=5`)).toMatch(CLOSED);
    await nothingHappenedTo(nsJvm.pid);
  });
});

describe('a caller that keeps its connection is seen as who it is', () => {
  it('uid 1000 on the host: 403 as uid 1000, not root', async () => {
    const off = await raw({
      uid: 1000,
      host: '127.0.0.1',
      port: daemon.httpPort,
      mode: 'keep',
      method: 'GET',
      path: `/offline?pid=${hostJvm.pid}`,
    });
    const r = parseAnswer(off.answer);
    expect(r.status, off.answer).toBe(403);
    expect((r.body as ErrorJson).error.code).toBe('forbidden');
    expect((r.body as ErrorJson).error.message).toMatch(/not a JVM of uid 1000/);
    const iso = await raw({
      uid: 1000,
      host: '::1',
      port: daemon.httpPort,
      mode: 'keep',
      method: 'POST',
      path: '/isolate',
      body: { pid: hostJvm.pid },
    });
    expect(parseAnswer(iso.answer).status, iso.answer).toBe(403);
    await nothingHappenedTo(hostJvm.pid);
  });

  it('uid 1000 in another network namespace: 403 as uid 1000', async () => {
    const h = net.hosts[0]!;
    const off = await raw({
      uid: 1000,
      netns: h.netns,
      host: net.switchAddress,
      port: daemon.httpPort,
      mode: 'keep',
      method: 'GET',
      path: `/offline?pid=${nsJvm.pid}`,
    });
    const r = parseAnswer(off.answer);
    expect(r.status, off.answer).toBe(403);
    expect((r.body as ErrorJson).error.message).toMatch(/not a JVM of uid 1000/);
    await nothingHappenedTo(nsJvm.pid);
  });
});

describe('root still drains', () => {
  it('root in the JVM’s own network namespace drains it', async () => {
    const h = net.hosts[0]!;
    const off = await raw({
      uid: 0,
      netns: h.netns,
      host: net.switchAddress,
      port: daemon.httpPort,
      mode: 'keep',
      method: 'GET',
      path: `/offline?pid=${nsJvm.pid}&timeout=10&quiet=0.2`,
    });
    const r = parseAnswer(off.answer);
    expect(r.status, off.answer).toBe(200);
    expect((r.body as DrainJson).outcome).toBe('drained');
  });

  it('root on the host drains a host JVM over IPv6', async () => {
    const r = await get<DrainJson>('[::1]', `/offline?pid=${hostJvm.pid}&timeout=10&quiet=0.2`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outcome).toBe('drained');
  });
});

/**
 * The identification itself on the kernel's real tables, without Node's HTTP server in between
 * (which closes its socket as soon as it reads the client's FIN, so the daemon-level tests above
 * cannot hold the moment open): a server that keeps its accepted socket, a client of another uid
 * that sent a byte and either keeps its socket or closes it, and identifyCaller run once the
 * server has read the FIN — the moment the old matcher answered uid 0.
 */
async function identifyVia(opts: {
  uid: number;
  netns?: string;
  listenHost: string;
  connectHost: string;
  mode: 'close' | 'keep';
  candidates: readonly number[];
}): Promise<Caller | QuiesceError> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, opts.listenHost, r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<{ sock: CallerSocket; s: Socket; ended: Promise<void> }>((resolve) =>
    server.once('connection', (s) => {
      s.on('error', () => undefined);
      const ended = new Promise<void>((r) => s.once('end', r));
      s.resume();
      resolve({
        sock: { remoteAddress: s.remoteAddress, remotePort: s.remotePort, localAddress: s.localAddress, localPort: s.localPort },
        s,
        ended,
      });
    }),
  );
  const script = `
    const s = require('node:net').connect({ host: ${JSON.stringify(opts.connectHost)}, port: ${port} }, () => {
      s.write('x', () => { ${opts.mode === 'close' ? 's.destroy();' : ''} process.stdout.write('SENT\\n'); });
    });
    s.on('error', () => {});
    setTimeout(() => process.exit(0), 30000);`;
  const asUser = ['setpriv', '--reuid', String(opts.uid), '--regid', String(opts.uid), '--clear-groups', process.execPath, '-e', script];
  const argv = opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...asUser] : asUser;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until('the client sent its byte', 10_000, () => out.includes('SENT') || undefined);
    const { sock, s, ended } = await accepted;
    if (opts.mode === 'close') await ended; // the FIN is here: the client's socket is orphaned
    try {
      return await identifyCaller(sock, opts.candidates);
    } catch (e) {
      if (e instanceof QuiesceError) return e;
      throw e;
    } finally {
      s.destroy();
    }
  } finally {
    child.kill('SIGKILL');
    server.close();
  }
}

describe('identifyCaller on the kernel tables', () => {
  const ownNetns = (): string => readlinkSync('/proc/self/ns/net');
  const cases = [
    { name: 'IPv4', listenHost: '127.0.0.1', connectHost: '127.0.0.1' },
    { name: 'v4-mapped (dual-stack server)', listenHost: '::', connectHost: '127.0.0.1' },
    { name: 'IPv6 ::1', listenHost: '::1', connectHost: '::1' },
  ];
  for (const c of cases) {
    it(`${c.name}: a live socket of uid 1000 is uid 1000; closed at once it is refused, not root`, async () => {
      expect(await identifyVia({ ...c, uid: 1000, mode: 'keep', candidates: [] })).toEqual({ netns: ownNetns(), uid: 1000 });
      const closed = await identifyVia({ ...c, uid: 1000, mode: 'close', candidates: [] });
      expect(closed).toBeInstanceOf(QuiesceError);
      expect((closed as QuiesceError).code).toBe('forbidden');
      expect((closed as QuiesceError).message).toMatch(/no longer held by any process \(FIN_WAIT[12]\)/);
    });
  }

  it('root is still root', async () => {
    expect(await identifyVia({ ...cases[0]!, uid: 0, mode: 'keep', candidates: [] })).toEqual({ netns: ownNetns(), uid: 0 });
  });

  it('from another network namespace, found through a JVM there: uid 1000 when live, refused when closed at once', async () => {
    const h = net.hosts[0]!;
    const nsOfJvm = readlinkSync(`/proc/${nsJvm.pid}/ns/net`);
    const base = { netns: h.netns, listenHost: net.switchAddress, connectHost: net.switchAddress, candidates: [nsJvm.pid] };
    expect(await identifyVia({ ...base, uid: 1000, mode: 'keep' })).toEqual({ netns: nsOfJvm, uid: 1000 });
    const closed = await identifyVia({ ...base, uid: 1000, mode: 'close' });
    expect(closed).toBeInstanceOf(QuiesceError);
    expect((closed as QuiesceError).message).toMatch(/no longer held by any process/);
    // Without the JVM's namespace to search, a live caller there is not found either: refused, not guessed.
    const unknown = await identifyVia({ ...base, uid: 1000, mode: 'keep', candidates: [] });
    expect((unknown as QuiesceError).message).toMatch(/no socket of the caller/);
  });
});
