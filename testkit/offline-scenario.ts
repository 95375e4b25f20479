/**
 * What the lossless-offline scenario tests share: the consumer's call log, SIGTERM as
 * kubelet sends it, and the agent's own log inside a JVM's filesystem.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parseProcNetTcp } from '../src/jvm/tcp.js';
import type { ContainerJvm } from './container.js';
import { until } from './poll.js';
import { alive } from './procs.js';

export interface Call {
  at: number;
  /** The provider instance that answered; null for a failed call. */
  who: string | null;
  error: string | null;
}

/** The consumer fixtures' "CALL <ms> <name> ..." / "FAIL <ms> <error>" lines. */
export function calls(consumer: ContainerJvm): Call[] {
  const out: Call[] = [];
  for (const line of consumer.stdout().split('\n')) {
    const m = /^(CALL|FAIL) (\d+) ?(.*)$/.exec(line);
    if (m)
      out.push({
        at: Number(m[2]),
        who: m[1] === 'CALL' ? (m[3] ?? '').split(' ')[0]! : null,
        error: m[1] === 'FAIL' ? (m[3] ?? '') : null,
      });
  }
  return out;
}

/** SIGTERM, as kubelet sends it after the preStop hook; resolves with the ms until the JVM exited. */
export async function sigterm(jvm: ContainerJvm, timeoutMs = 40_000): Promise<number> {
  const t = Date.now();
  process.kill(jvm.pid, 'SIGTERM');
  await until(`pid ${jvm.pid} to exit after SIGTERM`, timeoutMs, () => !alive(jvm.pid));
  return Date.now() - t;
}

/** The agent's own log inside a JVM's filesystem ("" when absent). */
export function agentLog(jvm: ContainerJvm): string {
  const top = `/proc/${jvm.pid}/root/tmp/.quiesce`;
  if (!existsSync(top)) return '';
  return readdirSync(top)
    .map((v) => `${top}/${v}/agent-${jvm.nspid}.log`)
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'utf8'))
    .join('');
}

/** The local ports of a JVM's established TCP connections to address:port, read from its own network namespace. */
export function connectionsTo(jvm: ContainerJvm, address: string, port: number): number[] {
  const out: number[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${jvm.pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const s of parseProcNetTcp(text))
      if (s.state === 0x01 && s.remoteAddress === address && s.remotePort === port) out.push(s.localPort);
  }
  return out.sort((a, b) => a - b);
}
