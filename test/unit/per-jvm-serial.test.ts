/** One traffic operation per JVM at a time (a hold pass never races a restore or an /online). */
import { describe, expect, it } from 'vitest';
import { PerJvmSerial } from '../../src/traffic/serial.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PerJvmSerial', () => {
  it('runs the operations of one JVM one after the other, in order, even when one fails', async () => {
    const serial = new PerJvmSerial();
    const log: string[] = [];
    const op =
      (name: string, ms: number, fail = false) =>
      async (): Promise<string> => {
        log.push(`${name} start`);
        await tick(ms);
        log.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([serial.run(1, op('a', 30)), serial.run(1, op('b', 5, true)), serial.run(1, op('c', 1))]);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('lets different JVMs run at the same time', async () => {
    const serial = new PerJvmSerial();
    const log: string[] = [];
    await Promise.all([
      serial.run(1, async () => {
        log.push('1 start');
        await tick(30);
        log.push('1 end');
      }),
      serial.run(2, async () => {
        log.push('2 start');
        await tick(1);
        log.push('2 end');
      }),
    ]);
    expect(log).toEqual(['1 start', '2 start', '2 end', '1 end']);
  });
});
