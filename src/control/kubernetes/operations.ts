import { EasError } from '../../core/index.js';
import type { KubeClient } from './kube-client.js';
import { COMPONENT_LABEL, OBJECT_NAMES } from './names.js';
import type { KubernetesObject, RenderedManifests } from './types.js';

/** What {@link applyManifests} did to one object. */
export interface AppliedObject {
  readonly kind: string;
  readonly name: string;
  /** For a worker Deployment that existed: the live replica count it kept. */
  readonly keptReplicas?: number;
}

/** What {@link applyManifests} returns. */
export interface ApplyResult {
  readonly applied: readonly AppliedObject[];
  /** Secrets the pods read that do not exist in the namespace (pods will not start without them). */
  readonly missingSecrets: readonly { name: string; key: string; purpose: string }[];
}

const isWorkerDeployment = (o: KubernetesObject): boolean =>
  o.kind === 'Deployment' && o.metadata.labels?.[COMPONENT_LABEL] === 'worker';

/**
 * Applies rendered manifests to a cluster with server-side apply (field manager `plato-eas`,
 * taking over conflicting fields), in the order rendered: namespace first, workloads last.
 *
 * A worker Deployment that exists keeps its live replica count: the controller scales workers,
 * and an upgrade must not reset them to the rendered minimum. The referenced Secrets are checked
 * after the namespace exists, and reported when missing (the objects are applied anyway; pods
 * wait for their Secrets).
 *
 * @throws EasError from the API (`CONFIG_INVALID` when refused or rejected, `BACKEND_UNAVAILABLE`
 *   when unreachable); objects applied before the failure stay applied, and applying again is safe.
 */
export async function applyManifests(
  client: KubeClient,
  rendered: RenderedManifests,
  options: { dryRun?: boolean } = {},
): Promise<ApplyResult> {
  const applied: AppliedObject[] = [];
  for (const object of rendered.objects) {
    let body = object;
    let keptReplicas: number | undefined;
    if (isWorkerDeployment(object)) {
      const live = await client.read(object);
      const replicas = (live?.spec as { replicas?: number } | undefined)?.replicas;
      if (typeof replicas === 'number') {
        keptReplicas = replicas;
        body = { ...object, spec: { ...(object.spec as object), replicas } };
      }
    }
    await client.apply(body, { dryRun: options.dryRun });
    applied.push({
      kind: object.kind,
      name: object.metadata.name,
      ...(keptReplicas !== undefined ? { keptReplicas } : {}),
    });
  }
  const missingSecrets: ApplyResult['missingSecrets'][number][] = [];
  for (const secret of rendered.secrets) {
    try {
      const found = await client.read({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secret.name, namespace: rendered.namespace },
      });
      if (!found) missingSecrets.push(secret);
    } catch (e) {
      // Someone allowed to apply but not to read Secrets: nothing to report either way.
      if (!(e instanceof EasError && e.code === 'CONFIG_INVALID')) throw e;
    }
  }
  return { applied, missingSecrets };
}

/** What {@link scaleWorkers} returns. */
export interface ScaleWorkersResult {
  readonly deployment: string;
  readonly from: number;
  readonly to: number;
}

/**
 * Sets the replica count of one worker Deployment (the operator's manual override; with the
 * controller's autoscaling on, its next decision may change it again).
 *
 * @throws EasError `NOT_FOUND` when the Deployment does not exist (apply the manifests first).
 */
export async function scaleWorkers(
  client: KubeClient,
  namespace: string,
  deployment: string,
  replicas: number,
): Promise<ScaleWorkersResult> {
  const before = await client.readScale(namespace, deployment);
  if (before.replicas !== replicas) await client.patchScale(namespace, deployment, replicas);
  return { deployment, from: before.replicas, to: replicas };
}

/** Options of {@link stopPipeline}. */
export interface StopOptions {
  /**
   * After scaling to zero, delete the rendered objects — except the namespace and the file
   * repository's PersistentVolumeClaim, which hold data. @defaultValue `false`
   */
  delete?: boolean;
  /**
   * Wait until no worker pod is left (each drains within its grace period), at most this many
   * ms. @defaultValue no wait
   */
  waitMs?: number;
  /** Between two looks at the pods while waiting, ms. @defaultValue `1000` */
  pollMs?: number;
}

/** What {@link stopPipeline} did. */
export interface StopResult {
  /** Deployments scaled to zero, with their replicas before. */
  readonly scaled: readonly { deployment: string; from: number }[];
  /** Deployments that did not exist. */
  readonly missing: readonly string[];
  /** Objects deleted (with `delete`). */
  readonly deleted: readonly { kind: string; name: string }[];
  /** Worker pods still running when the wait ended (0 when not waiting or all gone). */
  readonly podsLeft: number;
}

/**
 * Stops a pipeline on a cluster without losing work. First the controller goes to zero
 * replicas, so that it cannot scale workers up again; then every worker Deployment goes to zero.
 * Kubernetes sends each worker pod SIGTERM: the worker stops claiming, lets running attempts
 * finish within its grace period and hands back any still running, so they are re-queued (the
 * task database keeps every queued task; `eas k8s apply` resumes). The dashboard keeps running.
 *
 * @throws EasError from the API; Deployments already scaled stay scaled, and stopping again is safe.
 */
export async function stopPipeline(
  client: KubeClient,
  rendered: RenderedManifests,
  options: StopOptions = {},
): Promise<StopResult> {
  const ns = rendered.namespace;
  const scaled: { deployment: string; from: number }[] = [];
  const missing: string[] = [];
  const deployments = [OBJECT_NAMES.controller, ...rendered.workers.map((w) => w.deployment)];
  const selectors: string[] = [];
  for (const deployment of deployments) {
    let scale;
    try {
      scale = await client.readScale(ns, deployment);
    } catch (e) {
      if (e instanceof EasError && e.code === 'NOT_FOUND') {
        missing.push(deployment);
        continue;
      }
      throw e;
    }
    if (deployment !== OBJECT_NAMES.controller && scale.selector) selectors.push(scale.selector);
    if (scale.replicas !== 0) await client.patchScale(ns, deployment, 0);
    scaled.push({ deployment, from: scale.replicas });
  }

  let podsLeft = 0;
  if (options.waitMs !== undefined) {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      podsLeft = 0;
      for (const selector of selectors) podsLeft += (await client.listPods(ns, selector)).length;
      if (podsLeft === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
  }

  const deleted: { kind: string; name: string }[] = [];
  if (options.delete) {
    for (const object of [...rendered.objects].reverse()) {
      if (object.kind === 'Namespace' || object.kind === 'PersistentVolumeClaim') continue;
      if (await client.delete(object))
        deleted.push({ kind: object.kind, name: object.metadata.name });
    }
  }
  return { scaled, missing, deleted, podsLeft };
}
