/**
 * quiesce_registrations: what every JVM's agent last reported as registered or removed, summed per
 * framework. Refreshed from each inventory the daemon reads; a JVM that is gone stops counting.
 */
import type { InventoryReport } from '../gen/quiesce/agent/v1/agent.js';
import type { Metrics } from '../metrics/registry.js';

export class RegistrationGauge {
  private readonly perJvm = new Map<number, Map<string, number>>();

  constructor(private readonly metrics: Metrics) {}

  record(pid: number, inv: InventoryReport): void {
    const counts = new Map<string, number>();
    const add = (traffic: string, state: string, n: number): void => {
      const key = `${traffic}\u0000${state}`;
      counts.set(key, (counts.get(key) ?? 0) + n);
    };
    for (const f of inv.frameworks) {
      for (const reg of f.registries) {
        add(f.traffic, 'registered', reg.registered.length);
        add(f.traffic, 'removed', reg.removed.length);
      }
    }
    this.perJvm.set(pid, counts);
    this.publish();
  }

  forget(pid: number): void {
    if (this.perJvm.delete(pid)) this.publish();
  }

  private publish(): void {
    const total = new Map<string, number>();
    for (const m of this.perJvm.values()) for (const [k, n] of m) total.set(k, (total.get(k) ?? 0) + n);
    this.metrics.registrations.reset();
    for (const [k, n] of total) {
      const [framework, state] = k.split('\u0000') as [string, string];
      this.metrics.registrations.set({ framework, state }, n);
    }
  }
}
