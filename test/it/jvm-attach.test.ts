import { cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, loadAgent } from '../../src/jvm/attach/index.js';
import { socketHostPath } from '../../src/jvm/attach/paths.js';
import { agentSocketPaths, deliverAgent, deliverFiles } from '../../src/jvm/deliver.js';
import { readStartTime } from '../../src/jvm/procfs.js';
import { inspectPid } from '../../src/jvm/discovery.js';
import type { JvmProcess } from '../../src/jvm/types.js';
import { SMALL_JVM_FLAGS, inContainer, startContainerJvm, startPlainProcess, type ContainerJvm } from '../../testkit/container.js';
import { buildFixtures, type Fixtures } from '../../testkit/fixtures.js';
import { jdk17, temurin } from '../../testkit/java-homes.js';

const QUIET = [...SMALL_JVM_FLAGS];

describe('attach into container JVMs', () => {
  let fx: Fixtures;
  let runDir: string | undefined;
  const c: Record<'jdk17' | 'temurin' | 'noAttach' | 'noAgentsFlag' | 'noAgentsHidden' | 'roTmp' | 'noexecTmp', ContainerJvm | undefined> =
    {
      jdk17: undefined,
      temurin: undefined,
      noAttach: undefined,
      noAgentsFlag: undefined,
      noAgentsHidden: undefined,
      roTmp: undefined,
      noexecTmp: undefined,
    };
  const get = (k: keyof typeof c): ContainerJvm => {
    const v = c[k];
    if (!v) throw new Error(`${k} not started`);
    return v;
  };

  beforeAll(async () => {
    fx = buildFixtures();
    // A classpath that also carries a VM options file: the flag is then invisible to discovery,
    // so the JVM itself must refuse (tests the reply parsing, not the flag detection).
    const hiddenCp = path.join(fx.dir, 'cp-hidden-flags');
    if (!existsSync(path.join(hiddenCp, 'noagents.flags'))) {
      mkdirSync(hiddenCp, { recursive: true });
      cpSync(fx.classes, hiddenCp, { recursive: true });
      writeFileSync(path.join(hiddenCp, 'noagents.flags'), '-XX:-EnableDynamicAgentLoading\n');
    }
    // Per run: the cwd lives on the host's filesystem and what is delivered there outlives the JVM.
    runDir = path.join(fx.dir, `run-${process.pid}`);
    const roCwd = path.join(runDir, 'ro-cwd');
    const base = { classpath: fx.classes, mainClass: 'SteadyApp', args: ['1'] };
    const [a, b, d, e, f, g, h] = await Promise.all([
      startContainerJvm({ ...base, javaHome: jdk17().home, javaAsInit: true }),
      startContainerJvm({ ...base, javaHome: temurin().home }),
      startContainerJvm({ ...base, javaHome: jdk17().home, env: { JAVA_TOOL_OPTIONS: '-XX:+DisableAttachMechanism' } }),
      startContainerJvm({ ...base, javaHome: temurin().home, jvmFlags: [...QUIET, '-XX:-EnableDynamicAgentLoading'] }),
      startContainerJvm({
        ...base,
        classpath: hiddenCp,
        javaHome: temurin().home,
        jvmFlags: [...QUIET, '-XX:VMOptionsFile=/tmp/app/noagents.flags'],
      }),
      startContainerJvm({ ...base, javaHome: jdk17().home, readOnlyTmp: true, cwd: roCwd }),
      startContainerJvm({ ...base, javaHome: temurin().home, tmpOptions: 'noexec', cwd: path.join(runDir, 'noexec-cwd') }),
    ]);
    Object.assign(c, { jdk17: a, temurin: b, noAttach: d, noAgentsFlag: e, noAgentsHidden: f, roTmp: g, noexecTmp: h });
  });

  afterAll(async () => {
    await Promise.all(Object.values(c).flatMap((x) => (x ? [x.kill()] : [])));
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  for (const k of ['jdk17', 'temurin'] as const) {
    describe(k, () => {
      let jvm: JvmProcess;
      beforeAll(async () => {
        jvm = await inspectPid(get(k).pid);
      });

      it('executes properties cold (trigger + SIGQUIT), then warm (no signal), then jcmd', async () => {
        expect(existsSync(socketHostPath(jvm))).toBe(false);
        const cold = await execute(jvm, 'properties');
        expect(cold).toMatchObject({ status: 0, warm: false, via: 'direct' });
        expect(cold.body).toContain(`java.specification.version=${jvm.jdkFeature}`);
        const warm = await execute(jvm, 'properties');
        expect(warm).toMatchObject({ status: 0, warm: true });
        const ver = await execute(jvm, 'jcmd', ['VM.version']);
        expect(ver.status).toBe(0);
        expect(ver.body).toContain(`JDK ${jvm.jdkVersion}`);
        console.log(`${k}: cold attach ${cold.durationMs} ms, warm ${warm.durationMs} ms, jcmd ${ver.durationMs} ms`);
        // The trigger file is gone, the app printed no thread dump.
        expect(existsSync(`/proc/${jvm.pid}/cwd/.attach_pid${jvm.nspid}`)).toBe(false);
        expect(get(k).stdout()).not.toContain('Full thread dump');
      });

      it('also works connecting as the JVM user (the JDK 8 path)', async () => {
        const r = await execute(jvm, 'properties', [], { asTargetUser: true });
        expect(r).toMatchObject({ status: 0, via: 'relay' });
        console.log(`${k}: relay as ${jvm.uid}:${jvm.gid} ${r.durationMs} ms`);
      });

      it('delivers agent files into the container and loads an agent', async () => {
        const d = await deliverFiles(jvm, { good: fx.goodAgentJar, bad: fx.badAgentJar }, 'test-0');
        expect(d.dir).toEqual({ targetPath: '/tmp/.quiesce/test-0', hostPath: `/proc/${jvm.pid}/root/tmp/.quiesce/test-0` });
        expect(d.files.good.targetPath).toBe('/tmp/.quiesce/test-0/good-agent.jar');
        const st = statSync(d.files.good.hostPath);
        expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 1000, 0o644]);
        // root's directory (nothing in the path can be swapped by the JVM's user), the JVM user's files
        expect([statSync(d.dir.hostPath).uid, statSync(d.dir.hostPath).mode & 0o777]).toEqual([0, 0o755]);
        // Not visible on the host's own /tmp: it went into the container's tmpfs.
        expect(existsSync('/tmp/.quiesce/test-0/good-agent.jar') && statSync('/tmp/.quiesce/test-0/good-agent.jar').ino === st.ino).toBe(
          false,
        );
        const again = await deliverFiles(jvm, { good: fx.goodAgentJar }, 'test-0');
        expect(again.copied).toEqual([]);
        expect(agentSocketPaths(jvm, d.dir)).toEqual({
          targetPath: `/tmp/.quiesce/test-0/agent-${jvm.nspid}.sock`,
          hostPath: `/proc/${jvm.pid}/root/tmp/.quiesce/test-0/agent-${jvm.nspid}.sock`,
        });

        const r = await loadAgent(jvm, d.files.good.targetPath, 'a=1,b=2');
        expect(r.rc).toBe(0);
        await get(k).waitForOutput('AGENT LOADED args=a=1,b=2', 5_000);

        await expect(loadAgent(jvm, d.files.bad.targetPath, '')).rejects.toMatchObject({
          code: 'agent_failed',
          details: { rc: 102 },
          message: expect.stringMatching(new RegExp(`pid ${jvm.pid}.*bad-agent\\.jar.*102`)),
        });
        await expect(loadAgent(jvm, '/tmp/.quiesce/test-0/missing.jar', '')).rejects.toMatchObject({
          code: 'agent_failed',
          details: { rc: 100 },
        });
      });
    });
  }

  it('attach_disabled from JAVA_TOOL_OPTIONS, without signalling (no thread dump in the app output)', async () => {
    const jvm = await inspectPid(get('noAttach').pid);
    expect(jvm.attachDisabled).toBe(true);
    await expect(execute(jvm, 'properties')).rejects.toMatchObject({
      code: 'attach_disabled',
      message: expect.stringContaining(`pid ${jvm.pid}`),
    });
    await expect(loadAgent(jvm, '/tmp/x.jar', '')).rejects.toMatchObject({ code: 'attach_disabled' });
    await new Promise((r) => setTimeout(r, 300));
    expect(get('noAttach').stdout()).not.toContain('Full thread dump');
    expect(existsSync(`/proc/${jvm.pid}/root/tmp/.attach_pid${jvm.nspid}`)).toBe(false);
  });

  it('dynamic_agents_disabled known from the flags, before any signal', async () => {
    const jvm = await inspectPid(get('noAgentsFlag').pid);
    expect(jvm.dynamicAgentsDisabled).toBe(true);
    await expect(loadAgent(jvm, '/tmp/x.jar', '')).rejects.toMatchObject({ code: 'dynamic_agents_disabled' });
    expect(existsSync(socketHostPath(jvm))).toBe(false);
  });

  it('dynamic_agents_disabled refused by the JVM itself (flag hidden in a VM options file)', async () => {
    const jvm = await inspectPid(get('noAgentsHidden').pid);
    expect(jvm.dynamicAgentsDisabled).toBe(false);
    const d = await deliverFiles(jvm, { good: fx.goodAgentJar }, 'test-0');
    await expect(loadAgent(jvm, d.files.good.targetPath, '')).rejects.toMatchObject({
      code: 'dynamic_agents_disabled',
      message: expect.stringContaining('Dynamic agent loading is not enabled'),
    });
  });

  it('attach_timeout naming the read-only /tmp, quickly; delivery falls back to the cwd', async () => {
    const jvm = await inspectPid(get('roTmp').pid);
    const started = Date.now();
    await expect(execute(jvm, 'properties', [], { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: 'attach_timeout',
      message: expect.stringMatching(/pid \d+.*\/tmp is not writable.*attach listener cannot create its socket/),
    });
    expect(Date.now() - started).toBeLessThan(2_500);
    const d = await deliverFiles(jvm, { good: fx.goodAgentJar }, 'test-0');
    expect(d.dir.targetPath).toBe(path.join(inContainer(path.join(runDir ?? '', 'ro-cwd')), '.quiesce', 'test-0'));
    expect(d.dir.hostPath).toBe(`/proc/${jvm.pid}/cwd/.quiesce/test-0`);
  });

  it('delivers the agent set: a noexec /tmp falls back to the cwd, the log file belongs to the JVM user', async () => {
    const jvm = await inspectPid(get('noexecTmp').pid);
    const fakeSo = path.join(runDir ?? '', 'libfake.so');
    writeFileSync(fakeSo, 'not really ELF');
    const d = await deliverAgent(jvm, { jar: fx.goodAgentJar, coreJar: fx.badAgentJar, nativeLib: fakeSo }, '9.9.9');
    const cwd = inContainer(path.join(runDir ?? '', 'noexec-cwd'));
    expect(d.dir.targetPath).toBe(`${cwd}/.quiesce/9.9.9`);
    expect(d.nativeLib.targetPath).toBe(`${cwd}/.quiesce/9.9.9/libfake.so`);
    expect(statSync(d.nativeLib.hostPath).mode & 0o777).toBe(0o755);
    expect(d.socket.targetPath).toBe(`${cwd}/.quiesce/9.9.9/agent-${jvm.nspid}.sock`);
    expect(d.log.targetPath).toBe(`${cwd}/.quiesce/9.9.9/agent-${jvm.nspid}.log`);
    expect(statSync(d.log.hostPath).uid).toBe(1000);
    expect(d.copied).toHaveLength(3);
    expect((await deliverAgent(jvm, { jar: fx.goodAgentJar, coreJar: fx.badAgentJar, nativeLib: fakeSo }, '9.9.9')).copied).toEqual([]);
    const r = await loadAgent(jvm, d.jar.targetPath, 'x=y');
    expect(r.rc).toBe(0);
    await get('noexecTmp').waitForOutput('AGENT LOADED args=x=y', 5_000);
  });

  it('regression: symlinks planted by the JVM user never redirect root writes to the host', async () => {
    // Root cause guarded against: /proc/<pid>/root/... resolves absolute symlinks against the
    // daemon's root, so a planted `.quiesce` or `.attach_pid<n>` symlink would point into the host.
    const jvm = await inspectPid(get('noAgentsFlag').pid);
    const victimDir = path.join(runDir ?? '', 'victim');
    mkdirSync(victimDir, { recursive: true });
    const victimFile = path.join(victimDir, 'file');
    writeFileSync(victimFile, 'host data');
    symlinkSync(victimDir, `/proc/${jvm.pid}/root/tmp/.quiesce`);
    symlinkSync(victimFile, `/proc/${jvm.pid}/root/tmp/.attach_pid${jvm.nspid}`);
    await expect(deliverFiles(jvm, { good: fx.goodAgentJar }, 'evil')).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringContaining('/tmp/.quiesce'),
    });
    const r = await execute(jvm, 'properties'); // the trigger symlink is replaced, not followed
    expect(r.status).toBe(0);
    expect(readdirSync(victimDir)).toEqual(['file']);
    expect(statSync(victimFile).uid).toBe(0);
  });

  it('not_found when the pid was reused (start time differs); unsupported_jvm for OpenJ9', async () => {
    const jvm = await inspectPid(get('jdk17').pid);
    await expect(execute({ ...jvm, startTime: jvm.startTime + 1 }, 'properties')).rejects.toMatchObject({ code: 'not_found' });
    // No OpenJ9 on this machine: the refusal happens before any I/O, from discovery's verdict.
    const j9: JvmProcess = { ...jvm, vm: 'openj9', supported: false, unsupportedReason: 'OpenJ9 uses its own attach protocol' };
    await expect(execute(j9, 'properties')).rejects.toMatchObject({ code: 'unsupported_jvm', message: expect.stringContaining('OpenJ9') });
  });
});

/** A process that is not a JVM, dressed up as one, to drive the attach client against fake listeners. */
async function fakeJvm(pid: number, over: Partial<JvmProcess>): Promise<JvmProcess> {
  const startTime = await readStartTime(pid);
  if (startTime === null) throw new Error('gone');
  return {
    pid,
    nspid: 900_000_000 + Math.floor(Math.random() * 1_000_000),
    uid: 1000,
    gid: 1000,
    startTime,
    vm: 'hotspot',
    jdkVersion: null,
    jdkFeature: null,
    vendor: null,
    javaHome: null,
    main: null,
    mainKind: null,
    containerId: null,
    foreignMountNs: false,
    supported: true,
    unsupportedReason: null,
    attachDisabled: false,
    dynamicAgentsDisabled: false,
    cmdline: [],
    ...over,
  };
}

describe('attach client against fake listeners', () => {
  it('regression: a listener that closes root peers without a reply (JDK 8 SO_PEERCRED check) is retried as the JVM user', async () => {
    const proc = await startPlainProcess('setpriv', ['--reuid', '1000', '--regid', '1000', '--clear-groups', 'sleep', '600']);
    let server: net.Server | undefined;
    try {
      await new Promise((r) => setTimeout(r, 50)); // let setpriv exec sleep as uid 1000
      for (const jdkFeature of [null, 8]) {
        const jvm = await fakeJvm(proc.pid, { jdkFeature });
        let connections = 0;
        server = net.createServer((s) => {
          connections++;
          // The first connection stands for root when the version is unknown: closed without a word.
          if (jdkFeature === null && connections === 1) return s.destroy();
          let got = Buffer.alloc(0);
          s.on('data', (d: Buffer) => {
            got = Buffer.concat([got, d]);
            if (got.filter((b) => b === 0).length >= 5) s.end('0\nfake reply\n');
          });
        });
        const sock = socketHostPath(jvm);
        await new Promise<void>((r) => server?.listen(sock, r));
        chmodSync(sock, 0o777);
        const res = await execute(jvm, 'properties');
        expect(res).toMatchObject({ status: 0, body: 'fake reply\n', via: 'relay', warm: true });
        expect(connections).toBe(jdkFeature === null ? 2 : 1);
        await new Promise((r) => server?.close(r));
        rmSync(sock, { force: true });
      }
    } finally {
      await proc.kill();
    }
  });

  it('regression: a stale socket left by a previous JVM with the same nspid (restarted container, kept /tmp) is removed', async () => {
    const proc = await startPlainProcess('sleep', ['600']);
    try {
      const jvm = await fakeJvm(proc.pid, { uid: 0, gid: 0 });
      const sock = socketHostPath(jvm);
      // A listener killed without cleaning up: the socket file stays, nobody accepts.
      const holder = spawn(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`,
      ]);
      await new Promise((r) => holder.stdout.once('data', r));
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('close', r));
      expect(existsSync(sock)).toBe(true);
      // The stale socket is dropped and a cold attach begins (which then stops: sleep does not catch SIGQUIT).
      await expect(execute(jvm, 'properties', [], { timeoutMs: 300 })).rejects.toMatchObject({
        code: 'attach_timeout',
        message: expect.stringContaining('does not catch SIGQUIT'),
      });
      expect(existsSync(sock)).toBe(false);
    } finally {
      await proc.kill();
    }
  });

  it('never signals a process that does not catch SIGQUIT (its default action would kill it)', async () => {
    const proc = await startPlainProcess('sleep', ['600']);
    try {
      const jvm = await fakeJvm(proc.pid, { uid: 0, gid: 0 });
      await expect(execute(jvm, 'properties', [], { timeoutMs: 300 })).rejects.toMatchObject({
        code: 'attach_timeout',
        message: expect.stringContaining('does not catch SIGQUIT'),
      });
      expect(existsSync(`/proc/${proc.pid}/stat`)).toBe(true);
      expect(existsSync(`/proc/${proc.pid}/cwd/.attach_pid${jvm.nspid}`)).toBe(false);
    } finally {
      await proc.kill();
    }
  });
});
