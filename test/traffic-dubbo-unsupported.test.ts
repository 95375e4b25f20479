/**
 * A Dubbo line the adapter was not written against (Apache Dubbo 3.1) is reported, never touched:
 * inventory says supported=false naming the version, Isolate is refused as unsupported_version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSession } from '../src/agent/session.js';
import { agentDriver, inventory, isolate, type AgentDriver } from './support/agent-driver.js';
import { SMALL_JVM_FLAGS, startContainerJvm, type ContainerJvm } from './support/container.js';
import { jdk17 } from './support/java-homes.js';
import { buildMavenFixture } from './support/maven-fixtures.js';

let driver: AgentDriver;
let jvm: ContainerJvm;
let agent: AgentSession;

beforeAll(async () => {
  driver = agentDriver();
  jvm = await startContainerJvm({ javaHome: jdk17().home, hostClasspath: buildMavenFixture('dubbo31').classpath, mainClass: 'demo.Holder', jvmFlags: SMALL_JVM_FLAGS });
  agent = await driver.attach(jvm.pid);
});
afterAll(async () => {
  await driver?.close();
  await jvm?.kill();
});

describe('Dubbo traffic on an unsupported version (Dubbo 3.1)', () => {
  it('inventory names the version and why it is not handled', async () => {
    const inv = await inventory(agent);
    expect(inv).toEqual([
      expect.objectContaining({ traffic: 'dubbo', framework: 'apache-dubbo', version: '3.1.11', supported: false, registries: [], isolated: false }),
    ]);
    expect(inv[0]!.unsupportedReason).toContain('3.1.11');
  });

  it('isolate is refused as unsupported_version, naming the version', async () => {
    await expect(isolate(agent, ['dubbo'])).rejects.toMatchObject({ details: { agentCode: 'unsupported_version' } });
    await expect(isolate(agent, ['dubbo'])).rejects.toThrow(/3\.1\.11/);
  });
});
