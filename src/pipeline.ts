import { join } from 'node:path';
import {
  inheritedEnvironment,
  loadConfig,
  silentLogger,
  type ConfigOverrides,
  type Logger,
  type ResolvedConfig,
} from './core/index.js';
import { createFileRepository, type FileRepository } from './filestore/index.js';
import { createJobQueue, type JobQueue } from './queue/index.js';
import { loadRegistry, type BuiltinTaskType, type TaskTypeRegistry } from './registry/index.js';
import { createTaskDatabase, type TaskDatabase } from './taskdb/index.js';
import { Controller, type ControllerOptions } from './control/index.js';
import { WorkerHarness, type HandlerDefinition, type WorkerHarnessOptions } from './sdk/index.js';
import { BUILTIN_HANDLERS, BUILTIN_TASK_TYPES } from './tasks/index.js';

/** Options of {@link createPipeline}. */
export interface PipelineOptions {
  /** A resolved configuration; when absent, {@link loadConfig} runs with `cwd` and `overrides`. */
  config?: ResolvedConfig;
  /** Directory to find `eas.yaml` in. @defaultValue `process.cwd()` */
  cwd?: string;
  /** Flags that override file and environment. */
  overrides?: ConfigOverrides;
  /** Logger. @defaultValue silent */
  logger?: Logger;
  /**
   * Open the job queue. `false` for tools that only read the task database and the files (the
   * queue is a cache of it): they then work while Redis is away, and `queue` throws when used.
   * @defaultValue true
   */
  queue?: boolean;
  /**
   * In-process handlers by task type name. A name the registry does not know becomes a task
   * type of its own (in the `eas-base` container); a built-in name replaces that handler.
   */
  handlers?: Record<string, HandlerDefinition>;
}

/**
 * The parts of a pipeline, assembled from configuration: the task database, the job queue
 * (the SQL queue in the same database unless Redis is configured), the file repository, the
 * task-type registry with the built-in task library. Close it with `close()` or `await using`.
 */
export interface Pipeline extends AsyncDisposable {
  readonly config: ResolvedConfig;
  readonly db: TaskDatabase;
  readonly queue: JobQueue;
  readonly files: FileRepository;
  readonly registry: TaskTypeRegistry;
  readonly logger: Logger;
  /** A controller on these parts. */
  controller(options?: Partial<ControllerOptions>): Controller;
  /** A worker harness on these parts, with the built-in handlers. */
  worker(options?: Partial<WorkerHarnessOptions>): WorkerHarness;
  close(): Promise<void>;
}

/** The `queue` of a pipeline opened without one: closing it does nothing, anything else throws. */
function unopenedQueue(): JobQueue {
  return new Proxy({} as JobQueue, {
    get(_, prop) {
      if (prop === 'close') return () => Promise.resolve();
      if (prop === 'then') return undefined; // not a promise
      throw new Error(`this pipeline was opened without its job queue (queue.${String(prop)})`);
    },
  });
}

/**
 * Opens the job queue that `config` names: Redis when a Redis URL is configured, otherwise the
 * SQL queue in the task database `db`. For a pipeline opened without its queue
 * (`queue: false`) that needs it later, e.g. `eas web` at its first write action.
 * @throws EasError `BACKEND_UNAVAILABLE` when Redis does not answer.
 */
export function openPipelineQueue(
  config: ResolvedConfig,
  db: TaskDatabase,
  logger: Logger,
): Promise<JobQueue> {
  return config.redisUrl
    ? createJobQueue({ backend: 'redis', url: config.redisUrl }, { logger })
    : createJobQueue({ backend: 'sql', sql: db.sql }, { logger });
}

/**
 * Opens every part of a pipeline from `eas.yaml`, `EAS_*` and flags.
 *
 * @example
 * ```ts
 * await using pipeline = await createPipeline({ cwd: 'my-survey' });
 * const controller = pipeline.controller();
 * await controller.submit({ chain: text, source: 'grid.json' });
 * ```
 * @throws EasError `CONFIG_INVALID`, `REGISTRY_INVALID` (exit 2) or `BACKEND_UNAVAILABLE` (exit 3).
 */
export async function createPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const config = options.config ?? loadConfig({ cwd: options.cwd, overrides: options.overrides });
  const logger = options.logger ?? silentLogger();
  // Handlers given in code are task types of their own: register them beside the built-ins.
  const inCode: Record<string, BuiltinTaskType> = {};
  for (const name of Object.keys(options.handlers ?? {})) {
    inCode[name] = BUILTIN_TASK_TYPES[name] ?? {
      description: 'in-process handler registered in code',
      runner: 'in-process',
    };
  }
  const registry = await loadRegistry(config.registry, {
    builtins: { ...BUILTIN_TASK_TYPES, ...inCode },
    baseDir: config.baseDir,
  });
  const db = await createTaskDatabase({ url: config.databaseUrl, logger });
  let queue: JobQueue | undefined;
  let files: FileRepository | undefined;
  try {
    queue = options.queue === false ? unopenedQueue() : await openPipelineQueue(config, db, logger);
    files = await createFileRepository({ root: config.filestoreRoot, logger });
  } catch (e) {
    await queue?.close();
    await db.close();
    throw e;
  }
  const handlers = { ...BUILTIN_HANDLERS, ...options.handlers };
  const q = queue;
  const f = files;
  const close = async (): Promise<void> => {
    await q.close();
    await f.close();
    await db.close();
  };
  return {
    config,
    db,
    queue: q,
    files: f,
    registry,
    logger,
    controller: (o = {}) =>
      new Controller({
        db,
        queue: q,
        registry,
        logger,
        silentAfterMs: 3 * config.leaseMs,
        unleasedAfterMs: config.leaseMs,
        leaseMs: config.leaseMs,
        ...o,
      }),
    worker: (o = {}) =>
      new WorkerHarness({
        db,
        queue: q,
        files: f,
        registry,
        handlers,
        concurrency: config.workerConcurrency,
        leaseMs: config.leaseMs,
        heartbeatMs: config.heartbeatMs,
        scratchDir: join(config.baseDir, '.eas', 'scratch'),
        baseEnv: inheritedEnvironment(),
        logger,
        ...o,
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
