import { EasError } from '../../core/index.js';

/**
 * Names, labels and annotations shared by the rendered manifests (`eas k8s render`), the
 * operations on a cluster (`eas k8s apply|scale|stop`) and the `KubernetesScaler`: one place, so
 * that what the renderer writes is what the scaler looks for.
 */

/** Label every object of plato-eas carries (`app.kubernetes.io/part-of`). */
export const PART_OF = 'plato-eas';
/** Label key of the role of a pod: `controller`, `web` or `worker`. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** Label key naming the registry container of a worker Deployment (its DNS form). */
export const CONTAINER_LABEL = 'plato-eas/container';
/** Annotation holding the registry container's exact name (labels cannot hold every name). */
export const CONTAINER_ANNOTATION = 'plato-eas/container-name';
/**
 * Annotation on pod templates: a digest of the configuration the pods read, so that a changed
 * registry or `eas.yaml` rolls the pods on the next apply.
 */
export const CONFIG_DIGEST_ANNOTATION = 'plato-eas/config-sha256';
/**
 * The annotation the ReplicaSet controller reads when it picks pods to delete on scale-in
 * (beta since Kubernetes 1.22, on by default): pods with a lower cost go first.
 */
export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';
/** Field manager of server-side apply and of the scaler's patches. */
export const FIELD_MANAGER = 'plato-eas';

/** Fixed object names. */
export const OBJECT_NAMES = {
  controller: 'eas-controller',
  web: 'eas-web',
  worker: 'eas-worker',
  config: 'eas-config',
  files: 'eas-files',
} as const;

/** Default namespace of a rendered pipeline. */
export const DEFAULT_NAMESPACE = 'plato-eas';

/** Longest object name the renderer makes: Deployment names become pod-name prefixes. */
const MAX_NAME = 63;

/**
 * The DNS-1123 form of a registry container name: lower case, `_` and `.` turned into `-`.
 * Registry names allow capitals, `_` and `.`, which Kubernetes object names do not.
 *
 * @throws EasError `USAGE` when nothing usable is left or the result is too long.
 */
export function dnsName(container: string): string {
  const name = container
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (name === '' || name.length > MAX_NAME - OBJECT_NAMES.worker.length - 1) {
    throw new EasError(
      'USAGE',
      `Container "${container}" has no usable Kubernetes name (letters and digits, at most ${MAX_NAME - OBJECT_NAMES.worker.length - 1} characters); rename it in the registry.`,
      { where: `containers.${container}` },
    );
  }
  return name;
}

/**
 * Name of the worker Deployment of a registry container: `eas-worker-<dns name>`
 * (`tda_python` → `eas-worker-tda-python`).
 */
export function workerDeploymentName(container: string): string {
  return `${OBJECT_NAMES.worker}-${dnsName(container)}`;
}
