/**
 * The autoscaling loop on a real SQLite task database: demand per container from the live
 * attempts (task type → container through the registry, retries in backoff apart, busy workers
 * by id), and the controller running it with a fake in-memory scaler (a platform stand-in that
 * records requests) — typed events, metrics, failures retried.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  Autoscaler,
  autoscalerSettingsSchema,
  registerControllerMetrics,
  type AutoscalerSettings,
  type ScaleApplied,
  type ScaleDecision,
  type Scaler,
  type ScaleRequest,
  type ScaleResult,
} from '../../../src/control/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEasError, loadConfig } from '../../../src/core/index.js';
import { createPipeline, type Pipeline } from '../../../src/pipeline.js';
import { createTestPipeline, type TestPipeline } from '../../../src/testing/index.js';
import { freshPostgresSchema, postgresAvailable } from '../../helpers/services.js';

const postgres = await postgresAvailable();

const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

const REGISTRY = {
  containers: {
    tda: { concurrency: 2, scaling: { min: 0, max: 3, cooldown: 0 } },
    idle: { concurrency: 1, scaling: { min: 1, max: 2 } },
  },
  taskTypes: {
    search: { container: 'tda', command: ['/bin/true'] },
    prep: { command: ['/bin/true'] }, // eas-base
  },
};

async function pipeline(): Promise<TestPipeline> {
  const p = await createTestPipeline({ registry: REGISTRY });
  open.push(p);
  return p;
}

/** A fake in-memory platform: replicas are whatever was last asked, busy ones kept. */
class FakeScaler implements Scaler {
  readonly name = 'fake';
  readonly requests: ScaleRequest[] = [];
  readonly counts = new Map<string, number>();
  failWith: Error | undefined;
  /** Containers whose replicas cannot be read (a Deployment that does not exist). */
  readonly missing = new Set<string>();
  async replicas(container: string): Promise<number> {
    if (this.missing.has(container)) throw new Error(`no Deployment for ${container}`);
    return this.counts.get(container) ?? 0;
  }
  async scale(request: ScaleRequest): Promise<ScaleResult> {
    this.requests.push(request);
    if (this.failWith) throw this.failWith;
    const from = this.counts.get(request.container) ?? 0;
    const to = Math.max(request.replicas, request.busy.length);
    this.counts.set(request.container, to);
    return { container: request.container, from, to };
  }
  async close(): Promise<void> {}
}

const WORKER = { id: 'node-7:4242:abcdef', host: 'node-7', pid: 4242 };

/** Submits 5 `search` and 3 `prep` tasks, and starts 2 `search` attempts under WORKER. */
async function demandOf8(p: Pipeline): Promise<void> {
  await p.controller().submit({
    chain: {
      task_list: [
        ...Array.from({ length: 5 }, () => ({ task: 'search' })),
        ...Array.from({ length: 3 }, () => ({ task: 'prep' })),
      ],
    },
  });
  const claimed = await p.queue.claim({
    owner: WORKER.id,
    types: ['search'],
    max: 2,
    leaseMs: 60_000,
  });
  const { payloads } = await p.db.startAttempts(
    claimed.map((c) => c.attemptId),
    WORKER,
  );
  expect(payloads).toHaveLength(2);
}

describe('Autoscaler.demand', () => {
  it('maps live attempts to containers through the registry, with the busy workers', async () => {
    const p = await pipeline();
    await demandOf8(p);
    const a = new Autoscaler({ db: p.db, registry: p.registry, scaler: new FakeScaler() });
    const demand = await a.demand();
    expect(demand.find((d) => d.container === 'tda')).toEqual({
      container: 'tda',
      queued: 3,
      delayed: 0,
      running: 2,
      busy: [{ workerId: WORKER.id, host: WORKER.host }],
    });
    expect(demand.find((d) => d.container === 'eas-base')).toMatchObject({
      queued: 3,
      running: 0,
      busy: [],
    });
    // A container with no task types has no demand, but is there.
    expect(demand.find((d) => d.container === 'idle')).toMatchObject({ queued: 0, running: 0 });
  });

  it('counts a retry waiting out its backoff as delayed, not as demand', async () => {
    const p = await pipeline();
    await demandOf8(p);
    const running = await p.db.runningAttemptsOf([WORKER.id]);
    const now = Date.now();
    await p.db.finishAttempts([
      {
        attemptId: running[0]!,
        workerId: WORKER.id,
        succeeded: false,
        qcPassed: false,
        error: 'failed on purpose',
        startedAt: now,
        endedAt: now,
        wallMs: 0,
        cpuMs: 0,
        cpuChildrenMs: 0,
        outputs: [],
        outputMetadata: {},
        retry: { maxAttempts: 3, backoffMs: 600_000, maxBackoffMs: 600_000 },
      },
    ]);
    const a = new Autoscaler({ db: p.db, registry: p.registry, scaler: new FakeScaler() });
    expect((await a.demand()).find((d) => d.container === 'tda')).toMatchObject({
      queued: 3,
      delayed: 1,
      running: 1,
    });
  });

  it('scales only the containers it is given, and refuses unknown ones', async () => {
    const p = await pipeline();
    const a = new Autoscaler({
      db: p.db,
      registry: p.registry,
      scaler: new FakeScaler(),
      containers: ['tda'],
    });
    expect((await a.demand()).map((d) => d.container)).toEqual(['tda']);
    let error: unknown;
    try {
      new Autoscaler({
        db: p.db,
        registry: p.registry,
        scaler: new FakeScaler(),
        containers: ['gpu'],
      });
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('USAGE');
    expect((error as Error).message).toContain('"gpu" not in the registry');
  });
});

describe.skipIf(!postgres)('Autoscaler.demand on PostgreSQL', () => {
  it('reads the same demand from PostgreSQL (counts come back as numbers)', async () => {
    const schema = await freshPostgresSchema();
    const dir = mkdtempSync(join(tmpdir(), 'eas-autoscale-pg-'));
    const config = {
      ...loadConfig({ cwd: dir, env: {} }),
      databaseUrl: schema.url,
      registry: REGISTRY,
    };
    const p = await createPipeline({ config });
    try {
      await demandOf8(p);
      const a = new Autoscaler({ db: p.db, registry: p.registry, scaler: new FakeScaler() });
      expect((await a.demand()).find((d) => d.container === 'tda')).toEqual({
        container: 'tda',
        queued: 3,
        delayed: 0,
        running: 2,
        busy: [{ workerId: WORKER.id, host: WORKER.host }],
      });
    } finally {
      await p.close();
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Autoscaler.tick', () => {
  it('applies each change once, passing the busy workers, and holds otherwise', async () => {
    const p = await pipeline();
    await demandOf8(p);
    const scaler = new FakeScaler();
    const a = new Autoscaler({ db: p.db, registry: p.registry, scaler });
    const applied: ScaleApplied[] = [];
    a.on('scale:applied', (e) => applied.push(e));
    const first = await a.tick();
    const byName = Object.fromEntries(first.map((d) => [d.container, d]));
    // tda: ceil((3 + 2) / 2) = 3; eas-base: ceil(3 / 4) = 1; idle: min 1.
    expect(byName.tda).toMatchObject({ from: 0, to: 3, change: 'up' });
    expect(byName['eas-base']).toMatchObject({ from: 0, to: 1, change: 'up' });
    expect(byName.idle).toMatchObject({ from: 0, to: 1, change: 'up' });
    expect(scaler.requests.find((r) => r.container === 'tda')).toEqual({
      container: 'tda',
      replicas: 3,
      busy: [{ workerId: WORKER.id, host: WORKER.host }],
    });
    expect(applied.map((e) => [e.container, e.from, e.to]).sort()).toEqual([
      ['eas-base', 0, 1],
      ['idle', 0, 1],
      ['tda', 0, 3],
    ]);
    expect(applied.find((e) => e.container === 'tda')?.reason).toMatch(
      /^scale up: 3 queued \+ 2 running/,
    );
    // Nothing changed: every container holds and the scaler is not called.
    scaler.requests.length = 0;
    const second = await a.tick();
    expect(second.every((d) => d.change === 'hold')).toBe(true);
    expect(scaler.requests).toEqual([]);
  });

  it('reports a failed scale and tries again at the next tick', async () => {
    const p = await pipeline();
    await demandOf8(p);
    const scaler = new FakeScaler();
    scaler.failWith = new Error('platform said no');
    const a = new Autoscaler({ db: p.db, registry: p.registry, scaler, containers: ['tda'] });
    const failed: string[] = [];
    a.on('scale:failed', (e) => failed.push(`${e.container} ${e.requested} ${e.error.message}`));
    await a.tick();
    expect(failed).toEqual(['tda 3 platform said no']);
    scaler.failWith = undefined;
    const [d] = await a.tick();
    expect(d).toMatchObject({ from: 0, to: 3 });
    expect(scaler.counts.get('tda')).toBe(3);
  });

  it('skips a container whose replicas cannot be read and scales the others', async () => {
    const p = await pipeline();
    await demandOf8(p);
    const scaler = new FakeScaler();
    scaler.missing.add('eas-base');
    const a = new Autoscaler({ db: p.db, registry: p.registry, scaler });
    const failed: { container: string; requested: number | undefined; message: string }[] = [];
    a.on('scale:failed', (e) =>
      failed.push({ container: e.container, requested: e.requested, message: e.error.message }),
    );
    const decisions = await a.tick();
    expect(decisions.map((d) => d.container).sort()).toEqual(['idle', 'tda']);
    expect(failed).toEqual([
      { container: 'eas-base', requested: undefined, message: 'no Deployment for eas-base' },
    ]);
    expect(scaler.counts.get('tda')).toBe(3);
    expect(scaler.requests.map((r) => r.container)).not.toContain('eas-base');
  });
});

describe('Controller with a scaler', () => {
  it('runs the autoscaler while it runs: typed events, metrics, scale-down to zero when done', async () => {
    const p = await pipeline();
    await demandOf8(p);
    const scaler = new FakeScaler();
    const controller = p.controller({ scaler, scaling: { interval: 20 }, reapIntervalMs: 20 });
    const metrics = new Registry();
    registerControllerMetrics(metrics, { db: p.db, queue: p.queue, controller });
    const decided: (readonly ScaleDecision[])[] = [];
    const applied: ScaleApplied[] = [];
    controller.on('scale:decided', (e) => decided.push(e.decisions));
    controller.on('scale:applied', (e) => applied.push(e));
    const up = new Promise<void>((resolve) =>
      controller.on('scale:applied', (e) => e.container === 'tda' && e.to === 3 && resolve()),
    );
    const running = controller.run();
    await up;
    const text = await metrics.metrics();
    expect(text).toMatch(/^eas_desired_replicas\{container="tda"\} 3$/m);
    expect(text).toMatch(/^eas_scale_operations_total\{container="tda",direction="up"\} 1$/m);

    // The work goes away (cancelled); with cool-down 0, tda goes to zero at the next tick.
    const down = new Promise<void>((resolve) =>
      controller.on('scale:applied', (e) => e.container === 'tda' && e.to === 0 && resolve()),
    );
    await p.db.cancelJob(1);
    await p.db.stallAttempts(await p.db.runningAttemptsOf([WORKER.id]));
    await down;
    controller.stop('test over');
    await running;
    expect(decided.length).toBeGreaterThanOrEqual(2);
    expect(applied.filter((e) => e.container === 'tda').map((e) => [e.from, e.to])).toEqual([
      [0, 3],
      [3, 0],
    ]);
    expect(await metrics.metrics()).toMatch(
      /^eas_scale_operations_total\{container="tda",direction="down"\} 1$/m,
    );
  });

  it('AutoscalerSettings matches what its zod schema accepts; a bad interval is refused', async () => {
    expectTypeOf<AutoscalerSettings>().toEqualTypeOf<z.input<typeof autoscalerSettingsSchema>>();
    const p = await pipeline();
    let error: unknown;
    try {
      p.controller({ scaler: new FakeScaler(), scaling: { interval: '1ms' } });
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('USAGE');
    expect((error as Error).message).toContain('AutoscalerOptions.interval');
  });
});
