import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseQuantity } from '../../../src/control/index.js';
import { loadRegistry } from '../../../src/registry/index.js';
import { BUILTIN_TASK_TYPES } from '../../../src/tasks/index.js';
import { dropEasVariables, REPO, runMain } from '../../cli/harness.js';

/** Values the test puts where credentials live; none may reach a manifest. */
const DB_PASSWORD = 'db-pass-7f3a9c1e';
const REDIS_PASSWORD = 'redis-pass-51b2d0aa';
const WEB_TOKEN = 'web-token-0c9d8e7f6a5b4c3d';

/** Parsed YAML, read field by field as the assertions need. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
};

/** The Kubernetes OpenAPI schema of each kind the renderer writes (kubernetes-models). */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/**
 * Fields the API does not know. The OpenAPI schemas above allow unknown fields (the API server
 * drops them, or rejects them with strict field validation), so a misspelt field would pass
 * them: walk the object against the model types of @kubernetes/client-node instead.
 */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array)
    return (value as unknown[]).flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`));
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return Object.entries(value as object).flatMap(([k, v]) =>
      unknownFields(v, map[1]!, `${path}.${k}`),
    );
  }
  const model = (
    k8s as unknown as Record<string, { attributeTypeMap?: { baseName: string; type: string }[] }>
  )[type];
  if (!model?.attributeTypeMap) return [];
  const fields = new Map(model.attributeTypeMap.map((a) => [a.baseName, a.type]));
  return Object.entries(value as object).flatMap(([k, v]) =>
    fields.has(k) ? unknownFields(v, fields.get(k)!, `${path}.${k}`) : [`${path}.${k}`],
  );
}

describe('eas k8s render', () => {
  let dir: string;
  let yaml: string;
  let objects: Obj[];
  let stderr: string;

  beforeAll(async () => {
    dropEasVariables();
    dir = mkdtempSync(join(tmpdir(), 'eas-k8s-render-'));
    // The example, plus credentials where an operator might keep them: the database and
    // Redis URLs in eas.yaml and the environment, the dashboard token in the environment.
    const example = readFileSync(join(REPO, 'examples/kubernetes/eas.yaml'), 'utf8');
    writeFileSync(
      join(dir, 'eas.yaml'),
      `${example}\ndatabase: { url: "postgres://user:${DB_PASSWORD}@db:5432/survey" }\n` +
        `redis: { url: "redis://:${REDIS_PASSWORD}@queue:6379" }\n`,
    );
    // The example's registry, plus a GPU container.
    writeFileSync(
      join(dir, 'registry.yaml'),
      readFileSync(join(REPO, 'examples/kubernetes/registry.yaml'), 'utf8').replace(
        'taskTypes:',
        [
          '  tda_gpu:',
          '    image: my-lab/tda-gpu:2',
          "    cpu: '1500m'",
          '    memory: 6G',
          '    gpu: 2',
          '    concurrency: 2',
          'taskTypes:',
          '  gpu_search:',
          '    container: tda_gpu',
          "    command: ['python3', 'search.py']",
          '    timeout: 3h',
        ].join('\n'),
      ),
    );
    process.env.EAS_DATABASE_URL = `postgres://user:${DB_PASSWORD}@db:5432/survey`;
    process.env.EAS_WEB_TOKEN = WEB_TOKEN;
    const r = await runMain(['k8s', 'render'], dir);
    delete process.env.EAS_DATABASE_URL;
    delete process.env.EAS_WEB_TOKEN;
    expect(r.stderr).not.toContain('unexpected');
    expect(r.code).toBe(0);
    yaml = r.stdout;
    stderr = r.stderr;
    objects = parseAllDocuments(yaml).map((d) => d.toJS() as Obj);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const deployment = (name: string) =>
    objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as {
      spec: { replicas: number; template: { spec: Record<string, Loose> } };
    } & Obj;

  it('writes objects that pass the Kubernetes OpenAPI schemas and hold no unknown field', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/plato-eas',
      'ServiceAccount/eas-controller',
      'ServiceAccount/eas-worker',
      'ServiceAccount/eas-web',
      'Role/eas-controller',
      'RoleBinding/eas-controller',
      'ConfigMap/eas-config',
      'PersistentVolumeClaim/eas-files',
      'Service/eas-controller',
      'Service/eas-web',
      'Deployment/eas-controller',
      'Deployment/eas-worker-bls-reference',
      'Deployment/eas-worker-eas-base',
      'Deployment/eas-worker-tda-gpu',
      'Deployment/eas-web',
    ]);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      expect(unknownFields(o, `V1${o.kind}`, `${o.kind}/${o.metadata.name}`)).toEqual([]);
      if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe('plato-eas');
    }
  });

  it('the schema check catches a broken manifest (so the test above can fail)', () => {
    const broken = structuredClone(deployment('eas-worker-eas-base')) as Obj & { spec: Loose };
    broken.spec.template.spec.containers[0].resources.requests.cpu = 'lots';
    expect(() => new Deployment(broken as never).validate()).toThrow(/cpu/);
    broken.spec.template.spec.containers[0].imagePolicy = 'Always';
    expect(unknownFields(broken, 'V1Deployment', 'd')).toEqual([
      'd.spec.template.spec.containers[0].imagePolicy',
    ]);
  });

  it('contains no credential: no password, token or URL with a password', () => {
    for (const secret of [DB_PASSWORD, REDIS_PASSWORD, WEB_TOKEN]) {
      expect(yaml).not.toContain(secret);
      expect(stderr).not.toContain(secret);
    }
    expect(yaml).not.toMatch(/postgres(ql)?:\/\/[^\s/@]*:[^\s/@]*@/);
    expect(yaml).not.toMatch(/rediss?:\/\/[^\s/@]*:[^\s/@]*@/);
    expect(yaml).not.toContain('postgres://user:pass');
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    // Pods get credentials as files of mounted Secrets, named by *_FILE variables.
    for (const o of objects.filter((x) => x.kind === 'Deployment')) {
      const pod = (o as ReturnType<typeof deployment>).spec.template.spec;
      const env = pod.containers[0].env as { name: string; value?: string }[];
      expect(env.map((e) => e.name)).toContain('EAS_DATABASE_URL_FILE');
      expect(env.map((e) => e.name)).toContain('EAS_REDIS_URL_FILE');
      expect(env.map((e) => e.name)).not.toContain('EAS_DATABASE_URL');
      const secrets = (pod.volumes as { secret?: { secretName: string } }[])
        .filter((v) => v.secret)
        .map((v) => v.secret!.secretName);
      expect(secrets).toEqual(expect.arrayContaining(['eas-database', 'eas-redis']));
    }
    const web = deployment('eas-web').spec.template.spec;
    expect(web.containers[0].env).toContainEqual({
      name: 'EAS_WEB_TOKEN_FILE',
      value: '/etc/eas/secrets/web/token',
    });
    expect(web.containers[0].args).toEqual(['web', '--host', '0.0.0.0', '--port', '8080']);
    expect(stderr).toContain('create secret generic eas-database');
  });

  it("requests exactly each registry container's CPU, memory and GPUs", async () => {
    const registry = await loadRegistry(join(dir, 'registry.yaml'), {
      builtins: { ...BUILTIN_TASK_TYPES },
    });
    expect(registry.containers().map((c) => c.name)).toEqual([
      'bls-reference',
      'eas-base',
      'tda_gpu',
    ]);
    for (const c of registry.containers()) {
      const d = objects.find(
        (o) =>
          o.kind === 'Deployment' &&
          o.metadata.annotations?.['plato-eas/container-name'] === c.name,
      ) as ReturnType<typeof deployment>;
      expect(d, c.name).toBeDefined();
      const { requests, limits } = d.spec.template.spec.containers[0].resources;
      for (const amounts of [requests, limits]) {
        expect(parseQuantity(amounts.cpu)).toBeCloseTo(c.cpu, 9);
        expect(parseQuantity(amounts.memory)).toBe(c.memoryBytes);
        if (c.gpu > 0) expect(amounts['nvidia.com/gpu']).toBe(String(c.gpu));
        else expect(Object.keys(amounts)).toEqual(['cpu', 'memory']);
      }
      const args = d.spec.template.spec.containers[0].args as string[];
      expect(args.slice(0, 5)).toEqual([
        'worker',
        '--container',
        c.name,
        '--concurrency',
        String(c.concurrency),
      ]);
      expect(d.spec.replicas).toBe(c.scaling.min);
    }
    const gpu = deployment('eas-worker-tda-gpu').spec.template.spec;
    expect(gpu.containers[0].resources.requests).toEqual({
      cpu: '1500m',
      memory: '6G',
      'nvidia.com/gpu': '2',
    });
    expect(gpu.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(deployment('eas-worker-eas-base').spec.template.spec.tolerations).toBeUndefined();
  });

  it('probes /healthz and /readyz, and gives workers the grace their task types need', () => {
    const grace = (name: string) => {
      const pod = deployment(name).spec.template.spec;
      const args = pod.containers[0].args as string[];
      return {
        flag: Number(args[args.indexOf('--grace') + 1]),
        pod: pod.terminationGracePeriodSeconds,
      };
    };
    // No timeouts: the worker's default 30 s; bls 30 m; the GPU search 3 h, bounded by maxGrace 1 h.
    expect(grace('eas-worker-eas-base')).toEqual({ flag: 30, pod: 45 });
    expect(grace('eas-worker-bls-reference')).toEqual({ flag: 1800, pod: 1815 });
    expect(grace('eas-worker-tda-gpu')).toEqual({ flag: 3600, pod: 3615 });
    for (const name of ['eas-controller', 'eas-worker-eas-base', 'eas-worker-bls-reference']) {
      const c = deployment(name).spec.template.spec.containers[0];
      const port = c.ports[0];
      const args = c.args as string[];
      expect(args[args.indexOf('--listen') + 1]).toBe(`0.0.0.0:${port.containerPort}`);
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: port.name });
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('gives the controller the least RBAC it needs, and nothing to the other pods', () => {
    const role = objects.find((o) => o.kind === 'Role') as Obj & { rules: unknown[] };
    expect(role.rules).toEqual([
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: ['eas-worker-bls-reference', 'eas-worker-eas-base', 'eas-worker-tda-gpu'],
        verbs: ['get', 'patch'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'patch'] },
    ]);
    const binding = objects.find((o) => o.kind === 'RoleBinding') as Obj & Record<string, Loose>;
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'eas-controller', namespace: 'plato-eas' },
    ]);
    expect(deployment('eas-controller').spec.template.spec.serviceAccountName).toBe(
      'eas-controller',
    );
    for (const name of ['eas-worker-eas-base', 'eas-web']) {
      expect(deployment(name).spec.template.spec.automountServiceAccountToken).toBe(false);
    }
    const web = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'eas-web') as Obj &
      Record<string, Loose>;
    expect(web.spec.type).toBe('ClusterIP');
    const pvc = objects.find((o) => o.kind === 'PersistentVolumeClaim') as Obj &
      Record<string, Loose>;
    expect(pvc.spec).toEqual({
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '20Gi' } },
    });
    const config = objects.find((o) => o.kind === 'ConfigMap') as Obj & {
      data: Record<string, string>;
    };
    expect(parse(config.data['eas.yaml']!)).toEqual({
      registry: 'registry.yaml',
      filestore: { root: '/var/lib/eas/files' },
      logLevel: 'info',
      queue: { leaseMs: 30000 },
      worker: { concurrency: 4, heartbeatMs: 10000 },
    });
    expect(config.data['registry.yaml']).toBe(readFileSync(join(dir, 'registry.yaml'), 'utf8'));
  });

  it('--out writes one file per object and a kustomization.yaml listing them', async () => {
    const out = join(dir, 'manifests');
    const r = await runMain(['k8s', 'render', '--out', 'manifests'], dir);
    expect(r.code).toBe(0);
    const kustomization = parse(readFileSync(join(out, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    expect(kustomization.resources).toHaveLength(objects.length);
    expect(readdirSync(out).sort()).toEqual(
      [...kustomization.resources, 'kustomization.yaml'].sort(),
    );
    const fromFiles = kustomization.resources.map(
      (f) => parse(readFileSync(join(out, f), 'utf8')) as Obj,
    );
    expect(fromFiles).toEqual(objects);
  });

  it('the committed examples/kubernetes/base is what render writes for the example', async () => {
    const out = mkdtempSync(join(tmpdir(), 'eas-k8s-base-'));
    try {
      const r = await runMain(['k8s', 'render', '--out', out], join(REPO, 'examples/kubernetes'));
      expect(r.code).toBe(0);
      const base = join(REPO, 'examples/kubernetes/base');
      expect(readdirSync(base).sort()).toEqual(readdirSync(out).sort());
      for (const f of readdirSync(out)) {
        expect(
          readFileSync(join(base, f), 'utf8'),
          `${f} is stale: re-render examples/kubernetes/base`,
        ).toBe(readFileSync(join(out, f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("the guide's survey.json submits against the example registry, using both containers", async () => {
    const sandbox = mkdtempSync(join(tmpdir(), 'eas-k8s-survey-'));
    try {
      for (const f of ['eas.yaml', 'registry.yaml', 'survey.json'])
        writeFileSync(join(sandbox, f), readFileSync(join(REPO, 'examples/kubernetes', f)));
      const r = await runMain(['submit', '--dry-run', '--json', 'survey.json'], sandbox);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        byType: { synthesis_transit: 8, transit_search_bls: 8, transit_search_bls_reference: 8 },
        deferred: 0,
      });
    } finally {
      rmSync(sandbox, { recursive: true, force: true });
    }
  });

  it('bad input: exit 2 with the key named, and nothing written', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'eas-k8s-bad-'));
    try {
      writeFileSync(join(bad, 'registry.yaml'), 'containers:\n  tda: { cpu: 2 }\n');
      const cases: [string, RegExp][] = [
        ['kubernetes: { namspace: x }\n', /kubernetes.*namspace/],
        ['kubernetes: { namespace: Plato_EAS }\n', /kubernetes\.namespace.*DNS-1123/],
        ['kubernetes: { storage: { size: lots } }\n', /kubernetes\.storage\.size/],
        [
          'kubernetes: { images: { nope: a/b:1 } }\n',
          /kubernetes\.images\.nope.*no container "nope"/,
        ],
        ['registry: registry.yaml\n', /containers\.tda\.image.*no image/],
        [
          'registry: { taskTypes: { t: { command: [x], env: { API_TOKEN: abc } } } }\n',
          /taskTypes\.t\.env\.API_TOKEN.*credential/,
        ],
      ];
      for (const [config, message] of cases) {
        writeFileSync(join(bad, 'eas.yaml'), config);
        const r = await runMain(['k8s', 'render', '--out', 'out'], bad);
        expect(r.code, config).toBe(2);
        expect(r.stderr, config).toMatch(message);
        expect(existsSync(join(bad, 'out')), config).toBe(false);
      }
      writeFileSync(join(bad, 'eas.yaml'), 'kubernetes: { namespace: lab }\n');
      const unknown = await runMain(['k8s', 'scale', 'tda-python', '2'], bad);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/tda-python/);
      const negative = await runMain(['k8s', 'scale', 'eas-base', '-1'], bad);
      expect(negative.code).toBe(2);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
