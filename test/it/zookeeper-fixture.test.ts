// The ZooKeeper the registry tests stand on: it starts, answers, and expires sessions on demand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZooKeeper } from '../../testkit/zookeeper.js';

let zk: ZooKeeper;
beforeAll(async () => {
  zk = await startZooKeeper();
});
afterAll(async () => {
  await zk?.stop();
});

describe('ZooKeeper test server', () => {
  it('serves reads, and expiring every session removes ephemeral nodes', async () => {
    await zk.createEphemeral('/quiesce/test/eph');
    expect(await zk.children('/quiesce/test')).toEqual(['eph']);
    expect(await zk.data('/quiesce/test/eph')).toBe('x');
    expect(await zk.children('/no/such')).toEqual([]);
    expect(await zk.data('/no/such')).toBeNull();
    await zk.expireAllSessions();
    expect(await zk.children('/quiesce/test')).toEqual([]);
    expect(await zk.tree('/')).toEqual(['/zookeeper', '/zookeeper/config', '/zookeeper/quota']);
  });
});
