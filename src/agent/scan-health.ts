/**
 * Whether discovery still completes scans: what /healthz answers as the liveness probe. A stuck
 * daemon (a scan that never returns, or fails every time) turns unhealthy, so the kubelet restarts it.
 */
import { stuckReads } from '../jvm/bounded-read.js';
import { PROBE_TIMEOUT_MS, SCAN_BUDGET_MS, stalledPids } from '../jvm/discovery.js';

/**
 * A scan may take up to its budget plus one process's bound; three intervals missed on top of that
 * means the loop is stuck, not busy.
 */
export function healthBoundMs(refreshIntervalMs: number): number {
  return 3 * refreshIntervalMs + SCAN_BUDGET_MS + PROBE_TIMEOUT_MS;
}

/** What /healthz reports: whether discovery still completes scans. */
export interface FleetHealth {
  healthy: boolean;
  /** When the last scan completed (ms since the epoch); null before the first. */
  lastScanAt: number | null;
  /** How long since the last completed scan (or since the fleet was created, before the first). */
  lastScanAgeMs: number;
  maxAgeMs: number;
  /** The last scan's failure, if the last attempt failed. */
  lastScanError: string | null;
  /** Pids whose inspection is stuck past its bound (each holds a file-system thread until it returns). */
  stalledPids: number[];
  /** File reads given up on by their time bound that have not returned yet. */
  stuckReads: number;
}

export class ScanHealth {
  private readonly createdAt = Date.now();
  private lastScanAt: number | null = null;
  private lastScanError: string | null = null;

  constructor(private readonly maxAgeMs: number) {}

  completed(): void {
    this.lastScanAt = Date.now();
    this.lastScanError = null;
  }

  failed(e: unknown): void {
    this.lastScanError = e instanceof Error ? e.message : String(e);
  }

  now(now = Date.now()): FleetHealth {
    const lastScanAgeMs = now - (this.lastScanAt ?? this.createdAt);
    return {
      healthy: lastScanAgeMs <= this.maxAgeMs,
      lastScanAt: this.lastScanAt,
      lastScanAgeMs,
      maxAgeMs: this.maxAgeMs,
      lastScanError: this.lastScanError,
      stalledPids: stalledPids(),
      stuckReads: stuckReads(),
    };
  }
}
