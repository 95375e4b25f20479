/**
 * The Spring Cloud traffic adapter against real Spring Boot apps registered in a real ZooKeeper:
 * two providers of "greeter", a @LoadBalanced consumer calling it every 50 ms, and a JVM with no
 * framework loaded. One suite per Boot line (test/traffic-springcloud-*.test.ts). Provider A's
 * agent is driven command by command (testkit/agent-driver.ts); provider B goes through the
 * real daemon's /isolate and /restore, whose hold loop re-sends Isolate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSession } from '../src/agent/session.js';
import { agentDriver, inventory, isolate, restore, type AgentDriver } from './agent-driver.js';
import { startContainerJvm, type ContainerJvm } from './container.js';
import { newStateDir, startDaemon } from './daemon.js';
import { jdk17 } from './java-homes.js';
import { buildMavenFixture } from './maven-fixtures.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';
import { sleep, until } from './poll.js';

const SERVICE = '/services/greeter';
const FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];

interface Call {
  at: number;
  who: string | null;
}

/** The consumer's "CALL <ms> <name> <port>" / "FAIL <ms> <error>" lines. */
function calls(consumer: ContainerJvm): Call[] {
  const out: Call[] = [];
  for (const line of consumer.stdout().split('\n')) {
    const m = /^(CALL|FAIL) (\d+) ?(\S*)/.exec(line);
    if (m) out.push({ at: Number(m[2]), who: m[1] === 'CALL' ? (m[3] ?? '') : null });
  }
  return out;
}

export function springCloudSuite(o: {
  fixture: string;
  commons: RegExp;
  label: string;
  /** Extra arguments for the consumer: its load balancer must see a registry change within a few seconds. */
  consumerArgs?: string[];
}): void {
  let zk: ZooKeeper;
  let driver: AgentDriver;
  let providerA: ContainerJvm;
  let providerB: ContainerJvm;
  let consumer: ContainerJvm;
  let plain: ContainerJvm;
  let portA: number;
  let portB: number;
  let agentA: AgentSession;
  let agentPlain: AgentSession;
  let itemA: string;
  /** A's node (instance id) and its data before isolation. */
  let nodeA: string;
  let dataA: string;

  /** Instance id → port, read from the nodes under /services/greeter. */
  const nodes = async (): Promise<Map<number, string>> => {
    const out = new Map<number, string>();
    for (const id of await zk.children(SERVICE)) {
      const data = await zk.data(`${SERVICE}/${id}`);
      const port = data ? (JSON.parse(data) as { port: number }).port : -1;
      out.set(port, id);
    }
    return out;
  };

  beforeAll(async () => {
    const fixture = buildMavenFixture(o.fixture);
    zk = await startZooKeeper();
    driver = agentDriver();
    const start = (mainClass: string, args: string[] = []) =>
      startContainerJvm({
        javaHome: jdk17().home,
        hostClasspath: fixture.classpath,
        mainClass,
        args: [`--spring.cloud.zookeeper.connect-string=${zk.connectString}`, ...args],
        jvmFlags: FLAGS,
        network: 'host',
        readyLine: 'READY',
        readyTimeoutMs: 90_000,
      });
    [providerA, providerB, consumer, plain] = await Promise.all([
      start('fixture.provider.Provider', ['--instance.name=A']),
      start('fixture.provider.Provider', ['--instance.name=B']),
      start('fixture.consumer.Consumer', o.consumerArgs),
      start('fixture.plain.Plain'),
    ]);
    portA = Number(/READY port=(\d+)/.exec(providerA.stdout())?.[1]);
    portB = Number(/READY port=(\d+)/.exec(providerB.stdout())?.[1]);
    itemA = `greeter 127.0.0.1:${portA}`;
    [agentA, agentPlain] = await Promise.all([driver.attach(providerA.pid), driver.attach(plain.pid)]);
  });

  afterAll(async () => {
    await driver?.close();
    await Promise.all([providerA?.kill(), providerB?.kill(), consumer?.kill(), plain?.kill()]);
    await zk?.stop();
  });

  describe(`Spring Cloud traffic (${o.label})`, () => {
    it('both providers are registered and the consumer calls both', async () => {
      const byPort = await until('both nodes', 10_000, async () => {
        const n = await nodes();
        return n.has(portA) && n.has(portB) ? n : null;
      });
      nodeA = byPort.get(portA) as string;
      dataA = (await zk.data(`${SERVICE}/${nodeA}`)) as string;
      // Registered, and so called, on 127.0.0.1 only: this machine sends traffic nowhere else.
      for (const id of byPort.values())
        expect(JSON.parse((await zk.data(`${SERVICE}/${id}`)) as string)).toMatchObject({ address: '127.0.0.1' });
      await until('calls to A and B', 30_000, async () => {
        const who = new Set(calls(consumer).map((c) => c.who));
        return who.has('A') && who.has('B');
      });
    });

    it('inventory names spring-cloud-commons, its ZooKeeper registry and what is registered', async () => {
      const inv = await inventory(agentA);
      expect(inv).toHaveLength(1);
      const f = inv[0]!;
      expect(f.traffic).toBe('springcloud');
      expect(f.framework).toBe('spring-cloud-commons');
      expect(f.version).toMatch(o.commons);
      expect(f.supported).toBe(true);
      expect(f.isolated).toBe(false);
      expect(f.registries).toEqual([
        {
          registry: `org.springframework.cloud.zookeeper.serviceregistry.ZookeeperServiceRegistry zookeeper://${zk.connectString}`,
          kind: 'registration',
          registered: [itemA],
          removed: [],
        },
      ]);
    });

    it('isolate removes the node; the consumer stops calling A and keeps working on B; A still answers', async () => {
      const t0 = Date.now();
      const changes = await isolate(agentA, ['springcloud']);
      const answered = Date.now();
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({
        traffic: 'springcloud',
        framework: 'spring-cloud-commons',
        kind: 'registration',
        deregistered: [itemA],
        reapplied: 0,
        error: '',
      });
      await until('A node gone', 5_000, async () => !(await zk.children(SERVICE)).includes(nodeA));
      const gone = Date.now();
      // Spring Cloud LoadBalancer's cache: 2 s in the fixture (35 s by default); Ribbon's refresh: 1 s here (30 s).
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
      expect(after.filter((c) => c.at > lastA && c.who === 'B').length).toBeGreaterThan(20);
      const direct = await fetch(`http://127.0.0.1:${portA}/hello`);
      expect(await direct.text()).toBe(`A ${portA}`);
      console.log(
        `[${o.label}] isolate answered in ${answered - t0} ms, node gone after ${gone - t0} ms, consumer's last call to A ${lastA - t0} ms after isolate`,
      );
    });

    it('inventory while isolated: nothing registered, A removed', async () => {
      const [f] = await inventory(agentA);
      expect(f?.isolated).toBe(true);
      expect(f?.registries[0]).toMatchObject({ registered: [], removed: [itemA] });
    });

    it('isolate again is a no-op', async () => {
      const changes = await isolate(agentA, ['springcloud']);
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ deregistered: [], reapplied: 0, error: '' });
      expect(await zk.children(SERVICE)).not.toContain(nodeA);
    });

    it('a ZooKeeper session expiry brings B back but not A', async () => {
      await zk.expireAllSessions();
      await until('B re-registered after expiry', 60_000, async () => (await nodes()).has(portB));
      await sleep(2_000);
      expect((await nodes()).has(portA)).toBe(false);
      const changes = await isolate(agentA, ['springcloud']);
      expect(changes[0]).toMatchObject({ deregistered: [], reapplied: 0, error: '' });
    });

    it('a node that comes back while isolated is removed again and counted as reapplied', async () => {
      // Written from outside (like a stale re-registration): Curator holds no entry for it.
      await zk.createEphemeral(`${SERVICE}/${nodeA}`);
      expect(await zk.children(SERVICE)).toContain(nodeA);
      const changes = await isolate(agentA, ['springcloud']);
      expect(changes[0]).toMatchObject({ deregistered: [], reapplied: 1, error: '' });
      expect(await zk.children(SERVICE)).not.toContain(nodeA);
    });

    it('restore puts back the same node with the same payload, and the consumer calls A again', async () => {
      const t0 = Date.now();
      const changes = await restore(agentA, ['springcloud']);
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ restored: [itemA], error: '' });
      expect(await zk.children(SERVICE)).toContain(nodeA);
      expect(await zk.data(`${SERVICE}/${nodeA}`)).toBe(dataA);
      const back = await until('a call to A after restore', 20_000, async () => calls(consumer).find((c) => c.at > t0 && c.who === 'A'));
      console.log(`[${o.label}] restore: consumer calls A again ${back.at - t0} ms after restore`);
      const [f] = await inventory(agentA);
      expect(f?.isolated).toBe(false);
      expect(f?.registries[0]).toMatchObject({ registered: [itemA], removed: [] });
    });

    it('restore again does nothing', async () => {
      expect(await restore(agentA, ['springcloud'])).toEqual([]);
      expect(await zk.children(SERVICE)).toContain(nodeA);
    });

    it('through the daemon: /isolate takes B out, the hold loop removes what reappears, a restarted daemon still holds it, /restore puts it back', async () => {
      const stateDir = newStateDir();
      let daemon = await startDaemon({ stateDir });
      try {
        const nodeB = (await nodes()).get(portB) as string;
        const dataB = await zk.data(`${SERVICE}/${nodeB}`);
        const itemB = `greeter 127.0.0.1:${portB}`;
        const r = await daemon.post<{ changes: unknown[] }>('/isolate', { pid: providerB.pid, traffic: ['springcloud'] });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.changes).toMatchObject([{ traffic: 'springcloud', deregistered: [itemB], reapplied: 0, error: null }]);
        expect(await zk.children(SERVICE)).not.toContain(nodeB);
        await zk.createEphemeral(`${SERVICE}/${nodeB}`);
        const t0 = Date.now();
        await until('the daemon to remove B again', 10_000, async () => !(await zk.children(SERVICE)).includes(nodeB));
        console.log(`[${o.label}] daemon hold loop removed a reappeared node in ${Date.now() - t0} ms`);
        // The node is gone once the agent deleted it; the daemon journals the count when the agent's answer is back.
        const reapplied = await until('the daemon to count it as reapplied', 5_000, async () => {
          const j = await daemon.get<{ isolation: { reapplied: number } | null }>(`/jvms/${providerB.pid}`);
          return (j.body.isolation?.reapplied ?? 0) >= 1 ? j.body.isolation!.reapplied : null;
        });
        expect(reapplied).toBeGreaterThanOrEqual(1);
        // The daemon dies; the next one finds the isolation in its journal and keeps holding it.
        await daemon.stop('SIGKILL');
        daemon = await startDaemon({ stateDir });
        const held = await daemon.get<{ isolation: { traffic: string[] } | null }>(`/jvms/${providerB.pid}`);
        expect(held.body.isolation?.traffic).toEqual(['springcloud']);
        await zk.createEphemeral(`${SERVICE}/${nodeB}`);
        await until('the restarted daemon to remove B again', 15_000, async () => !(await zk.children(SERVICE)).includes(nodeB));
        const back = await daemon.post<{ restored: boolean; changes: unknown[] }>('/restore', {
          pid: providerB.pid,
          traffic: ['springcloud'],
        });
        expect(back.status, JSON.stringify(back.body)).toBe(200);
        expect(back.body).toMatchObject({ restored: true, changes: [{ restored: [itemB], error: null }] });
        expect(await zk.data(`${SERVICE}/${nodeB}`)).toBe(dataB);
      } finally {
        await daemon.stop();
      }
    });

    it('a JVM without Spring Cloud is no_framework', async () => {
      expect(await inventory(agentPlain)).toEqual([]);
      await expect(isolate(agentPlain, ['springcloud'])).rejects.toMatchObject({ details: { agentCode: 'no_framework' } });
    });
  });
}
