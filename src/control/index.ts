/**
 * The controller: submission and expansion of chains, lease reaping, recovery of dead
 * workers and the reconcile that keeps the queue consistent with the task database.
 *
 * @example
 * ```ts
 * import { Controller } from 'plato-eas/control';
 * const controller = new Controller({ db, queue, registry });
 * await controller.submit({ chain: text, source: 'chain.json' });
 * ```
 * @module
 */
export {
  Controller,
  type ControllerOptions,
  type ControllerEvents,
  type SubmitInput,
  type SubmitSummary,
} from './controller.js';
export {
  cancelJob,
  rerunJob,
  deleteJob,
  type JobOperationDeps,
  type DeleteJobResult,
} from './jobs.js';
export {
  LeaderElection,
  type LeaderElectionOptions,
  type LeaderElectionEvents,
  type LeaderRole,
} from './leader.js';
export { registerControllerMetrics, type ControllerMetricsSources } from './metrics.js';
/** The lock a {@link LeaderElection} competes for (`db.sql.sessionLock(name)`). */
export type { SessionLock } from '../core/index.js';
