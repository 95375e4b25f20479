/**
 * The consumer's calls, read from its output as it grows: the Dubbo and Spring Cloud fixture
 * consumers both print "CALL <epoch ms> <provider name> ..." or "FAIL <epoch ms> <error>" per
 * call (the Dubbo one also prints DIRECT lines, which bypass the registry and are skipped). The
 * time is when the call started, on the host's clock (the containers share it).
 */

export interface Call {
  readonly at: number;
  /** The provider's name ("A", "B"), or null for a failed call. */
  readonly who: string | null;
}

export class CallLog {
  private offset = 0;
  private readonly calls: Call[] = [];

  constructor(private readonly stdout: () => string) {}

  /** Parses the complete lines written since the last update. */
  update(): void {
    const text = this.stdout();
    const end = text.lastIndexOf('\n');
    if (end < this.offset) return;
    for (const line of text.slice(this.offset, end).split('\n')) {
      const m = /^(CALL|FAIL) (\d+) ?(\S*)/.exec(line);
      if (m) this.calls.push({ at: Number(m[2]), who: m[1] === 'CALL' ? (m[3] ?? '') : null });
    }
    this.offset = end + 1;
  }

  /** The start of the latest call answered by `who`, or undefined. */
  lastTo(who: string): number | undefined {
    this.update();
    for (let i = this.calls.length - 1; i >= 0; i--) if (this.calls[i]?.who === who) return this.calls[i]?.at;
    return undefined;
  }

  /** The first call answered by `who` that started at or after `from`. */
  firstTo(who: string, from: number): number | undefined {
    this.update();
    let found: number | undefined;
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const c = this.calls[i] as Call;
      if (c.at < from) break;
      if (c.who === who) found = c.at;
    }
    return found;
  }

  /** Calls to anyone, and failed calls, that started in [from, to). */
  between(from: number, to: number): { total: number; failed: number; byName: Map<string, number> } {
    this.update();
    const byName = new Map<string, number>();
    let total = 0;
    let failed = 0;
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const c = this.calls[i] as Call;
      if (c.at < from) break;
      if (c.at >= to) continue;
      total++;
      if (c.who === null) failed++;
      else byName.set(c.who, (byName.get(c.who) ?? 0) + 1);
    }
    return { total, failed, byName };
  }
}
