// --adopt's parsing (what the daemon does with a policy is test/it/adopt.test.ts, against real JVMs).
import { describe, expect, it } from 'vitest';
import { parseAdoptPolicy } from '../../src/agent/adopt-policy.js';

describe('adopt policy', () => {
  it('parses none, all and main=<regex>, and rejects anything else with a clear message', () => {
    expect(parseAdoptPolicy('none')).toEqual({ kind: 'none' });
    expect(parseAdoptPolicy('all')).toEqual({ kind: 'all' });
    const p = parseAdoptPolicy('main=^Adopted');
    expect(p.kind === 'main' && p.pattern.test('AdoptedApp')).toBe(true);
    expect(() => parseAdoptPolicy('some')).toThrow(/none", "all" or "main=<regex>/);
    expect(() => parseAdoptPolicy('main=(')).toThrow(/invalid regular expression/);
  });
});
