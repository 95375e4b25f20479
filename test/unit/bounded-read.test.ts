/**
 * The bounded reader (src/jvm/bounded-read.ts) on the hostile files a container can put where the
 * daemon reads (issue 10, item 5). Regression: a JDK `release` that was a FIFO hung discovery for
 * good (readFile blocks in open(2) until a writer comes); /dev/zero or a 1 GB file was read whole.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BoundedReadError, LIMITS, readBoundedText, readChunks, scanLines, stuckReads, withTimeout } from '../../src/jvm/bounded-read.js';
import { parseProcNetTcp, readNetTcp } from '../../src/jvm/tcp.js';
import { readProcText } from '../../src/jvm/procfs.js';

const dir = mkdtempSync(join(tmpdir(), 'quiesce-bounds-'));
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  rmSync(dir, { recursive: true, force: true });
});

const limits = { maxBytes: 64 << 10, timeoutMs: 1_000 };

async function refusal(path: string): Promise<BoundedReadError> {
  const t0 = Date.now();
  const e: unknown = await readBoundedText(path, limits).catch((x: unknown) => x);
  expect(Date.now() - t0).toBeLessThan(500);
  expect(e).toBeInstanceOf(BoundedReadError);
  return e as BoundedReadError;
}

describe('bounded reads', () => {
  it('a regular file is read whole', async () => {
    const f = join(dir, 'release');
    writeFileSync(f, 'JAVA_VERSION="17.0.15"\nIMPLEMENTOR="Debian"\n');
    await expect(readBoundedText(f, limits)).resolves.toEqual({ text: 'JAVA_VERSION="17.0.15"\nIMPLEMENTOR="Debian"\n', truncated: false });
  });

  it('a FIFO without a writer is refused at once, without blocking in open(2)', async () => {
    const f = join(dir, 'fifo');
    execFileSync('mkfifo', [f]);
    const e = await refusal(f);
    expect(e.reason).toBe('not_regular');
    expect(e.message).toContain('a FIFO');
  });

  it('/dev/zero (a character device that never ends) is refused without a read', async () => {
    const e = await refusal('/dev/zero');
    expect(e.reason).toBe('not_regular');
    expect(e.message).toContain('character device');
  });

  it('a unix socket is refused', async () => {
    const f = join(dir, 'sock');
    const s = createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(f, () => r()));
    expect((await refusal(f)).reason).toBe('not_regular');
  });

  it('a symlink as the last component is not followed (it would resolve against the host root)', async () => {
    const target = join(dir, 'host-secret');
    writeFileSync(target, 'JAVA_VERSION="99"\n');
    const link = join(dir, 'release-link');
    symlinkSync(target, link);
    const e = await refusal(link);
    expect(e.reason).toBe('symlink');
    expect(e.message).toContain('not followed');
  });

  it('a 1 GB file is read up to the cap only, fast and without memory growing', async () => {
    const f = join(dir, 'huge');
    writeFileSync(f, '');
    truncateSync(f, 1 << 30);
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    const r = await readBoundedText(f, LIMITS.release);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(r.truncated).toBe(true);
    expect(r.text).toHaveLength(LIMITS.release.maxBytes);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(32 << 20);
  });

  it('a file of exactly the cap is whole; one byte more is truncated', async () => {
    const f = join(dir, 'exact');
    writeFileSync(f, 'x'.repeat(100));
    await expect(readBoundedText(f, { maxBytes: 100, timeoutMs: 1_000 })).resolves.toMatchObject({ truncated: false });
    writeFileSync(f, 'x'.repeat(101));
    const r = await readBoundedText(f, { maxBytes: 100, timeoutMs: 1_000 });
    expect(r).toMatchObject({ truncated: true });
    expect(r.text).toHaveLength(100);
  });

  it('scanLines holds one line at a time: long lines are cut, stopping early reads no further', async () => {
    const f = join(dir, 'lines');
    writeFileSync(f, `a\n${'b'.repeat(200_000)}\nc\nstop\nd\n`);
    const lines: string[] = [];
    await scanLines(f, { maxBytes: 1 << 20, timeoutMs: 1_000 }, (l) => (lines.push(l), l === 'stop'), 1_000);
    expect(lines.map((l) => l.length)).toEqual([1, 1_000, 1, 4]);
    let chunks = 0;
    truncateSync(f, 64 << 20);
    await readChunks(f, { maxBytes: 64 << 20, timeoutMs: 1_000 }, () => (chunks++, true));
    expect(chunks).toBe(1);
  });

  it('withTimeout gives up on a read that never returns, with a timeout error', async () => {
    const never = new Promise<never>(() => undefined);
    const e: unknown = await withTimeout(never, 100, '/proc/1/maps').catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: 'timeout', message: '/proc/1/maps: no answer within 100 ms' });
  });

  it('a read past its time bound is given up on, counted as stuck until it returns, and its fd closed then', async () => {
    const f = join(dir, 'slow');
    writeFileSync(f, 'x'.repeat(1 << 20));
    const before = stuckReads();
    // A bound of 0 ms passes before open(2) even returns: the closest a test gets to a hung mount.
    const e: unknown = await readBoundedText(f, { maxBytes: 1 << 20, timeoutMs: 0 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: 'timeout', message: `${f}: not read within 0 ms` });
    expect(stuckReads()).toBe(before + 1);
    await (e as BoundedReadError).pending;
    expect(stuckReads()).toBe(before);
    const target = (fd: string): string | null => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return null; // closed while listing
      }
    };
    expect(readdirSync('/proc/self/fd').filter((fd) => target(fd) === f)).toEqual([]);
  });

  it('/proc files are capped too, and still parse (our own status and net/tcp)', async () => {
    const status = await readProcText(process.pid, 'status');
    expect(status).toMatch(/^Name:/);
    const text = await readNetTcp(process.pid, 'tcp');
    expect(text.startsWith('  sl')).toBe(true);
    expect(() => parseProcNetTcp(text)).not.toThrow();
    const cut = await readBoundedText(`/proc/${process.pid}/status`, { maxBytes: 10, timeoutMs: 1_000 });
    expect(cut).toMatchObject({ truncated: true, text: status!.slice(0, 10) });
  });
});
