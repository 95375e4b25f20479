/**
 * The consumer's calls, parsed as they arrive from its stdout ("CALL <epoch ms> <name> <port>" or
 * "FAIL <epoch ms> <error>", one line per call, stamped when the call returned). Kept compact (two
 * numbers a call) so that a run of hundreds of thousands of calls stays small, and parsed
 * incrementally: each update reads only the lines written since the last one.
 */

export interface WindowStats {
  readonly calls: number;
  readonly failed: number;
  /** First and last failed call in the window (epoch ms), null when none failed. */
  readonly firstFail: number | null;
  readonly lastFail: number | null;
  /** Failed calls per error message (digits blanked), most frequent first. */
  readonly errors: ReadonlyMap<string, number>;
}

export class CallLog {
  private offset = 0;
  /** Per call: when it returned, and who answered (index into names) or -1 - (index into errors). */
  private readonly at: number[] = [];
  private readonly who: number[] = [];
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly errors: string[] = [];
  private readonly errorIds = new Map<string, number>();
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();

  constructor(private readonly source: () => string) {}

  /** Parses the complete lines written since the last update. */
  update(): void {
    const text = this.source();
    const end = text.lastIndexOf('\n');
    if (end < this.offset) return;
    const chunk = text.slice(this.offset, end);
    this.offset = end + 1;
    for (const line of chunk.split('\n')) {
      const m = /^(CALL|FAIL) (\d+) ?(.*)$/.exec(line);
      if (!m) continue;
      const at = Number(m[2]);
      const rest = m[3] ?? '';
      this.at.push(at);
      if (m[1] === 'CALL') {
        const name = rest.split(' ')[0] ?? '';
        this.who.push(this.intern(this.names, this.nameIds, name));
        if (!this.first.has(name)) this.first.set(name, at);
        if (at > (this.last.get(name) ?? 0)) this.last.set(name, at);
      } else {
        // Error messages name ports and addresses that differ per release: strip digits so they group.
        this.who.push(-1 - this.intern(this.errors, this.errorIds, rest.replace(/\d+/g, '#').slice(0, 200)));
      }
    }
  }

  private intern(table: string[], ids: Map<string, number>, s: string): number {
    let id = ids.get(s);
    if (id === undefined) {
      id = table.length;
      table.push(s);
      ids.set(s, id);
    }
    return id;
  }

  /** The first / last call `name` answered (epoch ms), or undefined. */
  firstCall(name: string): number | undefined {
    return this.first.get(name);
  }

  lastCall(name: string): number | undefined {
    return this.last.get(name);
  }

  /** Calls that returned in [from, to] (epoch ms). */
  window(from: number, to: number): WindowStats {
    // Lines arrive in near time order (several threads print): start a second early, filter exactly.
    let lo = 0;
    let hi = this.at.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.at[mid] as number) < from - 1_000) lo = mid + 1;
      else hi = mid;
    }
    let calls = 0;
    let failed = 0;
    let firstFail: number | null = null;
    let lastFail: number | null = null;
    const errorCounts = new Map<number, number>();
    for (let i = lo; i < this.at.length; i++) {
      const at = this.at[i] as number;
      if (at < from || at > to) {
        if (at > to + 1_000) break;
        continue;
      }
      calls++;
      const who = this.who[i] as number;
      if (who < 0) {
        failed++;
        if (firstFail === null || at < firstFail) firstFail = at;
        if (lastFail === null || at > lastFail) lastFail = at;
        errorCounts.set(who, (errorCounts.get(who) ?? 0) + 1);
      }
    }
    const errors = new Map([...errorCounts.entries()].sort((a, b) => b[1] - a[1]).map(([id, n]) => [this.errors[-1 - id] ?? '?', n]));
    return { calls, failed, firstFail, lastFail, errors };
  }

  get size(): number {
    return this.at.length;
  }
}
