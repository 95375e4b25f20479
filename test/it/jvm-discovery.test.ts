import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverJvms, inspectPid } from '../../src/jvm/discovery.js';
import { deadPid, startContainerJvm, startPlainProcess, type ContainerJvm, type PlainProcess } from '../../testkit/container.js';
import { buildFixtures } from '../../testkit/fixtures.js';
import { jdk17, temurin, type JavaHome } from '../../testkit/java-homes.js';

describe('discovery of real JVMs in containers', () => {
  let onJdk17: ContainerJvm;
  let onTemurin: ContainerJvm;
  let sleeper: PlainProcess;
  const homes: { jdk17: JavaHome; temurin: JavaHome } = { jdk17: jdk17(), temurin: temurin() };

  beforeAll(async () => {
    const { classes } = buildFixtures();
    [onJdk17, onTemurin, sleeper] = await Promise.all([
      // java as pid 1 of its namespace, like docker's exec-form ENTRYPOINT
      startContainerJvm({ javaHome: homes.jdk17.home, classpath: classes, mainClass: 'SteadyApp', args: ['1'], javaAsInit: true }),
      startContainerJvm({ javaHome: homes.temurin.home, classpath: classes, mainClass: 'SteadyApp', args: ['1'] }),
      startPlainProcess('sleep', ['600']),
    ]);
  });

  afterAll(async () => {
    await Promise.all([onJdk17?.kill(), onTemurin?.kill(), sleeper?.kill()]);
  });

  it('finds both container JVMs with their namespace pid, uid, JDK and main class, and ignores sleep', async () => {
    const started = Date.now();
    const jvms = await discoverJvms();
    console.log(`discoverJvms: ${jvms.length} JVMs in ${Date.now() - started} ms`);
    const a = jvms.find((j) => j.pid === onJdk17.pid);
    const b = jvms.find((j) => j.pid === onTemurin.pid);
    expect(jvms.find((j) => j.pid === sleeper.pid)).toBeUndefined();

    expect(a).toMatchObject({
      nspid: 1,
      uid: 1000,
      gid: 1000,
      vm: 'hotspot',
      jdkFeature: 17,
      jdkVersion: homes.jdk17.version,
      main: 'SteadyApp',
      mainKind: 'class',
      foreignMountNs: true,
      supported: true,
      attachDisabled: false,
      dynamicAgentsDisabled: false,
    });
    expect(b).toMatchObject({
      nspid: onTemurin.nspid,
      uid: 1000,
      gid: 1000,
      jdkFeature: homes.temurin.feature,
      jdkVersion: homes.temurin.version,
      vendor: homes.temurin.implementor,
      main: 'SteadyApp',
      foreignMountNs: true,
      supported: true,
    });
    expect(b?.nspid).not.toBe(b?.pid);
    expect(b?.startTime).toBeGreaterThan(0);
  });

  it('inspectPid: not_a_jvm for sleep, not_found for a dead pid', async () => {
    await expect(inspectPid(sleeper.pid)).rejects.toMatchObject({
      code: 'not_a_jvm',
      message: expect.stringContaining(`pid ${sleeper.pid}`),
    });
    await expect(inspectPid(deadPid())).rejects.toMatchObject({ code: 'not_found' });
    await expect(inspectPid(-3)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('skips processes that exit during the scan', async () => {
    let stop = false;
    const churn = (async () => {
      while (!stop) {
        const ps = await Promise.all(Array.from({ length: 5 }, () => startPlainProcess('true', [])));
        await Promise.all(ps.map((p) => p.kill()));
      }
    })();
    try {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const jvms = await discoverJvms();
        console.log(`scan under churn: ${Date.now() - t0} ms`);
        expect(jvms.map((j) => j.pid)).toEqual(expect.arrayContaining([onJdk17.pid, onTemurin.pid]));
      }
    } finally {
      stop = true;
      await churn;
    }
  });

  it('inspectPid agrees with discovery', async () => {
    const j = await inspectPid(onTemurin.pid);
    expect(j.javaHome).toBe(homes.temurin.home);
    expect(j.cmdline).toContain('SteadyApp');
  });
});
