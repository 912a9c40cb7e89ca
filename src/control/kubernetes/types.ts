/** Metadata of a Kubernetes object, as far as plato-eas writes or reads it. */
export interface KubernetesObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * A Kubernetes object as plain JSON: what `eas k8s render` writes and `eas k8s apply` sends.
 * Fields beyond `apiVersion`, `kind` and `metadata` follow the Kubernetes API of the kind.
 */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: KubernetesObjectMeta;
  [field: string]: unknown;
}

/** One worker Deployment of a rendered pipeline: which registry container it runs, and how. */
export interface RenderedWorker {
  /** Registry container name. */
  readonly container: string;
  /** Name of its Deployment. */
  readonly deployment: string;
  /** Image it runs. */
  readonly image: string;
  /** Seconds a stopping worker lets running attempts finish (`eas worker --grace`). */
  readonly graceSeconds: number;
  /** The pod's `terminationGracePeriodSeconds`: the grace plus time to hand work back and exit. */
  readonly terminationGracePeriodSeconds: number;
}

/** What `renderManifests` returns. */
export interface RenderedManifests {
  /** Namespace of every namespaced object. */
  readonly namespace: string;
  /** Every object, in the order to create them (namespace first, workloads last). */
  readonly objects: readonly KubernetesObject[];
  /** The worker Deployments, one per registry container. */
  readonly workers: readonly RenderedWorker[];
  /** Names of the Secrets the objects read, which the operator creates (never rendered). */
  readonly secrets: readonly { name: string; key: string; purpose: string }[];
}
