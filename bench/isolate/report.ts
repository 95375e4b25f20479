/** The tables printed per framework: each series for each tool, then quiesce / reference. */
import { summarize, table, type Summary } from '../attach/stats.js';
import type { Round } from './rounds.js';

/** One round on one line, for progress and the warm-up rounds. */
export function fmtRound(r: Round): string {
  const list = (xs: readonly (number | null)[]): string => xs.map((x) => x ?? 'never').join('/');
  return (
    `${r.tool}: isolate answered ${r.isolateAnswered}, gone ${list(r.gone)}, last call ${r.lastCall ?? '-'}; ` +
    `restore answered ${r.restoreAnswered}, back ${list(r.back)}, first call ${r.firstCall ?? '-'} (ms)`
  );
}

/** Whole milliseconds: every time here comes from Date.now(). */
const fmt = (ms: number): string => ms.toFixed(0);

interface Series {
  readonly name: string;
  readonly pick: (r: Round) => number | null;
}

function seriesOf(probeNames: readonly string[]): Series[] {
  return [
    { name: 'isolate: command answered', pick: (r) => r.isolateAnswered },
    ...probeNames.map((p, i): Series => ({ name: `isolate: ${p} gone from ZooKeeper`, pick: (r) => r.gone[i] ?? null })),
    { name: "isolate: consumer's last call to A", pick: (r) => r.lastCall },
    { name: 'restore: command answered', pick: (r) => r.restoreAnswered },
    ...probeNames.map((p, i): Series => ({ name: `restore: ${p} back in ZooKeeper`, pick: (r) => r.back[i] ?? null })),
    { name: "restore: consumer's first call to A again", pick: (r) => r.firstCall },
  ];
}

function values(rounds: readonly Round[], s: Series): { xs: number[]; missing: number } {
  const xs: number[] = [];
  let missing = 0;
  for (const r of rounds) {
    const v = s.pick(r);
    if (v === null) missing++;
    else xs.push(v);
  }
  return { xs, missing };
}

/** a / b, or "-" when either is not a positive time (a last call that began before the command). */
function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || a <= 0 || b <= 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}

export function report(probeNames: readonly string[], byTool: ReadonlyMap<string, readonly Round[]>): string {
  const series = seriesOf(probeNames);
  const rows: string[][] = [];
  const summaries = new Map<string, (Summary | null)[]>();
  for (const [tool, rounds] of byTool) {
    const sums: (Summary | null)[] = [];
    for (const s of series) {
      const { xs, missing } = values(rounds, s);
      const sum = summarize(xs);
      sums.push(sum);
      const name = `${tool.padEnd(7)} ${s.name}${missing > 0 ? ` (${missing} never, within the bound)` : ''}`;
      rows.push(
        sum === null ? [name, '0', '-', '-', '-', '-'] : [name, String(sum.n), fmt(sum.p50), fmt(sum.p95), fmt(sum.min), fmt(sum.max)],
      );
    }
    summaries.set(tool, sums);
    const failed = rounds.reduce((n, r) => n + r.failedCalls, 0);
    const late = rounds.map((r) => r.callsToAAfterGone);
    rows.push([
      `${tool.padEnd(7)} failed consumer calls, all rounds: ${failed}; calls A answered after its node was gone, per round: ${late.join(' ')}`,
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  const out = [table(['series (ms after the command was sent)', 'n', 'p50', 'p95', 'min', 'max'], rows)];

  const tools = [...byTool.keys()];
  const [ours, ref] = tools;
  if (ours !== undefined && ref !== undefined) {
    const a = summaries.get(ours) ?? [];
    const b = summaries.get(ref) ?? [];
    out.push(
      '',
      table(
        [`${ours} / ${ref}`, 'p50', 'p95', 'min'],
        series.map((s, i) => [s.name, ratio(a[i]?.p50, b[i]?.p50), ratio(a[i]?.p95, b[i]?.p95), ratio(a[i]?.min, b[i]?.min)]),
      ),
    );
  }
  return out.join('\n');
}
