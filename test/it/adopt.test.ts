/**
 * --adopt: the daemon attaches by itself to the JVMs its policy selects, as discovery
 * finds them, and leaves the others alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerJvm, type ContainerJvm } from '../../testkit/container.js';
import { startDaemon, type DaemonProcess } from '../../testkit/daemon.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17 } from '../../testkit/java-homes.js';
import { settle } from '../../testkit/poll.js';
import type { JvmJson } from '../../testkit/api-types.js';

let adopted: ContainerJvm;
let other: ContainerJvm;
let daemon: DaemonProcess;

beforeAll(async () => {
  const classes = buildFixtures().classes;
  [adopted, other] = await Promise.all([
    startContainerJvm({ javaHome: jdk17().home, classpath: classes, mainClass: 'AdoptedApp' }),
    startContainerJvm({ javaHome: jdk17().home, classpath: classes, mainClass: 'SteadyApp' }),
  ]);
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([adopted?.kill(), other?.kill()]);
});

describe('adopt policy', () => {
  it('attaches on its own to the JVMs the policy selects, and only to them', async () => {
    daemon = await startDaemon({ adopt: 'main=^AdoptedApp$', refreshMs: 300 });
    const view = await settle(
      async () => (await daemon.get<{ jvms: JvmJson[] }>('/status')).body.jvms,
      (v) => v.find((j) => j.pid === adopted.pid)?.agent.state === 'connected',
      15_000,
    );
    expect(view.find((j) => j.pid === adopted.pid)?.agent.state).toBe('connected');
    expect(view.find((j) => j.pid === other.pid)?.agent.state).toBe('none');
    expect(adopted.stdout()).toBe('READY\n');
  });

  it('the daemon refuses an --adopt it does not understand', async () => {
    await expect(startDaemon({ adopt: 'sometimes' })).rejects.toThrow(/--adopt must be/);
  });
});
