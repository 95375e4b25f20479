/**
 * A Dubbo line the adapter was not written against (Apache Dubbo 3.1) is reported, never touched:
 * inventory says supported=false naming the version, Isolate is refused as unsupported_version —
 * by the agent, and by the daemon as a 409 naming the version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL_JVM_FLAGS, startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { buildMavenFixture } from '../../testkit/maven-fixtures.js';

interface InventoryJson {
  frameworks: Array<{
    traffic: string;
    framework: string;
    version: string;
    supported: boolean;
    unsupportedReason: string;
    registries: unknown[];
    isolated: boolean;
  }>;
}

let daemon: DaemonProcess;
let jvm: ContainerJvm;

beforeAll(async () => {
  [daemon, jvm] = await Promise.all([
    startDaemon(),
    startContainerJvm({
      javaHome: jdk17().home,
      hostClasspath: buildMavenFixture('dubbo31').classpath,
      mainClass: 'demo.Holder',
      jvmFlags: SMALL_JVM_FLAGS,
    }),
  ]);
});
afterAll(async () => {
  await daemon?.stop();
  await jvm?.kill();
});

describe('Dubbo traffic on an unsupported version (Dubbo 3.1)', () => {
  it('inventory names the version and why it is not handled', async () => {
    const r = await daemon.get<InventoryJson>(`/jvms/${jvm.pid}/inventory`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.frameworks).toEqual([
      expect.objectContaining({
        traffic: 'dubbo',
        framework: 'apache-dubbo',
        version: '3.1.11',
        supported: false,
        registries: [],
        isolated: false,
      }),
    ]);
    expect(r.body.frameworks[0]!.unsupportedReason).toContain('3.1.11');
  });

  it('/isolate is a 409 unsupported_version naming the version, with or without a traffic kind', async () => {
    for (const body of [{ pid: jvm.pid, traffic: ['dubbo'] }, { pid: jvm.pid }]) {
      const r = await daemon.post<{ error: { code: string; message: string } }>('/isolate', body);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error.code).toBe('unsupported_version');
      expect(r.body.error.message).toContain('3.1.11');
    }
    const s = await daemon.get<{ jvms: Array<{ pid: number; isolation: unknown }> }>('/status');
    expect(s.body.jvms.find((j) => j.pid === jvm.pid)?.isolation).toBeNull();
  });
});
