import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb, migrate } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { AgentStore } from '../../src/store/agents.js';

describe('store', () => {
  it('migrates a new database to the latest version, and reopening changes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiesce-db-'));
    const db = openDb(dir);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    const agents = new AgentStore(db);
    agents.upsert({
      pid: 42,
      startTime: 7,
      nspid: 1,
      uid: 1000,
      gid: 1000,
      hostSocketPath: '/proc/42/root/tmp/x.sock',
      state: 'attaching',
    });
    db.close();
    const again = openDb(dir);
    const store = new AgentStore(again);
    expect(store.live()).toMatchObject([{ pid: 42, startTime: 7, state: 'attaching' }]);
    store.setState(42, 7, 'failed', { code: 'attach_timeout', message: 'x' });
    expect(store.live()).toEqual([]);
    expect(store.get(42, 7)).toMatchObject({ state: 'failed', errorCode: 'attach_timeout' });
    again.close();
  });

  it('refuses a database from a newer daemon instead of guessing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiesce-db-'));
    const db = openDb(dir);
    db.pragma('user_version = 999');
    expect(() => migrate(db, MIGRATIONS)).toThrow(/newer than this daemon/);
    db.close();
  });

  it('forgets JVMs that are gone', () => {
    const db = openDb(mkdtempSync(join(tmpdir(), 'quiesce-db-')));
    const s = new AgentStore(db);
    s.upsert({ pid: 1, startTime: 1, nspid: 1, uid: 0, gid: 0, hostSocketPath: '/a', state: 'loaded' });
    s.upsert({ pid: 2, startTime: 1, nspid: 1, uid: 0, gid: 0, hostSocketPath: '/b', state: 'loaded' });
    expect(s.removeExcept([{ pid: 2, startTime: 1 }])).toBe(1);
    expect(s.live().map((r) => r.pid)).toEqual([2]);
    db.close();
  });
});
