/**
 * RocketMQ for the tests: a NameServer and a Broker embedded in one plain JVM of their own
 * (`dev.quiesce.fixtures.rocketmq.Servers` of a Maven fixture), on 127.0.0.1, store in a temp dir;
 * and readers of the fixture apps' stdout lines with the time each line was seen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ContainerJvm } from './container.js';
import { jdk17 } from './java-homes.js';

/** JDK 17 flags an embedded broker and the 4.9 / 5.x clients need (REFERENCE.md). */
export const ROCKETMQ_JDK17_FLAGS = [
  '--add-opens=java.base/java.nio=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-exports=java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens=java.base/java.util=ALL-UNNAMED',
  '--add-opens=java.base/java.lang=ALL-UNNAMED',
];

export interface RocketMqServers {
  /** "127.0.0.1:<port>" */
  readonly namesrv: string;
  /** "127.0.0.1:<port>", as the broker registers itself (brokerIP1). */
  readonly broker: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startRocketMqServers(classpath: string, topic: string): Promise<RocketMqServers> {
  const dir = mkdtempSync(path.join(tmpdir(), 'quiesce-rocketmq-'));
  const proc: ChildProcess = spawn(
    jdk17().java,
    [
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      `-Duser.home=${dir}`,
      ...ROCKETMQ_JDK17_FLAGS,
      '-cp',
      classpath,
      'dev.quiesce.fixtures.rocketmq.Servers',
      dir,
      topic,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (!/^READY$/m.test(out)) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`RocketMQ servers exited with ${proc.exitCode}:\n${out}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`RocketMQ servers not ready within 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const namesrv = /^NAMESRV (\S+)$/m.exec(out)?.[1] ?? '';
  const broker = /^BROKER (\S+)$/m.exec(out)?.[1] ?? '';
  return { namesrv, broker, output: () => out, stop };
}

export interface Line {
  /** Date.now() when the line was first seen (polled every 20 ms). */
  readonly at: number;
  readonly words: string[];
}

/** Every stdout line of a container JVM, stamped with when it was seen. */
export class LineLog {
  readonly lines: Line[] = [];
  private seen = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly jvm: ContainerJvm) {
    this.timer = setInterval(() => this.poll(), 20);
  }

  poll(): void {
    const text = this.jvm.stdout();
    const end = text.lastIndexOf('\n') + 1;
    if (end <= this.seen) return;
    const now = Date.now();
    for (const l of text.slice(this.seen, end).split('\n')) if (l) this.lines.push({ at: now, words: l.split(' ') });
    this.seen = end;
  }

  /** Lines starting with `tag`, seen at or after `since`. */
  tagged(tag: string, since = 0): Line[] {
    this.poll();
    return this.lines.filter((l) => l.words[0] === tag && l.at >= since);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
