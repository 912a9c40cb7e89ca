import { writeFile } from 'node:fs/promises';
import { makeDirectory } from '../../core/index.js';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { createPipeline } from '../../pipeline.js';
import { configOf, loggerOf, type CommandContext } from '../context.js';
import { runUntil } from './run.js';
import { INIT_CONFIG } from './init.js';
import { STATE_MARK, metadataLine, ms, table, taskLabel } from '../format.js';

/** The demo's external science code: synthesises a light curve with transits (gzip text). */
const MAKE_LIGHTCURVE = `// An external science code, run by the worker harness as a separate process. It reads its task
// from the JSON file named by EAS_TASK_FILE, writes its output where the task says, and reports
// output metadata in EAS_RESULT_FILE. Any language works the same way.
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const task = JSON.parse(readFileSync(process.env.EAS_TASK_FILE, 'utf8'));
const s = task.description.specs;
const cadence = s.cadence_s;
const n = Math.floor((s.days * 86400) / cadence);
let seed = 12345;
const noise = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return (seed / 2147483648 - 0.5) * 2 * s.noise;
};
const lines = ['# time [s], flux, flag, uncertainty'];
for (let i = 0; i < n; i++) {
  const t = i * cadence;
  const phase = ((t / 86400 - s.t0_days) % s.period_days + s.period_days) % s.period_days;
  const inTransit = phase < s.duration_days;
  const flux = 1 - (inTransit ? s.depth : 0) + noise();
  lines.push(t.toFixed(1) + ' ' + flux.toFixed(7) + ' 0 ' + s.noise);
}
writeFileSync(task.outputs.lightcurve, gzipSync(lines.join('\\n') + '\\n'));
console.log('wrote ' + n + ' samples to ' + task.outputs.lightcurve);
writeFileSync(process.env.EAS_RESULT_FILE, JSON.stringify({
  samples: n,
  injected_depth: s.depth,
  period_days: s.period_days,
  t0_days: s.t0_days,
  duration_days: s.duration_days,
}));
`;

/** The grid's light-curve file name, from both loop indices. */
const LIGHTCURVE = "'planet_{planet_size_index}_{orbital_period_index}.gz'.format(**metadata)";

/** The demo's in-process handler: measures the transit depth in the light curve. */
const ANALYSE = `// An in-process task handler (a JavaScript module named in registry.yaml). It reads the light
// curve written by make_lightcurve and the metadata that task reported, and measures the depth.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export function measureDepth(ctx) {
  const injected = ctx.task.requested_metadata.make_lightcurve;
  const text = gunzipSync(readFileSync(ctx.task.inputs.lightcurve)).toString('utf8');
  let inSum = 0, inN = 0, outSum = 0, outN = 0;
  for (const line of text.split('\\n')) {
    if (!line || line.startsWith('#')) continue;
    const [t, flux] = line.split(' ').map(Number);
    const phase = ((t / 86400 - injected.t0_days) % injected.period_days + injected.period_days) % injected.period_days;
    if (phase < injected.duration_days) { inSum += flux; inN++; } else { outSum += flux; outN++; }
  }
  const depth = outSum / outN - inSum / inN;
  ctx.log('info', 'measured depth ' + depth.toExponential(3) + ' from ' + inN + ' in-transit samples');
  return { metadata: { measured_depth: depth, in_transit_samples: inN, recovered: Math.abs(depth / injected.injected_depth - 1) < 0.2 } };
}
`;

const REGISTRY = `# Task types of this demo, beside the built-in ones (null, error, set_metadata…).
taskTypes:
  make_lightcurve:
    # an external command: any language, given its task in EAS_TASK_FILE
    command: ["${'${NODE}'}", "make_lightcurve.mjs"]
    outputs: { required: [lightcurve] }
  measure_depth:
    # an in-process JavaScript handler
    module: ./analyse.mjs#measureDepth
`;

const CHAIN = {
  job_name: 'demo',
  working_directory: 'demo',
  task_list: [
    { task: 'null', name: 'calibrate_camera_1', sleep: 0.4 },
    { task: 'null', name: 'calibrate_camera_2', sleep: 0.4 },
    { task: 'null', name: 'calibrate_camera_3', sleep: 0.4 },
    {
      task: 'make_lightcurve',
      name: 'make_lightcurve',
      outputs: { lightcurve: 'star_1.gz' },
      specs: {
        days: 60,
        cadence_s: 900,
        period_days: 10,
        t0_days: 3,
        duration_days: 0.3,
        depth: 0.002,
        noise: 0.0005,
      },
    },
    {
      task: 'measure_depth',
      name: 'measure_depth',
      inputs: { lightcurve: 'star_1.gz' },
      requires_metadata_from: ['make_lightcurve'],
    },
    {
      task: 'error',
      name: 'flaky_instrument',
      message: 'detector readout failed (on purpose: this is the demo)',
      outputs: { lightcurve: 'star_2.gz' },
    },
    { task: 'measure_depth', name: 'measure_star_2', inputs: { lightcurve: 'star_2.gz' } },
    {
      // The science: planets of five sizes on three orbits around a Sun-like star, each light
      // curve synthesised with PLATO-like noise, verified, and searched with box least squares.
      task: 'execution_for_loop',
      name: 'detection_grid',
      parameter: 'planet_size',
      values: [0.02, 0.05, 0.1, 0.2, 0.4],
      task_list: [
        {
          task: 'execution_for_loop',
          name: 'orbits',
          parameter: 'orbital_period',
          values: [3.1, 7.3, 12.9],
          task_list: [
            {
              task: 'synthesis_transit',
              name: 'synthesis',
              outputs: { lightcurve: LIGHTCURVE },
              specs: {
                duration: 60,
                planet_radius: "(metadata['planet_size'])",
                orbital_period: "(metadata['orbital_period'])",
                semi_major_axis: 0.07,
                t0: 2,
                noise: '(constants.plato_noise)',
                sampling_cadence: 900,
              },
            },
            { task: 'verify', name: 'verify', inputs: { lightcurve: LIGHTCURVE } },
            {
              task: 'transit_search_bls',
              name: 'bls',
              inputs: { lightcurve: LIGHTCURVE },
              lc_duration: 60,
            },
          ],
        },
      ],
    },
  ],
};

/** `eas demo [dir]`: a small real pipeline on SQLite, left in place to explore. */
export function registerDemo(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description(
      'build a small embedded pipeline in ./eas-demo, run a chain through it and explain what happened',
    )
    .argument('[dir]', 'directory to build it in', 'eas-demo')
    .action(async (dir: string) => {
      const o = ctx.output;
      const root = resolve(ctx.cwd, dir);
      await makeDirectory(root);
      await writeFile(
        join(root, 'eas.yaml'),
        INIT_CONFIG.replace('# registry: registry.yaml', 'registry: registry.yaml'),
      );
      await writeFile(
        join(root, 'registry.yaml'),
        REGISTRY.replace('${NODE}', process.execPath.replace(/\\/g, '/')),
      );
      await writeFile(join(root, 'make_lightcurve.mjs'), MAKE_LIGHTCURVE);
      await writeFile(join(root, 'analyse.mjs'), ANALYSE);
      await writeFile(join(root, 'demo-chain.json'), `${JSON.stringify(CHAIN, null, 2)}\n`);
      o.out(`Building an embedded pipeline in ${root} (SQLite, no server needed)…`);

      const config = configOf({ ...ctx, cwd: root, globals: () => ({}) });
      const pipeline = await createPipeline({ config, logger: loggerOf(config) });
      try {
        const summary = await pipeline
          .controller()
          .submit({ chain: JSON.stringify(CHAIN), source: join(root, 'demo-chain.json') });
        o.out(
          `Submitted demo-chain.json as job ${summary.jobId}: ${summary.tasks} tasks (the chain itself counts as one).`,
        );
        o.out(
          'Running: three calibrations in parallel, a light curve made by an external command and measured by',
        );
        o.out(
          'a second task that reads that file and its metadata, an instrument task that fails on purpose,',
        );
        o.out(
          'and a grid of five planet sizes × three orbits through transit synthesis, verification and a transit search.\n',
        );
        const started = Date.now();
        await runUntil(pipeline, { workers: 4, untilIdle: true });
        const seconds = ((Date.now() - started) / 1000).toFixed(1);

        const jobId = summary.jobId!;
        const rows: string[][] = [];
        for (const t of await pipeline.db.children(jobId, null)) {
          rows.push([String(t.id), `${STATE_MARK[t.state]} ${t.state}`, taskLabel(t), '']);
          for (const c of await pipeline.db.children(jobId, t.id)) {
            if (c.type === 'execution_for_loop') {
              rows.push([
                String(c.id),
                `${STATE_MARK[c.state]} ${c.state}`,
                `  ${taskLabel(c)}`,
                `${c.childCount ?? 0} iterations: the pass/fail table below`,
              ]);
              continue;
            }
            const d = await pipeline.db.task(c.id);
            const last = d?.attempts[d.attempts.length - 1];
            const note =
              c.state === 'done'
                ? `${ms(last?.wallMs)}${last && Object.keys(last.outputMetadata).length ? `  ${metadataLine(last.outputMetadata)}` : ''}`
                : (c.reason ?? last?.error ?? '');
            rows.push([
              String(c.id),
              `${STATE_MARK[c.state]} ${c.state}`,
              `  ${taskLabel(c)}`,
              note,
            ]);
          }
        }
        o.out(table(['id', 'state', 'task', 'result'], rows));
        const outcomes = await pipeline.db.outcomes({ jobId });
        if (outcomes.length > 0) {
          const value = (r: (typeof outcomes)[number], key: string): number =>
            Number(r.metadata[key]?.value);
          const sizes = [...new Set(outcomes.map((r) => value(r, 'planet_size')))].sort(
            (a, b) => a - b,
          );
          const periods = [...new Set(outcomes.map((r) => value(r, 'orbital_period')))].sort(
            (a, b) => a - b,
          );
          const cell = (size: number, period: number): string => {
            const r = outcomes.find(
              (x) => value(x, 'planet_size') === size && value(x, 'orbital_period') === period,
            );
            if (!r) return '-';
            const sde = r.output.sde ? ` SDE ${Number(r.output.sde.value).toFixed(0)}` : '';
            return `${r.outcome}${sde}`;
          };
          o.out(
            '\nDetection by planet size and orbital period (box least squares on 60 days of data):',
          );
          o.out(
            table(
              ['planet radius', ...periods.map((p) => `P = ${p} d`)],
              sizes.map((size) => [
                `${size} R_Jup (${(size * 11.2).toFixed(1)} R_Earth)`,
                ...periods.map((p) => cell(size, p)),
              ]),
            ),
          );
        }
        const s = await pipeline.db.status(jobId);
        o.out(
          `\nFinished in ${seconds} s: ${s.totals.done} done, ${s.totals.failed} failed, ${s.totals.blocked} blocked.`,
        );
        o.out(
          'The failure is part of the demo: "flaky_instrument" raised an error (its traceback is stored), and',
        );
        o.out(
          '"measure_star_2", which needs its file, was blocked instead of running on missing data.\n',
        );
        const rel = relative(ctx.cwd, root) || '.';
        o.out(`Everything is kept in ${rel}/. Look further:`);
        o.out(`  cd ${rel}`);
        o.out('  npx eas status           counts by task type and state');
        o.out('  npx eas tree             the task tree with states');
        o.out('  npx eas errors           the failure with its traceback, and what it blocked');
        o.out('  npx eas task <id>        one task: attempts, timings, metadata, files');
        o.out('  npx eas logs             what the tasks printed');
        o.out('  npx eas products         files written, with checksums and QC');
        o.out('  npx eas pass-fail --csv  the detection grid as CSV, loop parameters as columns');
        o.out(
          '  npx eas web              the dashboard: progress, failures, the detection heat map',
        );
        o.out('  npx eas timings          how long each task type took');
        o.out('  npx eas get demo/star_1.gz   copy a file out');
      } finally {
        await pipeline.close();
      }
    });
}
