/**
 * Bounds on what one HTTP caller can make the daemon hold or wait for. The API carries small JSON
 * documents, so the defaults are small; each can be raised through the environment (README,
 * "Limits on requests") without a rebuild, and a bad value stops the daemon at start, not later.
 */

export interface HttpLimits {
  /** Largest request body accepted, in bytes (413 `body_too_large` past it). */
  bodyLimitBytes: number;
  /** Deepest nesting of arrays/objects in a JSON body (400 `bad_request` past it). */
  maxJsonDepth: number;
  /** Largest request line + headers, in bytes (431 `headers_too_large` past it). */
  maxHeaderBytes: number;
  /** Time a client has to send its request line and headers (408 `request_timeout` past it). */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request, body included (408 past it); not the answer's time. */
  requestTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  bodyLimitBytes: 128 * 1024,
  maxJsonDepth: 32,
  maxHeaderBytes: 8 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** Environment variable → setting, and the range a value must fall in. */
export const HTTP_LIMIT_ENV: Readonly<Record<keyof HttpLimits, { name: string; min: number; max: number }>> = {
  bodyLimitBytes: { name: 'QUIESCE_HTTP_BODY_LIMIT', min: 1024, max: 16 * 1024 * 1024 },
  maxJsonDepth: { name: 'QUIESCE_HTTP_MAX_JSON_DEPTH', min: 2, max: 1000 },
  maxHeaderBytes: { name: 'QUIESCE_HTTP_MAX_HEADER_SIZE', min: 1024, max: 64 * 1024 },
  headersTimeoutMs: { name: 'QUIESCE_HTTP_HEADERS_TIMEOUT_MS', min: 100, max: 300_000 },
  requestTimeoutMs: { name: 'QUIESCE_HTTP_REQUEST_TIMEOUT_MS', min: 100, max: 600_000 },
};

export function httpLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): HttpLimits {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS };
  for (const key of Object.keys(HTTP_LIMIT_ENV) as Array<keyof HttpLimits>) {
    const { name, min, max } = HTTP_LIMIT_ENV[key];
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    limits[key] = Number(raw);
  }
  // Node refuses a headers timeout longer than the request timeout; say so in our words.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new Error(
      `${HTTP_LIMIT_ENV.headersTimeoutMs.name} (${limits.headersTimeoutMs}) must not exceed ` +
        `${HTTP_LIMIT_ENV.requestTimeoutMs.name} (${limits.requestTimeoutMs})`,
    );
  }
  return limits;
}
