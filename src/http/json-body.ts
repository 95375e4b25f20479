/**
 * JSON request bodies, parsed with a nesting bound: a body nested deeper than any request of this
 * API needs is refused before JSON.parse walks it, so it costs one linear scan and answers 400.
 */
import { QuiesceError } from '../errors.js';

/** The deepest nesting of arrays and objects in `text` (0 for a scalar), stopping once past `cap`. */
export function jsonDepth(text: string, cap: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > cap) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Parses a request body; an empty body is no body. Throws `bad_request` for anything else than bounded JSON. */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') return undefined;
  if (jsonDepth(text, maxDepth) > maxDepth) throw new QuiesceError('bad_request', `the JSON body is nested deeper than ${maxDepth} levels`);
  try {
    // A "__proto__" key is never part of this API, and is how prototype pollution starts downstream.
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__') throw new SyntaxError('"__proto__" is not an accepted key');
      return value;
    });
  } catch (e) {
    throw new QuiesceError('bad_request', `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}
