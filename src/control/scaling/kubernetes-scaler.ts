import { EasError, silentLogger, type Logger } from '../../core/index.js';
import {
  connectKubernetes,
  type KubeClient,
  type KubernetesConnectionOptions,
} from '../kubernetes/kube-client.js';
import { POD_DELETION_COST_ANNOTATION, workerDeploymentName } from '../kubernetes/names.js';
import type { ScaleRequest, ScaleResult, Scaler } from './scaler.js';

/**
 * `controller.kubernetes.io/pod-deletion-cost` of a pod whose worker runs attempts: far above
 * the idle cost, so the ReplicaSet controller removes every idle pod before a busy one. The
 * annotation is an int32; a large round value leaves room for operators' own costs between.
 */
export const BUSY_POD_DELETION_COST = 1_000_000;
/** `controller.kubernetes.io/pod-deletion-cost` of an idle worker pod: the first to go. */
export const IDLE_POD_DELETION_COST = -1_000_000;

/** Options of {@link createKubernetesScaler}. */
export interface KubernetesScalerOptions {
  /** How to reach the API server. @defaultValue kubeconfig or in-cluster, as `kubectl` would */
  connection?: KubernetesConnectionOptions;
  /** Namespace of the worker Deployments. @defaultValue the connection context's namespace */
  namespace?: string;
  /**
   * Name of the Deployment of a registry container.
   * @defaultValue `eas-worker-<container in DNS form>`, as `eas k8s render` names them
   */
  deploymentName?: (container: string) => string;
  /** Logger. @defaultValue silent */
  logger?: Logger;
}

/**
 * A {@link Scaler} for Kubernetes: one Deployment per registry container (as `eas k8s render`
 * writes them), scaled through its `scale` subresource.
 *
 * Scale-in never stops a running attempt: before lowering the replica count it sets
 * `controller.kubernetes.io/pod-deletion-cost` on every pod of the Deployment — high on busy
 * pods (those named by the `host` of a busy {@link WorkerRef}), low on idle ones — so the
 * ReplicaSet controller deletes idle pods first, and it never asks for fewer replicas than
 * there are busy pods. A pod that turns busy between the annotation and the deletion still
 * finishes its work: the worker drains on SIGTERM within the pod's
 * `terminationGracePeriodSeconds`. Scale-out patches the count alone.
 *
 * {@link KubernetesScaler.replicas} reports the desired count (`spec.replicas`), the one the
 * scaler sets, rather than the pods existing now, so that decisions do not oscillate while
 * pods start or terminate.
 *
 * Needs, in the Deployments' namespace: `get` and `patch` on `deployments/scale`, `list` and
 * `patch` on `pods` (the Role `eas k8s render` writes for the controller).
 */
export class KubernetesScaler implements Scaler {
  readonly name = 'kubernetes';
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #deploymentName: (container: string) => string;
  readonly #log: Logger;

  /** Use {@link createKubernetesScaler}, which connects first. */
  constructor(client: KubeClient, options: Omit<KubernetesScalerOptions, 'connection'> = {}) {
    this.#client = client;
    this.#namespace = options.namespace ?? client.defaultNamespace;
    this.#deploymentName = options.deploymentName ?? workerDeploymentName;
    this.#log = (options.logger ?? silentLogger()).child({
      component: 'scaler',
      scaler: 'kubernetes',
    });
  }

  /** Namespace of the Deployments it scales. */
  get namespace(): string {
    return this.#namespace;
  }

  /**
   * Desired replicas of the container's Deployment.
   *
   * @throws EasError `NOT_FOUND` when the Deployment does not exist (run `eas k8s apply`).
   */
  async replicas(container: string): Promise<number> {
    return (await this.#scale(container)).replicas;
  }

  /**
   * Brings the container's Deployment to `request.replicas`, but never below its busy pods:
   * annotates pods before a scale-in, patches `spec.replicas` through the scale subresource.
   */
  async scale(request: ScaleRequest): Promise<ScaleResult> {
    const { container } = request;
    if (!Number.isInteger(request.replicas) || request.replicas < 0) {
      throw new EasError(
        'USAGE',
        `Cannot scale "${container}" to ${request.replicas} replicas: give an integer ≥ 0.`,
      );
    }
    const deployment = this.#deploymentName(container);
    const scale = await this.#scale(container);
    const from = scale.replicas;
    const busyHosts = new Set(request.busy.map((w) => w.host));
    // One pod runs one worker process, so busy pods are the distinct hosts of busy workers.
    const to = Math.max(request.replicas, busyHosts.size);
    if (to < from) await this.#markDeletionCosts(deployment, scale.selector, busyHosts);
    if (to !== from) {
      await this.#client.patchScale(this.#namespace, deployment, to);
      this.#log.info(
        { container, deployment, from, to, requested: request.replicas, busy: busyHosts.size },
        'deployment scaled',
      );
    }
    return { container, from, to };
  }

  /** Nothing to release: the client keeps no connection open between calls. */
  async close(): Promise<void> {}

  async #scale(container: string) {
    const deployment = this.#deploymentName(container);
    try {
      return await this.#client.readScale(this.#namespace, deployment);
    } catch (e) {
      if (e instanceof EasError && e.code === 'NOT_FOUND') {
        throw new EasError(
          'NOT_FOUND',
          `No Deployment ${this.#namespace}/${deployment} for container "${container}": render and apply the manifests (eas k8s render | eas k8s apply).`,
          { where: `${this.#namespace}/${deployment}`, cause: e },
        );
      }
      throw e;
    }
  }

  /**
   * Sets the deletion cost of every live pod of the Deployment: busy ones high, idle ones low.
   * Pods that already carry the right value are left alone (one write per changed pod).
   */
  async #markDeletionCosts(
    deployment: string,
    selector: string,
    busyHosts: ReadonlySet<string>,
  ): Promise<void> {
    if (selector === '') {
      throw new EasError(
        'INTERNAL',
        `Deployment ${this.#namespace}/${deployment} reports no pod selector in its scale subresource.`,
      );
    }
    const pods = await this.#client.listPods(this.#namespace, selector);
    let busy = 0;
    for (const pod of pods) {
      if (pod.terminating) continue;
      const isBusy = busyHosts.has(pod.name);
      if (isBusy) busy++;
      const cost = String(isBusy ? BUSY_POD_DELETION_COST : IDLE_POD_DELETION_COST);
      if (pod.annotations[POD_DELETION_COST_ANNOTATION] === cost) continue;
      await this.#client.annotatePod(this.#namespace, pod.name, {
        [POD_DELETION_COST_ANNOTATION]: cost,
      });
    }
    this.#log.debug({ deployment, pods: pods.length, busy }, 'pod deletion costs set');
  }
}

/**
 * Connects to the Kubernetes API and returns a {@link KubernetesScaler}.
 *
 * @example
 * ```ts
 * // In the controller's pod: in-cluster credentials, the pod's namespace.
 * const scaler = await createKubernetesScaler({ logger });
 * await scaler.scale({ container: 'tda-python', replicas: 3, busy: [] });
 * ```
 * @throws EasError `MISSING_PEER` without `@kubernetes/client-node` (`npm i @kubernetes/client-node`);
 *   `CONFIG_INVALID` when no cluster is configured.
 */
export async function createKubernetesScaler(
  options: KubernetesScalerOptions = {},
): Promise<KubernetesScaler> {
  const client = await connectKubernetes(options.connection);
  return new KubernetesScaler(client, options);
}
