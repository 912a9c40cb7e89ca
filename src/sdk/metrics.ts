import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkerHarness } from './worker-harness.js';

/** Upper bounds of the attempt-duration histogram, seconds: 10 ms … 4 h. */
export const ATTEMPT_DURATION_BUCKETS = [
  0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 14400,
];

/**
 * Registers a worker's Prometheus metrics in `registry`:
 *
 * - `eas_attempt_duration_seconds{task_type, outcome}` — wall time of finished attempts,
 *   `outcome` one of `passed` (QC passed), `qc_failed`, `failed`;
 * - `eas_lease_losses_total` — attempts this worker had to stop because the task database no
 *   longer had them running under it (reaped after a silence, cancelled);
 * - `eas_worker_running_attempts` — attempts running now.
 */
export function registerWorkerMetrics(registry: Registry, harness: WorkerHarness): void {
  const duration = new Histogram({
    name: 'eas_attempt_duration_seconds',
    help: 'Wall time of finished attempts',
    labelNames: ['task_type', 'outcome'],
    buckets: ATTEMPT_DURATION_BUCKETS,
    registers: [registry],
  });
  harness.on('attempt:finished', ({ payload, outcome }) => {
    const label = !outcome.succeeded ? 'failed' : outcome.qcPassed ? 'passed' : 'qc_failed';
    duration.observe({ task_type: payload.taskType, outcome: label }, outcome.wallMs / 1000);
  });
  const losses = new Counter({
    name: 'eas_lease_losses_total',
    help: 'Attempts stopped because this worker no longer held them',
    registers: [registry],
  });
  harness.on('lease:lost', () => losses.inc());
  new Gauge({
    name: 'eas_worker_running_attempts',
    help: 'Attempts running in this worker now',
    registers: [registry],
    collect() {
      this.set(harness.inFlight);
    },
  });
}
