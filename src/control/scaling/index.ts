/**
 * Autoscaling of worker containers (DESIGN §5): the pure decision {@link decideReplicas}, the
 * {@link Scaler} contract that applies it to a platform, the {@link Autoscaler} loop the
 * controller runs while it leads, and the {@link LocalProcessScaler} of `eas run --workers auto`.
 *
 * @example
 * ```ts
 * const scaler = new LocalProcessScaler({ command: process.execPath, args: (c) => [easBin, 'worker', '--container', c] });
 * const controller = new Controller({ db, queue, registry, scaler, scaling: { interval: '1s' } });
 * controller.on('scale:applied', (a) => console.log(`${a.container}: ${a.from} → ${a.to} (${a.reason})`));
 * ```
 * @module
 */
export type { Scaler, ScaleRequest, ScaleResult, WorkerRef } from './scaler.js';
export type {
  ContainerScalingPolicy,
  ContainerSnapshot,
  ContainerDemand,
  ReplicaSample,
  ScalingHistory,
  ScalingSnapshot,
  ScaleChange,
  ScaleDecision,
} from './types.js';
export {
  decideReplicas,
  decideContainer,
  scalingPolicyOf,
  scalingPolicies,
  type ScalingPolicies,
} from './decide.js';
export { Autoscaler, type AutoscalerEvents, type ScaleApplied } from './autoscaler.js';
export { LocalProcessScaler, type LocalProcessScalerEvents } from './local-scaler.js';
export {
  autoscalerSettingsSchema,
  localProcessScalerSettingsSchema,
  DEFAULT_SCALING_INTERVAL_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  DEFAULT_MAX_START_FAILURES,
  START_WINDOW_MS,
  type AutoscalerSettings,
  type AutoscalerOptions,
  type ResolvedAutoscalerSettings,
  type LocalProcessScalerSettings,
  type LocalProcessScalerOptions,
  type ResolvedLocalProcessScalerSettings,
  type LocalWorkerProcess,
  type WorkerStream,
} from './options.js';
