#!/usr/bin/env node
/**
 * `quiesce daemon` runs the daemon; the other commands talk to a running one over its
 * gRPC API (--grpc, default 127.0.0.1:7371).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createChannel, createClient, ClientError, Metadata } from 'nice-grpc';
import { DaemonDefinition, type Jvm } from '../gen/quiesce/daemon/v1/daemon.js';
import { startDaemon } from '../daemon.js';
import { parseAdoptPolicy, type AdoptPolicy } from '../agent/adopt-policy.js';
import { createLogger } from '../log.js';

const USAGE = `usage:
  quiesce daemon [--host 127.0.0.1] [--http-port 7370] [--grpc-port 7371] [--state-dir ./.quiesce] [--adopt none|all|main=REGEX]
                 [--agent-dir DIR] [--refresh-interval MS] [--attach-timeout MS] [--hold-interval MS]
                 [--consumer-sample-interval MS] [--consumer-window MS]
                 [--peer-port 7370] [--admin-token-file FILE]
  quiesce jvms   [--grpc HOST:PORT] [--admin-token-file FILE] [--json]     JVMs on this host and their agents
  quiesce attach <pid> [--grpc HOST:PORT] [--admin-token-file FILE] [--json]
  quiesce status [--grpc HOST:PORT] [--admin-token-file FILE] [--json]
The admin token is read from --admin-token-file, or $QUIESCE_ADMIN_TOKEN; without one, only root on the daemon's host may call.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'daemon':
      return runDaemon(rest);
    case 'jvms':
    case 'status':
    case 'attach':
      return runClient(command, rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`quiesce: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

async function runDaemon(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      'http-port': { type: 'string', default: '7370' },
      'grpc-port': { type: 'string', default: '7371' },
      'state-dir': { type: 'string', default: process.env.QUIESCE_STATE_DIR ?? './.quiesce' },
      adopt: { type: 'string', default: 'none' },
      'agent-dir': { type: 'string' },
      'refresh-interval': { type: 'string', default: '5000' },
      'attach-timeout': { type: 'string', default: '10000' },
      'hold-interval': { type: 'string', default: '2000' },
      'consumer-sample-interval': { type: 'string', default: '2000' },
      'consumer-window': { type: 'string', default: '600000' },
      'peer-port': { type: 'string', default: '7370' },
      'admin-token-file': { type: 'string' },
    },
    strict: true,
  });
  let adopt: AdoptPolicy;
  try {
    adopt = parseAdoptPolicy(values.adopt);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const log = createLogger();
  const daemon = await startDaemon({
    host: values.host,
    httpPort: port(values['http-port'], '--http-port'),
    grpcPort: port(values['grpc-port'], '--grpc-port'),
    stateDir: resolve(values['state-dir']),
    adopt,
    ...(values['agent-dir'] ? { agentDir: resolve(values['agent-dir']) } : {}),
    refreshIntervalMs: positive(values['refresh-interval'], '--refresh-interval'),
    attachTimeoutMs: positive(values['attach-timeout'], '--attach-timeout'),
    holdIntervalMs: positive(values['hold-interval'], '--hold-interval'),
    consumerSampleMs: positive(values['consumer-sample-interval'], '--consumer-sample-interval'),
    consumerWindowMs: positive(values['consumer-window'], '--consumer-window'),
    peerPort: port(values['peer-port'], '--peer-port'),
    adminToken: adminToken(values['admin-token-file']),
    log,
  });
  process.stdout.write(`quiesce listening http=${daemon.httpPort} grpc=${daemon.grpcPort}\n`);
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping');
      void daemon.close().then(done);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

async function runClient(command: 'jvms' | 'status' | 'attach', args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      grpc: { type: 'string', default: process.env.QUIESCE_GRPC ?? '127.0.0.1:7371' },
      'admin-token-file': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const token = adminToken(values['admin-token-file']);
  const channel = createChannel(values.grpc);
  // The same bearer token the HTTP API takes, in the call's metadata.
  const client = createClient(
    DaemonDefinition,
    channel,
    token ? { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } } : {},
  );
  try {
    if (command === 'attach') {
      const raw = positionals[0];
      if (!raw || !/^[1-9][0-9]*$/.test(raw)) throw new UsageError('quiesce attach <pid>: a pid is required');
      const r = await client.attach({ pid: Number(raw) });
      if (values.json) print(r);
      else {
        const already = r.alreadyAttached ? ' (already attached)' : '';
        process.stdout.write(`pid ${raw}: agent ${r.jvm?.agent?.state ?? '?'}${already} in ${(r.durationSeconds * 1000).toFixed(0)} ms\n`);
      }
      return 0;
    }
    if (command === 'status') {
      const r = await client.getStatus({});
      if (values.json) print(r);
      else {
        process.stdout.write(`quiesce ${r.version}, up since ${new Date(r.startedAtMillis).toISOString()}\n`);
        process.stdout.write(table(r.jvms));
      }
      return 0;
    }
    const r = await client.listJvms({ refresh: true });
    if (values.json) print(r);
    else process.stdout.write(table(r.jvms));
    return 0;
  } finally {
    channel.close();
  }
}

function table(jvms: Jvm[]): string {
  const rows = [['PID', 'NSPID', 'UID', 'JDK', 'MAIN', 'CONTAINER', 'AGENT']];
  for (const j of jvms) {
    const agent = j.agent?.state === 'failed' ? `failed (${j.agent.error})` : (j.agent?.state ?? 'none');
    rows.push([
      String(j.pid),
      String(j.nspid),
      String(j.uid),
      j.supported ? j.jdk : `${j.vm} (unsupported)`,
      j.main,
      j.containerId.slice(0, 12) || '-',
      agent,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}

function print(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

function port(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number (0 picks a free one), got "${raw}"`);
  return n;
}

/** The admin token from a file (never a flag: flags show in `ps`), or $QUIESCE_ADMIN_TOKEN. */
function adminToken(file: string | undefined): string | null {
  if (file) {
    const t = readFileSync(file, 'utf8').trim();
    if (t.length < 16) throw new UsageError(`--admin-token-file ${file}: the token must be at least 16 characters`);
    return t;
  }
  const env = process.env.QUIESCE_ADMIN_TOKEN?.trim();
  return env ? env : null;
}

function positive(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive number of milliseconds, got "${raw}"`);
  return n;
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`quiesce: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof ClientError) {
      process.stderr.write(`quiesce: ${e.details}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`quiesce: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
