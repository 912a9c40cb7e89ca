/**
 * The task database: the canonical record of jobs, tasks, attempts, products, versions,
 * metadata, log lines and dependencies, on SQLite or PostgreSQL.
 *
 * @example
 * ```ts
 * import { createTaskDatabase } from 'plato-eas/taskdb';
 * await using db = await createTaskDatabase({ url: 'sqlite:.eas/eas.db' });
 * console.log((await db.status()).totals);
 * ```
 * @module
 */
export {
  TaskDatabase,
  createTaskDatabase,
  type TaskDatabaseOptions,
  type WorkerHostRecord,
} from './task-database.js';
export { MAX_STALLS } from './queries/lifecycle.js';
export {
  copyDatabase,
  tableChecksums,
  differingTables,
  openCopySource,
  openCopyTarget,
  DUMP_TABLES,
  type CopyDatabaseOptions,
  type CopyResult,
  type OpenCopyOptions,
  type TableChecksum,
} from './dump.js';
export { emptyCounts, progressOf } from './queries/views.js';
export type {
  StatusView,
  JobSummary,
  TaskSummary,
  TaskDetail,
  AttemptDetail,
  VersionDetail,
  StoredLogLine,
  LogFilter,
  ErrorEntry,
  ProductView,
} from './queries/views.js';
export {
  dashboardProgress,
  progressFingerprint,
  treeChildren,
  taskPage,
  logPage,
  versionById,
  productDirectories,
  productPage,
  summarizeTimings,
  summarizeOutcomes,
  plotRows,
  workTypes,
  recentActivity,
  DASHBOARD_MAX_PAGE,
  type DashboardPage,
  type DashboardProgress,
  type TaskListItem,
  type DashboardLogLine,
  type DownloadableVersion,
  type ProductDirectory,
  type DashboardProduct,
  type TimingSummary,
  type PlotRow,
  type ActivityItem,
} from './queries/dashboard.js';
export {
  progressCounts,
  timingTotals,
  outcomeCounts,
  type ProgressCount,
  type TimingTotals,
  type OutcomeSummary,
  type JobOutcomeCount,
  type StoredJobTotals,
} from './queries/totals.js';
export type { ReconcileResult } from './queries/reconcile.js';
export type { TaskTypeDemand, RunningOnWorker } from './queries/scaling.js';
export type { DeferredExpansion } from './queries/deferred.js';
export type { ImportedFile } from './queries/import.js';
export type { TimingRow, OutcomeRow } from './queries/reports.js';
export {
  CANCEL_REASON,
  type CancelResult,
  type RerunResult,
  type DeleteResult,
} from './queries/jobs.js';
export {
  TASK_STATES,
  LOG_LEVELS,
  levelsFrom,
  type LogLevel,
  TERMINAL_TASK_STATES,
  type TaskState,
  type AttemptState,
  type AttemptKind,
  type JobStatus,
  type PlannedInput,
  type PlannedOutput,
  type PlannedTask,
  type PlannedJob,
  type ReadyAttempt,
  type SubmitResult,
  type WorkerInfo,
  type StagedInput,
  type ExpectedOutput,
  type AttemptPayload,
  type OutputVersion,
  type LogLine,
  type AttemptLogLine,
  type RetryPolicy,
  type AttemptOutcome,
  type FinishResult,
  type TakeRequest,
  type StateCounts,
} from './types.js';
/** The id spaces the task database allocates from (its counters). */
export type { IdSpace } from './queries/ids.js';
