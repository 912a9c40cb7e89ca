import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BUSY_POD_DELETION_COST,
  IDLE_POD_DELETION_COST,
  KubernetesScaler,
  createKubernetesScaler,
  POD_DELETION_COST_ANNOTATION,
} from '../../../src/control/index.js';
import { isEasError } from '../../../src/core/index.js';
import {
  startFakeKubernetesApi,
  type FakeKubernetesApi,
} from '../../helpers/fake-kubernetes-api.js';

const NS = 'survey';
const LABELS = {
  'app.kubernetes.io/part-of': 'plato-eas',
  'app.kubernetes.io/component': 'worker',
  'plato-eas/container': 'tda-python',
};
/** `tda_python` is not a Kubernetes name; its Deployment is named after its DNS form. */
const DEPLOYMENT = 'eas-worker-tda-python';

const worker = (pod: string, n = 1) => ({ workerId: `${pod}:${100 + n}:abc${n}`, host: pod });

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isEasError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('no error');
}

describe('KubernetesScaler against a fake Kubernetes API server', () => {
  let api: FakeKubernetesApi;
  let scaler: KubernetesScaler;

  beforeEach(async () => {
    api = await startFakeKubernetesApi();
    scaler = await createKubernetesScaler({
      connection: { server: api.url, token: api.token, skipTLSVerify: true },
      namespace: NS,
    });
  });
  afterEach(async () => {
    await scaler.close();
    await api.close();
  });

  const scalePatches = () =>
    api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/scale'));
  const podPatches = () =>
    api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/pods/'));
  const cost = (pod: string) =>
    api.get('Pod', NS, pod)?.metadata.annotations?.[POD_DELETION_COST_ANNOTATION];

  it('reads the desired replicas through the scale subresource, with the bearer token', async () => {
    api.addDeployment(NS, DEPLOYMENT, 3, LABELS);
    expect(await scaler.replicas('tda_python')).toBe(3);
    const last = api.requests.at(-1)!;
    expect(last).toMatchObject({
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${NS}/deployments/${DEPLOYMENT}/scale`,
      status: 200,
    });
    expect(scaler.name).toBe('kubernetes');
  });

  it('scales out with one merge patch of spec.replicas and touches no pod', async () => {
    api.addDeployment(NS, DEPLOYMENT, 1, LABELS);
    const result = await scaler.scale({ container: 'tda_python', replicas: 4, busy: [] });
    expect(result).toEqual({ container: 'tda_python', from: 1, to: 4 });
    expect(scalePatches()).toHaveLength(1);
    expect(scalePatches()[0]).toMatchObject({
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 4 } },
      query: { fieldManager: 'plato-eas' },
    });
    expect(podPatches()).toHaveLength(0);
    expect(api.requests.some((r) => r.path.endsWith('/pods'))).toBe(false);
    expect(api.podsOf(NS, DEPLOYMENT)).toHaveLength(4);
  });

  it('on scale-in marks busy pods costly and idle pods cheap before lowering replicas, so busy pods survive', async () => {
    const pods = api.addDeployment(NS, DEPLOYMENT, 5, LABELS);
    const busy = [pods[1]!, pods[3]!];
    const result = await scaler.scale({
      container: 'tda_python',
      replicas: 2,
      busy: busy.map((p, i) => worker(p, i)),
    });
    expect(result).toEqual({ container: 'tda_python', from: 5, to: 2 });

    for (const p of pods) {
      expect(cost(p) ?? 'deleted').toSatisfy((c: string) =>
        busy.includes(p) ? c === String(BUSY_POD_DELETION_COST) : c === 'deleted',
      );
    }
    // Every annotation was written before the replica count went down.
    const order = api.requests.filter((r) => r.method === 'PATCH');
    const scaleAt = order.findIndex((r) => r.path.endsWith('/scale'));
    expect(scaleAt).toBe(order.length - 1);
    expect(order.slice(0, scaleAt)).toHaveLength(5);
    for (const r of order.slice(0, scaleAt)) {
      expect(r.contentType).toBe('application/merge-patch+json');
      const pod = r.path.split('/').at(-1)!;
      expect(r.body).toEqual({
        metadata: {
          annotations: {
            [POD_DELETION_COST_ANNOTATION]: String(
              busy.includes(pod) ? BUSY_POD_DELETION_COST : IDLE_POD_DELETION_COST,
            ),
          },
        },
      });
    }
    // The fake ReplicaSet controller removed the cheapest pods: the busy ones are left.
    expect(api.podsOf(NS, DEPLOYMENT)).toEqual([...busy].sort());
  });

  it('never asks for fewer replicas than busy pods, counting a pod with two busy workers once', async () => {
    const pods = api.addDeployment(NS, DEPLOYMENT, 4, LABELS);
    const result = await scaler.scale({
      container: 'tda_python',
      replicas: 0,
      busy: [worker(pods[0]!, 1), worker(pods[0]!, 2), worker(pods[2]!, 3)],
    });
    expect(result.to).toBe(2);
    expect(scalePatches().at(-1)!.body).toEqual({ spec: { replicas: 2 } });
    expect(api.podsOf(NS, DEPLOYMENT)).toEqual([pods[0]!, pods[2]!].sort());

    // All busy: nothing can go, so nothing is patched at all.
    const before = api.requests.length;
    const again = await scaler.scale({
      container: 'tda_python',
      replicas: 0,
      busy: [worker(pods[0]!), worker(pods[2]!)],
    });
    expect(again).toEqual({ container: 'tda_python', from: 2, to: 2 });
    expect(api.requests.slice(before).every((r) => r.method === 'GET')).toBe(true);
  });

  it('scales an idle container to zero, and rewrites only the costs that changed', async () => {
    const pods = api.addDeployment(NS, DEPLOYMENT, 3, LABELS);
    await scaler.scale({ container: 'tda_python', replicas: 2, busy: [worker(pods[0]!)] });
    const survivors = api.podsOf(NS, DEPLOYMENT);
    expect(survivors).toContain(pods[0]);
    const patchesBefore = podPatches().length;

    // pods[0] is idle now: its cost must fall; the other survivor is idle already.
    await scaler.scale({ container: 'tda_python', replicas: 0, busy: [] });
    const rewritten = podPatches()
      .slice(patchesBefore)
      .map((r) => r.path.split('/').at(-1));
    expect(rewritten).toEqual([pods[0]]);
    expect(api.podsOf(NS, DEPLOYMENT)).toEqual([]);
    expect(await scaler.replicas('tda_python')).toBe(0);
  });

  it('leaves pods that are already terminating alone', async () => {
    api.addDeployment(NS, DEPLOYMENT, 2, LABELS);
    api.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'eas-worker-tda-python-old',
        namespace: NS,
        labels: LABELS,
        deletionTimestamp: new Date().toISOString(),
      },
    });
    await scaler.scale({ container: 'tda_python', replicas: 1, busy: [] });
    expect(podPatches()).toHaveLength(2);
    expect(podPatches().map((r) => r.path)).not.toContain(
      `/api/v1/namespaces/${NS}/pods/eas-worker-tda-python-old`,
    );
  });

  it('says how to fix a missing Deployment, a refusal, a failing and an unreachable server', async () => {
    const missing = await errorOf(scaler.replicas('tda_python'));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toContain(`${NS}/${DEPLOYMENT}`);
    expect(missing.message).toContain('eas k8s apply');

    api.addDeployment(NS, DEPLOYMENT, 1, LABELS);
    api.failNext(1, 403);
    const refused = await errorOf(scaler.replicas('tda_python'));
    expect(refused.code).toBe('CONFIG_INVALID');
    expect(refused.message).toMatch(/refused.*HTTP 403.*RBAC/);

    api.failNext(1, 503);
    expect(
      (await errorOf(scaler.scale({ container: 'tda_python', replicas: 2, busy: [] }))).code,
    ).toBe('BACKEND_UNAVAILABLE');

    await expect(scaler.scale({ container: 'tda_python', replicas: -1, busy: [] })).rejects.toThrow(
      /integer ≥ 0/,
    );

    const wrongToken = await createKubernetesScaler({
      connection: { server: api.url, token: 'not-the-token', skipTLSVerify: true },
      namespace: NS,
    });
    const unauthorized = await errorOf(wrongToken.replicas('tda_python'));
    expect(unauthorized.code).toBe('CONFIG_INVALID');
    expect(unauthorized.message).not.toContain('not-the-token');

    const url = api.url;
    await api.close();
    const gone = await createKubernetesScaler({
      connection: { server: url, token: 't', skipTLSVerify: true },
      namespace: NS,
    });
    const unreachable = await errorOf(gone.replicas('tda_python'));
    expect(unreachable.code).toBe('BACKEND_UNAVAILABLE');
    expect(unreachable.message).toContain(url);
    api = await startFakeKubernetesApi();
  });

  it('takes the namespace of the connection when none is given', async () => {
    const other = await createKubernetesScaler({
      connection: { server: api.url, token: api.token, skipTLSVerify: true, namespace: 'lab' },
    });
    expect(other.namespace).toBe('lab');
    api.addDeployment('lab', DEPLOYMENT, 2, LABELS);
    expect(await other.replicas('tda_python')).toBe(2);
  });
});
