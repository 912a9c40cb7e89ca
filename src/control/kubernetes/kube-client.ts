import { EasError } from '../../core/index.js';
import { FIELD_MANAGER } from './names.js';
import type { KubernetesObject } from './types.js';

/**
 * How to reach a Kubernetes API server. Without any field: what `kubectl` would use
 * (`KUBECONFIG`, else `~/.kube/config`, else the pod's own ServiceAccount when running in a
 * cluster). Tokens given here are used, never logged.
 */
export interface KubernetesConnectionOptions {
  /** Path of a kubeconfig file. @defaultValue `KUBECONFIG`, else `~/.kube/config`, else in-cluster */
  kubeconfig?: string;
  /** Context of the kubeconfig to use. @defaultValue its current context */
  context?: string;
  /**
   * A server given in code instead of a kubeconfig (`https://…`, or `http://127.0.0.1:…` for a
   * test server). With it, `token`, `skipTLSVerify` and `caData` apply.
   */
  server?: string;
  /** Bearer token for `server`. */
  token?: string;
  /** Do not verify the server's TLS certificate (test servers only). @defaultValue `false` */
  skipTLSVerify?: boolean;
  /** Base64 PEM of the CA that signed the server's certificate. */
  caData?: string;
  /** Namespace of `server`'s context. @defaultValue `'default'` */
  namespace?: string;
}

/** A pod as the scaler sees it. */
export interface PodSummary {
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** Being deleted already (`metadata.deletionTimestamp` set). */
  readonly terminating: boolean;
}

/** The scale subresource of a Deployment. */
export interface DeploymentScale {
  /** Desired replicas (`spec.replicas`). */
  readonly replicas: number;
  /** Replicas that exist (`status.replicas`). */
  readonly current: number;
  /** Label selector of its pods, as a string (`a=b,c=d`). */
  readonly selector: string;
}

/**
 * The few Kubernetes calls plato-eas makes, over `@kubernetes/client-node` (loaded when first
 * needed: it is an optional peer). Errors become {@link EasError}s: `NOT_FOUND` (404),
 * `CONFIG_INVALID` (401/403: credentials or RBAC), `CONFLICT` (409), `BACKEND_UNAVAILABLE`
 * (server unreachable or failing).
 */
export interface KubeClient {
  /** Namespace of the connection's context (`default` when none). */
  readonly defaultNamespace: string;
  /** The server's URL, for messages. */
  readonly server: string;
  readScale(namespace: string, deployment: string): Promise<DeploymentScale>;
  /** Sets `spec.replicas` through the scale subresource (a merge patch). */
  patchScale(namespace: string, deployment: string, replicas: number): Promise<DeploymentScale>;
  listPods(namespace: string, labelSelector: string): Promise<PodSummary[]>;
  /** Merges `annotations` into a pod's annotations. */
  annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<void>;
  /** Server-side apply of a whole object (field manager `plato-eas`, forcing conflicts). */
  apply(object: KubernetesObject, options?: { dryRun?: boolean }): Promise<KubernetesObject>;
  /** The object, or `undefined` when it does not exist. */
  read(
    header: Pick<KubernetesObject, 'apiVersion' | 'kind' | 'metadata'>,
  ): Promise<KubernetesObject | undefined>;
  /** Deletes an object; `false` when it did not exist. */
  delete(header: Pick<KubernetesObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<boolean>;
}

type ClientNode = typeof import('@kubernetes/client-node');

async function loadClientNode(): Promise<ClientNode> {
  try {
    return await import('@kubernetes/client-node');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new EasError(
        'MISSING_PEER',
        'Kubernetes support needs the "@kubernetes/client-node" package: run `npm i @kubernetes/client-node`.',
        { cause: e },
      );
    }
    // Seen with @kubernetes/client-node 2 on Node 20: its undici 8 needs Node 22.19 or later.
    throw new EasError(
      'MISSING_PEER',
      `"@kubernetes/client-node" is installed but cannot be loaded on Node ${process.versions.node} (${(e as Error).message}). ` +
        'Version 2 needs Node 22.19 or later; on Node 20 run `npm i @kubernetes/client-node@1`.',
      { cause: e },
    );
  }
}

/**
 * Connects to a Kubernetes API server (no request is made until the first call).
 *
 * @throws EasError `MISSING_PEER` without `@kubernetes/client-node`; `CONFIG_INVALID` when the
 *   kubeconfig cannot be read or names no such context.
 */
export async function connectKubernetes(
  options: KubernetesConnectionOptions = {},
): Promise<KubeClient> {
  const k8s = await loadClientNode();
  const kc = new k8s.KubeConfig();
  try {
    if (options.server !== undefined) {
      kc.loadFromOptions({
        clusters: [
          {
            name: 'eas',
            server: options.server,
            skipTLSVerify: options.skipTLSVerify ?? false,
            ...(options.caData ? { caData: options.caData } : {}),
          },
        ],
        users: [{ name: 'eas', ...(options.token ? { token: options.token } : {}) }],
        contexts: [
          { name: 'eas', cluster: 'eas', user: 'eas', namespace: options.namespace ?? 'default' },
        ],
        currentContext: 'eas',
      });
    } else if (options.kubeconfig !== undefined) {
      kc.loadFromFile(options.kubeconfig);
    } else {
      kc.loadFromDefault();
    }
    if (options.context !== undefined) {
      if (!kc.getContextObject(options.context)) {
        throw new EasError(
          'CONFIG_INVALID',
          `Kubernetes context "${options.context}" is not in the kubeconfig (contexts: ${kc.contexts.map((c) => c.name).join(', ') || 'none'}).`,
          { where: '--context' },
        );
      }
      kc.setCurrentContext(options.context);
    }
  } catch (e) {
    if (e instanceof EasError) throw e;
    throw new EasError(
      'CONFIG_INVALID',
      `Cannot read the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ''}: ${(e as Error).message}`,
      { where: options.kubeconfig ?? 'kubeconfig', cause: e },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new EasError(
      'CONFIG_INVALID',
      'No Kubernetes cluster configured: give --kubeconfig, set KUBECONFIG, or run inside a cluster.',
      { where: 'kubeconfig' },
    );
  }
  const server = cluster.server;
  const context = kc.getContextObject(kc.getCurrentContext());
  const defaultNamespace = context?.namespace ?? 'default';
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw translateError(e, what, server, k8s);
    }
  };
  const scaleOf = (s: {
    spec?: { replicas?: number };
    status?: { replicas?: number; selector?: string };
  }): DeploymentScale => ({
    replicas: s.spec?.replicas ?? 0,
    current: s.status?.replicas ?? 0,
    selector: s.status?.selector ?? '',
  });

  return {
    defaultNamespace,
    server,
    readScale: (namespace, name) =>
      call(`read the scale of Deployment ${namespace}/${name}`, async () =>
        scaleOf(await apps.readNamespacedDeploymentScale({ name, namespace })),
      ),
    patchScale: (namespace, name, replicas) =>
      call(`scale Deployment ${namespace}/${name}`, async () =>
        scaleOf(
          await apps.patchNamespacedDeploymentScale(
            { name, namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
            mergePatch,
          ),
        ),
      ),
    listPods: (namespace, labelSelector) =>
      call(`list the pods of ${labelSelector} in ${namespace}`, async () => {
        const list = await core.listNamespacedPod({ namespace, labelSelector });
        return list.items.map((p) => ({
          name: p.metadata?.name ?? '',
          annotations: { ...(p.metadata?.annotations ?? {}) },
          terminating: p.metadata?.deletionTimestamp != null,
        }));
      }),
    annotatePod: (namespace, name, annotations) =>
      call(`annotate pod ${namespace}/${name}`, async () => {
        await core.patchNamespacedPod(
          { name, namespace, body: { metadata: { annotations } }, fieldManager: FIELD_MANAGER },
          mergePatch,
        );
      }),
    apply: (object, options = {}) =>
      call(`apply ${object.kind} ${object.metadata.name}`, async () => {
        const applied = await objects.patch(
          structuredClone(object) as import('@kubernetes/client-node').KubernetesObject,
          undefined,
          options.dryRun ? 'All' : undefined,
          FIELD_MANAGER,
          true,
          k8s.PatchStrategy.ServerSideApply,
        );
        return applied as KubernetesObject;
      }),
    read: async (header) => {
      try {
        return await call(`read ${header.kind} ${header.metadata.name}`, async () => {
          const found = await objects.read({
            apiVersion: header.apiVersion,
            kind: header.kind,
            metadata: { name: header.metadata.name, namespace: header.metadata.namespace },
          });
          return found as KubernetesObject;
        });
      } catch (e) {
        if (e instanceof EasError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      }
    },
    delete: async (header) => {
      try {
        await call(`delete ${header.kind} ${header.metadata.name}`, () =>
          objects.delete({
            apiVersion: header.apiVersion,
            kind: header.kind,
            metadata: { name: header.metadata.name, namespace: header.metadata.namespace },
          }),
        );
        return true;
      } catch (e) {
        if (e instanceof EasError && e.code === 'NOT_FOUND') return false;
        throw e;
      }
    },
  };
}

/** The `message` of a Kubernetes `Status` body, when the error carries one. */
function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 200) || undefined;
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const m = (body as { message?: unknown }).message;
    return typeof m === 'string' ? m : undefined;
  }
  return undefined;
}

function translateError(e: unknown, what: string, server: string, k8s: ClientNode): EasError {
  if (e instanceof EasError) return e;
  if (e instanceof k8s.ApiException) {
    const status = e.code;
    const detail = statusMessage(e.body) ?? `HTTP ${status}`;
    if (status === 404) return new EasError('NOT_FOUND', `Cannot ${what}: ${detail}`, { cause: e });
    if (status === 401 || status === 403) {
      return new EasError(
        'CONFIG_INVALID',
        `The Kubernetes API at ${server} refused to ${what} (HTTP ${status}): ${detail}. Check the kubeconfig's credentials and the RBAC rules.`,
        { cause: e },
      );
    }
    if (status === 409) return new EasError('CONFLICT', `Cannot ${what}: ${detail}`, { cause: e });
    if (status === 422 || status === 400) {
      return new EasError(
        'CONFIG_INVALID',
        `The Kubernetes API rejected the request to ${what}: ${detail}`,
        {
          cause: e,
        },
      );
    }
    return new EasError(
      'BACKEND_UNAVAILABLE',
      `The Kubernetes API at ${server} failed to ${what} (HTTP ${status}): ${detail}`,
      { cause: e },
    );
  }
  const message = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return new EasError(
    'BACKEND_UNAVAILABLE',
    `Cannot reach the Kubernetes API at ${server} to ${what}: ${message}${cause}`,
    { cause: e },
  );
}
