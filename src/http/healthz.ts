/** /healthz's answers: what the liveness probe and an operator read of the daemon's own health. */
import { VERSION } from '../version.js';
import { QuiesceError } from '../errors.js';
import type { FleetHealth } from '../agent/fleet.js';

export function healthyAnswer(h: FleetHealth): Record<string, unknown> {
  return {
    ok: true,
    version: VERSION,
    lastScanAt: h.lastScanAt,
    lastScanAgeMs: h.lastScanAgeMs,
    stalledPids: h.stalledPids,
    stuckReads: h.stuckReads,
  };
}

export function unhealthyError(h: FleetHealth): QuiesceError {
  const why = h.lastScanError === null ? '' : ` (last attempt: ${h.lastScanError})`;
  return new QuiesceError('internal', `stuck: no discovery scan completed for ${h.lastScanAgeMs} ms, more than ${h.maxAgeMs} ms${why}`, {
    lastScanAt: h.lastScanAt,
    lastScanAgeMs: h.lastScanAgeMs,
    maxAgeMs: h.maxAgeMs,
    stalledPids: h.stalledPids,
    stuckReads: h.stuckReads,
  });
}
