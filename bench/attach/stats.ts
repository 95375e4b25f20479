/** Percentiles (nearest rank) and the plain-text tables the bench prints. */

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(xs: readonly number[]): Summary | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length, Math.max(1, Math.ceil(p * s.length))) - 1] as number;
  return { n: s.length, p50: rank(0.5), p95: rank(0.95), min: s[0] as number, max: s[s.length - 1] as number };
}

/** Milliseconds with a precision that suits their size. */
export function fmtMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** One row per series: name, n, p50, p95, min, max (ms). */
export function seriesTable(series: readonly { name: string; ms: readonly number[] }[]): string {
  const rows = series.map(({ name, ms }) => {
    const s = summarize(ms);
    return s === null ? [name, '0', '-', '-', '-', '-'] : [name, String(s.n), fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.min), fmtMs(s.max)];
  });
  return table(['series (ms)', 'n', 'p50', 'p95', 'min', 'max'], rows);
}

export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}
