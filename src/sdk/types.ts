import type { Logger, TypedMetadata } from '../core/index.js';

/**
 * What a task's code receives: as a JSON file (`EAS_TASK_FILE`) for an external command, as
 * `ctx.task` for an in-process handler. Keys are snake_case so Python, C and Fortran codes read
 * them naturally.
 */
export interface TaskFile {
  attempt_id: number;
  attempt_number: number;
  task_id: number;
  job_id: number;
  job_name: string;
  task_type: string;
  name: string | null;
  /** Chain path of the task. */
  path: string;
  working_directory: string;
  /** The task's own evaluated fields (`specs`, `lc_duration`, `values`…). */
  description: Record<string, unknown>;
  /** Inherited task metadata (loop variables and `*_index`), plain values. */
  metadata: Record<string, unknown>;
  /** Output metadata of the tasks named in `requires_metadata_from`. */
  requested_metadata: Record<string, Record<string, unknown>>;
  /** Semantic type → absolute path of the staged input file (read-only). */
  inputs: Record<string, string>;
  /** Metadata of each input file's version, by semantic type. */
  input_metadata: Record<string, Record<string, unknown>>;
  /** Semantic type → absolute path where the output must be written. */
  outputs: Record<string, string>;
  /** Where to write output metadata as a JSON object (optional). */
  result_file: string;
  /** A scratch directory of this attempt, removed afterwards. */
  work_dir: string;
}

/** What an in-process handler receives. */
export interface TaskContext {
  /** The task, as an external command would read it from `EAS_TASK_FILE`. */
  task: TaskFile;
  /** The same task metadata with types kept (ints stay ints). */
  typedMetadata: TypedMetadata;
  /**
   * The task's description with integral floats kept as `FloatValue` (`task.description` has
   * plain numbers): for handlers that pass values on with their types, as `set_metadata` does.
   */
  typedDescription: Record<string, unknown>;
  /** Aborted when the attempt must stop: timeout, lost lease, worker stopping. */
  signal: AbortSignal;
  /** Writes a log line of the attempt (stored in the task database). */
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** The worker's logger, bound to this attempt. */
  logger: Logger;
}

/** What an in-process handler may return. */
export interface HandlerResult {
  /** Output metadata (numbers that are integral are stored as ints; wrap with `float()` to keep a float). */
  metadata?: Record<string, unknown>;
  /** Metadata of written output files, by semantic type (stored on the file's version). */
  fileMetadata?: Record<string, Record<string, unknown>>;
}

/** A task handler run inside the worker process. Throwing fails the attempt; the stack is the traceback. */
export type TaskHandler = (
  ctx: TaskContext,
) => Promise<HandlerResult | void> | HandlerResult | void;

/** What QC sees of a finished attempt. */
export interface QcInput {
  task: TaskFile;
  /** Outputs written: semantic type → { path, size }. */
  written: Record<string, { path: string; size: number }>;
  /** Semantic types the chain declared and the registry marks required. */
  required: string[];
  metadata: TypedMetadata;
}

/** A QC verdict. */
export interface QcVerdict {
  passed: boolean;
  /** Why it failed. */
  reason?: string;
}

/** A QC function of a task type. */
export type QcFunction = (input: QcInput) => Promise<QcVerdict> | QcVerdict;

/** An in-process task type: its handler and, optionally, its own QC. */
export interface HandlerDefinition {
  run: TaskHandler;
  /** Replaces the default QC (every required output exists, is non-empty and parses). */
  qc?: QcFunction;
}
