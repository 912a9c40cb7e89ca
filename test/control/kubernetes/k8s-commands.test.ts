import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { dropEasVariables, REPO, runMain } from '../../cli/harness.js';
import {
  startFakeKubernetesApi,
  type FakeKubernetesApi,
} from '../../helpers/fake-kubernetes-api.js';

const NS = 'plato-eas';
const WORKERS = ['eas-worker-bls-reference', 'eas-worker-eas-base'];

describe('eas k8s apply|scale|stop against a fake Kubernetes API server', () => {
  let dir: string;
  let api: FakeKubernetesApi;
  let rendered: { apiVersion: string; kind: string; metadata: { name: string }; spec?: unknown }[];
  const k8s = (...argv: string[]) =>
    runMain(['k8s', ...argv, '--kubeconfig', 'kubeconfig.yaml'], dir);

  beforeAll(async () => {
    dropEasVariables();
    dir = mkdtempSync(join(tmpdir(), 'eas-k8s-ops-'));
    cpSync(join(REPO, 'examples/kubernetes/eas.yaml'), join(dir, 'eas.yaml'));
    cpSync(join(REPO, 'examples/kubernetes/registry.yaml'), join(dir, 'registry.yaml'));
    const r = await runMain(['k8s', 'render'], dir);
    expect(r.code).toBe(0);
    rendered = parseAllDocuments(r.stdout).map((d) => d.toJS() as (typeof rendered)[number]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    api = await startFakeKubernetesApi();
    writeFileSync(join(dir, 'kubeconfig.yaml'), api.kubeconfig());
  });
  afterEach(() => api.close());

  const writes = () => api.requests.filter((r) => r.method !== 'GET');

  it('apply: server-side applies every rendered object in order, namespace first, and names missing Secrets', async () => {
    const r = await k8s('apply');
    expect(r.stderr).not.toContain('unexpected');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Applied ${rendered.length} objects in namespace ${NS} on ${api.url}`,
    );
    expect(writes().map((w) => `${w.method} ${w.path}`)).toEqual(
      rendered.map((o) => {
        const plural = `${o.kind.toLowerCase()}s`.replace('policys', 'policies');
        const prefix = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
        return o.kind === 'Namespace'
          ? `PATCH /api/v1/namespaces/${NS}`
          : `PATCH ${prefix}/namespaces/${NS}/${plural}/${o.metadata.name}`;
      }),
    );
    for (const w of writes()) {
      expect(w.contentType).toBe('application/apply-patch+yaml');
      expect(w.query).toMatchObject({ fieldManager: 'plato-eas', force: 'true' });
    }
    for (const o of rendered) {
      const stored = api.get(o.kind, NS, o.metadata.name);
      expect(stored, `${o.kind}/${o.metadata.name}`).toBeDefined();
      expect(stored!.spec).toEqual(o.spec);
    }
    expect(r.stderr).toMatch(
      /Missing Secrets[\s\S]*eas-database[\s\S]*eas-redis[\s\S]*eas-web-token/,
    );

    // With the Secrets there, nothing is reported.
    for (const [name, key] of [
      ['eas-database', 'url'],
      ['eas-redis', 'url'],
      ['eas-web-token', 'token'],
    ] as const) {
      api.put({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: NS },
        data: { [key]: Buffer.from('x').toString('base64') },
      });
    }
    const again = await k8s('apply');
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('Missing Secrets');
  });

  it('apply again keeps the replicas the controller set on worker Deployments; --dry-run changes nothing', async () => {
    expect((await k8s('apply')).code).toBe(0);
    const scaled = await k8s('scale', 'bls-reference', '3');
    expect(scaled.code).toBe(0);
    expect(scaled.stdout).toContain(`${NS}/eas-worker-bls-reference: 0 → 3 replicas.`);
    const scalePatch = api.requests.at(-1)!;
    expect(scalePatch).toMatchObject({
      method: 'PATCH',
      path: `/apis/apps/v1/namespaces/${NS}/deployments/eas-worker-bls-reference/scale`,
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 3 } },
    });
    expect(api.podsOf(NS, 'eas-worker-bls-reference')).toHaveLength(3);

    const r = await k8s('apply');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Deployment\s+eas-worker-bls-reference\s+kept 3 replicas/);
    expect(api.podsOf(NS, 'eas-worker-bls-reference')).toHaveLength(3);
    expect(
      (api.get('Deployment', NS, 'eas-worker-bls-reference')!.spec as { replicas: number })
        .replicas,
    ).toBe(3);

    const before = api.get('Deployment', NS, 'eas-controller')!.metadata.resourceVersion;
    const dry = await k8s('apply', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Checked (dry run)');
    expect(
      writes()
        .slice(-rendered.length)
        .every((w) => w.query.dryRun === 'All'),
    ).toBe(true);
    expect(api.get('Deployment', NS, 'eas-controller')!.metadata.resourceVersion).toBe(before);

    const same = await k8s('scale', 'bls-reference', '3');
    expect(same.stdout).toContain('already 3 replicas');
  });

  it('stop: the controller first, then every worker Deployment to zero; --wait sees the pods go; --delete keeps data', async () => {
    expect((await k8s('apply')).code).toBe(0);
    await k8s('scale', 'eas-base', '2');
    await k8s('scale', 'bls-reference', '1');
    const from = api.requests.length;
    const r = await k8s('stop', '--wait', '10s');
    expect(r.code).toBe(0);
    const scalePatches = api.requests
      .slice(from)
      .filter((q) => q.method === 'PATCH')
      .map((q) => [q.path.split('/').at(-2), q.body]);
    expect(scalePatches).toEqual([
      ['eas-controller', { spec: { replicas: 0 } }],
      ['eas-worker-bls-reference', { spec: { replicas: 0 } }],
      ['eas-worker-eas-base', { spec: { replicas: 0 } }],
    ]);
    expect(r.stdout).toContain(`${NS}/eas-controller: 1 → 0 replicas`);
    expect(r.stdout).toContain(`${NS}/eas-worker-eas-base: 2 → 0 replicas`);
    expect(r.stdout).toContain('Every worker pod has stopped.');
    for (const w of WORKERS) expect(api.podsOf(NS, w)).toEqual([]);
    expect(api.get('Deployment', NS, 'eas-web')).toBeDefined();

    const d = await k8s('stop', '--delete');
    expect(d.code).toBe(0);
    expect(api.list('Deployment', NS)).toEqual([]);
    expect(api.list('ConfigMap', NS)).toEqual([]);
    expect(api.list('Role', NS)).toEqual([]);
    expect(api.get('PersistentVolumeClaim', NS, 'eas-files')).toBeDefined();
    expect(api.get('Namespace', undefined, NS)).toBeDefined();
    expect(d.stdout).toContain('Kept namespace plato-eas and its file volume');

    // Stopping what is gone already is not an error.
    const again = await k8s('stop');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${NS}/eas-controller: not found, skipped`);
  });

  it('exit codes: 2 for a refused or unknown request, 3 for an unreachable server', async () => {
    const missing = await k8s('scale', 'eas-base', '1');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('eas-worker-eas-base');

    writeFileSync(
      join(dir, 'kubeconfig.yaml'),
      api.kubeconfig().replace(api.token, 'wrong-token-000000'),
    );
    const refused = await k8s('apply');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refused.*HTTP 401/);
    expect(refused.stderr).not.toContain('wrong-token');

    const bad = await runMain(
      ['k8s', 'apply', '--kubeconfig', 'kubeconfig.yaml', '--context', 'nope'],
      dir,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('context "nope"');

    writeFileSync(join(dir, 'kubeconfig.yaml'), api.kubeconfig());
    await api.close();
    const unreachable = await k8s('stop');
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain(api.url);
    api = await startFakeKubernetesApi();
  });
});
