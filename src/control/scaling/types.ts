import type { WorkerRef } from './scaler.js';

/**
 * The autoscaling policy of one container, as {@link decideReplicas} reads it: the
 * registry's `concurrency` and `scaling: { min, max, cooldown }` with defaults applied.
 */
export interface ContainerScalingPolicy {
  /** Attempts one replica (worker process or pod) runs at once; at least 1. */
  readonly concurrency: number;
  /** Fewest replicas, even when idle. */
  readonly min: number;
  /** Most replicas started for demand (busy workers may keep more alive; see {@link decideReplicas}). */
  readonly max: number;
  /** How long a lower replica count must hold before scaling down to it, ms. */
  readonly cooldownMs: number;
}

/**
 * One step of a container's recent replica targets: the target was `replicas` until `until`
 * (ms since the epoch). The last step of a history is the target of the latest decision.
 */
export interface ReplicaSample {
  /** The target (demand clamped to min/max and raised to the busy workers). */
  readonly replicas: number;
  /** Until when that target held, ms since the epoch (for the last step: the latest decision). */
  readonly until: number;
}

/**
 * What {@link decideReplicas} remembers between calls for one container, to hold a scale-down
 * for the cool-down: the targets of the last cool-down window, reduced to those that can still
 * be the window's highest (times rising, replicas falling). It holds at most one step per replica
 * count whatever the tick rate. Treat it as opaque: pass back the `history` of the previous decision.
 */
export type ScalingHistory = readonly ReplicaSample[];

/** The demand on one container and its replicas, at one moment. */
export interface ContainerSnapshot {
  /** Container name from the registry. */
  readonly container: string;
  /**
   * Attempts of the container's task types waiting for a worker: ready in the queue, or claimed
   * and not yet started. Attempts waiting out a retry backoff are not counted.
   */
  readonly queued: number;
  /** Attempts of the container's task types running now. */
  readonly running: number;
  /** Worker processes that run at least one of those attempts. */
  readonly busy: number;
  /** Replicas the platform runs now (the scaler's `replicas(container)`). */
  readonly replicas: number;
  /** The `history` of the previous decision for this container; absent on the first call. */
  readonly history?: ScalingHistory;
}

/** What the controller sees of every container at one moment: the input of {@link decideReplicas}. */
export interface ScalingSnapshot {
  /** One entry per container to decide for. */
  readonly containers: readonly ContainerSnapshot[];
}

/** Which way a decision moves a container. */
export type ScaleChange = 'up' | 'down' | 'hold';

/** The decision for one container. */
export interface ScaleDecision {
  /** Container name. */
  readonly container: string;
  /** Replicas now (the snapshot's `replicas`). */
  readonly from: number;
  /** Replicas wanted now. */
  readonly to: number;
  /** `up` when `to > from`, `down` when `to < from`, else `hold`. */
  readonly change: ScaleChange;
  /**
   * The target of this moment alone: `ceil((queued + running) / concurrency)` clamped to
   * min/max and raised to the busy workers. A scale-down goes to the highest target of the
   * cool-down window, so `to` can exceed it.
   */
  readonly target: number;
  /** One line for logs: why `to` is what it is. */
  readonly reason: string;
  /** Pass back in the next snapshot of this container. */
  readonly history: ScalingHistory;
}

/** A container's demand as the task database records it (no replica count yet). */
export interface ContainerDemand {
  /** Container name. */
  readonly container: string;
  /** Attempts waiting for a worker (ready, or claimed and not yet started). */
  readonly queued: number;
  /** Attempts waiting out a retry backoff: not demand yet. */
  readonly delayed: number;
  /** Attempts running now. */
  readonly running: number;
  /** Workers running at least one of those attempts; each must survive a scale-in. */
  readonly busy: readonly WorkerRef[];
}
