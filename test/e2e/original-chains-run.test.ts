/**
 * The original's `if_then_else.json` and `while_loop.json`, unchanged, run to the end with test
 * handlers whose transit search says PASS only for the larger planets (issue 3).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';
import type { HandlerDefinition } from '../../src/sdk/index.js';

const CHAINS = new URL('../../../shared/data/chains/', import.meta.url);
/** Planets above this radius (in Jupiter radii) are "found". The grids span Rearth/8 … 8·Rearth. */
const THRESHOLD = 0.0891 * 1.5;

const handlers: Record<string, HandlerDefinition> = {
  synthesis_psls: {
    run: (ctx) => {
      const specs = ctx.task.description.specs as Record<string, number>;
      writeFileSync(
        ctx.task.outputs.lightcurve!,
        gzipSync(`# planet_radius ${specs.planet_radius}\n0 1 0 0\n`),
      );
      return { metadata: { planet_radius: specs.planet_radius } };
    },
  },
  verify: {
    run: (ctx) => ({ metadata: { bytes: readFileSync(ctx.task.inputs.lightcurve!).length } }),
  },
  transit_search_tls: {
    run: (ctx) => {
      const size = ctx.task.metadata.size as number;
      return { metadata: { outcome: size > THRESHOLD ? 'PASS' : 'FAIL', size } };
    },
  },
};
const registry = { taskTypes: { transit_search_tls: { outputs: { optional: ['debugging'] } } } };

const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

describe('the original chains run to the end', () => {
  it('if_then_else.json: each size takes the branch its transit search decided', async () => {
    const p = await createTestPipeline({ handlers, registry, concurrency: 8 });
    open.push(p);
    const { jobId, status } = await p.runChain(
      readFileSync(new URL('if_then_else.json', CHAINS), 'utf8'),
    );
    expect(status.totals).toMatchObject({
      failed: 0,
      blocked: 0,
      waiting: 0,
      queued: 0,
      running: 0,
    });
    const leaves = await p.db.tasks({ jobId, type: 'null' });
    const searches = await p.db.tasks({ jobId, type: 'transit_search_tls' });
    expect(searches).toHaveLength(8);
    let passes = 0;
    for (const s of searches) {
      const d = (await p.db.task(s.id))!;
      const outcome = d.attempts[0]!.outputMetadata.outcome!.value;
      const size = d.metadata.size!.value as number;
      expect(outcome).toBe(size > THRESHOLD ? 'PASS' : 'FAIL');
      const iteration = s.path.slice(0, s.path.lastIndexOf('.task_list['));
      const branch = leaves.filter((l) => l.path.startsWith(`${iteration}.task_list[3].`));
      if (outcome === 'PASS') {
        passes++;
        expect(branch.map((b) => b.name)).toEqual(['conditional_true']);
      } else {
        expect(branch.map((b) => b.name)).toEqual([
          'conditional_false_1',
          'conditional_false_2',
          'conditional_false_3',
        ]);
      }
    }
    expect(passes).toBeGreaterThan(0);
    expect(passes).toBeLessThan(8);
    expect(status.totals.done).toBe(46 + passes * 1 + (8 - passes) * 3);
    // Output filenames carry integer indices: evsize_psls_0_0_3.gz, never _3.0.
    const products = await p.db.products({ jobId });
    expect(products.map((x) => x.filename).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `evsize_psls_0_0_${i}.gz`).sort(),
    );
  });

  it('while_loop.json: PASS sizes iterate exactly 3 times, FAIL sizes once', async () => {
    const p = await createTestPipeline({ handlers, registry, concurrency: 8 });
    open.push(p);
    const { jobId, status } = await p.runChain(
      readFileSync(new URL('while_loop.json', CHAINS), 'utf8'),
    );
    expect(status.totals).toMatchObject({
      failed: 0,
      blocked: 0,
      waiting: 0,
      queued: 0,
      running: 0,
    });
    const loops = await p.db.tasks({ jobId, type: 'execution_do_while_loop' });
    expect(loops).toHaveLength(8);
    let passSizes = 0;
    for (const loop of loops) {
      const size = (await p.db.task(loop.id))!.metadata.size!.value as number;
      const iterations = await p.db.children(jobId, loop.id);
      expect(iterations.map((i) => i.path)).toEqual(
        Array.from({ length: size > THRESHOLD ? 3 : 1 }, (_, k) => `${loop.path}@${k}`),
      );
      for (const [k, it] of iterations.entries()) {
        expect((await p.db.task(it.id))!.metadata.my_while_loop_index).toEqual({
          type: 'int',
          value: k + 1,
        });
      }
      if (size > THRESHOLD) passSizes++;
    }
    expect(passSizes).toBeGreaterThan(0);
    expect(passSizes).toBeLessThan(8);
    // 30 at submission, then per iteration an execution_chain, verify and search.
    const iterationsTotal = passSizes * 3 + (8 - passSizes);
    expect(status.totals.done).toBe(30 + 3 * iterationsTotal);
  });
});
