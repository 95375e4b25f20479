/**
 * Which discovered JVMs the daemon attaches to on its own: none, all, or those whose
 * main class (or jar) matches a pattern — so a node can run quiesce beside JVMs that
 * are not services (build tools, other agents' hosts) without touching them.
 */
import type { JvmProcess } from '../jvm/types.js';

export type AdoptPolicy = { readonly kind: 'none' } | { readonly kind: 'all' } | { readonly kind: 'main'; readonly pattern: RegExp };

/** Parses `none`, `all` or `main=<regex>`; throws a message fit for the command line. */
export function parseAdoptPolicy(raw: string): AdoptPolicy {
  if (raw === 'none' || raw === 'all') return { kind: raw };
  if (raw.startsWith('main=')) {
    const source = raw.slice('main='.length);
    if (!source) throw new Error('--adopt main=<regex> needs a pattern');
    try {
      return { kind: 'main', pattern: new RegExp(source) };
    } catch (e) {
      throw new Error(`--adopt main=: invalid regular expression: ${(e as Error).message}`);
    }
  }
  throw new Error(`--adopt must be "none", "all" or "main=<regex>", got "${raw}"`);
}

export function describeAdoptPolicy(p: AdoptPolicy): string {
  return p.kind === 'main' ? `main=${p.pattern.source}` : p.kind;
}

export function shouldAdopt(p: AdoptPolicy, jvm: JvmProcess): boolean {
  if (!jvm.supported || jvm.attachDisabled || jvm.dynamicAgentsDisabled) return false;
  switch (p.kind) {
    case 'none':
      return false;
    case 'all':
      return true;
    case 'main':
      return jvm.main !== null && p.pattern.test(jvm.main);
  }
}
