/** What /status, /jvms and the gRPC API show of a JVM and its agent. */
import type { QuiesceError } from '../errors.js';
import type { JvmProcess } from '../jvm/types.js';
import type { AgentSession } from './session.js';

export type AgentState = 'none' | 'attaching' | 'connected' | 'failed';

export interface AgentView {
  state: AgentState;
  error: string | null;
  version: string | null;
  instanceId: string | null;
  frameworks: string[];
  connectedAt: number | null;
}

export interface JvmView {
  pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat): with pid, tells a restarted JVM apart. */
  startTime: number;
  nspid: number;
  uid: number;
  gid: number;
  jdk: string | null;
  vendor: string | null;
  main: string | null;
  containerId: string | null;
  foreignMountNs: boolean;
  vm: string;
  supported: boolean;
  unsupportedReason: string | null;
  agent: AgentView;
}

export interface AttachOutcome {
  jvm: JvmView;
  alreadyAttached: boolean;
  durationSeconds: number;
}

/** The agent side of a JVM as the fleet knows it now. */
export interface AgentFacts {
  session: AgentSession | undefined;
  attaching: boolean;
  /** The last attach failure of this very process (same start time), if any. */
  failure: QuiesceError | undefined;
}

export function jvmView(j: JvmProcess, agent: AgentFacts): JvmView {
  return {
    pid: j.pid,
    startTime: j.startTime,
    nspid: j.nspid,
    uid: j.uid,
    gid: j.gid,
    jdk: j.jdkVersion,
    vendor: j.vendor,
    main: j.main,
    containerId: j.containerId,
    foreignMountNs: j.foreignMountNs,
    vm: j.vm,
    supported: j.supported,
    unsupportedReason: j.unsupportedReason ?? null,
    agent: agentView(agent),
  };
}

function agentView({ session, attaching, failure }: AgentFacts): AgentView {
  if (session) {
    return {
      state: 'connected',
      error: null,
      version: session.hello.agentVersion,
      instanceId: session.hello.agentInstanceId,
      frameworks: session.hello.frameworks.map((f) => (f.version ? `${f.name}@${f.version}` : f.name)),
      connectedAt: session.connectedAt,
    };
  }
  const none: AgentView = { state: 'none', error: null, version: null, instanceId: null, frameworks: [], connectedAt: null };
  if (attaching) return { ...none, state: 'attaching' };
  if (failure) return { ...none, state: 'failed', error: `${failure.code}: ${failure.message}` };
  return none;
}
