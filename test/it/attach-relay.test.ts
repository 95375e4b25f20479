/**
 * The JDK 8 attach relay (src/jvm/attach/relay.ts) as the daemon spawns it: a real child running
 * as another uid, the compiled dist/ file run by path, or its text with -e when that uid cannot
 * read the file. Needs root (setuid children), like the rest of the attach tests.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as connect from '../../src/jvm/attach/connect.js';
import { exchangeAs, readableBy, relayArgs, relayScript } from '../../src/jvm/attach/connect.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'quiesce-relay-'));
  chmodSync(dir, 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A listener that answers like an attach listener once the request is complete (EOF). */
async function listener(sock: string, mode = 0o777): Promise<{ requests: Buffer[]; close: () => Promise<void> }> {
  const requests: Buffer[] = [];
  const server = net.createServer((s) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      requests.push(Buffer.concat(got));
      s.end('0\nrelayed\n');
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  chmodSync(sock, mode);
  return { requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('attach relay', () => {
  it('is found in dist/ from the source tree, built', () => {
    const script = relayScript();
    expect(script.endsWith(path.join('dist', 'src', 'jvm', 'attach', 'relay.js'))).toBe(true);
    expect(existsSync(script)).toBe(true);
  });

  it('relays a request and its reply as the JVM user, run by path', async () => {
    const sock = path.join(dir, 'by-path.sock');
    const l = await listener(sock);
    try {
      const copy = path.join(dir, 'open');
      mkdirSync(copy, { mode: 0o755 });
      const script = path.join(copy, 'relay.js');
      copyFileSync(relayScript(), script);
      chmodSync(script, 0o644);
      writeFileSync(path.join(copy, 'package.json'), '{ "type": "module" }\n');
      expect(relayArgs(script, sock, 1000, 1000)).toEqual([script, sock]);
      const raw = await exchangeAs(sock, Buffer.from('1\0properties\0\0\0\0'), 1000, 1000, 10_000, script);
      expect(raw.data.toString('utf8')).toBe('0\nrelayed\n');
      expect(l.requests.map((b) => b.toString('utf8'))).toEqual(['1\0properties\0\0\0\0']);
    } finally {
      await l.close();
    }
  });

  it('runs as that uid, not as root: a socket only uid 1000 may open refuses uid 1001', async () => {
    const sock = path.join(dir, 'private.sock');
    const l = await listener(sock, 0o700);
    try {
      chownSync(sock, 1000, 1000);
      const raw = await exchangeAs(sock, Buffer.from('x'), 1000, 1000, 10_000);
      expect(raw.data.toString('utf8')).toBe('0\nrelayed\n');
      await expect(exchangeAs(sock, Buffer.from('x'), 1001, 1001, 10_000)).rejects.toMatchObject({
        reason: 'io',
        message: expect.stringContaining('EACCES') as unknown,
      });
    } finally {
      await l.close();
    }
  });

  it('keeps its exit codes: no socket, refused (stale socket)', async () => {
    await expect(exchangeAs(path.join(dir, 'missing.sock'), Buffer.from('x'), 1000, 1000, 10_000)).rejects.toMatchObject({
      reason: 'no_socket',
    });
    // A listener killed without cleaning up leaves its socket file: nobody accepts.
    const stale = path.join(dir, 'stale.sock');
    const holder = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`,
    ]);
    await new Promise((r) => holder.stdout.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('close', r));
    chmodSync(stale, 0o777);
    await expect(exchangeAs(stale, Buffer.from('x'), 1000, 1000, 10_000)).rejects.toMatchObject({ reason: 'refused' });
  });

  it('falls back to -e with the same text when the JVM user cannot read the file (checkout under a 0700 directory)', async () => {
    const closed = path.join(dir, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const script = path.join(closed, 'relay.js');
    copyFileSync(relayScript(), script);
    const sock = path.join(dir, 'fallback.sock');
    const l = await listener(sock);
    try {
      const args = relayArgs(script, sock, 1000, 1000);
      expect(args[0]).toBe('--input-type=module');
      expect(args.at(-1)).toBe(sock);
      const raw = await exchangeAs(sock, Buffer.from('1\0properties\0\0\0\0'), 1000, 1000, 10_000, script);
      expect(raw.data.toString('utf8')).toBe('0\nrelayed\n');
    } finally {
      await l.close();
    }
  });

  it('is found beside the compiled connect.js wherever the daemon is installed', async () => {
    // connect.js imports only node: built-ins, so the pair can be copied anywhere, as an install would.
    const lib = path.join(dir, 'opt', 'quiesce', 'dist', 'src', 'jvm', 'attach');
    mkdirSync(lib, { recursive: true, mode: 0o755 });
    const built = path.dirname(relayScript());
    for (const f of ['connect.js', 'relay.js']) copyFileSync(path.join(built, f), path.join(lib, f));
    writeFileSync(path.join(dir, 'opt', 'quiesce', 'package.json'), '{ "type": "module" }\n');
    chmodSync(path.join(dir, 'opt'), 0o755);
    const installed = (await import(pathToFileURL(path.join(lib, 'connect.js')).href)) as typeof connect;
    expect(installed.relayScript()).toBe(path.join(lib, 'relay.js'));
    const sock = path.join(dir, 'installed.sock');
    const l = await listener(sock);
    try {
      const raw = await installed.exchangeAs(sock, Buffer.from('x'), 1000, 1000, 10_000);
      expect(raw.data.toString('utf8')).toBe('0\nrelayed\n');
    } finally {
      await l.close();
    }
  });

  it('fails with io, naming the file, when the relay was not built', async () => {
    await expect(
      exchangeAs(path.join(dir, 'x.sock'), Buffer.from('x'), 1000, 1000, 10_000, path.join(dir, 'nope.js')),
    ).rejects.toMatchObject({
      reason: 'io',
      message: expect.stringContaining('nope.js') as unknown,
    });
  });
});

describe('readableBy (mode bits of the file and every directory above it)', () => {
  it('owner, group and other bits, for uid:gid without supplementary groups', () => {
    const d = path.join(dir, 'modes');
    mkdirSync(d, { mode: 0o755 });
    const f = path.join(d, 'f.js');
    writeFileSync(f, '');
    chmodSync(f, 0o644);
    expect(readableBy(f, 1000, 1000)).toBe(true);
    chmodSync(f, 0o600);
    expect(readableBy(f, 1000, 1000)).toBe(false);
    expect(readableBy(f, 0, 0)).toBe(true);
    chownSync(f, 1000, 2000);
    expect(readableBy(f, 1000, 1000)).toBe(true);
    chmodSync(f, 0o640);
    expect(readableBy(f, 1001, 2000)).toBe(true);
    expect(readableBy(f, 1001, 1001)).toBe(false);
    chmodSync(f, 0o644);
    chmodSync(d, 0o750);
    expect(readableBy(f, 1001, 1001)).toBe(false);
    chmodSync(d, 0o751);
    expect(readableBy(f, 1001, 1001)).toBe(true);
    expect(readableBy(path.join(d, 'missing.js'), 1000, 1000)).toBe(false);
  });

  it('follows symlinks: an open link to a file in a closed directory is not readable', () => {
    const closed = path.join(dir, 'closed-target');
    mkdirSync(closed, { mode: 0o700 });
    const f = path.join(closed, 'f.js');
    writeFileSync(f, '', { mode: 0o644 });
    const link = path.join(dir, 'link.js');
    symlinkSync(f, link);
    expect(readableBy(link, 1000, 1000)).toBe(false);
  });
});
