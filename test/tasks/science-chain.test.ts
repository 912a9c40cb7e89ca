/**
 * The science built-ins in a chain on the embedded pipeline: synthesis (noise) and synthesis
 * (transit) → multiply → verify → BLS, for a large planet (found: PASS) and a tiny one (FAIL);
 * plus binning and ingest.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';
import { toPlainMetadata } from '../../src/core/index.js';

const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

async function outputMetadata(
  p: TestPipeline,
  jobId: number,
  type: string,
): Promise<Record<string, unknown>[]> {
  const tasks = await p.db.tasks({ jobId, type });
  const out: Record<string, unknown>[] = [];
  for (const t of tasks) {
    const d = (await p.db.task(t.id))!;
    const md = d.attempts[0]!.outputMetadata;
    out.push(Object.fromEntries(Object.entries(md).map(([k, v]) => [k, v.value])));
  }
  return out;
}

describe('science chain', () => {
  it('injects a transit into noise and recovers the large planet (PASS), not the tiny one (FAIL)', async () => {
    const p = await createTestPipeline({ concurrency: 4 });
    open.push(p);
    const chain = {
      job_name: 'injection',
      task_list: [
        {
          task: 'synthesis_transit',
          outputs: { lightcurve: 'noise.gz' },
          specs: { duration: 100, sampling_cadence: 900, noise: '(constants.plato_noise)' },
        },
        {
          task: 'execution_for_loop',
          parameter: 'size',
          values: [1.0, 0.01],
          task_list: [
            {
              task: 'synthesis_batman',
              outputs: { lightcurve: "'transit_{size_index}.gz'.format(**metadata)" },
              specs: {
                duration: 100,
                planet_radius: "(metadata['size'])",
                orbital_period: 20,
                semi_major_axis: 0.15,
                orbital_angle: 0,
                t0: 3,
                sampling_cadence: 900,
              },
            },
            {
              task: 'multiply',
              inputs: {
                lightcurve_1: "'transit_{size_index}.gz'.format(**metadata)",
                lightcurve_2: 'noise.gz',
              },
              outputs: { lightcurve: "'injected_{size_index}.gz'.format(**metadata)" },
            },
            {
              task: 'verify',
              inputs: { lightcurve: "'injected_{size_index}.gz'.format(**metadata)" },
              outputs: { verification: "'verification_{size_index}.json'.format(**metadata)" },
            },
            {
              task: 'transit_search_bls',
              inputs: { lightcurve: "'injected_{size_index}.gz'.format(**metadata)" },
              lc_duration: 100,
            },
          ],
        },
      ],
    };
    const { jobId, status } = await p.runChain(JSON.stringify(chain));
    expect(status.totals).toMatchObject({ failed: 0, blocked: 0 });
    const searches = await outputMetadata(p, jobId, 'transit_search_bls');
    expect(searches).toHaveLength(2);
    for (const s of searches) expect(s.injected_period).toBe(20); // travelled via multiply
    const outcomes = searches.map((s) => s.outcome).sort();
    expect(outcomes).toEqual(['FAIL', 'PASS']);
    const pass = searches.find((s) => s.outcome === 'PASS')!;
    expect(Math.abs((pass.period as number) / 20 - 1)).toBeLessThan(1e-3);
    expect(pass.depth as number).toBeGreaterThan(0.01);
    const verifies = await outputMetadata(p, jobId, 'verify');
    for (const v of verifies) expect(v).toMatchObject({ n_samples: 9600, n_gaps: 0 });
    const synth = await outputMetadata(p, jobId, 'synthesis_transit');
    expect(synth[0]).toMatchObject({ noise: 0.000315, pixels_in_transit: 0, mes: null });
  }, 30_000);

  it('keeps heartbeating while BLS searches (the search runs on worker threads)', async () => {
    const p = await createTestPipeline({ concurrency: 1, leaseMs: 3000, heartbeatMs: 50 });
    open.push(p);
    const controller = p.controller({ reapIntervalMs: 100 });
    const { jobId } = await controller.submit({
      chain: {
        task_list: [
          {
            task: 'synthesis_batman',
            outputs: { lightcurve: 'transit.gz' },
            specs: {
              duration: 240,
              planet_radius: 0.3,
              orbital_period: 50,
              semi_major_axis: 0.25,
              orbital_angle: 0,
              t0: 13.5,
              sampling_cadence: 900,
            },
          },
          {
            task: 'transit_search_bls',
            inputs: { lightcurve: 'transit.gz' },
            lc_duration: 240,
            search_settings: { frequency_factor: 15 },
          },
        ],
      },
    });
    const worker = p.worker({ claimWaitMs: 50 });
    let searching: number | undefined;
    const beats: number[] = [];
    worker.on('attempt:started', (a) => {
      if (a.taskType === 'transit_search_bls') searching = a.attemptId;
    });
    worker.on('heartbeat', ({ attemptIds }) => {
      if (searching !== undefined && attemptIds.includes(searching)) beats.push(Date.now());
    });
    const finished = new Promise<void>((resolve) => worker.on('job:finished', () => resolve()));
    const running = [controller.run(), worker.run()];
    await finished;
    worker.stop('done');
    controller.stop('done');
    await Promise.all(running);

    const [task] = await p.db.tasks({ jobId, type: 'transit_search_bls' });
    const detail = (await p.db.task(task!.id))!;
    expect(detail.attempts).toHaveLength(1);
    const a = detail.attempts[0]!;
    expect(a.outputMetadata.outcome?.value).toBe('PASS');
    const ran = a.endedAt! - a.startedAt!;
    let longestGap = 0;
    for (let i = 1; i < beats.length; i++)
      longestGap = Math.max(longestGap, beats[i]! - beats[i - 1]!);
    console.log(
      `BLS attempt ran ${ran} ms with ${beats.length} heartbeats, longest gap ${longestGap} ms`,
    );
    // Had the search held this thread, the heartbeats would stop for the length of a pass.
    expect(ran).toBeGreaterThan(500);
    expect(beats.length).toBeGreaterThan(5);
    expect(longestGap).toBeLessThan(ran / 4);
  }, 60_000);

  it('bins and ingests', async () => {
    const p = await createTestPipeline({ concurrency: 2 });
    open.push(p);
    const dir = join(p.dir, 'external');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'star_a.csv'),
      '# #star=a\n# #teff=5800\n0,1.0,0\n0.01,0.99,0\n0.02,1.01,0\n0.03,1.0,0\n',
    );
    writeFileSync(join(dir, 'star_b.csv'), '# #star=b\n0,1,0\n0.01,1,0\n');
    writeFileSync(join(dir, 'notes.txt'), 'not a light curve');
    const { jobId, status } = await p.runChain({
      task_list: [
        {
          task: 'ingest_external_lcs',
          directory: dir,
          pattern: 'star_*.csv',
          // One output per matching file, in name order.
          outputs: { lightcurve: 'ingested.gz', lightcurve_b: 'ingested_b.gz' },
        },
        {
          // More files than outputs: an error naming them, not a file silently dropped.
          task: 'ingest_external_lcs',
          name: 'too_many',
          directory: dir,
          pattern: 'star_*.csv',
          outputs: { lightcurve: 'one.gz' },
        },
        {
          task: 'binning',
          cadence: 1728,
          inputs: { lightcurve: 'ingested.gz' },
          outputs: { lightcurve: 'binned.gz' },
        },
        { task: 'verify', inputs: { lightcurve: 'binned.gz' } },
      ],
    });
    expect(status.totals).toMatchObject({ failed: 1, blocked: 0 });
    const [ingest] = await outputMetadata(p, jobId, 'ingest_external_lcs');
    expect(ingest).toMatchObject({ n_files: 2, files: 'star_a.csv,star_b.csv', n_samples: 4 });
    const b = await p.db.findPassedVersion('', 'ingested_b.gz', jobId);
    expect(toPlainMetadata(b!.metadata)).toMatchObject({ star: 'b', source_file: 'star_b.csv' });
    const errors = await p.db.errors(jobId);
    expect(errors.map((e) => e.reason).join()).toMatch(
      /2 files in .* match "star_\*\.csv" \(star_a\.csv, star_b\.csv\), but the task declares 1 output \(lightcurve\)/,
    );
    const [binning] = await outputMetadata(p, jobId, 'binning');
    expect(binning).toMatchObject({ n_samples_in: 4, n_samples: 2 });
    const [verify] = await outputMetadata(p, jobId, 'verify');
    expect(verify).toMatchObject({ n_samples: 2, cadence: 1728 });
    expect(verify!.flux_mean as number).toBeCloseTo(1, 12);
  }, 30_000);
});
