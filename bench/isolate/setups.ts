/**
 * What each series runs against, as the traffic tests start it (testkit/dubbo-suite.ts,
 * springcloud-suite.ts): one ZooKeeper on 127.0.0.1, providers A and B in stand-in containers on
 * the host network (everything binds and registers 127.0.0.1 only: demo.Loopback, the Spring
 * fixture's properties), and a consumer calling through the registry every `intervalMs`. The
 * daemon's agent is attached to A before any round, so attach time is no part of the figures.
 */
import { readdirSync } from 'node:fs';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import type { DaemonProcess } from '../../testkit/daemon.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { buildMavenFixture, type MavenFixture } from '../../testkit/maven-fixtures.js';
import { startZooKeeper, type ZooKeeper } from '../../testkit/zookeeper.js';
import { CallLog } from './calls.js';
import { qos } from './qos.js';
import type { Probe, Tool } from './rounds.js';
import { until } from '../../testkit/poll.js';
import { freePort } from '../../testkit/ports.js';
import { dubboJvmFlags } from '../../testkit/dubbo-flags.js';

export interface Setup {
  /** "Dubbo 2.7.23" */
  readonly label: string;
  /** Lines saying what runs, for the report. */
  readonly describe: readonly string[];
  /** quiesce first; the reference after it, if any. */
  readonly tools: readonly Tool[];
  readonly probes: readonly Probe[];
  readonly calls: CallLog;
  /** RoundOptions.gapMs for this framework. */
  readonly gapMs: number;
  close(): Promise<void>;
}

export interface SetupOptions {
  readonly daemon: DaemonProcess;
  readonly intervalMs: number;
}

export interface DubboKind {
  readonly fixture: 'dubbo27' | 'dubbo33';
  /** Dubbo 3's application-level instance under /services/<app>, beside the interface-level node. */
  readonly instances: boolean;
}

const PROVIDERS = '/dubbo/demo.GreetingService/providers';
const INSTANCES = '/services/greeting-provider';
const SPRING_SERVICE = '/services/greeter';

const DUBBO_FLAGS = dubboJvmFlags('128m');
const SPRING_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];
/** Dubbo 3's consumer holds back a notification within 5 s of the previous one (rounds.ts gapMs). */
const DUBBO3_NOTIFY_GAP_MS = 5_500;
/** The Spring fixture consumer's LoadBalancer cache (its own default; Spring's is 35 s). */
export const SPRING_LB_CACHE_TTL = '2s';

/** "2.7.23" from lib/dubbo-2.7.23.jar. */
function jarVersion(f: MavenFixture, artifact: string): string {
  const re = new RegExp(`^${artifact}-(\\d[\\w.]*)\\.jar$`);
  for (const name of readdirSync(f.lib)) {
    const m = re.exec(name);
    if (m?.[1] !== undefined) return m[1];
  }
  return '?';
}

function start(f: MavenFixture, mainClass: string, args: readonly string[], flags: readonly string[]): Promise<ContainerJvm> {
  return startContainerJvm({
    javaHome: jdk17().home,
    hostClasspath: f.classpath,
    mainClass,
    args,
    jvmFlags: flags,
    network: 'host',
    readyLine: 'READY',
    readyTimeoutMs: 120_000,
  });
}

/** Attaches the daemon's agent to `pid` and checks it answered. */
async function attach(daemon: DaemonProcess, pid: number): Promise<number> {
  const t = Date.now();
  const r = await daemon.post(`/jvms/${pid}/attach`);
  if (r.status !== 200) throw new Error(`POST /jvms/${pid}/attach: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return Date.now() - t;
}

interface ChangeView {
  deregistered?: string[];
  restored?: string[];
  error?: string | null;
}

/** The daemon as a tool: POST /isolate and /restore for `pid`, checked for what they did. */
function quiesceTool(daemon: DaemonProcess, pid: number, traffic: 'dubbo' | 'springcloud'): Tool {
  return {
    name: 'quiesce',
    isolate: async () => {
      const r = await daemon.post<{ changes?: ChangeView[] }>('/isolate', { pid, traffic: [traffic] });
      const changes = r.body.changes ?? [];
      if (r.status !== 200 || !changes.some((c) => (c.deregistered?.length ?? 0) > 0) || changes.some((c) => c.error)) {
        throw new Error(`POST /isolate: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      }
    },
    restore: async () => {
      const r = await daemon.post<{ restored?: boolean; changes?: ChangeView[] }>('/restore', { pid, traffic: [traffic] });
      if (r.status !== 200 || r.body.restored !== true || (r.body.changes ?? []).some((c) => c.error))
        throw new Error(`POST /restore: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    },
  };
}

function qosTool(port: number): Tool {
  const run = async (command: string): Promise<void> => {
    const answer = await qos(port, command);
    if (answer !== 'OK') throw new Error(`QoS ${command}: answered ${JSON.stringify(answer)}`);
  };
  return { name: 'QoS', isolate: () => run('offline'), restore: () => run('online') };
}

async function closeAll(jvms: readonly (ContainerJvm | undefined)[], zk: ZooKeeper | undefined): Promise<void> {
  await Promise.all(jvms.flatMap((j) => (j ? [j.kill()] : [])));
  await zk?.stop();
}

export async function dubboSetup(kind: DubboKind, o: SetupOptions): Promise<Setup> {
  const fixture = buildMavenFixture(kind.fixture);
  const version = jarVersion(fixture, 'dubbo');
  const zk = await startZooKeeper();
  const jvms: ContainerJvm[] = [];
  try {
    const [portA, portB, qosA, qosB] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const providers = await Promise.all([
      start(fixture, 'demo.Provider', ['A', String(portA), zk.connectString, String(qosA)], DUBBO_FLAGS),
      start(fixture, 'demo.Provider', ['B', String(portB), zk.connectString, String(qosB)], DUBBO_FLAGS),
    ]);
    jvms.push(...providers);
    const a = providers[0];
    const consumer = await start(fixture, 'demo.Consumer', [zk.connectString, String(portA), String(o.intervalMs)], DUBBO_FLAGS);
    jvms.push(consumer);
    const attachMs = await attach(o.daemon, a.pid);

    const providerNode = async (port: number): Promise<boolean> =>
      (await zk.children(PROVIDERS)).some((u) => u.startsWith(`dubbo://127.0.0.1:${port}/`));
    const instanceNode = async (port: number): Promise<boolean> => (await zk.children(INSTANCES)).includes(`127.0.0.1:${port}`);
    const probes: Probe[] = [{ name: 'provider node', present: () => providerNode(portA) }];
    if (kind.instances) probes.push({ name: 'instance node', present: () => instanceNode(portA) });
    await until(
      'A and B registered',
      30_000,
      async () =>
        (await providerNode(portB)) &&
        (await providerNode(portA)) &&
        (!kind.instances || ((await instanceNode(portA)) && (await instanceNode(portB)))),
    );
    const calls = new CallLog(consumer.stdout);
    const from = Date.now();
    await until('calls to A and B', 60_000, async () => {
      const seen = calls.between(from, Infinity).byName;
      return seen.has('A') && seen.has('B');
    });
    return {
      label: `Dubbo ${version}`,
      describe: [
        `fixture ${kind.fixture}: providers A and B (QoS on their own 127.0.0.1 ports), consumer calling through ZooKeeper every ${o.intervalMs} ms (random load balancing, no retry)`,
        `registry nodes of A polled: ${PROVIDERS}/dubbo://127.0.0.1:${portA}/...${kind.instances ? ` and ${INSTANCES}/127.0.0.1:${portA} (application level)` : ''}`,
        `daemon attached to A beforehand (${attachMs} ms, not counted); reference: Dubbo's QoS "offline" / "online" on A's QoS port`,
        ...(kind.instances
          ? [
              `every command waits until ${DUBBO3_NOTIFY_GAP_MS} ms after the previous registry change: Dubbo 3's consumer delays a notification within 5 s of the last`,
            ]
          : []),
      ],
      tools: [quiesceTool(o.daemon, a.pid, 'dubbo'), qosTool(qosA)],
      probes,
      calls,
      gapMs: kind.instances ? DUBBO3_NOTIFY_GAP_MS : 0,
      close: () => closeAll(jvms, zk),
    };
  } catch (e) {
    await closeAll(jvms, zk);
    throw e;
  }
}

export async function springCloudSetup(o: SetupOptions): Promise<Setup> {
  const fixture = buildMavenFixture('springcloud-boot3');
  const commons = jarVersion(fixture, 'spring-cloud-commons');
  const boot = jarVersion(fixture, 'spring-boot');
  const zk = await startZooKeeper();
  const jvms: ContainerJvm[] = [];
  try {
    const cs = `--spring.cloud.zookeeper.connect-string=${zk.connectString}`;
    const providers = await Promise.all([
      start(fixture, 'fixture.provider.Provider', [cs, '--instance.name=A'], SPRING_FLAGS),
      start(fixture, 'fixture.provider.Provider', [cs, '--instance.name=B'], SPRING_FLAGS),
    ]);
    jvms.push(...providers);
    const [a, b] = providers;
    const consumer = await start(
      fixture,
      'fixture.consumer.Consumer',
      [cs, `--call.interval-ms=${o.intervalMs}`, '--call.await-instances=2'],
      SPRING_FLAGS,
    );
    jvms.push(consumer);
    const attachMs = await attach(o.daemon, a.pid);
    const portOf = (j: ContainerJvm): number => Number(/READY port=(\d+)/.exec(j.stdout())?.[1]);
    const portA = portOf(a);
    const portB = portOf(b);
    /** Instance id of the node whose payload names `port`. */
    const nodeOf = async (port: number): Promise<string | undefined> => {
      for (const id of await zk.children(SPRING_SERVICE)) {
        const data = await zk.data(`${SPRING_SERVICE}/${id}`);
        if (data !== null && (JSON.parse(data) as { port?: number }).port === port) return id;
      }
      return undefined;
    };
    const nodeA = await until('A and B registered', 30_000, async () => ((await nodeOf(portB)) ? nodeOf(portA) : undefined));
    const calls = new CallLog(consumer.stdout);
    const from = Date.now();
    await until('calls to A and B', 60_000, async () => {
      const seen = calls.between(from, Infinity).byName;
      return seen.has('A') && seen.has('B');
    });
    return {
      label: `Spring Cloud Commons ${commons} (Boot ${boot}, Spring Cloud Zookeeper)`,
      describe: [
        `fixture springcloud-boot3: providers A and B, a @LoadBalanced RestTemplate consumer calling every ${o.intervalMs} ms (round robin, no retry,`,
        `  LoadBalancer instance cache ${SPRING_LB_CACHE_TTL}: the consumer keeps calling a deregistered provider until its cached list expires)`,
        `registry node of A polled: ${SPRING_SERVICE}/${nodeA}`,
        `daemon attached to A beforehand (${attachMs} ms, not counted); no reference tool (Dubbo's QoS has no Spring Cloud counterpart here)`,
      ],
      tools: [quiesceTool(o.daemon, a.pid, 'springcloud')],
      probes: [{ name: 'service node', present: async () => (await zk.children(SPRING_SERVICE)).includes(nodeA) }],
      calls,
      gapMs: 0,
      close: () => closeAll(jvms, zk),
    };
  } catch (e) {
    await closeAll(jvms, zk);
    throw e;
  }
}
