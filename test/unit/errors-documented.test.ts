// Keeps the error registry and README in step: users match on these codes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../testkit/root.js';
import { ERROR_CODES } from '../../src/errors.js';

describe('error codes', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    it(`${code} is documented in README with its HTTP status`, () => {
      expect(readme).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${spec.http}\\s*\\|`));
    });
  }
  it("caller mistakes are 4xx, the daemon's own failures 5xx", () => {
    expect(ERROR_CODES.bad_request.http).toBe(400);
    expect(ERROR_CODES.internal.http).toBe(500);
  });
});
