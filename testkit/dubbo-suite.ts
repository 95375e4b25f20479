/**
 * The Dubbo traffic adapter against real Dubbo apps registered in a real ZooKeeper: two
 * providers of demo.GreetingService (A and B, separate JVMs), a consumer calling it through the
 * registry every 50 ms (and A directly, bypassing the registry), and a JVM with Dubbo on its class
 * path that never loads it. One suite per Dubbo line (test/traffic-dubbo*.test.ts).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSession } from '../src/agent/session.js';
import { agentDriver, inventory, isolate, restore, type AgentDriver } from './agent-driver.js';
import { startContainerJvm, type ContainerJvm } from './container.js';
import { jdk17 } from './java-homes.js';
import { buildMavenFixture } from './maven-fixtures.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';
import { newStateDir, startDaemon } from './daemon.js';
import { sleep, until } from './poll.js';
import { freePort } from './ports.js';
import { dubboJvmFlags } from './dubbo-flags.js';

const PROVIDERS = '/dubbo/demo.GreetingService/providers';
/** Dubbo 3's application-level registration: one instance node per provider JVM. */
const INSTANCES = '/services/greeting-provider';
const FLAGS = dubboJvmFlags('128m');

/**
 * One command to Dubbo's QoS server in its telnet mode (2.6's HTTP mode never ends its answer),
 * answered with the command's first line, e.g. "OK".
 */
async function qos(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`QoS ${command} on ${port}: no answer in 10 s (got ${JSON.stringify(text)})`));
    }, 10_000);
    socket.setEncoding('utf8');
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('data', (d: string) => {
      text += d;
      if (!sent && text.includes('dubbo>')) {
        sent = true;
        text = '';
        socket.write(`${command}\r\n`);
      } else if (sent && /\r?\n/.test(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(
          text
            .split(/\r?\n/)
            .map((l) => l.trim())
            .find((l) => l.length > 0) ?? '',
        );
      }
    });
  });
}

interface Call {
  at: number;
  /** The provider's name, or null for a failed call. */
  who: string | null;
}

/** The consumer's "CALL <ms> <name> ..." / "FAIL <ms> ..." lines (or DIRECT / DIRECTFAIL). */
function calls(consumer: ContainerJvm, kind: 'CALL' | 'DIRECT' = 'CALL'): Call[] {
  const out: Call[] = [];
  const fail = kind === 'CALL' ? 'FAIL' : 'DIRECTFAIL';
  for (const line of consumer.stdout().split('\n')) {
    const m = /^(\S+) (\d+) (\S*)/.exec(line);
    if (m?.[1] === kind) out.push({ at: Number(m[2]), who: m[3] ?? '' });
    else if (m?.[1] === fail) out.push({ at: Number(m[2]), who: null });
  }
  return out;
}

/** A Curator service instance's JSON without its registration time (set anew by every registration). */
function instanceData(json: string | null): unknown {
  if (json === null) return null;
  const o = JSON.parse(json) as Record<string, unknown>;
  delete o['registrationTimeUTC'];
  return o;
}

export interface DubboSuiteOptions {
  fixture: string;
  label: string;
  framework: 'alibaba-dubbo' | 'apache-dubbo';
  version: RegExp;
  /** Dubbo 3: an application-level instance under /services/<app> beside the interface-level nodes. */
  instances: boolean;
}

export function dubboSuite(o: DubboSuiteOptions): void {
  let zk: ZooKeeper;
  let driver: AgentDriver;
  let providerA: ContainerJvm;
  let providerB: ContainerJvm;
  let consumer: ContainerJvm;
  let plain: ContainerJvm;
  let portA: number;
  let portB: number;
  let qosA: number;
  let agentA: AgentSession;
  let agentPlain: AgentSession;
  let registry: string;
  /** A's provider node (its full URL, decoded) and the data under it, before isolation. */
  let urlA: string;
  let dataA: string | null;
  let instanceA: string;
  let instanceDataA: unknown;

  const providerNode = async (port: number): Promise<string | undefined> =>
    (await zk.children(PROVIDERS)).find((u) => u.startsWith(`dubbo://127.0.0.1:${port}/`));
  const instanceNode = async (port: number): Promise<string | undefined> =>
    o.instances ? (await zk.children(INSTANCES)).find((id) => id === `127.0.0.1:${port}`) : undefined;
  const encoded = (url: string): string => `${PROVIDERS}/${encodeURIComponent(url)}`;

  beforeAll(async () => {
    const fixture = buildMavenFixture(o.fixture);
    zk = await startZooKeeper();
    driver = agentDriver();
    registry = `zookeeper://${zk.connectString}`;
    [portA, portB, qosA] = await Promise.all([freePort(), freePort(), freePort()]);
    const start = (mainClass: string, args: string[]) =>
      startContainerJvm({
        javaHome: jdk17().home,
        hostClasspath: fixture.classpath,
        mainClass,
        args,
        jvmFlags: FLAGS,
        // Every JVM registers and calls 127.0.0.1 only (demo.Loopback), never another address.
        network: 'host',
        readyLine: 'READY',
        readyTimeoutMs: 90_000,
      });
    [providerA, providerB, plain] = await Promise.all([
      start('demo.Provider', ['A', String(portA), zk.connectString, String(qosA)]),
      start('demo.Provider', ['B', String(portB), zk.connectString]),
      start('demo.Plain', []),
    ]);
    consumer = await start('demo.Consumer', [zk.connectString, String(portA)]);
    [agentA, agentPlain] = await Promise.all([driver.attach(providerA.pid), driver.attach(plain.pid)]);
  });

  afterAll(async () => {
    await driver?.close();
    await Promise.all([providerA?.kill(), providerB?.kill(), consumer?.kill(), plain?.kill()]);
    await zk?.stop();
  });

  describe(`Dubbo traffic (${o.label})`, () => {
    it('both providers are registered and the consumer calls both', async () => {
      urlA = await until('A and B registered', 20_000, async () => ((await providerNode(portB)) ? providerNode(portA) : undefined));
      dataA = await zk.data(encoded(urlA));
      if (o.instances) {
        instanceA = await until('A and B instances', 20_000, async () => ((await instanceNode(portB)) ? instanceNode(portA) : undefined));
        instanceDataA = instanceData(await zk.data(`${INSTANCES}/${instanceA}`));
      }
      await until('calls to A and B', 30_000, async () => {
        const who = new Set(calls(consumer).map((c) => c.who));
        return who.has('A') && who.has('B');
      });
    });

    it('inventory names the framework, its version, the registry and what A registered', async () => {
      const inv = await inventory(agentA);
      expect(inv).toHaveLength(1);
      const f = inv[0]!;
      expect(f).toMatchObject({ traffic: 'dubbo', framework: o.framework, supported: true, isolated: false, unsupportedReason: '' });
      expect(f.version).toMatch(o.version);
      const iface = f.registries.filter((r) => r.kind === 'interface');
      expect(iface).toEqual([{ registry, kind: 'interface', registered: [urlA], removed: [] }]);
      const inst = f.registries.filter((r) => r.kind === 'instance');
      if (o.instances) {
        expect(inst).toHaveLength(1);
        expect(inst[0]).toMatchObject({ registry, removed: [] });
        expect(inst[0]!.registered).toHaveLength(1);
        expect(inst[0]!.registered[0]).toContain('demo.GreetingService');
      } else {
        expect(inst).toEqual([]);
      }
    });

    it('isolate removes A from the registry; the consumer stops calling A and keeps working on B; A still answers directly', async () => {
      const t0 = Date.now();
      const changes = await isolate(agentA, ['dubbo']);
      const answered = Date.now();
      const iface = changes.filter((c) => c.kind === 'interface');
      expect(iface).toEqual([
        expect.objectContaining({ traffic: 'dubbo', framework: o.framework, registry, deregistered: [urlA], reapplied: 0, error: '' }),
      ]);
      if (o.instances) {
        const inst = changes.filter((c) => c.kind === 'instance');
        expect(inst).toHaveLength(1);
        expect(inst[0]).toMatchObject({ registry, reapplied: 0, error: '' });
        expect(inst[0]!.deregistered).toHaveLength(1);
      }
      expect(await providerNode(portA)).toBeUndefined();
      const gone = Date.now();
      if (o.instances) await until('A instance gone', 5_000, async () => (await instanceNode(portA)) === undefined);
      const instanceGone = Date.now();
      await until('no call to A for 3 s', 20_000, async () => {
        const lastA = Math.max(
          ...calls(consumer)
            .filter((c) => c.who === 'A')
            .map((c) => c.at),
        );
        return Date.now() - lastA > 3_000 ? true : null;
      });
      const after = calls(consumer).filter((c) => c.at > t0);
      const lastA = Math.max(...after.filter((c) => c.who === 'A').map((c) => c.at), t0);
      expect(after.filter((c) => c.who === null)).toEqual([]);
      expect(after.filter((c) => c.at > lastA && c.who === 'B').length).toBeGreaterThan(5);
      expect(await providerNode(portB)).toBeDefined();
      // A itself still serves: the consumer's direct reference (no registry) keeps getting answers.
      const direct = calls(consumer, 'DIRECT').filter((c) => c.at > lastA);
      expect(direct.length).toBeGreaterThan(0);
      expect(direct.every((c) => c.who === 'A')).toBe(true);
      console.log(
        `[${o.label}] isolate answered in ${answered - t0} ms, provider node gone by ${gone - t0} ms` +
          (o.instances ? `, instance gone by ${instanceGone - t0} ms` : '') +
          `, consumer's last call to A ${lastA - t0} ms after isolate`,
      );
    });

    it('inventory while isolated: A removed, nothing registered', async () => {
      const [f] = await inventory(agentA);
      expect(f?.isolated).toBe(true);
      for (const r of f!.registries) expect(r.registered).toEqual([]);
      expect(f!.registries.find((r) => r.kind === 'interface')).toMatchObject({ registered: [], removed: [urlA] });
    });

    it('isolate again is a no-op', async () => {
      const changes = await isolate(agentA, ['dubbo']);
      for (const c of changes) expect(c).toMatchObject({ deregistered: [], reapplied: 0, error: '' });
      expect(await providerNode(portA)).toBeUndefined();
      expect(await instanceNode(portA)).toBeUndefined();
    });

    it('a ZooKeeper session expiry brings B back but not A', async () => {
      // A real expiry: both providers frozen past the session timeout (ZooKeeper caps it at 20
      // ticks, 10 s), so the server expires their sessions and deletes their ephemeral nodes; on
      // SIGCONT Dubbo sees the expiry and recover() re-registers what getRegistered() holds.
      // Not zk.expireAllSessions(): it restarts ZooKeeper empty, and every Dubbo caches the
      // persistent parents it created (AbstractZookeeperClient.persistentExistNodePath), so
      // nothing can re-register there, B included (NoNode).
      for (const p of [providerA.pid, providerB.pid]) process.kill(p, 'SIGSTOP');
      try {
        await until('B expired', 30_000, async () => (await providerNode(portB)) === undefined);
        await sleep(1_000);
      } finally {
        for (const p of [providerA.pid, providerB.pid]) process.kill(p, 'SIGCONT');
      }
      await until(
        'B re-registered after expiry',
        60_000,
        async () => (await providerNode(portB)) && (!o.instances || (await instanceNode(portB))),
      );
      await sleep(2_000);
      expect(await providerNode(portA)).toBeUndefined();
      expect(await instanceNode(portA)).toBeUndefined();
      const changes = await isolate(agentA, ['dubbo']);
      for (const c of changes) expect(c).toMatchObject({ deregistered: [], reapplied: 0, error: '' });
      // The consumer still only calls B.
      const t = Date.now();
      await until('calls to B after expiry', 30_000, async () => calls(consumer).some((c) => c.at > t && c.who === 'B'));
      expect(calls(consumer).filter((c) => c.at > t && c.who === 'A')).toEqual([]);
    });

    it("a registration that comes back while isolated (Dubbo's own QoS online) is removed again and counted as reapplied", async () => {
      // QoS online re-registers only the stated URLs Dubbo believes unregistered: this also shows
      // that isolate kept Dubbo's bookkeeping as its QoS offline does.
      expect(await qos(qosA, 'online')).toBe('OK');
      await until(
        'A re-registered by QoS online',
        10_000,
        async () => (await providerNode(portA)) && (!o.instances || (await instanceNode(portA))),
      );
      const changes = await isolate(agentA, ['dubbo']);
      expect(changes.filter((c) => c.kind === 'interface')).toEqual([
        expect.objectContaining({ registry, deregistered: [urlA], reapplied: 1, error: '' }),
      ]);
      if (o.instances) expect(changes.filter((c) => c.kind === 'instance')[0]).toMatchObject({ reapplied: 1, error: '' });
      expect(await providerNode(portA)).toBeUndefined();
      if (o.instances) await until('A instance gone again', 5_000, async () => (await instanceNode(portA)) === undefined);
      const [f] = await inventory(agentA);
      expect(f!.registries.find((r) => r.kind === 'interface')).toMatchObject({ registered: [], removed: [urlA] });
    });

    it('restore puts back the same nodes with the same data, and the consumer calls A again', async () => {
      const t0 = Date.now();
      const changes = await restore(agentA, ['dubbo']);
      expect(changes.filter((c) => c.kind === 'interface')).toEqual([expect.objectContaining({ registry, restored: [urlA], error: '' })]);
      if (o.instances) expect(changes.filter((c) => c.kind === 'instance')[0]?.restored).toHaveLength(1);
      expect(await providerNode(portA)).toBe(urlA);
      expect(await zk.data(encoded(urlA))).toBe(dataA);
      if (o.instances) {
        await until('A instance back', 5_000, async () => instanceNode(portA));
        expect(instanceData(await zk.data(`${INSTANCES}/${instanceA}`))).toEqual(instanceDataA);
      }
      const back = await until('a call to A after restore', 30_000, async () => calls(consumer).find((c) => c.at > t0 && c.who === 'A'));
      console.log(`[${o.label}] restore: consumer calls A again ${back.at - t0} ms after restore`);
      const [f] = await inventory(agentA);
      expect(f?.isolated).toBe(false);
      expect(f!.registries.find((r) => r.kind === 'interface')).toMatchObject({ registered: [urlA], removed: [] });
    });

    it('restore again does nothing', async () => {
      expect(await restore(agentA, ['dubbo'])).toEqual([]);
      expect(await providerNode(portA)).toBe(urlA);
    });

    it('through the daemon: /isolate takes B out, a restarted daemon still holds it, /restore puts it back', async () => {
      const stateDir = newStateDir();
      let daemon = await startDaemon({ stateDir });
      try {
        const urlB = (await providerNode(portB))!;
        const r = await daemon.post<{ changes: Array<{ kind: string; deregistered: string[] }> }>('/isolate', {
          pid: providerB.pid,
          traffic: ['dubbo'],
        });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.changes.find((c) => c.kind === 'interface')?.deregistered).toEqual([urlB]);
        expect(await providerNode(portB)).toBeUndefined();
        if (o.instances) await until('B instance gone', 5_000, async () => (await instanceNode(portB)) === undefined);
        await daemon.stop('SIGKILL');
        daemon = await startDaemon({ stateDir });
        const held = await daemon.get<{ isolation: { traffic: string[] } | null }>(`/jvms/${providerB.pid}`);
        expect(held.body.isolation?.traffic).toEqual(['dubbo']);
        const back = await daemon.post<{ restored: boolean }>('/restore', { pid: providerB.pid, traffic: ['dubbo'] });
        expect(back.status, JSON.stringify(back.body)).toBe(200);
        expect(back.body.restored).toBe(true);
        expect(await providerNode(portB)).toBe(urlB);
        if (o.instances) await until('B instance back', 5_000, async () => (await instanceNode(portB)) !== undefined);
      } finally {
        await daemon.stop();
      }
    });

    it('a JVM that never loaded Dubbo is no_framework', async () => {
      expect(await inventory(agentPlain)).toEqual([]);
      await expect(isolate(agentPlain, ['dubbo'])).rejects.toMatchObject({ details: { agentCode: 'no_framework' } });
    });
  });
}
