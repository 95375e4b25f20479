/**
 * Issue 10, item 1: authentication and authorization on every door. Before, the gRPC `Attach`,
 * `GET /jvms/:pid/inventory` (which attaches), `GET /jvms/:pid/inbound?drainPeers=1` (which erases
 * the agent's consumer list) and every read answered anyone who could reach the port.
 *
 * Table-driven from the one table in src/http/authorize.ts: every HTTP route and every gRPC method
 * is called by callers who must be refused — a non-root user on the host, root in another network
 * namespace (a pod), root on the host with a wrong token — and by those who must be let through:
 * root on the host when no token is set, and the token holder from anywhere. Real daemons, real
 * curl and the real CLI; no JVM is needed (a door refuses before anything looks for the pid).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRPC_ACCESS, HTTP_ACCESS, type Access } from '../../src/http/authorize.js';
import { CLI, startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { createNetwork, type TestNetwork } from '../../testkit/hosts.js';

const TOKEN = 'auth-doors-test-token-0123456789';
const NO_PID = 999_999;

/** How a caller runs a command: as itself on the host, as uid 1000, or inside another network namespace. */
interface Caller {
  name: string;
  prefix: string[];
  /** The daemon's address as this caller reaches it. */
  host: () => string;
  /** The address the daemon sees this caller connect from (a GoAway names only its own). */
  own: () => string;
  token?: string;
}

let net: TestNetwork;
let open: DaemonProcess; // no admin token: root on this host is the admin
let guarded: DaemonProcess; // with an admin token

const hostRoot: Caller = { name: 'root on the host', prefix: [], host: () => '127.0.0.1', own: () => '127.0.0.1' };
const hostUser: Caller = {
  name: 'uid 1000 on the host',
  prefix: ['setpriv', '--reuid', '1000', '--regid', '1000', '--clear-groups'],
  host: () => '127.0.0.1',
  own: () => '127.0.0.1',
};
const podRoot: Caller = {
  name: 'root in another network namespace',
  prefix: [],
  host: () => net.switchAddress,
  own: () => net.hosts[0]!.address,
};

beforeAll(async () => {
  net = createNetwork(1);
  podRoot.prefix = ['ip', 'netns', 'exec', net.hosts[0]!.netns];
  // On every address, so the namespace reaches it through the bridge; the env has no token unless given.
  delete process.env['QUIESCE_ADMIN_TOKEN'];
  [open, guarded] = await Promise.all([
    startDaemon({ host: '0.0.0.0' }),
    startDaemon({ host: '0.0.0.0', env: { QUIESCE_ADMIN_TOKEN: TOKEN } }),
  ]);
});

afterAll(async () => {
  await Promise.all([open?.stop(), guarded?.stop()]);
  net?.close();
});

/** A concrete request for a route of the table: no JVM has pid 999999, and a GoAway names its sender on port 1. */
function requestFor(key: string, caller: Caller): { method: string; path: string; body?: unknown } {
  const [method, route] = key.split(' ') as [string, string];
  let path = route.replace(':pid', String(NO_PID)).replace(':id', String(NO_PID));
  if (route === '/offline' || route === '/online') path += `?pid=${NO_PID}`;
  const bodies: Record<string, unknown> = {
    'POST /isolate': { pid: NO_PID },
    'POST /restore': { pid: NO_PID },
    'POST /jvms/:pid/instances': { class: 'a.B' },
    'POST /goaway': { provider: `${caller.own()}:1`, ttl: 1 },
  };
  return { method, path, ...(bodies[key] !== undefined ? { body: bodies[key] } : {}) };
}

function curl(d: DaemonProcess, caller: Caller, key: string): { status: number; code?: string; message?: string } {
  const r = requestFor(key, caller);
  const args = [
    'curl',
    '-s',
    '-m',
    '30',
    '-o',
    '-',
    '-w',
    '\n%{http_code}',
    '-X',
    r.method,
    `http://${caller.host()}:${d.httpPort}${r.path}`,
  ];
  if (r.body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(r.body));
  if (caller.token !== undefined) args.push('-H', `authorization: Bearer ${caller.token}`);
  const all = [...caller.prefix, ...args];
  const out = execFileSync(all[0]!, all.slice(1), { encoding: 'utf8', timeout: 40_000 });
  const nl = out.lastIndexOf('\n');
  const status = Number(out.slice(nl + 1));
  let parsed: { error?: { code?: string; message?: string } } = {};
  try {
    parsed = JSON.parse(out.slice(0, nl)) as typeof parsed;
  } catch {
    // /metrics is text
  }
  return {
    status,
    ...(parsed.error?.code ? { code: parsed.error.code } : {}),
    ...(parsed.error?.message ? { message: parsed.error.message } : {}),
  };
}

/** The CLI command that makes each gRPC call. */
const CLI_FOR: Record<string, string[]> = {
  '/quiesce.daemon.v1.Daemon/ListJvms': ['jvms'],
  '/quiesce.daemon.v1.Daemon/GetStatus': ['status'],
  '/quiesce.daemon.v1.Daemon/Attach': ['attach', String(NO_PID)],
};

function cli(d: DaemonProcess, caller: Caller, method: string, extra: string[] = []): { rc: number; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['QUIESCE_ADMIN_TOKEN'];
  if (caller.token !== undefined) env['QUIESCE_ADMIN_TOKEN'] = caller.token;
  const all = [...caller.prefix, process.execPath, CLI, ...CLI_FOR[method]!, '--grpc', `${caller.host()}:${d.grpcPort}`, ...extra];
  const r = spawnSync(all[0]!, all.slice(1), { encoding: 'utf8', env, timeout: 40_000 });
  return { rc: r.status ?? -1, stderr: r.stderr };
}

const routes = Object.entries(HTTP_ACCESS);
const methods = Object.entries(GRPC_ACCESS);
const guardedKinds: Access[] = ['read', 'admin'];

/** The door let the call through: for a self route the handler's own check answers (no JVM of this caller has pid 999999). */
function expectLetThrough(r: { status: number; code?: string; message?: string }, access: Access, what: string): void {
  if (access === 'self' && r.status === 403) expect(r.message, what).toMatch(/is not a JVM of uid|cannot tell who is calling/);
  else expect(r.status, `${what}: ${r.code}: ${r.message}`).not.toBe(403);
  expect(r.status, what).toBeLessThan(500);
}

describe('every HTTP route refuses who it must', () => {
  it('the test covers every gRPC method', () => {
    expect(Object.keys(CLI_FOR).sort()).toEqual(Object.keys(GRPC_ACCESS).sort());
  });

  for (const [daemonName, daemon] of [
    ['no token', () => open],
    ['with a token', () => guarded],
  ] as const) {
    for (const base of [hostUser, podRoot, hostRoot]) {
      const caller: Caller =
        base === hostRoot ? { ...base, name: 'root on the host with a wrong token', token: 'wrong-token-wrong-token' } : base;
      it(`daemon ${daemonName}: ${caller.name} is refused every read and admin route, and reaches the others`, () => {
        for (const [key, access] of routes) {
          const r = curl(daemon(), caller, key);
          if (guardedKinds.includes(access)) {
            expect(r.status, `${key} (${access})`).toBe(403);
            expect(r.code, key).toBe('forbidden');
            expect(r.message, key).toContain(key.split(' ')[1]!);
          } else expectLetThrough(r, access, key);
        }
      });
      it(`daemon ${daemonName}: ${caller.name} is refused every gRPC method with PERMISSION_DENIED`, () => {
        for (const [method] of methods) {
          const r = cli(daemon(), caller, method);
          expect(r.rc, method).toBe(1);
          expect(r.stderr, method).toMatch(/^quiesce: forbidden: /);
        }
      });
    }
  }
});

describe('the admins are let through', () => {
  it('no token set: root on the host may call every route and method', () => {
    for (const [key, access] of routes) expectLetThrough(curl(open, hostRoot, key), access, key);
    for (const [method] of methods) expect(cli(open, hostRoot, method).stderr, method).not.toMatch(/forbidden/);
  });

  it('a token set: root on the host without it may read, but not attach, mutate or erase', () => {
    for (const [key, access] of routes) {
      const r = curl(guarded, hostRoot, key);
      if (access === 'admin') {
        expect(r.status, key).toBe(403);
        expect(r.message, key).toMatch(/needs the admin token/);
      } else expectLetThrough(r, access, key);
    }
    for (const [method, access] of methods) {
      const r = cli(guarded, hostRoot, method);
      if (access === 'admin') expect(r.stderr, method).toMatch(/^quiesce: forbidden: .*needs the admin token/);
      else expect(r.stderr, method).not.toMatch(/forbidden/);
    }
  });

  it('the token holder may call every route and method, from the host as any user and from another namespace', () => {
    for (const base of [hostRoot, hostUser, podRoot]) {
      const caller = { ...base, token: TOKEN };
      for (const [key] of routes) {
        const r = curl(guarded, caller, key);
        expect(r.status, `${caller.name}: ${key}: ${r.code}: ${r.message}`).not.toBe(403);
        expect(r.status, key).toBeLessThan(500);
      }
      for (const [method] of methods) expect(cli(guarded, caller, method).stderr, `${caller.name}: ${method}`).not.toMatch(/forbidden/);
    }
  });

  it('the CLI reads the token from --admin-token-file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiesce-token-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    chmodSync(file, 0o600);
    const attach = '/quiesce.daemon.v1.Daemon/Attach';
    expect(cli(guarded, hostRoot, attach).stderr).toMatch(/^quiesce: forbidden: /);
    const r = cli(guarded, hostRoot, attach, ['--admin-token-file', file]);
    expect(r.stderr).toMatch(/^quiesce: not_found: /);
  });

  it('drainPeers=1, which erases the consumers a drain relies on, needs the admin token', () => {
    const path = `/jvms/${NO_PID}/inbound?drainPeers=1`;
    const as = (prefix: string[], host: string, token?: string): number => {
      const auth = token ? ['-H', `authorization: Bearer ${token}`] : [];
      const all = [...prefix, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', ...auth, `http://${host}:${guarded.httpPort}${path}`];
      return Number(execFileSync(all[0]!, all.slice(1), { encoding: 'utf8' }));
    };
    expect(as(hostUser.prefix, '127.0.0.1')).toBe(403);
    expect(as(podRoot.prefix, net.switchAddress)).toBe(403);
    expect(as([], '127.0.0.1')).toBe(403);
    expect(as([], '127.0.0.1', TOKEN)).not.toBe(403);
  });
});
