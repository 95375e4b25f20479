/**
 * Putting the agent into one JVM: deliver the agent files into its filesystem, bind its socket,
 * journal it, `load instrument`, then wait for the agent to say hello. A socket journaled by an
 * earlier daemon is given a short grace first: the agent it loaded redials on its own, and loading
 * a second agent into the same JVM is what this avoids.
 */
import { QuiesceError, toQuiesceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { AgentStore } from '../store/agents.js';
import { VERSION } from '../version.js';
import { loadAgent, preflight } from '../jvm/attach/index.js';
import { deliverAgent, type AgentFiles } from '../jvm/deliver.js';
import type { JvmProcess } from '../jvm/types.js';
import type { AgentHub } from './hub.js';
import type { AgentSession } from './session.js';

export interface AttachFlowDeps {
  log: Logger;
  metrics: Metrics;
  hub: AgentHub;
  agents: AgentStore;
  agentFiles: AgentFiles;
  attachTimeoutMs: number;
  connectTimeoutMs: number;
}

/** After a daemon restart, how long an attach waits for a journaled agent to come back before loading again. */
const RECONNECT_GRACE_MS = 2_500;

/** Runs the flow; resolves with whether an agent was already there. Metrics and the journal record either outcome. */
export async function attachAgent(jvm: JvmProcess, deps: AttachFlowDeps): Promise<{ alreadyAttached: boolean; seconds: number }> {
  const started = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const { metrics, hub, agents, log } = deps;
  const pid = jvm.pid;
  try {
    if (hub.session(pid)) {
      metrics.attachTotal.inc({ result: 'already_attached' });
      return { alreadyAttached: true, seconds: seconds() };
    }
    // Refuse what the flags already tell, before leaving any file in the JVM.
    preflight(jvm);
    if (jvm.dynamicAgentsDisabled) {
      throw new QuiesceError(
        'dynamic_agents_disabled',
        `pid ${pid}: the JVM was started with -XX:-EnableDynamicAgentLoading; it refuses agents loaded at run time`,
        { pid },
      );
    }
    log.info({ pid, nspid: jvm.nspid, jdk: jvm.jdkVersion }, 'attaching');

    const delivered = await deliverAgent(jvm, deps.agentFiles, VERSION);
    const journaled = agents.get(pid, jvm.startTime);
    agents.upsert({
      pid,
      startTime: jvm.startTime,
      nspid: jvm.nspid,
      uid: jvm.uid,
      gid: jvm.gid,
      hostSocketPath: delivered.socket.hostPath,
      state: 'attaching',
    });
    await hub.listen({ pid, hostSocketPath: delivered.socket.hostPath, uid: jvm.uid, gid: jvm.gid });

    let session: AgentSession | undefined;
    if (journaled && (journaled.state === 'loaded' || journaled.state === 'attaching')) {
      session = await hub.waitForSession(pid, RECONNECT_GRACE_MS).catch(() => undefined);
    }
    const alreadyAttached = session !== undefined;
    if (!session) {
      const options = [
        `socket=${delivered.socket.targetPath}`,
        `core=${delivered.coreJar.targetPath}`,
        `native=${delivered.nativeLib.targetPath}`,
        `log=${delivered.dir.targetPath}/agent-${jvm.nspid}.log`,
      ].join(',');
      await loadAgent(jvm, delivered.jar.targetPath, options, { timeoutMs: deps.attachTimeoutMs });
      log.debug({ pid }, 'agent loaded; waiting for it to connect');
      session = await hub.waitForSession(pid, deps.connectTimeoutMs);
    }
    agents.setState(pid, jvm.startTime, 'loaded');
    const result = alreadyAttached ? 'already_attached' : 'ok';
    metrics.attachTotal.inc({ result });
    metrics.attachDuration.observe({ result }, seconds());
    log.info({ pid, seconds: seconds(), result }, 'attached');
    return { alreadyAttached, seconds: seconds() };
  } catch (e) {
    const err = toQuiesceError(e);
    metrics.attachTotal.inc({ result: err.code });
    metrics.attachDuration.observe({ result: err.code }, seconds());
    agents.setState(pid, jvm.startTime, 'failed', { code: err.code, message: err.message });
    log.warn({ pid, code: err.code, err: err.message, step: 'attach' }, 'attach failed');
    throw err;
  }
}
