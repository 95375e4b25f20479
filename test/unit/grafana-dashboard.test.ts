// The dashboard queries only metrics the daemon really exports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../testkit/root.js';
import { Metrics } from '../../src/metrics/registry.js';

describe('daemon/grafana-dashboard.json', () => {
  it('every quiesce_ metric it queries is one the daemon registers', async () => {
    const text = readFileSync(join(ROOT, 'daemon', 'grafana-dashboard.json'), 'utf8');
    const dash = JSON.parse(text) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const queried = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/quiesce_[a-z_]+/g) ?? [])));
    const exported = new Set((await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const base = (name: string): string => name.replace(/_(bucket|sum|count)$/, '');
    expect(queried.size).toBeGreaterThan(10);
    for (const q of queried) expect(exported, q).toContain(base(q));
  });
});
