/** Issue 10, bounded input: the HTTP limits as settings, and the JSON depth scan that guards JSON.parse. Pure. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_LIMITS, HTTP_LIMIT_ENV, httpLimitsFromEnv } from '../../src/http/limits.js';
import { jsonDepth, parseJsonBody } from '../../src/http/json-body.js';
import { isQuiesceError } from '../../src/errors.js';

describe('HTTP limits from the environment', () => {
  it('happy: no variables → the defaults; each variable sets its limit', () => {
    expect(httpLimitsFromEnv({})).toEqual(DEFAULT_HTTP_LIMITS);
    expect(
      httpLimitsFromEnv({
        QUIESCE_HTTP_BODY_LIMIT: '2048',
        QUIESCE_HTTP_MAX_JSON_DEPTH: '8',
        QUIESCE_HTTP_MAX_HEADER_SIZE: '4096',
        QUIESCE_HTTP_HEADERS_TIMEOUT_MS: '500',
        QUIESCE_HTTP_REQUEST_TIMEOUT_MS: '1000',
      }),
    ).toEqual({
      bodyLimitBytes: 2048,
      maxJsonDepth: 8,
      maxHeaderBytes: 4096,
      headersTimeoutMs: 500,
      requestTimeoutMs: 1000,
    });
  });

  it('the defaults are small and within their own ranges', () => {
    for (const [key, { min, max }] of Object.entries(HTTP_LIMIT_ENV)) {
      const v = DEFAULT_HTTP_LIMITS[key as keyof typeof DEFAULT_HTTP_LIMITS];
      expect(v, key).toBeGreaterThanOrEqual(min);
      expect(v, key).toBeLessThanOrEqual(max);
    }
    expect(DEFAULT_HTTP_LIMITS.bodyLimitBytes).toBeLessThanOrEqual(1 << 20);
  });

  it('a value that is not a whole number in range is refused, naming the variable', () => {
    for (const [name, raw] of [
      ['QUIESCE_HTTP_BODY_LIMIT', '12abc'],
      ['QUIESCE_HTTP_BODY_LIMIT', '-1'],
      ['QUIESCE_HTTP_BODY_LIMIT', '1e9'],
      ['QUIESCE_HTTP_BODY_LIMIT', '99999999999'],
      ['QUIESCE_HTTP_MAX_JSON_DEPTH', '0'],
      ['QUIESCE_HTTP_MAX_HEADER_SIZE', '1000000'],
      ['QUIESCE_HTTP_HEADERS_TIMEOUT_MS', '0'],
      ['QUIESCE_HTTP_REQUEST_TIMEOUT_MS', '1.5'],
    ] as const) {
      expect(() => httpLimitsFromEnv({ [name]: raw }), `${name}=${raw}`).toThrow(name);
    }
    expect(() => httpLimitsFromEnv({ QUIESCE_HTTP_HEADERS_TIMEOUT_MS: '5000', QUIESCE_HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(
      /must not exceed/,
    );
  });
});

describe('JSON bodies', () => {
  const code = (text: string, depth = 32): string => {
    try {
      parseJsonBody(text, depth);
      return 'ok';
    } catch (e) {
      return isQuiesceError(e) ? e.code : 'thrown';
    }
  };

  it('happy: objects, arrays, scalars within the depth parse; an empty body is none', () => {
    expect(parseJsonBody('{"pid": 4, "traffic": ["dubbo"]}', 32)).toEqual({ pid: 4, traffic: ['dubbo'] });
    expect(parseJsonBody('  ', 32)).toBeUndefined();
    expect(parseJsonBody('[[1]]', 2)).toEqual([[1]]);
  });

  it('depth counts nesting, not brackets in strings or escaped quotes', () => {
    expect(jsonDepth('1', 10)).toBe(0);
    expect(jsonDepth('{"a":[{"b":[]}]}', 10)).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}', 10)).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[[","b":[]}', 10)).toBe(2);
    expect(jsonDepth('[]'.repeat(1000), 10)).toBe(1);
  });

  it('too deep, malformed, or with a "__proto__" key is bad_request — never another error', () => {
    expect(code('[[[1]]]', 2)).toBe('bad_request');
    expect(code('['.repeat(1_000_000))).toBe('bad_request');
    expect(code('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000))).toBe('bad_request');
    for (const text of ['{', '{"a":1,}', 'undefined', "{'a':1}", '\u0000', '{"__proto__":{"polluted":true}}', '{"a":{"__proto__":1}}'])
      expect(code(text), text).toBe('bad_request');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('random bytes never throw anything but bad_request', () => {
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = '{}[]":,\\ 0123456789abcdefnulltrue-+.eE\u0000\u2028';
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: Math.floor(rnd() * 64) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      expect(['ok', 'bad_request']).toContain(code(text, 4));
    }
  });
});
