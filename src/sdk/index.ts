/**
 * The worker side: the harness that claims attempts, runs science codes (in-process handlers
 * or external commands in any language), heartbeats, captures logs and timings, commits
 * outputs and runs QC.
 *
 * @example
 * ```ts
 * import { WorkerHarness } from 'plato-eas/sdk';
 * const worker = new WorkerHarness({ db, queue, files, registry, handlers });
 * await worker.run();
 * ```
 * @module
 */
export {
  WorkerHarness,
  type WorkerHarnessOptions,
  type WorkerHarnessEvents,
} from './worker-harness.js';
export { defaultQc } from './qc.js';
export { registerWorkerMetrics, ATTEMPT_DURATION_BUCKETS } from './metrics.js';
export {
  runStandalone,
  readStandaloneTask,
  standaloneResultJson,
  type StandaloneParts,
  type StandaloneResult,
} from './standalone.js';
export {
  runCommand,
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_TAIL_LINES,
  MAX_LINE_BYTES,
  LINE_CUT_MARKER,
  CPU_SAMPLE_INTERVAL_MS,
  type CommandRunOptions,
  type CommandResult,
} from './runners/command.js';
export type {
  TaskFile,
  TaskContext,
  HandlerResult,
  TaskHandler,
  HandlerDefinition,
  QcInput,
  QcVerdict,
  QcFunction,
} from './types.js';
