import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { stringify } from 'yaml';
import {
  InvalidInputError,
  parseDuration,
  type KubernetesConfigFile,
  type Problem,
  type ResolvedConfig,
} from '../../core/index.js';
import {
  DEFAULT_CONTAINER_NAME,
  type ResolvedContainer,
  type TaskTypeRegistry,
} from '../../registry/index.js';
import {
  COMPONENT_LABEL,
  CONFIG_DIGEST_ANNOTATION,
  CONTAINER_ANNOTATION,
  CONTAINER_LABEL,
  DEFAULT_NAMESPACE,
  OBJECT_NAMES,
  PART_OF,
  dnsName,
  workerDeploymentName,
} from './names.js';
import { cpuQuantity, memoryQuantity, parseQuantity } from './quantities.js';
import type { KubernetesObject, RenderedManifests, RenderedWorker } from './types.js';

/**
 * What {@link renderManifests} turns into manifests.
 *
 * @inline
 */
export interface RenderInput {
  /** The configuration (`eas.yaml` < `EAS_*` < flags); its `kubernetes` key shapes the output. */
  readonly config: ResolvedConfig;
  /** The task-type registry: one worker Deployment per container. */
  readonly registry: TaskTypeRegistry;
  /**
   * The registry as the operator wrote it (the file's text, or the inline object as YAML). It
   * goes into the ConfigMap that the controller and the dashboard read.
   */
  readonly registryText: string;
}

/** Where pods find what they read. */
const PATHS = {
  config: '/etc/eas/config',
  files: '/var/lib/eas/files',
  database: '/etc/eas/secrets/database',
  redis: '/etc/eas/secrets/redis',
  web: '/etc/eas/secrets/web',
} as const;

/** Ports of the daemons' `/healthz`, `/readyz` and `/metrics` (`--listen`), and of the dashboard. */
const PORTS = { controller: 9464, worker: 9465, web: 8080 } as const;

/**
 * The user the `eas-base` image declares (docker/eas-base/Dockerfile). Named by number so that
 * the kubelet can check `runAsNonRoot` without reading the image's /etc/passwd.
 */
const EAS_UID = 10001;

/**
 * What a worker's grace period is when neither `kubernetes.workers.grace` nor a task-type
 * timeout says otherwise: the default of `eas worker --grace`.
 */
const DEFAULT_GRACE_MS = 30_000;
/** Longest grace derived from task-type timeouts unless `kubernetes.workers.maxGrace` says otherwise. */
const DEFAULT_MAX_GRACE_MS = 60 * 60_000;
/**
 * Seconds a pod gets beyond the worker's grace before Kubernetes kills it: time to hand back the
 * attempts still running when the grace ends (so they are re-queued without counting as a
 * failure), to flush log lines and close connections.
 */
const HANDBACK_SECONDS = 15;

/**
 * Names of command environment variables that look like credentials. The registry goes into a
 * ConfigMap, readable by anyone who may read the namespace's configuration; a secret there
 * would be a secret in a manifest (DESIGN §8).
 */
const CREDENTIAL_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY)/i;

/** The `kubernetes:` settings with every default applied. */
interface Settings {
  namespace: string;
  image: string;
  imagePullPolicy: string | undefined;
  imagePullSecrets: string[];
  queue: 'redis' | 'sql';
  secrets: { database: string; redis: string; webToken: string };
  storage: { size: string; storageClass: string | undefined; accessMode: string };
  controller: { replicas: number; cpu: number; memory: string };
  web: { enabled: boolean; cpu: number; memory: string };
  graceMs: number | undefined;
  maxGraceMs: number;
}

function cpuOf(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return parseQuantity(value);
}

function settingsOf(k: KubernetesConfigFile, registry: TaskTypeRegistry): Settings {
  const base = registry.container(DEFAULT_CONTAINER_NAME);
  return {
    namespace: k.namespace ?? DEFAULT_NAMESPACE,
    image: k.image ?? k.images?.[DEFAULT_CONTAINER_NAME] ?? base.image ?? 'plato/eas-base:latest',
    imagePullPolicy: k.imagePullPolicy,
    imagePullSecrets: k.imagePullSecrets ?? [],
    queue: k.queue ?? 'redis',
    secrets: {
      database: k.secrets?.database ?? 'eas-database',
      redis: k.secrets?.redis ?? 'eas-redis',
      webToken: k.secrets?.webToken ?? 'eas-web-token',
    },
    storage: {
      size: k.storage?.size ?? '10Gi',
      storageClass: k.storage?.storageClass,
      accessMode: k.storage?.accessMode ?? 'ReadWriteMany',
    },
    controller: {
      replicas: k.controller?.replicas ?? 1,
      cpu: cpuOf(k.controller?.cpu, 0.5),
      memory: k.controller?.memory ?? '1Gi',
    },
    web: {
      enabled: k.web?.enabled ?? true,
      cpu: cpuOf(k.web?.cpu, 0.25),
      memory: k.web?.memory ?? '512Mi',
    },
    graceMs: k.workers?.grace === undefined ? undefined : parseDuration(k.workers.grace),
    maxGraceMs:
      k.workers?.maxGrace === undefined ? DEFAULT_MAX_GRACE_MS : parseDuration(k.workers.maxGrace),
  };
}

/**
 * The settings file every pod reads (`EAS_CONFIG`): what the operator's `eas.yaml` says about
 * the queue, workers and logging, with the cluster's paths. Never the database or Redis URL:
 * those arrive as files of mounted Secrets (`EAS_DATABASE_URL_FILE`, `EAS_REDIS_URL_FILE`).
 */
function clusterConfigYaml(config: ResolvedConfig, source: string): string {
  const body = {
    registry: 'registry.yaml',
    filestore: { root: PATHS.files },
    logLevel: config.logLevel,
    queue: { leaseMs: config.leaseMs },
    worker: { concurrency: config.workerConcurrency, heartbeatMs: config.heartbeatMs },
  };
  return (
    `# Rendered by \`eas k8s render\` from ${source}: the settings every pod reads (EAS_CONFIG).\n` +
    '# No credentials here: the database and Redis URLs are files of mounted Secrets.\n' +
    stringify(body)
  );
}

/** The grace of a container's workers: configured, else its longest task-type timeout (bounded). */
function graceMsOf(container: string, registry: TaskTypeRegistry, s: Settings): number {
  if (s.graceMs !== undefined) return s.graceMs;
  const timeouts = registry
    .typesOfContainer(container)
    .map((t) => t.timeoutMs)
    .filter((ms): ms is number => ms !== undefined);
  if (timeouts.length === 0) return DEFAULT_GRACE_MS;
  return Math.min(Math.max(...timeouts), s.maxGraceMs);
}

/**
 * Renders the Kubernetes objects of a cluster-mode pipeline (DESIGN §1, cluster): a namespace; a
 * ConfigMap with the settings and the registry; a ReadWriteMany PersistentVolumeClaim for the
 * file repository; the controller's Deployment, ServiceAccount, Role (get/patch
 * `deployments/scale` of the worker Deployments, list/patch pods for
 * `controller.kubernetes.io/pod-deletion-cost`) and RoleBinding, and a Service for its metrics;
 * one worker Deployment per registry container, with the registry's CPU, memory and GPU requests;
 * the dashboard's Deployment and ClusterIP Service. Credentials are never rendered: pods read
 * them from the Secrets listed in `secrets`, which the operator creates.
 *
 * Pure: reads no file and no environment.
 *
 * @throws InvalidInputError `CONFIG_INVALID` listing every problem at once: a container without
 *   an image, `kubernetes.images` naming an unknown container, two containers with one
 *   Kubernetes name, a registry `env` variable that looks like a credential.
 */
export function renderManifests(input: RenderInput): RenderedManifests {
  const { config, registry } = input;
  const k = config.kubernetes ?? {};
  const problems: Problem[] = [];
  const where = (key: string): string => (config.configPath ? `${config.configPath}: ${key}` : key);

  const containers = registry.containers();
  const names = new Set(containers.map((c) => c.name));
  for (const name of Object.keys(k.images ?? {})) {
    if (!names.has(name)) {
      problems.push({
        path: where(`kubernetes.images.${name}`),
        message: `no container "${name}" in the registry (containers: ${[...names].join(', ')})`,
      });
    }
  }
  const byDns = new Map<string, string>();
  for (const c of containers) {
    let dns: string;
    try {
      dns = dnsName(c.name);
    } catch (e) {
      problems.push({ path: `registry: containers.${c.name}`, message: (e as Error).message });
      continue;
    }
    const other = byDns.get(dns);
    if (other !== undefined) {
      problems.push({
        path: `registry: containers.${c.name}`,
        message: `its Kubernetes name "${dns}" is that of container "${other}" too; rename one of them`,
      });
    }
    byDns.set(dns, c.name);
    if (c.name !== DEFAULT_CONTAINER_NAME && !k.images?.[c.name] && !c.image) {
      problems.push({
        path: `registry: containers.${c.name}.image`,
        message: `no image to run: give "image" in the registry or kubernetes.images.${c.name} in eas.yaml`,
      });
    }
  }
  for (const t of registry.types()) {
    if (t.runner.kind !== 'command') continue;
    for (const variable of Object.keys(t.runner.env)) {
      if (CREDENTIAL_NAME.test(variable)) {
        problems.push({
          path: `registry: taskTypes.${t.name}.env.${variable}`,
          message:
            'looks like a credential, and the registry is rendered into a ConfigMap; ' +
            'give it to the science code another way (a Secret mounted by an overlay), then remove it here',
        });
      }
    }
  }
  if (problems.length > 0) {
    throw new InvalidInputError('CONFIG_INVALID', 'Cannot render Kubernetes manifests', problems);
  }

  const s = settingsOf(k, registry);
  const ns = s.namespace;
  const configYaml = clusterConfigYaml(
    config,
    config.configPath ? basename(config.configPath) : 'the defaults',
  );
  const digest = createHash('sha256')
    .update(configYaml)
    .update('\0')
    .update(input.registryText)
    .digest('hex');

  const labels = (component: string, extra: Record<string, string> = {}) => ({
    'app.kubernetes.io/name': `eas-${component}`,
    'app.kubernetes.io/part-of': PART_OF,
    [COMPONENT_LABEL]: component,
    ...extra,
  });
  const meta = (name: string, component: string, extra: Record<string, string> = {}) => ({
    name,
    namespace: ns,
    labels: labels(component, extra),
  });

  const secrets: RenderedManifests['secrets'] = [
    { name: s.secrets.database, key: 'url', purpose: 'task database URL (postgres://…)' },
    ...(s.queue === 'redis'
      ? [{ name: s.secrets.redis, key: 'url', purpose: 'job queue URL (redis://…)' }]
      : []),
    ...(s.web.enabled
      ? [{ name: s.secrets.webToken, key: 'token', purpose: 'dashboard bearer token' }]
      : []),
  ];

  // ── What every pod of the pipeline shares ───────────────────────────────────────────────
  const env = [
    { name: 'EAS_CONFIG', value: `${PATHS.config}/eas.yaml` },
    { name: 'EAS_DATABASE_URL_FILE', value: `${PATHS.database}/url` },
    ...(s.queue === 'redis' ? [{ name: 'EAS_REDIS_URL_FILE', value: `${PATHS.redis}/url` }] : []),
  ];
  const mounts = [
    { name: 'config', mountPath: PATHS.config, readOnly: true },
    { name: 'files', mountPath: PATHS.files },
    { name: 'database', mountPath: PATHS.database, readOnly: true },
    ...(s.queue === 'redis' ? [{ name: 'redis', mountPath: PATHS.redis, readOnly: true }] : []),
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const secretVolume = (name: string, secretName: string, key: string) => ({
    name,
    secret: { secretName, items: [{ key, path: key }], defaultMode: 0o440 },
  });
  const volumes = [
    { name: 'config', configMap: { name: OBJECT_NAMES.config } },
    { name: 'files', persistentVolumeClaim: { claimName: OBJECT_NAMES.files } },
    secretVolume('database', s.secrets.database, 'url'),
    ...(s.queue === 'redis' ? [secretVolume('redis', s.secrets.redis, 'url')] : []),
    { name: 'tmp', emptyDir: {} },
  ];
  const podSecurity = {
    runAsNonRoot: true,
    runAsUser: EAS_UID,
    runAsGroup: EAS_UID,
    fsGroup: EAS_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const containerSecurity = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  };
  const pull = {
    ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
  };
  const pullSecrets =
    s.imagePullSecrets.length > 0
      ? { imagePullSecrets: s.imagePullSecrets.map((name) => ({ name })) }
      : {};
  const httpProbes = (port: string) => ({
    livenessProbe: {
      httpGet: { path: '/healthz', port },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
  });
  const scrape = (port: number) => ({
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': String(port),
    'prometheus.io/path': '/metrics',
  });
  const podAnnotations = { [CONFIG_DIGEST_ANNOTATION]: digest };

  const objects: KubernetesObject[] = [];

  objects.push({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: ns,
      labels: {
        'app.kubernetes.io/part-of': PART_OF,
        // Every pod rendered here meets the "restricted" Pod Security Standard.
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  });

  // ── Accounts and permissions ────────────────────────────────────────────────────────────
  for (const [name, component, automount] of [
    [OBJECT_NAMES.controller, 'controller', true],
    [OBJECT_NAMES.worker, 'worker', false],
    ...(s.web.enabled ? [[OBJECT_NAMES.web, 'web', false] as const] : []),
  ] as const) {
    objects.push({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(name, component),
      automountServiceAccountToken: automount,
    });
  }

  const workerNames = containers.map((c) => workerDeploymentName(c.name));
  objects.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(OBJECT_NAMES.controller, 'controller'),
    rules: [
      {
        // Scaling: read and change the replica count of the worker Deployments, nothing else.
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: workerNames,
        verbs: ['get', 'patch'],
      },
      {
        // Before a scale-in: find the workers' pods and mark busy ones costly to delete.
        apiGroups: [''],
        resources: ['pods'],
        verbs: ['list', 'patch'],
      },
    ],
  });
  objects.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(OBJECT_NAMES.controller, 'controller'),
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: OBJECT_NAMES.controller,
    },
    subjects: [{ kind: 'ServiceAccount', name: OBJECT_NAMES.controller, namespace: ns }],
  });

  // ── Configuration and files ─────────────────────────────────────────────────────────────
  objects.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(OBJECT_NAMES.config, 'config'),
    data: { 'eas.yaml': configYaml, 'registry.yaml': input.registryText },
  });
  objects.push({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(OBJECT_NAMES.files, 'files'),
    spec: {
      accessModes: [s.storage.accessMode],
      resources: { requests: { storage: s.storage.size } },
      ...(s.storage.storageClass ? { storageClassName: s.storage.storageClass } : {}),
    },
  });

  // ── Services ────────────────────────────────────────────────────────────────────────────
  // ClusterIP only: reachable inside the cluster (kubectl port-forward from outside), DESIGN §8.
  const service = (
    name: string,
    component: string,
    port: { name: string; port: number; targetPort: string },
  ) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, component),
    spec: {
      type: 'ClusterIP',
      selector: { 'app.kubernetes.io/part-of': PART_OF, [COMPONENT_LABEL]: component },
      ports: [port],
    },
  });
  objects.push(
    service(OBJECT_NAMES.controller, 'controller', {
      name: 'metrics',
      port: PORTS.controller,
      targetPort: 'ops',
    }),
  );
  if (s.web.enabled)
    objects.push(
      service(OBJECT_NAMES.web, 'web', { name: 'http', port: PORTS.web, targetPort: 'http' }),
    );

  // ── Controller ──────────────────────────────────────────────────────────────────────────
  const controllerSelector = {
    'app.kubernetes.io/part-of': PART_OF,
    [COMPONENT_LABEL]: 'controller',
  };
  objects.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(OBJECT_NAMES.controller, 'controller'),
    spec: {
      replicas: s.controller.replicas,
      selector: { matchLabels: controllerSelector },
      template: {
        metadata: {
          labels: labels('controller'),
          annotations: { ...podAnnotations, ...scrape(PORTS.controller) },
        },
        spec: {
          serviceAccountName: OBJECT_NAMES.controller,
          automountServiceAccountToken: true,
          securityContext: podSecurity,
          ...pullSecrets,
          containers: [
            {
              name: 'controller',
              image: s.image,
              ...pull,
              args: controllerArgs(PORTS.controller),
              env,
              ports: [{ name: 'ops', containerPort: PORTS.controller }],
              resources: {
                requests: { cpu: cpuQuantity(s.controller.cpu), memory: s.controller.memory },
                limits: { memory: s.controller.memory },
              },
              ...httpProbes('ops'),
              volumeMounts: mounts,
              securityContext: containerSecurity,
            },
          ],
          volumes,
        },
      },
    },
  });

  // ── Workers ─────────────────────────────────────────────────────────────────────────────
  const workers: RenderedWorker[] = [];
  for (const c of containers) {
    const name = workerDeploymentName(c.name);
    const image = k.images?.[c.name] ?? (c.name === DEFAULT_CONTAINER_NAME ? s.image : c.image!);
    const graceSeconds = Math.ceil(graceMsOf(c.name, registry, s) / 1000);
    const terminationGracePeriodSeconds = graceSeconds + HANDBACK_SECONDS;
    workers.push({
      container: c.name,
      deployment: name,
      image,
      graceSeconds,
      terminationGracePeriodSeconds,
    });
    const selector = {
      'app.kubernetes.io/part-of': PART_OF,
      [COMPONENT_LABEL]: 'worker',
      [CONTAINER_LABEL]: dnsName(c.name),
    };
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        ...meta(name, 'worker', { [CONTAINER_LABEL]: dnsName(c.name) }),
        annotations: { [CONTAINER_ANNOTATION]: c.name },
      },
      spec: {
        // The initial count only: from then on the controller owns it (eas k8s apply keeps the
        // live count of an existing Deployment).
        replicas: c.scaling.min,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: labels('worker', { [CONTAINER_LABEL]: dnsName(c.name) }),
            annotations: {
              ...podAnnotations,
              [CONTAINER_ANNOTATION]: c.name,
              ...scrape(PORTS.worker),
            },
          },
          spec: {
            serviceAccountName: OBJECT_NAMES.worker,
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds,
            securityContext: podSecurity,
            ...pullSecrets,
            ...(c.gpu > 0
              ? {
                  // GPU nodes are commonly tainted so that only pods asking for GPUs land there.
                  tolerations: [
                    { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
                  ],
                }
              : {}),
            containers: [
              {
                name: 'worker',
                image,
                ...pull,
                args: [
                  'worker',
                  '--container',
                  c.name,
                  '--concurrency',
                  String(c.concurrency),
                  '--grace',
                  String(graceSeconds),
                  '--listen',
                  `0.0.0.0:${PORTS.worker}`,
                ],
                env,
                ports: [{ name: 'ops', containerPort: PORTS.worker }],
                resources: workerResources(c),
                ...httpProbes('ops'),
                volumeMounts: mounts,
                securityContext: containerSecurity,
              },
            ],
            volumes,
          },
        },
      },
    });
  }

  // ── Dashboard ───────────────────────────────────────────────────────────────────────────
  if (s.web.enabled) {
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(OBJECT_NAMES.web, 'web'),
      spec: {
        replicas: 1,
        selector: {
          matchLabels: { 'app.kubernetes.io/part-of': PART_OF, [COMPONENT_LABEL]: 'web' },
        },
        template: {
          metadata: { labels: labels('web'), annotations: podAnnotations },
          spec: {
            serviceAccountName: OBJECT_NAMES.web,
            automountServiceAccountToken: false,
            securityContext: podSecurity,
            ...pullSecrets,
            containers: [
              {
                name: 'web',
                image: s.image,
                ...pull,
                args: ['web', '--host', '0.0.0.0', '--port', String(PORTS.web)],
                env: [...env, { name: 'EAS_WEB_TOKEN_FILE', value: `${PATHS.web}/token` }],
                ports: [{ name: 'http', containerPort: PORTS.web }],
                resources: {
                  requests: { cpu: cpuQuantity(s.web.cpu), memory: s.web.memory },
                  limits: { memory: s.web.memory },
                },
                livenessProbe: {
                  tcpSocket: { port: 'http' },
                  periodSeconds: 10,
                  failureThreshold: 3,
                },
                readinessProbe: {
                  tcpSocket: { port: 'http' },
                  periodSeconds: 10,
                  failureThreshold: 3,
                },
                volumeMounts: [
                  ...mounts,
                  { name: 'web-token', mountPath: PATHS.web, readOnly: true },
                ],
                securityContext: containerSecurity,
              },
            ],
            volumes: [...volumes, secretVolume('web-token', s.secrets.webToken, 'token')],
          },
        },
      },
    });
  }

  return { namespace: ns, objects, workers, secrets };
}

/**
 * Arguments of the controller container. The controller scales the worker Deployments through
 * the `KubernetesScaler` when run with `--scaler kubernetes` (in-cluster credentials of its
 * ServiceAccount, the namespace of its pod).
 */
function controllerArgs(port: number): string[] {
  return ['controller', '--listen', `0.0.0.0:${port}`, '--scaler', 'kubernetes'];
}

/** Requests and limits of a worker: exactly the registry's CPU, memory and GPUs (limits = requests). */
function workerResources(c: ResolvedContainer): Record<string, Record<string, string>> {
  const amounts: Record<string, string> = {
    cpu: cpuQuantity(c.cpu),
    memory: memoryQuantity(c.memoryBytes),
  };
  if (c.gpu > 0) amounts['nvidia.com/gpu'] = String(c.gpu);
  return { requests: { ...amounts }, limits: { ...amounts } };
}

/** The objects as one multi-document YAML stream (what `eas k8s render` prints). */
export function manifestsToYaml(objects: readonly KubernetesObject[]): string {
  return objects.map((o) => `---\n${objectToYaml(o)}`).join('');
}

/** One object as YAML, long strings unfolded so the output diffs cleanly. */
export function objectToYaml(object: KubernetesObject): string {
  return stringify(object, { lineWidth: 0, aliasDuplicateObjects: false, singleQuote: true });
}

/** File name of an object in `eas k8s render --out`: `deployment-eas-worker-eas-base.yaml`. */
export function manifestFileName(object: KubernetesObject): string {
  return `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

/** A `kustomization.yaml` listing `files`, so the rendered folder is a kustomize base. */
export function kustomizationYaml(files: readonly string[]): string {
  return stringify(
    {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [...files],
    },
    { lineWidth: 0 },
  );
}
