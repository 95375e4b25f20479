// The attach protocol's bytes, the JVMs' load replies and the delivery rule, from literal values: no JVM needed
// (attaching to real ones is test/it/jvm-attach.test.ts).
import { describe, expect, it } from 'vitest';
import { interpretLoadReply } from '../../src/jvm/attach/load-reply.js';
import { encodeRequest, parseReply } from '../../src/jvm/attach/protocol.js';
import { userCanRenameIn } from '../../src/jvm/deliver.js';

describe('delivery safety rule', () => {
  it('uses a directory only if the JVM user cannot rename entries in it', () => {
    expect(userCanRenameIn({ uid: 0, gid: 0, mode: 0o41777 }, 1000, [1000])).toBe(false); // /tmp: sticky, root's
    expect(userCanRenameIn({ uid: 0, gid: 0, mode: 0o40755 }, 1000, [1000])).toBe(false); // /, /srv/app built as root
    expect(userCanRenameIn({ uid: 0, gid: 0, mode: 0o40777 }, 1000, [1000])).toBe(true); // emptyDir: 0777 without sticky
    expect(userCanRenameIn({ uid: 1000, gid: 1000, mode: 0o41777 }, 1000, [1000])).toBe(true); // their own sticky dir
    expect(userCanRenameIn({ uid: 0, gid: 2000, mode: 0o40775 }, 1000, [1000, 2000])).toBe(true); // group-writable, fsGroup
    expect(userCanRenameIn({ uid: 0, gid: 2000, mode: 0o40775 }, 1000, [1000])).toBe(false);
  });
});

describe('attach protocol encoding', () => {
  it('always sends three arguments', () => {
    expect(encodeRequest('properties', []).toString('latin1')).toBe('1\0properties\0\0\0\0');
    expect(encodeRequest('load', ['instrument', 'false', '/a.jar=x']).toString('latin1')).toBe('1\0load\0instrument\0false\0/a.jar=x\0');
  });

  it('validates the limits the JVM enforces', () => {
    expect(() => encodeRequest('x'.repeat(17), [])).toThrow(/1–16 bytes/);
    expect(() => encodeRequest('load', ['a'.repeat(1025)])).toThrow(/at most 1024/);
    expect(() => encodeRequest('load', ['a', 'b', 'c', 'd'])).toThrow(/at most 3/);
    expect(() => encodeRequest('load', ['a\0b'])).toThrow(/NUL/);
    expect(encodeRequest('load', ['a'.repeat(1024)]).length).toBe(2 + 5 + 1025 + 2);
  });

  it('splits status and body', () => {
    expect(parseReply('0\nreturn code: 0\n')).toEqual({ status: 0, body: 'return code: 0\n' });
    expect(parseReply('-1\n')).toEqual({ status: -1, body: '' });
    expect(parseReply('0')).toEqual({ status: 0, body: '' });
    expect(parseReply('')).toBeNull();
    expect(parseReply('garbage\n')).toBeNull();
  });
});

describe('load replies, literal bytes per JDK generation', () => {
  const load = (raw: string): ReturnType<typeof interpretLoadReply> => {
    const r = parseReply(raw);
    if (r === null) throw new Error('unparsable');
    return interpretLoadReply(r.status, r.body);
  };

  it('JDK 8: the rc alone, or -1 with no text', () => {
    expect(load('0\n0\n')).toEqual({ ok: true, rc: 0 });
    expect(load('0\n102\n')).toMatchObject({ ok: false, kind: 'agent_failed', rc: 102 });
    expect(load('0\n100\n')).toMatchObject({ ok: false, kind: 'agent_failed', rc: 100, detail: expect.stringContaining('Agent-Class') });
    expect(load('-1\n')).toMatchObject({ ok: false, kind: 'agent_failed', rc: -1 });
  });

  it('JDK 9–20 (bytes from JDK 17.0.15)', () => {
    expect(load('0\nreturn code: 0\n')).toEqual({ ok: true, rc: 0 });
    expect(load('0\nreturn code: 101\n')).toMatchObject({ ok: false, kind: 'agent_failed', rc: 101 });
    expect(load('0\nreturn code: 102\n')).toMatchObject({ ok: false, kind: 'agent_failed', rc: 102 });
    expect(
      load('-1\nnosuchlib was not loaded.\nlibnosuchlib.so: cannot open shared object file: No such file or directory\n'),
    ).toMatchObject({
      ok: false,
      kind: 'agent_failed',
      detail: expect.stringContaining('was not loaded'),
    });
    // -XX:-EnableDynamicAgentLoading on JDK 17: status -1, no trailing newline.
    expect(load('-1\nDynamic agent loading is not enabled. Use -XX:+EnableDynamicAgentLoading to launch target VM.')).toMatchObject({
      ok: false,
      kind: 'dynamic_agents_disabled',
    });
  });

  it('JDK 21+ (bytes from Temurin 25): errors come with status 0', () => {
    expect(load('0\nreturn code: 0\n')).toEqual({ ok: true, rc: 0 });
    expect(load('0\nreturn code: 102\n')).toMatchObject({ ok: false, kind: 'agent_failed', rc: 102 });
    expect(load('0\nDynamic agent loading is not enabled. Use -XX:+EnableDynamicAgentLoading to launch target VM.\n')).toMatchObject({
      ok: false,
      kind: 'dynamic_agents_disabled',
    });
    expect(
      load('0\nnosuchlib was not loaded.\nlibnosuchlib.so: cannot open shared object file: No such file or directory\n'),
    ).toMatchObject({ ok: false, kind: 'agent_failed', rc: null });
    expect(load('0\nAgent_OnAttach is not available in libfoo\n')).toMatchObject({ ok: false, kind: 'agent_failed' });
  });
});
