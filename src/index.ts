/**
 * plato-eas: the PLATO exoplanet-analysis pipeline as an embeddable library.
 *
 * Compose a pipeline from its modules — {@link TaskDatabase}, {@link JobQueue},
 * {@link FileRepository}, {@link Controller}, {@link WorkerHarness} — or let
 * {@link createPipeline} assemble them from `eas.yaml`.
 *
 * @example
 * ```ts
 * import { createPipeline } from 'plato-eas';
 * await using pipeline = await createPipeline();
 * await pipeline.controller().submit({ chain: text, source: 'grid.json' });
 * await pipeline.worker().run();
 * ```
 * @module
 */
export {
  EasError,
  InvalidInputError,
  isEasError,
  exitCodeFor,
  EXIT_CODES,
  createLogger,
  silentLogger,
  loadConfig,
  parseDuration,
  float,
  toTypedMetadata,
  toPlainMetadata,
  type EasErrorCode,
  type Problem,
  type Logger,
  type ResolvedConfig,
  type ConfigOverrides,
  type EasConfigFile,
  type KubernetesConfigFile,
  type Duration,
  type TypedValue,
  inheritedEnvironment,
  type TypedMetadata,
  type MetadataType,
  type Migration,
} from './core/index.js';
export {
  TaskDatabase,
  createTaskDatabase,
  type TaskDatabaseOptions,
  type TaskState,
  type StatusView,
} from './taskdb/index.js';
export {
  JobQueue,
  createJobQueue,
  type QueueBackend,
  type QueueItem,
  type LeasedItem,
} from './queue/index.js';
export {
  FileRepository,
  createFileRepository,
  checkLogicalPath,
  type StorageDriver,
} from './filestore/index.js';
export {
  TaskTypeRegistry,
  loadRegistry,
  type ResolvedTaskType,
  type ResolvedContainer,
} from './registry/index.js';
export { parseChain, expandChain, type ChainDocument, type TaskDescriptor } from './chain/index.js';
export {
  Controller,
  type ControllerOptions,
  type ControllerEvents,
  type SubmitInput,
  type SubmitSummary,
} from './control/index.js';
export {
  WorkerHarness,
  runCommand,
  type WorkerHarnessOptions,
  type WorkerHarnessEvents,
  type TaskHandler,
  type TaskContext,
  type TaskFile,
  type HandlerDefinition,
  type HandlerResult,
} from './sdk/index.js';
export { BUILTIN_HANDLERS, BUILTIN_TASK_TYPES } from './tasks/index.js';
export { createPipeline, type Pipeline, type PipelineOptions } from './pipeline.js';
