// What discovery reads from /proc, from literal text: no process needed (the real JVMs are in test/it/jvm-discovery.test.ts).
import { describe, expect, it } from 'vitest';
import { containerIdFromCgroup } from '../../src/jvm/cgroup.js';
import { vmLibraryFromMaps } from '../../src/jvm/discovery.js';
import { booleanFlag, effectiveOptions, parseMain } from '../../src/jvm/flags.js';
import { featureOf, versionFromPath } from '../../src/jvm/jdk-release.js';
import { mountFor, parseMountinfo } from '../../src/jvm/mounts.js';
import { hasSignal, parseStartTime, parseStatus } from '../../src/jvm/procfs.js';
import { decodeAddress, parseProcNetTcp } from '../../src/jvm/tcp.js';

describe('procfs parsers', () => {
  it('reads effective ids, the innermost NSpid and signal masks from status', () => {
    const s = parseStatus(
      42,
      'Name:\tjava\nUid:\t0\t1000\t1000\t1000\nGid:\t0\t1001\t1001\t1001\nNSpid:\t42\t7\nSigIgn:\t0000000000000000\nSigCgt:\t2000000181005ccf\n',
    );
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
    const j9 =
      '7f00-7f01 r-xp 0 08:01 1 /opt/java/openjdk/lib/server/libjvm.so\n7f02-7f03 r-xp 0 08:01 2 /opt/java/openjdk/lib/default/libj9vm29.so\n';
    expect(vmLibraryFromMaps(j9)?.vm).toBe('openj9');
    expect(vmLibraryFromMaps('7f00-7f01 r-xp 0 08:01 1 /usr/bin/sleep\n')).toBeNull();
    expect(vmLibraryFromMaps('7f00-7f01 r-xp 0 08:01 1 /opt/jdk/lib/server/libjvm.so (deleted)\n')?.path).toBe(
      '/opt/jdk/lib/server/libjvm.so',
    );
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
    expect(parseMain(['java', '-cp', 'a.jar:b', '-Dx=1', 'com.example.Main', 'arg'])).toEqual({
      mainClass: 'com.example.Main',
      mainKind: 'class',
    });
    expect(parseMain(['java', '-Xmx1g', '-jar', '/app/app.jar', '--server.port=8080'])).toEqual({
      mainClass: '/app/app.jar',
      mainKind: 'jar',
    });
    expect(
      parseMain(['java', '--module-path', 'mods', '--add-opens', 'java.base/java.lang=ALL-UNNAMED', '-m', 'app/com.example.Main']),
    ).toEqual({ mainClass: 'app/com.example.Main', mainKind: 'module' });
    expect(parseMain(['java', '-classpath', 'x', 'Foo.java'])).toEqual({ mainClass: 'Foo.java', mainKind: 'source' });
    expect(parseMain(['java', '-version'])).toEqual({ mainClass: null, mainKind: null });
  });

  it('reads attach flags from the option variables and the command line, last occurrence wins', () => {
    const env = new Map([['JAVA_TOOL_OPTIONS', '-XX:+DisableAttachMechanism -XX:-EnableDynamicAgentLoading']]);
    const opts = effectiveOptions(['java', '-XX:+EnableDynamicAgentLoading', 'Main', '-XX:-DisableAttachMechanism'], env);
    expect(booleanFlag(opts, 'DisableAttachMechanism')).toBe(true); // after the main class it is an app argument
    expect(booleanFlag(opts, 'EnableDynamicAgentLoading')).toBe(true); // the command line overrides JAVA_TOOL_OPTIONS
    expect(
      booleanFlag(
        effectiveOptions(['java', 'Main'], new Map([['_JAVA_OPTIONS', '-XX:+DisableAttachMechanism']])),
        'DisableAttachMechanism',
      ),
    ).toBe(true);
  });

  it('extracts container ids from docker, containerd, cri-o and kubepods cgroup paths', () => {
    const id = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);
    expect(id).toHaveLength(64);
    expect(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup(`12:memory:/docker/${id}\n`)).toBe(id);
    expect(
      containerIdFromCgroup(
        `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-${id}.scope\n`,
      ),
    ).toBe(id);
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

describe('/proc/net/tcp', () => {
  it('decodes IPv4, IPv6 and IPv4-mapped addresses as the kernel prints them', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('B80D0120000000000000000001000000')).toBe('2001:db8::1');
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1464 1 0000000073974b29 100 0 0 10 0',
      '   1: 0100007F:B14F 0100007F:97DC 01 00000000:00000000 03:00001506 00000000     0        0 4242 3 00000000efe2243d',
    ].join('\n');
    expect(parseProcNetTcp(text)).toEqual([
      { localAddress: '0.0.0.0', localPort: 2024, remoteAddress: '0.0.0.0', remotePort: 0, state: 0x0a, inode: 1464 },
      { localAddress: '127.0.0.1', localPort: 45391, remoteAddress: '127.0.0.1', remotePort: 38876, state: 0x01, inode: 4242 },
    ]);
  });
});
