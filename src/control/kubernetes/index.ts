/**
 * Cluster mode on Kubernetes: manifests rendered from `eas.yaml` and the task-type registry
 * (`eas k8s render`), and the operations of `eas k8s apply|scale|stop` over
 * `@kubernetes/client-node` (an optional peer, loaded when first needed).
 *
 * @module
 */
export {
  renderManifests,
  manifestsToYaml,
  objectToYaml,
  manifestFileName,
  kustomizationYaml,
  type RenderInput,
} from './render.js';
export {
  connectKubernetes,
  type KubeClient,
  type KubernetesConnectionOptions,
  type DeploymentScale,
  type PodSummary,
} from './kube-client.js';
export {
  applyManifests,
  scaleWorkers,
  stopPipeline,
  type ApplyResult,
  type AppliedObject,
  type ScaleWorkersResult,
  type StopOptions,
  type StopResult,
} from './operations.js';
export {
  workerDeploymentName,
  dnsName,
  POD_DELETION_COST_ANNOTATION,
  CONTAINER_LABEL,
  CONTAINER_ANNOTATION,
  COMPONENT_LABEL,
  CONFIG_DIGEST_ANNOTATION,
  FIELD_MANAGER,
  OBJECT_NAMES,
  DEFAULT_NAMESPACE,
  PART_OF,
} from './names.js';
export { cpuQuantity, memoryQuantity, parseQuantity } from './quantities.js';
export type {
  KubernetesObject,
  KubernetesObjectMeta,
  RenderedManifests,
  RenderedWorker,
} from './types.js';
