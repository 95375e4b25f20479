/** The per-release lines and the per-mode tables the offline benchmark prints. */
import { fmtMs, summarize, table } from '../attach/stats.js';
import { MODE_TITLES, type Mode, type Release } from './release.js';

const ms = (v: number | null): string => (v === null ? '-' : `${fmtMs(v)} ms`);
/** A time from the release start: "+205 ms", or "-16.0 ms" for a last call that returned just before it. */
const since = (v: number | null): string => (v === null ? '-' : `${v < 0 ? '-' : '+'}${ms(Math.abs(v))}`);
/** RestTemplate's "I/O error on GET request for "http://greeter/hello": Connection refused" → "Connection refused". */
const short = (error: string): string => error.replace(/^I\/O error on GET request for "[^"]*": /, '');

export function releaseLine(r: Release): string {
  const parts = [
    `${r.failed} failed of ${r.calls} calls (${r.perSecond.toFixed(0)}/s)`,
    `last call to ${r.name} ${since(r.lastCallMs)}`,
    r.lastFailMs !== null
      ? `last failure ${since(r.lastFailMs)} (${[...r.errors].map(([e, n]) => `${n} × ${short(e)}`).join(', ')})`
      : null,
    r.mode === 'quiesce' ? `/offline ${ms(r.requestMs)} (${r.offlineOutcome})` : null,
    r.mode === 'deregister' ? `/isolate ${ms(r.requestMs)}` : null,
    `SIGTERM→exit ${ms(r.sigtermToExitMs)}`,
    `start→exit ${ms(r.startToExitMs)}`,
    `fresh instance called +${(r.replacedMs / 1000).toFixed(1)} s`,
    `(released ${(r.phaseMs / 1000).toFixed(1)} s after the consumer first called ${r.name})`,
  ];
  return parts.filter((p) => p !== null).join('; ');
}

interface Row {
  readonly name: string;
  readonly values: readonly number[];
  /** Print the sum too (counts). */
  readonly sum?: boolean;
}

function rows(rs: readonly Release[]): Row[] {
  const of = (f: (r: Release) => number | null): number[] => rs.map(f).filter((v): v is number => v !== null);
  const mode = rs[0]?.mode;
  return [
    { name: 'failed requests per release', values: of((r) => r.failed), sum: true },
    { name: 'calls per release (start → fresh instance called)', values: of((r) => r.calls), sum: true },
    { name: 'consumer rate in the release window (req/s)', values: of((r) => r.perSecond) },
    { name: 'release start → last request to provider 1 (ms)', values: of((r) => r.lastCallMs) },
    { name: 'release start → last failed request (ms)', values: of((r) => r.lastFailMs) },
    ...(mode === 'quiesce' ? [{ name: '/offline duration (ms)', values: of((r) => r.requestMs) }] : []),
    ...(mode === 'deregister' ? [{ name: '/isolate duration (ms)', values: of((r) => r.requestMs) }] : []),
    { name: 'SIGTERM → provider exited (ms)', values: of((r) => r.sigtermToExitMs) },
    { name: 'release start → provider exited (ms)', values: of((r) => r.startToExitMs) },
    { name: 'release start → fresh instance called (ms)', values: of((r) => r.replacedMs) },
    { name: 'consumer cache refresh → release start (ms)', values: of((r) => r.phaseMs) },
  ];
}

const num = (v: number): string => (Number.isInteger(v) && Math.abs(v) < 1e6 ? String(v) : fmtMs(v));

export function modeTable(mode: Mode, rs: readonly Release[], failedReleases: number): string {
  const body = rows(rs).map((row) => {
    const s = summarize(row.values);
    if (s === null) return [row.name, '0', '-', '-', '-', '-', '-'];
    return [
      row.name,
      String(s.n),
      num(s.p50),
      num(s.p95),
      num(s.min),
      num(s.max),
      row.sum ? String(row.values.reduce((a, b) => a + b, 0)) : '',
    ];
  });
  const errors = new Map<string, number>();
  for (const r of rs) for (const [e, n] of r.errors) errors.set(e, (errors.get(e) ?? 0) + n);
  return [
    `== ${MODE_TITLES[mode]}: ${rs.length} release(s) measured${failedReleases > 0 ? `, ${failedReleases} FAILED (left out)` : ''}`,
    table(['per release', 'n', 'p50', 'p95', 'min', 'max', 'sum'], body),
    ...[...errors.entries()].sort((a, b) => b[1] - a[1]).map(([e, n]) => `failed requests: ${n} × ${short(e)}`),
  ].join('\n');
}

/** baseline / quiesce for the figures that matter; "∞" when quiesce lost nothing and the baseline did. */
export function ratioTable(by: ReadonlyMap<Mode, readonly Release[]>): string | null {
  const q = by.get('quiesce');
  const baselines = (['sigterm', 'deregister'] as const).filter((m) => (by.get(m)?.length ?? 0) > 0);
  if (!q?.length || baselines.length === 0) return null;
  const stat = (rs: readonly Release[], f: (r: Release) => number | null, p: 'p50' | 'p95' | 'sum'): number | undefined => {
    const vs = rs.map(f).filter((v): v is number => v !== null);
    if (p === 'sum') return vs.length ? vs.reduce((a, b) => a + b, 0) : undefined;
    return summarize(vs)?.[p];
  };
  const ratio = (a: number | undefined, b: number | undefined): string => {
    if (a === undefined || b === undefined) return '-';
    if (b === 0) return a === 0 ? '1.00x' : `∞ (${num(a)} vs 0)`;
    return `${(a / b).toFixed(2)}x`;
  };
  const metrics: Array<[string, (r: Release) => number | null, 'p50' | 'p95' | 'sum']> = [
    ['failed requests, sum', (r) => r.failed, 'sum'],
    ['failed requests per release, p50', (r) => r.failed, 'p50'],
    ['release start → last request to provider 1, p50', (r) => r.lastCallMs, 'p50'],
    ['release start → last request to provider 1, p95', (r) => r.lastCallMs, 'p95'],
    ['release start → provider exited, p50', (r) => r.startToExitMs, 'p50'],
    ['SIGTERM → provider exited, p50', (r) => r.sigtermToExitMs, 'p50'],
  ];
  return [
    '== ratios, baseline / quiesce (same run)',
    table(
      ['metric', ...baselines.map((m) => `${m === 'sigterm' ? 'SIGTERM only' : 'deregister only'} / quiesce`)],
      metrics.map(([name, f, p]) => [name, ...baselines.map((m) => ratio(stat(by.get(m)!, f, p), stat(q, f, p)))]),
    ),
  ].join('\n');
}
