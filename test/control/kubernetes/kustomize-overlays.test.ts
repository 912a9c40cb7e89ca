import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../../cli/harness.js';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Namespace,
  ServiceAccount,
  ConfigMap,
  Secret,
  Service,
  PersistentVolumeClaim,
  Deployment,
  Role,
  RoleBinding,
};

/** kubectl carries kustomize; without it (it is no dependency of plato-eas) the suite is skipped. */
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const haveKubectl = kubectl.status === 0;
if (!haveKubectl) console.warn('skipping the kustomize overlay suite: kubectl is not installed');

/** Parsed YAML, read field by field as the assertions need. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
type Obj = {
  kind: string;
  metadata: { name: string };
  spec?: Loose;
  data?: Record<string, string>;
};

describe.runIf(haveKubectl)('examples/kubernetes overlays build with kustomize', () => {
  let dir: string;
  const build = (overlay: string): Obj[] => {
    const r = spawnSync('kubectl', ['kustomize', join(dir, 'overlays', overlay)], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
  };
  const validate = (objects: Obj[]) => {
    for (const o of objects) {
      // kustomize folds long base64 values over lines; the API server's decoder skips the breaks.
      if (o.kind === 'Secret') {
        for (const [k, v] of Object.entries(o.data ?? {})) o.data![k] = v.replace(/\s+/g, '');
      }
      const Model = MODELS[o.kind];
      expect(Model, o.kind).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eas-kustomize-'));
    cpSync(join(REPO, 'examples/kubernetes'), dir, { recursive: true });
    // What the guide tells an operator to write into the minikube overlay's secrets/.
    const secrets = join(dir, 'overlays/minikube/secrets');
    writeFileSync(join(secrets, 'postgres-password'), 'pw-0123456789abcdef');
    writeFileSync(
      join(secrets, 'database-url'),
      'postgres://eas:pw-0123456789abcdef@postgres:5432/eas',
    );
    writeFileSync(join(secrets, 'redis.conf'), 'requirepass rpw-0123456789abcdef\n');
    writeFileSync(join(secrets, 'redis-url'), 'redis://:rpw-0123456789abcdef@redis:6379');
    writeFileSync(join(secrets, 'web-token'), 'token-0123456789abcdef');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('minikube: the base, PostgreSQL, Redis and the generated Secrets, all valid', () => {
    const objects = build('minikube');
    validate(objects);
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const name of [
      'Deployment/postgres',
      'Deployment/redis',
      'Secret/eas-database',
      'Secret/eas-redis',
      'Secret/eas-web-token',
      'Secret/postgres',
      'Secret/redis-config',
      'Deployment/eas-worker-eas-base',
    ]) {
      expect(names).toContain(name);
    }
    const pvc = objects.find((o) => o.metadata.name === 'eas-files')!;
    expect(pvc.spec.resources.requests.storage).toBe('5Gi');
  });

  it('cluster: images from your registry, a ReadWriteMany StorageClass, a standby controller', () => {
    const objects = build('cluster');
    validate(objects);
    const images = objects
      .filter((o) => o.kind === 'Deployment')
      .map((o) => o.spec.template.spec.containers[0].image as string);
    expect(images.every((i) => i.startsWith('registry.example.org/'))).toBe(true);
    const pvc = objects.find((o) => o.metadata.name === 'eas-files')!;
    expect(pvc.spec).toMatchObject({
      storageClassName: 'nfs-client',
      accessModes: ['ReadWriteMany'],
    });
    const controller = objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'eas-controller',
    )!;
    expect(controller.spec.replicas).toBe(2);
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
  });
});
