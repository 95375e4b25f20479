import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerIdFromCgroup } from '../../src/jvm/cgroup.js';
import { discoverJvms, inspectPid, vmLibraryFromMaps } from '../../src/jvm/discovery.js';
import { booleanFlag, effectiveOptions, parseMain } from '../../src/jvm/flags.js';
import { featureOf, versionFromPath } from '../../src/jvm/jdk-release.js';
import { mountFor, parseMountinfo } from '../../src/jvm/mounts.js';
import { hasSignal, parseStartTime, parseStatus } from '../../src/jvm/procfs.js';
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
    await expect(inspectPid(sleeper.pid)).rejects.toMatchObject({ code: 'not_a_jvm', message: expect.stringContaining(`pid ${sleeper.pid}`) });
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

describe('procfs parsers', () => {
  it('reads effective ids, the innermost NSpid and signal masks from status', () => {
    const s = parseStatus(42, 'Name:\tjava\nUid:\t0\t1000\t1000\t1000\nGid:\t0\t1001\t1001\t1001\nNSpid:\t42\t7\nSigIgn:\t0000000000000000\nSigCgt:\t2000000181005ccf\n');
    expect(s).toMatchObject({ uid: 1000, gid: 1001, nspid: 7 });
    expect(hasSignal(s.sigCgt, 3)).toBe(true); // SIGQUIT is bit 2 (signal n is bit n-1)
    expect(hasSignal(s.sigIgn, 3)).toBe(false);
  });

  it('takes starttime after the last ")" even when comm has spaces and parentheses', () => {
    const stat = '123 (my (odd) proc) S 1 123 123 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 987654 1000 10 18446744073709551615';
    expect(parseStartTime(stat)).toBe(987654);
  });
});

describe('JVM identification', () => {
  it('tells HotSpot from OpenJ9 (which also ships a libjvm.so shim)', () => {
    const hs = '7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n';
    expect(vmLibraryFromMaps(hs)).toEqual({ vm: 'hotspot', path: '/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so' });
    const j9 = '7f00-7f01 r-xp 0 08:01 1 /opt/java/openjdk/lib/server/libjvm.so\n7f02-7f03 r-xp 0 08:01 2 /opt/java/openjdk/lib/default/libj9vm29.so\n';
    expect(vmLibraryFromMaps(j9)?.vm).toBe('openj9');
    expect(vmLibraryFromMaps('7f00-7f01 r-xp 0 08:01 1 /usr/bin/sleep\n')).toBeNull();
    expect(vmLibraryFromMaps('7f00-7f01 r-xp 0 08:01 1 /opt/jdk/lib/server/libjvm.so (deleted)\n')?.path).toBe('/opt/jdk/lib/server/libjvm.so');
  });

  it('parses versions from release files and paths', () => {
    expect(featureOf('1.8.0_392')).toBe(8);
    expect(featureOf('17.0.15')).toBe(17);
    expect(featureOf('21')).toBe(21);
    expect(versionFromPath('/usr/lib/jvm/jdk1.8.0_292/jre/lib/amd64/server/libjvm.so')).toBe('1.8.0');
    expect(versionFromPath('/usr/lib/jvm/java-11-openjdk-amd64/lib/server/libjvm.so')).toBe('11');
    expect(versionFromPath('/opt/jdk-21.0.2/lib/server/libjvm.so')).toBe('21.0.2');
  });

  it('finds the main class, jar or module after launcher options with arguments', () => {
    expect(parseMain(['java', '-cp', 'a.jar:b', '-Dx=1', 'com.example.Main', 'arg'])).toEqual({ mainClass: 'com.example.Main', mainKind: 'class' });
    expect(parseMain(['java', '-Xmx1g', '-jar', '/app/app.jar', '--server.port=8080'])).toEqual({ mainClass: '/app/app.jar', mainKind: 'jar' });
    expect(parseMain(['java', '--module-path', 'mods', '--add-opens', 'java.base/java.lang=ALL-UNNAMED', '-m', 'app/com.example.Main'])).toEqual({ mainClass: 'app/com.example.Main', mainKind: 'module' });
    expect(parseMain(['java', '-classpath', 'x', 'Foo.java'])).toEqual({ mainClass: 'Foo.java', mainKind: 'source' });
    expect(parseMain(['java', '-version'])).toEqual({ mainClass: null, mainKind: null });
  });

  it('reads attach flags from the option variables and the command line, last occurrence wins', () => {
    const env = new Map([['JAVA_TOOL_OPTIONS', '-XX:+DisableAttachMechanism -XX:-EnableDynamicAgentLoading']]);
    const opts = effectiveOptions(['java', '-XX:+EnableDynamicAgentLoading', 'Main', '-XX:-DisableAttachMechanism'], env);
    expect(booleanFlag(opts, 'DisableAttachMechanism')).toBe(true); // after the main class it is an app argument
    expect(booleanFlag(opts, 'EnableDynamicAgentLoading')).toBe(true); // the command line overrides JAVA_TOOL_OPTIONS
    expect(booleanFlag(effectiveOptions(['java', 'Main'], new Map([['_JAVA_OPTIONS', '-XX:+DisableAttachMechanism']])), 'DisableAttachMechanism')).toBe(true);
  });

  it('extracts container ids from docker, containerd, cri-o and kubepods cgroup paths', () => {
    const id = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);
    expect(id).toHaveLength(64);
    expect(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup(`12:memory:/docker/${id}\n`)).toBe(id);
    expect(containerIdFromCgroup(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup(`0::/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/${id}\n`)).toBe(id);
    expect(containerIdFromCgroup(`0::/machine.slice/crio-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup('0::/user.slice/user-1000.slice/session-3.scope\n')).toBeNull();
  });

  it('finds the mount holding a path, with escaped mount points', () => {
    const info = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '30 22 0:40 / /tmp rw,nosuid,nodev,noexec shared:2 - tmpfs tmpfs rw,mode=1777',
      '31 22 0:41 / /my\\040dir ro - tmpfs tmpfs ro',
    ].join('\n');
    const m = parseMountinfo(info);
    expect(mountFor(m, '/tmp/.quiesce')?.options).toContain('noexec');
    expect(mountFor(m, '/tmpfoo')?.mountPoint).toBe('/');
    expect(mountFor(m, '/my dir/x')?.options).toContain('ro');
  });
});
