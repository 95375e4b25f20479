/**
 * Waiting for something to become true, the one way tests and benchmarks do it: read, check,
 * sleep, until a deadline. `until` throws at the deadline (the thing waited for is a
 * precondition); `settle` returns the last value instead, for a test whose assertion on that
 * value should be what fails, with the value in its message.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Maybe<T> = T | undefined | null | false;

async function poll<T>(
  read: () => Promise<T> | T,
  ok: (v: T) => boolean,
  timeoutMs: number,
  everyMs: number,
): Promise<{ value: T; ok: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return { value, ok: true };
    if (Date.now() > deadline) return { value, ok: false };
    await sleep(everyMs);
  }
}

/** The probe's first truthy value; throws "timed out after N ms waiting for <what>" past the deadline. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<Maybe<T>> | Maybe<T>, everyMs = 50): Promise<T> {
  const r = await poll(probe, (v) => Boolean(v), timeoutMs, everyMs);
  if (!r.ok) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return r.value as T;
}

/** The first value `ok` accepts, or the last one read at the deadline (never throws on time). */
export async function settle<T>(read: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs: number, everyMs = 100): Promise<T> {
  return (await poll(read, ok, timeoutMs, everyMs)).value;
}
