/**
 * Interpreting the reply to `load <lib> <absolute> <options>`, which changed over JDK versions:
 *
 * | JDK   | agent loaded (rc = Agent_OnAttach's result) | library failed                                   |
 * |-------|---------------------------------------------|--------------------------------------------------|
 * | 8     | `0\n<rc>\n`                                 | `-1\n`                                           |
 * | 9–20  | `0\nreturn code: <rc>\n`                    | `-1\n<lib> was not loaded.\n<dlerror>`           |
 * | 21+   | `0\nreturn code: <rc>\n`                    | `0\n` + text (*)                                 |
 *
 * (*) "was not loaded", "Agent_OnAttach is not available", "Dynamic agent loading is not enabled…".
 *
 * For `instrument` (JPLIS) a non-zero rc is: 100 bad jar / no Agent-Class, 101 jar not added to
 * the system class path, 102 agentmain threw or failed.
 */

export type LoadOutcome =
  | { readonly ok: true; readonly rc: 0 }
  | { readonly ok: false; readonly kind: 'dynamic_agents_disabled' | 'agent_failed'; readonly rc: number | null; readonly detail: string };

export const JPLIS_CODES: Readonly<Record<number, string>> = {
  100: 'the agent jar could not be opened or has no Agent-Class attribute (JPLIS rc 100)',
  101: 'the agent jar could not be added to the system class path (JPLIS rc 101)',
  102: 'agentmain threw or the agent failed to initialize (JPLIS rc 102)',
};

function rcOutcome(rc: number): LoadOutcome {
  if (rc === 0) return { ok: true, rc: 0 };
  return { ok: false, kind: 'agent_failed', rc, detail: JPLIS_CODES[rc] ?? `Agent_OnAttach returned ${rc}` };
}

function firstLines(body: string): string {
  return body.trim().split('\n').slice(0, 3).join(' | ');
}

export function interpretLoadReply(status: number, body: string): LoadOutcome {
  // JDK 9+ (and JDK 21+ with status 0): the listener's own text explains a refused dynamic load.
  if (/Dynamic agent loading is not enabled/i.test(body)) {
    return { ok: false, kind: 'dynamic_agents_disabled', rc: null, detail: firstLines(body) };
  }
  if (status !== 0) {
    // JDK 8: `-1\n` with no text; JDK 9–20: `-1\n<lib> was not loaded.\n<dlerror>`.
    const text = body.trim() === '' ? 'the library could not be loaded (no detail: JDK 8 reply)' : firstLines(body);
    return { ok: false, kind: 'agent_failed', rc: status, detail: text };
  }
  // JDK 9+: `return code: <rc>`.
  const m = /return code:\s*(-?\d+)/.exec(body);
  if (m?.[1] !== undefined) return rcOutcome(Number(m[1]));
  // JDK 21+: status 0 followed by an error text.
  if (/was not loaded|Agent_OnAttach is not available|not found|failed/i.test(body)) {
    return { ok: false, kind: 'agent_failed', rc: null, detail: firstLines(body) };
  }
  // JDK 8: the rc alone on the second line.
  const bare = /^\s*(-?\d+)\s*$/.exec(body);
  if (bare?.[1] !== undefined) return rcOutcome(Number(bare[1]));
  return { ok: false, kind: 'agent_failed', rc: null, detail: `unrecognized load reply: ${JSON.stringify(body.slice(0, 200))}` };
}
