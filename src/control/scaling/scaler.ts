/**
 * The contract between the controller's scaling decision and the platform that runs worker
 * containers (DESIGN §5, Controller). The decision itself is the pure `decideReplicas`; a
 * {@link Scaler} only observes and applies.
 *
 * Not part of the contract: how a platform names its workers beyond {@link WorkerRef.host},
 * how long a replica takes to start, or whether the platform keeps more replicas than asked
 * for a while (Kubernetes terminates pods gracefully; a scaler reports what it sees).
 */

/** A worker process that holds running attempts, as the task database records it. */
export interface WorkerRef {
  /** The worker id recorded on its attempts (`<host>:<pid>:<suffix>` by default). */
  readonly workerId: string;
  /** The host part of the id: the pod name on Kubernetes, the machine name locally. */
  readonly host: string;
}

/** What a scaler is asked to do for one container. */
export interface ScaleRequest {
  /** Container name from the registry (`containers:` key). */
  readonly container: string;
  /** Desired replica count, already clamped to the container's min/max by the decision. */
  readonly replicas: number;
  /**
   * Workers that still run attempts. On scale-in a scaler must not stop any of them: it
   * removes idle replicas first (draining them: stop claiming, finish) and never goes below
   * `busy.length` replicas of this container.
   */
  readonly busy: readonly WorkerRef[];
}

/** What a scaler did. */
export interface ScaleResult {
  readonly container: string;
  /** Replicas before the request, as the platform reported them. */
  readonly from: number;
  /** Replicas the platform was asked for (may be above the request to protect busy workers). */
  readonly to: number;
}

/**
 * Applies replica decisions to a platform: Kubernetes Deployments (`KubernetesScaler`) or
 * local worker processes (`LocalProcessScaler`).
 */
export interface Scaler {
  /** Short name for logs and metrics (`kubernetes`, `local`). */
  readonly name: string;
  /** Replicas of `container` as the platform sees them now. */
  replicas(container: string): Promise<number>;
  /** Brings a container towards the requested replica count, draining before removing. */
  scale(request: ScaleRequest): Promise<ScaleResult>;
  /** Releases connections and (for local processes) stops what the scaler started. */
  close(): Promise<void>;
}
