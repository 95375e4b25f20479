/**
 * Discovery of real container JVMs whose JDK `release` file is hostile (issue 10, item 5).
 * Regressions: a `release` that was a FIFO hung discovery for good (readFile blocks in open(2)
 * until a writer comes), so the daemon never started and every scanning request hung; /dev/zero
 * or a 1 GB file was read whole at every start; a `release` symlink was followed through
 * /proc/<pid>/root against the host's root, so a container could make the daemon read host files.
 *
 * Each hostile file is bind-mounted over the JDK's `release` inside one container's own mount
 * namespace only (nsenter), so the host's JDK and the other containers are untouched.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LimitNotice } from '../../src/jvm/bounded-read.js';
import { discoverJvms, inspectPid, stalledPids } from '../../src/jvm/discovery.js';
import type { JvmProcess } from '../../src/jvm/types.js';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';

type Hostile = 'fifo' | 'zero' | 'huge' | 'symlink';

const home = realpathSync(jdk17().home);
const release = `${home}/release`;
/** A host file the containers cannot see (their /tmp is their own): what a followed symlink would read. */
const hostDir = mkdtempSync(join(tmpdir(), 'quiesce-host-'));
const hostFile = join(hostDir, 'release');
writeFileSync(hostFile, 'JAVA_VERSION="99.0.0-host"\nIMPLEMENTOR="the host"\n');

/** Shell run in the container's mount namespace to make its `release` hostile. */
const SETUP: Record<Hostile, string> = {
  fifo: `mkfifo /tmp/release-fifo && mount --bind /tmp/release-fifo "${release}"`,
  zero: `mount --bind /dev/zero "${release}"`,
  huge: `truncate -s 1G /tmp/release-huge && mount --bind /tmp/release-huge "${release}"`,
  // A tmpfs over the JDK home (the running JVM keeps what it has open and mapped) holding a
  // `release` symlink that dangles in the container and names a host file from the host.
  symlink: `mount -t tmpfs tmpfs "${home}" && ln -s "${hostFile}" "${release}"`,
};

const jvms = new Map<Hostile, ContainerJvm>();
let daemon: DaemonProcess | undefined;

function vmRssBytes(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? NaN) * 1024;
}

beforeAll(async () => {
  const { classes } = buildFixtures();
  const kinds: Hostile[] = ['fifo', 'zero', 'huge', 'symlink'];
  const started = await Promise.all(
    kinds.map(() => startContainerJvm({ javaHome: home, classpath: classes, mainClass: 'SteadyApp', args: ['1'] })),
  );
  kinds.forEach((k, i) => {
    const j = started[i]!;
    jvms.set(k, j);
    execFileSync('nsenter', ['-t', String(j.pid), '-m', 'sh', '-c', SETUP[k]], { stdio: 'pipe' });
  });
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([...jvms.values()].map((j) => j.kill()));
  rmSync(hostDir, { recursive: true, force: true });
});

const pidOf = (k: Hostile): number => jvms.get(k)!.pid;

function expectUnknownJdk(j: JvmProcess | undefined): void {
  expect(j).toMatchObject({
    vm: 'hotspot',
    jdkVersion: null,
    jdkFeature: null,
    vendor: null,
    javaHome: null,
    main: 'SteadyApp',
    foreignMountNs: true,
  });
}

describe('discovery with hostile release files', () => {
  it('returns within a bound, reports each of those JDKs as unknown and says why, without memory growing', async () => {
    const notices: LimitNotice[] = [];
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    const found = await discoverJvms({ onLimit: (n) => notices.push(n) });
    const took = Date.now() - t0;
    console.log(`discovery with hostile release files: ${found.length} JVMs in ${took} ms`);
    expect(took).toBeLessThan(10_000);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(64 << 20);
    for (const k of jvms.keys()) expectUnknownJdk(found.find((j) => j.pid === pidOf(k)));
    const about = (k: Hostile): LimitNotice | undefined => notices.find((n) => n.path === `/proc/${pidOf(k)}/root${release}`);
    expect(about('fifo')).toMatchObject({ reason: 'not_regular', message: expect.stringContaining('a FIFO') });
    expect(about('zero')).toMatchObject({ reason: 'not_regular', message: expect.stringContaining('character device') });
    expect(about('huge')).toMatchObject({ reason: 'truncated', message: expect.stringContaining('JDK unknown') });
    expect(about('symlink')).toMatchObject({ reason: 'symlink', message: expect.stringContaining('not followed') });
  });

  it('inspectPid (what attach uses) gives the same answers, within a bound', async () => {
    for (const k of jvms.keys()) {
      const t0 = Date.now();
      expectUnknownJdk(await inspectPid(pidOf(k)));
      expect(Date.now() - t0, k).toBeLessThan(5_000);
    }
  });

  it('a host file behind a container symlink is never read', async () => {
    const j = await inspectPid(pidOf('symlink'));
    expect(j.jdkVersion).not.toBe('99.0.0-host');
    expect(j.vendor).not.toBe('the host');
  });

  it('a scan whose every process outlasts its bound returns at once, keeping the JVMs the last scan knew', async () => {
    const notices: LimitNotice[] = [];
    const t0 = Date.now();
    const found = await discoverJvms({ probeTimeoutMs: 0, onLimit: (n) => notices.push(n) });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(found.map((j) => j.pid)).toEqual(expect.arrayContaining([...jvms.keys()].map(pidOf)));
    expect(
      notices.some((n) => n.reason === 'timeout' && /^pid \d+: \/proc\/\d+: no answer within 0 ms; not read again/.test(n.message)),
    ).toBe(true);
    // The reads given up on finish on their own; until then their pids are not read again.
    expect(stalledPids().length).toBeGreaterThan(0);
    for (let i = 0; i < 100 && stalledPids().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(stalledPids()).toEqual([]);
    const none = await discoverJvms({ scanBudgetMs: -1 });
    expect(none.map((j) => j.pid)).toEqual(expect.arrayContaining([...jvms.keys()].map(pidOf)));
  });

  it('the daemon starts, /status answers with those JVMs, each refusal is logged, /healthz is 200 and memory stays flat', async () => {
    const t0 = Date.now();
    daemon = await startDaemon();
    const s = await daemon.get<{ jvms: Array<{ pid: number; jdk: string | null; vendor: string | null }> }>('/status?refresh=1');
    console.log(
      `daemon start + /status?refresh=1: ${Date.now() - t0} ms, daemon RSS ${Math.round(vmRssBytes(daemon.proc.pid!) / 2 ** 20)} MiB`,
    );
    expect(s.status).toBe(200);
    for (const k of jvms.keys()) expect(s.body.jvms.find((j) => j.pid === pidOf(k))).toMatchObject({ jdk: null, vendor: null });
    for (const k of jvms.keys()) expect(daemon.logs()).toContain(`/proc/${pidOf(k)}/root${release}`);
    expect(daemon.logs()).toMatch(/"reason":"not_regular"/);
    const h = await daemon.get<{ ok: boolean }>('/healthz');
    expect(h.status).toBe(200);
    expect(h.body.ok).toBe(true);
    for (let i = 0; i < 5; i++) expect((await daemon.get('/status?refresh=1')).status).toBe(200);
    expect(vmRssBytes(daemon.proc.pid!)).toBeLessThan(200 << 20);
  });
});
