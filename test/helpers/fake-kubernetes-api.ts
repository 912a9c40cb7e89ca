/**
 * A FAKE Kubernetes API server for tests: no real one can run here (DESIGN §8), so this small
 * node:http server on 127.0.0.1 answers the requests plato-eas makes, the way the API server
 * does, and records every request for the test to inspect.
 *
 * What it serves: API discovery (`/api/v1`, `/apis/apps/v1`, `/apis/rbac.authorization.k8s.io/v1`);
 * create, read, list (with equality label selectors), replace, delete, merge / strategic-merge
 * patch and server-side apply (`application/apply-patch+yaml`; simplified: the applied object
 * replaces the stored one, keeping `status` and server-set metadata) of namespaces,
 * ServiceAccounts, ConfigMaps, Secrets, Services, PersistentVolumeClaims, pods, Deployments,
 * Roles and RoleBindings; the `scale` subresource of Deployments (get, merge patch). It plays
 * the ReplicaSet controller too: a Deployment's pods follow its replica count, and on scale-in
 * the pods with the lowest `controller.kubernetes.io/pod-deletion-cost` go first (then the
 * newest), as Kubernetes does. Every request needs `Authorization: Bearer <token>`.
 *
 * Not modelled: field ownership of server-side apply, resource versions and conflicts,
 * watches, set-based label selectors, admission and schema validation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';

/** A plain Kubernetes object. */
export interface FakeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** One request the server received. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** The parsed body (JSON or YAML), when there was one. */
  body: unknown;
  /** The response status. */
  status: number;
}

interface ResourceKind {
  prefix: string;
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const RESOURCES: ResourceKind[] = [
  {
    prefix: '/api/v1',
    apiVersion: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
  },
  {
    prefix: '/api/v1',
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    namespaced: true,
  },
  {
    prefix: '/api/v1',
    apiVersion: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    namespaced: true,
  },
  { prefix: '/api/v1', apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { prefix: '/api/v1', apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  {
    prefix: '/api/v1',
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
  },
  { prefix: '/api/v1', apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  {
    prefix: '/apis/apps/v1',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
  },
  {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    plural: 'roles',
    namespaced: true,
  },
  {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
  },
];

const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/** The running fake server. */
export interface FakeKubernetesApi {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The bearer token it accepts. */
  readonly token: string;
  /** Every request so far, in order. */
  readonly requests: RecordedRequest[];
  /** The stored object of that kind, namespace and name. */
  get(kind: string, namespace: string | undefined, name: string): FakeObject | undefined;
  /** Every stored object of a kind (in a namespace). */
  list(kind: string, namespace?: string): FakeObject[];
  /** Stores an object as if created by someone else (pods of a Deployment follow it). */
  put(object: FakeObject): void;
  /**
   * Adds a Deployment with `replicas` pods, selected by `labels`; returns its pods' names.
   */
  addDeployment(
    namespace: string,
    name: string,
    replicas: number,
    labels: Record<string, string>,
  ): string[];
  /** Names of the live pods of a Deployment. */
  podsOf(namespace: string, deployment: string): string[];
  /** Makes the next `n` requests fail with `status` (e.g. 500, 403). */
  failNext(n: number, status: number): void;
  /** A kubeconfig (YAML) pointing at this server, for `--kubeconfig`. */
  kubeconfig(namespace?: string): string;
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function matches(
  labels: Record<string, string> | undefined,
  selector: string | undefined,
): boolean {
  if (!selector) return true;
  for (const term of selector.split(',')) {
    const [k, v] = term.split(/==?/);
    if (k === undefined || v === undefined)
      throw new Error(`unsupported label selector ${selector}`);
    if (labels?.[k.trim()] !== v.trim()) return false;
  }
  return true;
}

let podSeq = 0;

/** Starts a fake Kubernetes API server on 127.0.0.1 (a free port). */
export async function startFakeKubernetesApi(
  options: { token?: string } = {},
): Promise<FakeKubernetesApi> {
  const token = options.token ?? 'fake-kubernetes-token-0123456789';
  const store = new Map<string, FakeObject>();
  const requests: RecordedRequest[] = [];
  let failures: { n: number; status: number } = { n: 0, status: 500 };
  let resourceVersion = 1;

  const key = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns ?? ''}/${name}`;
  const resourceOf = (kind: string) => RESOURCES.find((r) => r.kind === kind)!;
  const listKind = (kind: string, ns?: string) =>
    [...store.values()].filter(
      (o) => o.kind === kind && (ns === undefined || o.metadata.namespace === ns),
    );

  const stamp = (o: FakeObject, previous?: FakeObject): FakeObject => {
    o.metadata = {
      ...o.metadata,
      uid: (previous?.metadata.uid as string | undefined) ?? `uid-${resourceVersion}`,
      resourceVersion: String(++resourceVersion),
      creationTimestamp:
        (previous?.metadata.creationTimestamp as string | undefined) ?? new Date().toISOString(),
    };
    if (previous?.status !== undefined && o.status === undefined) o.status = previous.status;
    return o;
  };

  const selectorOf = (d: FakeObject): Record<string, string> =>
    ((d.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
      ?.matchLabels ?? {}) as Record<string, string>;
  const podsOfDeployment = (d: FakeObject): FakeObject[] => {
    const sel = selectorOf(d);
    const selector = Object.entries(sel)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (selector === '') return [];
    return listKind('Pod', d.metadata.namespace).filter((p) =>
      matches(p.metadata.labels, selector),
    );
  };

  /** The ReplicaSet controller: pods follow `spec.replicas`, cheapest pods go first. */
  const reconcile = (d: FakeObject): void => {
    const want = (d.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const pods = podsOfDeployment(d);
    const ns = d.metadata.namespace!;
    if (pods.length < want) {
      const labels =
        (d.spec as { template?: { metadata?: { labels?: Record<string, string> } } }).template
          ?.metadata?.labels ?? selectorOf(d);
      for (let i = pods.length; i < want; i++) {
        const name = `${d.metadata.name}-${(++podSeq).toString(36).padStart(5, '0')}`;
        store.set(
          key('Pod', ns, name),
          stamp({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name, namespace: ns, labels: { ...labels }, annotations: {} },
            spec: {},
            status: { phase: 'Running' },
          }),
        );
      }
    } else if (pods.length > want) {
      const cost = (p: FakeObject) => Number(p.metadata.annotations?.[DELETION_COST] ?? 0);
      const victims = [...pods]
        .sort(
          (a, b) =>
            cost(a) - cost(b) ||
            Number(b.metadata.resourceVersion) - Number(a.metadata.resourceVersion),
        )
        .slice(0, pods.length - want);
      for (const p of victims) store.delete(key('Pod', ns, p.metadata.name));
    }
    d.status = { replicas: want, readyReplicas: want, availableReplicas: want };
  };

  const scaleOf = (d: FakeObject) => ({
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: d.metadata.name, namespace: d.metadata.namespace },
    spec: { replicas: (d.spec as { replicas?: number }).replicas ?? 1 },
    status: {
      replicas: podsOfDeployment(d).length,
      selector: Object.entries(selectorOf(d))
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    },
  });

  const discovery = (prefix: string) => {
    const groupVersion = prefix === '/api/v1' ? 'v1' : prefix.replace('/apis/', '');
    const resources = RESOURCES.filter((r) => r.prefix === prefix).flatMap((r) => [
      {
        name: r.plural,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
      },
      ...(r.kind === 'Deployment'
        ? [
            {
              name: 'deployments/scale',
              singularName: '',
              namespaced: true,
              group: 'autoscaling',
              version: 'v1',
              kind: 'Scale',
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]);
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
  };

  const handle = (
    method: string,
    path: string,
    query: URLSearchParams,
    contentType: string | undefined,
    body: unknown,
  ): [number, unknown] => {
    const prefix = RESOURCES.map((r) => r.prefix).find(
      (p) => path === p || path.startsWith(`${p}/`),
    );
    if (!prefix) return [404, status(404, 'NotFound', `the server could not find ${path}`)];
    if (path === prefix)
      return method === 'GET'
        ? [200, discovery(prefix)]
        : [405, status(405, 'MethodNotAllowed', method)];
    const parts = path
      .slice(prefix.length + 1)
      .split('/')
      .map(decodeURIComponent);
    let ns: string | undefined;
    let rest = parts;
    if (parts[0] === 'namespaces' && parts.length >= 3) {
      ns = parts[1];
      rest = parts.slice(2);
    }
    const [plural, name, sub] = rest;
    const r = RESOURCES.find((x) => x.prefix === prefix && x.plural === plural);
    if (!r) return [404, status(404, 'NotFound', `no resource ${plural} in ${prefix}`)];
    const k = name === undefined ? undefined : key(r.kind, r.namespaced ? ns : undefined, name);
    const existing = k === undefined ? undefined : store.get(k);
    const notFound = (): [number, unknown] => [
      404,
      status(404, 'NotFound', `${r.plural} "${name}" not found`),
    ];

    if (sub !== undefined) {
      if (r.kind !== 'Deployment' || sub !== 'scale') return [404, status(404, 'NotFound', sub)];
      if (!existing) return notFound();
      if (method === 'GET') return [200, scaleOf(existing)];
      if (method === 'PATCH') {
        if (
          contentType !== 'application/merge-patch+json' &&
          contentType !== 'application/strategic-merge-patch+json'
        )
          return [
            415,
            status(415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`),
          ];
        const patched = mergePatch(scaleOf(existing), body) as { spec?: { replicas?: number } };
        const replicas = patched.spec?.replicas;
        if (typeof replicas !== 'number' || replicas < 0 || !Number.isInteger(replicas))
          return [422, status(422, 'Invalid', 'spec.replicas must be an integer >= 0')];
        existing.spec = { ...(existing.spec as object), replicas };
        stamp(existing, existing);
        reconcile(existing);
        return [200, scaleOf(existing)];
      }
      return [405, status(405, 'MethodNotAllowed', method)];
    }

    if (name === undefined) {
      if (method === 'GET') {
        const items = listKind(r.kind, r.namespaced ? ns : undefined).filter((o) =>
          matches(o.metadata.labels, query.get('labelSelector') ?? undefined),
        );
        return [200, { apiVersion: r.apiVersion, kind: `${r.kind}List`, metadata: {}, items }];
      }
      if (method === 'POST') {
        const o = body as FakeObject;
        const kk = key(r.kind, r.namespaced ? ns : undefined, o.metadata.name);
        if (store.has(kk))
          return [
            409,
            status(409, 'AlreadyExists', `${r.plural} "${o.metadata.name}" already exists`),
          ];
        const created = stamp({
          ...o,
          metadata: { ...o.metadata, ...(r.namespaced ? { namespace: ns } : {}) },
        });
        store.set(kk, created);
        if (r.kind === 'Deployment') reconcile(created);
        return [201, created];
      }
      return [405, status(405, 'MethodNotAllowed', method)];
    }

    switch (method) {
      case 'GET':
        return existing ? [200, existing] : notFound();
      case 'DELETE': {
        if (!existing) return notFound();
        store.delete(k!);
        if (r.kind === 'Deployment')
          for (const p of podsOfDeployment(existing)) store.delete(key('Pod', ns, p.metadata.name));
        return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' }];
      }
      case 'PUT': {
        if (!existing) return notFound();
        const replaced = stamp(body as FakeObject, existing);
        store.set(k!, replaced);
        if (r.kind === 'Deployment') reconcile(replaced);
        return [200, replaced];
      }
      case 'PATCH': {
        let next: FakeObject;
        if (contentType === 'application/apply-patch+yaml') {
          if (!query.get('fieldManager'))
            return [422, status(422, 'Invalid', 'fieldManager is required for apply patch')];
          const applied = body as FakeObject;
          if (applied.kind !== r.kind || applied.metadata?.name !== name)
            return [400, status(400, 'BadRequest', 'the applied object does not match the URL')];
          next = stamp(
            {
              ...applied,
              metadata: { ...applied.metadata, ...(r.namespaced ? { namespace: ns } : {}) },
            },
            existing,
          );
        } else if (
          contentType === 'application/merge-patch+json' ||
          contentType === 'application/strategic-merge-patch+json'
        ) {
          if (!existing) return notFound();
          next = stamp(mergePatch(existing, body) as FakeObject, existing);
        } else {
          return [
            415,
            status(415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`),
          ];
        }
        // Server-side dry run: everything checked and answered, nothing stored.
        if (query.get('dryRun') === 'All') return [existing ? 200 : 201, next];
        store.set(k!, next);
        if (r.kind === 'Deployment') reconcile(next);
        return [existing ? 200 : 201, next];
      }
      default:
        return [405, status(405, 'MethodNotAllowed', method)];
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const contentType = req.headers['content-type']?.split(';')[0]?.trim();
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body =
          text === ''
            ? undefined
            : contentType?.includes('yaml')
              ? parseYaml(text)
              : JSON.parse(text);
      } catch {
        body = text;
      }
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType,
        body,
        status: 0,
      };
      requests.push(record);
      let code: number;
      let payload: unknown;
      if (req.headers.authorization !== `Bearer ${token}`) {
        [code, payload] = [401, status(401, 'Unauthorized', 'Unauthorized')];
      } else if (failures.n > 0) {
        failures.n--;
        [code, payload] = [
          failures.status,
          status(failures.status, 'InternalError', 'injected failure'),
        ];
      } else {
        try {
          [code, payload] = handle(
            record.method,
            url.pathname,
            url.searchParams,
            contentType,
            body,
          );
        } catch (e) {
          [code, payload] = [500, status(500, 'InternalError', (e as Error).message)];
        }
      }
      record.status = code;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    token,
    requests,
    get: (kind, namespace, name) =>
      store.get(key(kind, resourceOf(kind).namespaced ? namespace : undefined, name)),
    list: (kind, namespace) => listKind(kind, namespace),
    put: (object) => {
      const r = resourceOf(object.kind);
      const k = key(
        object.kind,
        r.namespaced ? object.metadata.namespace : undefined,
        object.metadata.name,
      );
      const stored = stamp(structuredClone(object), store.get(k));
      store.set(k, stored);
      if (object.kind === 'Deployment') reconcile(stored);
    },
    addDeployment: (namespace, name, replicas, labels) => {
      const d = stamp({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace, labels: { ...labels } },
        spec: {
          replicas,
          selector: { matchLabels: { ...labels } },
          template: { metadata: { labels: { ...labels } }, spec: { containers: [] } },
        },
      });
      store.set(key('Deployment', namespace, name), d);
      reconcile(d);
      return podsOfDeployment(d).map((p) => p.metadata.name);
    },
    podsOf: (namespace, deployment) => {
      const d = store.get(key('Deployment', namespace, deployment));
      return d
        ? podsOfDeployment(d)
            .map((p) => p.metadata.name)
            .sort()
        : [];
    },
    failNext: (n, code) => {
      failures = { n, status: code };
    },
    kubeconfig: (namespace = 'default') =>
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `  - name: fake`,
        `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
        'users:',
        `  - name: fake`,
        `    user: { token: "${token}" }`,
        'contexts:',
        `  - name: fake`,
        `    context: { cluster: fake, user: fake, namespace: ${namespace} }`,
        'current-context: fake',
        '',
      ].join('\n'),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
