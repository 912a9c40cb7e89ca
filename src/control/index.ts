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
  DELETE_SETTLE_MS,
  type JobOperationDeps,
  type DeleteJobResult,
} from './jobs.js';
export {
  collectGarbage,
  DEFAULT_GARBAGE_AGE_MS,
  type GarbageOptions,
  type GarbageResult,
} from './garbage.js';
export {
  LeaderElection,
  type LeaderElectionOptions,
  type LeaderElectionEvents,
  type LeaderRole,
} from './leader.js';
export { Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { registerControllerMetrics, type ControllerMetricsSources } from './metrics.js';
export {
  KubernetesScaler,
  createKubernetesScaler,
  BUSY_POD_DELETION_COST,
  IDLE_POD_DELETION_COST,
  type KubernetesScalerOptions,
} from './scaling/kubernetes-scaler.js';
export {
  renderManifests,
  manifestsToYaml,
  objectToYaml,
  manifestFileName,
  kustomizationYaml,
  connectKubernetes,
  applyManifests,
  scaleWorkers,
  stopPipeline,
  workerDeploymentName,
  dnsName,
  cpuQuantity,
  memoryQuantity,
  parseQuantity,
  POD_DELETION_COST_ANNOTATION,
  CONTAINER_LABEL,
  CONTAINER_ANNOTATION,
  COMPONENT_LABEL,
  CONFIG_DIGEST_ANNOTATION,
  FIELD_MANAGER,
  OBJECT_NAMES,
  DEFAULT_NAMESPACE,
  PART_OF,
  type RenderInput,
  type KubeClient,
  type KubernetesConnectionOptions,
  type DeploymentScale,
  type PodSummary,
  type ApplyResult,
  type AppliedObject,
  type ScaleWorkersResult,
  type StopOptions,
  type StopResult,
  type KubernetesObject,
  type KubernetesObjectMeta,
  type RenderedManifests,
  type RenderedWorker,
} from './kubernetes/index.js';
/** The lock a {@link LeaderElection} competes for (`db.sql.sessionLock(name)`). */
export type { SessionLock } from '../core/index.js';
export {
  Autoscaler,
  LocalProcessScaler,
  decideReplicas,
  decideContainer,
  scalingPolicyOf,
  scalingPolicies,
  autoscalerSettingsSchema,
  localProcessScalerSettingsSchema,
  DEFAULT_SCALING_INTERVAL_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  DEFAULT_MAX_START_FAILURES,
  START_WINDOW_MS,
  type Scaler,
  type ScaleRequest,
  type ScaleResult,
  type WorkerRef,
  type ContainerScalingPolicy,
  type ContainerSnapshot,
  type ContainerDemand,
  type ReplicaSample,
  type ScalingHistory,
  type ScalingSnapshot,
  type ScaleChange,
  type ScaleDecision,
  type ScalingPolicies,
  type AutoscalerEvents,
  type ScaleApplied,
  type LocalProcessScalerEvents,
  type AutoscalerSettings,
  type AutoscalerOptions,
  type ResolvedAutoscalerSettings,
  type LocalProcessScalerSettings,
  type LocalProcessScalerOptions,
  type ResolvedLocalProcessScalerSettings,
  type LocalWorkerProcess,
  type WorkerStream,
} from './scaling/index.js';
