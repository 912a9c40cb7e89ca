import type { PlannedTask, TypedMetadata } from '../core/index.js';

/**
 * States of a task (DESIGN §4), derived from its attempts: `waiting` (inputs not ready),
 * `queued`, `running`, `stalled` (lease expired, awaiting reclaim), `done` (an attempt passed
 * QC), `failed` (last attempt failed, no retry left), `blocked` (an input's producer failed or
 * did not write it), `cancelled`.
 */
export type TaskState =
  'waiting' | 'queued' | 'running' | 'stalled' | 'done' | 'failed' | 'blocked' | 'cancelled';

/** Every task state, in the order views show them. */
export const TASK_STATES: readonly TaskState[] = [
  'waiting',
  'queued',
  'running',
  'stalled',
  'done',
  'failed',
  'blocked',
  'cancelled',
];

/** States a task does not leave without a rerun. */
export const TERMINAL_TASK_STATES: readonly TaskState[] = [
  'done',
  'failed',
  'blocked',
  'cancelled',
];

/** States of one attempt. */
export type AttemptState = 'queued' | 'running' | 'succeeded' | 'failed' | 'stalled' | 'cancelled';

/** Why an attempt exists: the first run, a retry after a failure, a re-run after a lost lease, or a user's rerun. */
export type AttemptKind = 'first' | 'retry' | 'stall' | 'rerun';

/** Status of a job: `running` until every task is terminal; then `done`, or `failed` when any task failed or was blocked. */
export type JobStatus = 'running' | 'done' | 'failed' | 'cancelled';

export type { PlannedInput, PlannedOutput, PlannedTask } from '../core/index.js';
/** A job to create with its tasks. */
export interface PlannedJob {
  name: string;
  workingDirectory: string;
  /** The chain as submitted (stored for reruns and display). */
  chain: unknown;
  source?: string;
  priority?: number;
  /** Seed for `random.random()`; defaults to a random value recorded with the job. */
  seed?: string;
  tasks: PlannedTask[];
}

/**
 * An attempt ready to run, as the task database hands it out: it is a job-queue item as it
 * stands (attempt, task type, job, priority, availableAt) and is enqueued as it is.
 */
export interface ReadyAttempt {
  attemptId: number;
  taskId: number;
  jobId: number;
  taskType: string;
  priority: number;
  availableAt: number;
}

/** The result of a submission. */
export interface SubmitResult {
  jobId: number;
  taskCount: number;
  /** Attempts ready at once, to enqueue. */
  ready: ReadyAttempt[];
}

/** A worker as recorded in the database. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
}

/** A file a started attempt reads: the newest QC-passed version of an input product. */
export interface StagedInput {
  semanticType: string;
  workingDirectory: string;
  filename: string;
  productId: number;
  sha256: string;
  size: number;
  /** Metadata of that version (e.g. a light curve's parameters). */
  metadata: TypedMetadata;
}

/** A file a started attempt must (or may) write. */
export interface ExpectedOutput {
  semanticType: string;
  workingDirectory: string;
  filename: string;
  productId: number;
  optional: boolean;
}

/** Everything a worker needs to run one attempt. */
export interface AttemptPayload {
  attemptId: number;
  attemptNumber: number;
  taskId: number;
  jobId: number;
  jobName: string;
  /** Seed of `random.random()` in the job's expressions. */
  jobSeed: string;
  taskType: string;
  name: string | null;
  path: string;
  workingDirectory: string;
  description: Record<string, unknown>;
  metadata: TypedMetadata;
  inputs: StagedInput[];
  outputs: ExpectedOutput[];
  /** Output metadata of the tasks in `requires_metadata_from`, by name. */
  requestedMetadata: Record<string, TypedMetadata>;
}

/** One stored output file of a finished attempt. */
export interface OutputVersion {
  semanticType: string;
  sha256: string;
  size: number;
  metadata?: TypedMetadata;
}

/** Log severities, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A log severity. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The severities at `minLevel` or above; all of them for a level that is not one. */
export function levelsFrom(minLevel: string): readonly LogLevel[] {
  const i = LOG_LEVELS.indexOf(minLevel as LogLevel);
  return LOG_LEVELS.slice(Math.max(0, i));
}

/** A log line of an attempt. */
export interface LogLine {
  ts: number;
  level: LogLevel;
  stream: 'stdout' | 'stderr' | 'harness' | 'handler';
  message: string;
}

/** A log line of a running attempt, as the harness sends it in batches. */
export interface AttemptLogLine extends LogLine {
  attemptId: number;
  taskId: number;
  jobId: number;
}

/** Retry policy applied when an attempt fails. */
export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** What a worker reports when an attempt ends. */
export interface AttemptOutcome {
  attemptId: number;
  /** The worker that held it; a report from anyone else is refused as stale. */
  workerId: string;
  /** Did the code succeed (exit 0, no exception)? */
  succeeded: boolean;
  /** QC verdict; only meaningful when `succeeded`. A failed attempt never passes QC. */
  qcPassed: boolean;
  /** Why QC failed or the attempt failed, in one line. */
  error?: string;
  /** Traceback or stderr tail. */
  traceback?: string;
  /** The program's exit code, when a command ran. */
  exitCode?: number | null;
  /** The signal that killed the program, when one did. */
  signal?: string | null;
  /**
   * When the worker began running the attempt (epoch ms, the worker's clock). It replaces the
   * start the database recorded when the attempt was started, which precedes the run.
   */
  startedAt: number;
  /** When the attempt's code ended (epoch ms, the worker's clock). */
  endedAt: number;
  /** Wall time of the run, ms. */
  wallMs: number;
  /** CPU time of the worker's process during the run (in-process handlers), ms. */
  cpuMs: number;
  /** CPU time of the program and its children (commands), ms. */
  cpuChildrenMs: number;
  /** Output files stored, one version each. */
  outputs: OutputVersion[];
  /** Metadata the attempt reported (its `result.json` or the handler's return). */
  outputMetadata: TypedMetadata;
  /** Log lines not yet flushed. */
  logs?: LogLine[];
  /** Retry policy of the task type. */
  retry: RetryPolicy;
}

/** What finishing a batch of attempts did. */
export interface FinishResult {
  /** Attempts that became ready (dependents released, retries scheduled): enqueue them. */
  ready: ReadyAttempt[];
  /** Attempts whose report was refused (no longer running under that worker). */
  stale: number[];
  /** Tasks that became done. */
  done: number[];
  /** Tasks that failed for good. */
  failed: number[];
  /** Tasks newly blocked. */
  blocked: number[];
  /** Jobs that reached a final status. */
  finishedJobs: { jobId: number; status: JobStatus }[];
  /**
   * Released attempts started in the same transaction under the reporting worker (see
   * {@link TakeRequest}): it runs them itself, and they are not in `ready`.
   */
  started: AttemptPayload[];
}

/**
 * What a worker reporting results asks of the attempts its report releases: start up to `max`
 * of those whose task type it runs and that are due now (not a retry waiting out its backoff),
 * under itself, in the same transaction. A dependent then
 * starts the moment its last provider is committed, without a trip through the queue; the rest
 * are `ready` as usual.
 */
export interface TakeRequest {
  /** The reporting worker. */
  worker: WorkerInfo;
  /** Task types it runs. */
  types: readonly string[];
  /** Most attempts to start (its free slots). */
  max: number;
}

/** Counts of tasks per state. */
export type StateCounts = Record<TaskState, number>;
