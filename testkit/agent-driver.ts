/**
 * Drives the agent in a container JVM without the daemon's HTTP layer: the daemon's own attach
 * path (deliver the files into the JVM's filesystem, bind the socket, HotSpot `load`) and its
 * AgentHub, in the test process. For adapter tests that send Inventory / Isolate / Restore
 * directly, command by command.
 */
import { createLogger } from '../src/log.js';
import { AgentHub } from '../src/agent/hub.js';
import type { AgentSession } from '../src/agent/session.js';
import { join } from 'node:path';
import { agentFilesIn } from '../src/daemon.js';
import { loadAgent, preflight } from '../src/jvm/attach/index.js';
import { deliverAgent } from '../src/jvm/deliver.js';
import { inspectPid } from '../src/jvm/discovery.js';
import { VERSION } from '../src/version.js';
import { ROOT } from './root.js';
import type { FrameworkInventory, TrafficChange } from '../src/gen/quiesce/agent/v1/agent.js';

export interface AgentDriver {
  attach(pid: number): Promise<AgentSession>;
  close(): Promise<void>;
}

export function agentDriver(): AgentDriver {
  const hub = new AgentHub(createLogger(process.env.QUIESCE_DEBUG ? 'debug' : 'warn'));
  // The built agent (`node scripts/build.mjs collect`), or QUIESCE_AGENT_DIR as the daemon reads it.
  const files = agentFilesIn(process.env.QUIESCE_AGENT_DIR ?? join(ROOT, 'dist', 'agent'));
  return {
    async attach(pid) {
      const jvm = await inspectPid(pid);
      preflight(jvm);
      const delivered = await deliverAgent(jvm, files, VERSION);
      await hub.listen({ pid, hostSocketPath: delivered.socket.hostPath, uid: jvm.uid, gid: jvm.gid });
      const options = [
        `socket=${delivered.socket.targetPath}`,
        `core=${delivered.coreJar.targetPath}`,
        `native=${delivered.nativeLib.targetPath}`,
        `log=${delivered.dir.targetPath}/agent-${jvm.nspid}.log`,
      ].join(',');
      await loadAgent(jvm, delivered.jar.targetPath, options);
      return hub.waitForSession(pid, 15_000);
    },
    close: () => hub.close(),
  };
}

export async function inventory(s: AgentSession): Promise<FrameworkInventory[]> {
  const r = await s.command({ $case: 'inventory', value: {} }, 30_000);
  if (r.body?.$case !== 'inventory') throw new Error(`unexpected ${JSON.stringify(r)}`);
  return r.body.value.frameworks;
}

export async function isolate(s: AgentSession, traffic: string[]): Promise<TrafficChange[]> {
  const r = await s.command({ $case: 'isolate', value: { traffic } }, 30_000);
  if (r.body?.$case !== 'traffic') throw new Error(`unexpected ${JSON.stringify(r)}`);
  return r.body.value.changes;
}

export async function restore(s: AgentSession, traffic: string[]): Promise<TrafficChange[]> {
  const r = await s.command({ $case: 'restore', value: { traffic } }, 30_000);
  if (r.body?.$case !== 'traffic') throw new Error(`unexpected ${JSON.stringify(r)}`);
  return r.body.value.changes;
}
