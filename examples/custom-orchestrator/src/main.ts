/**
 * A pipeline assembled in code, without `eas.yaml` or the `eas` CLI: a task database, a job
 * queue and a file repository in a temporary directory, a task-type registry with one external
 * command and one in-process handler, a controller and a worker harness. It submits a two-task
 * chain — the command writes a light curve, the handler reads it and summarises it — waits for
 * the job to end, prints what every task did, closes everything and exits non-zero unless the
 * job ended `done`.
 *
 * Build and run: `npm install && npx tsc -p . && node dist/main.js`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BUILTIN_HANDLERS,
  BUILTIN_TASK_TYPES,
  Controller,
  WorkerHarness,
  createFileRepository,
  createJobQueue,
  createTaskDatabase,
  float,
  loadRegistry,
  toPlainMetadata,
  type ChainDocument,
  type HandlerDefinition,
  type TaskDatabase,
} from 'plato-eas';

/**
 * Longest the example waits for its job, ms. The chain takes well under a second; the limit
 * only keeps a broken build from hanging CI.
 */
const JOB_TIMEOUT_MS = 60_000;

/**
 * The external program of the `make_lightcurve` task type, written next to the database at
 * start-up. It could be Python, C or Fortran just as well: the contract is only the JSON task
 * file at `EAS_TASK_FILE`, output files at the paths in `task.outputs`, an optional JSON object
 * of output metadata at `EAS_RESULT_FILE`, and exit code 0 for success. What it prints is kept
 * as the attempt's log.
 */
const MAKE_LIGHTCURVE_MJS = `import { readFileSync, writeFileSync } from 'node:fs';

const task = JSON.parse(readFileSync(process.env.EAS_TASK_FILE, 'utf8'));
const points = task.description.points;
const depth = task.description.depth;
const time = [];
const flux = [];
for (let i = 0; i < points; i++) {
  const phase = i / points;
  time.push(i * 0.02);
  flux.push(phase >= 0.45 && phase < 0.55 ? 1 - depth : 1);
}
writeFileSync(task.outputs.lightcurve, JSON.stringify({ time, flux }));
console.log('wrote ' + points + ' points to ' + task.outputs.lightcurve);
writeFileSync(
  process.env.EAS_RESULT_FILE,
  JSON.stringify({ points, in_transit: flux.filter((f) => f < 1).length }),
);
`;

/**
 * The in-process task type `summarise_lightcurve`: reads the light curve the command wrote,
 * measures the transit depth, writes a JSON summary and returns output metadata. Throwing
 * fails the attempt; the stack becomes its traceback.
 */
const summariseLightcurve: HandlerDefinition = {
  async run(ctx) {
    const input = ctx.task.inputs.lightcurve;
    const output = ctx.task.outputs.summary;
    if (input === undefined || output === undefined) {
      throw new Error('summarise_lightcurve needs the input "lightcurve" and the output "summary"');
    }
    const { flux } = JSON.parse(await readFile(input, 'utf8')) as { flux: number[] };
    const producer = ctx.task.requested_metadata.make;
    if (producer?.points !== flux.length) {
      throw new Error(
        `the light curve has ${flux.length} points, its producer reported ${String(producer?.points)}`,
      );
    }
    const baseline = Math.max(...flux);
    const depth = Number((1 - Math.min(...flux) / baseline).toFixed(6));
    const inTransit = flux.filter((f) => f < baseline - depth * baseline * 0.5).length;
    await writeFile(output, JSON.stringify({ points: flux.length, baseline, depth, inTransit }));
    ctx.log('info', `depth ${depth.toFixed(4)} from ${flux.length} points`);
    return { metadata: { points: flux.length, in_transit: inTransit, depth: float(depth) } };
  },
};

/**
 * The chain: `make` runs the external command, which writes `lc.json`; `summarise` declares
 * `lc.json` as its input, so it waits for `make` to pass QC and is handed that file. It also
 * reads the output metadata of `make` (`requires_metadata_from`).
 */
const CHAIN: ChainDocument = {
  job_name: 'custom-orchestrator',
  working_directory: 'star_42',
  task_list: [
    {
      task: 'make_lightcurve',
      name: 'make',
      points: 200,
      depth: 0.01,
      outputs: { lightcurve: 'lc.json' },
    },
    {
      task: 'summarise_lightcurve',
      name: 'summarise',
      inputs: { lightcurve: 'lc.json' },
      outputs: { summary: 'summary.json' },
      requires_metadata_from: ['make'],
    },
  ],
};

/** Assembles the pipeline in `dir`, runs the chain; true when the job ended `done`. */
async function runExample(dir: string): Promise<boolean> {
  await writeFile(join(dir, 'make-lightcurve.mjs'), MAKE_LIGHTCURVE_MJS);

  // Disposed in reverse order when the function returns or throws: files, then the queue,
  // which shares the database's connection, then the database.
  await using db = await createTaskDatabase({ url: `sqlite:${join(dir, 'eas.db')}` });
  await using queue = await createJobQueue({ backend: 'sql', sql: db.sql });
  await using files = await createFileRepository({ root: join(dir, 'files') });

  // In-process handlers are declared to the registry as built-in task types (the worker is
  // given their code below); external commands are registry entries with `command`, run in
  // `baseDir`.
  const registry = await loadRegistry(
    {
      taskTypes: {
        make_lightcurve: {
          command: [process.execPath, 'make-lightcurve.mjs'],
          outputs: { required: ['lightcurve'] },
          timeout: '30s',
        },
      },
    },
    {
      builtins: {
        ...BUILTIN_TASK_TYPES,
        summarise_lightcurve: {
          description: 'Measures the transit depth of a light curve.',
          runner: 'in-process',
          outputs: { required: ['summary'] },
        },
      },
      baseDir: dir,
    },
  );

  const controller = new Controller({ db, queue, registry });
  const worker = new WorkerHarness({
    db,
    queue,
    files,
    registry,
    handlers: { ...BUILTIN_HANDLERS, summarise_lightcurve: summariseLightcurve },
    concurrency: 2,
    scratchDir: join(dir, 'scratch'),
  });

  const { jobId, tasks } = await controller.submit({ chain: CHAIN, source: 'custom-orchestrator' });
  if (jobId === undefined) throw new Error('submit returned no job id');
  console.log(`submitted job ${jobId} (${tasks} tasks)`);

  const parts = [controller.run(), worker.run()];
  let status: string;
  try {
    status = await waitForJobEnd({ db, worker, jobId, parts, timeoutMs: JOB_TIMEOUT_MS });
  } finally {
    worker.stop('example finished');
    controller.stop('example finished');
    await Promise.all(parts);
  }
  await printJob(db, jobId, status);
  return status === 'done';
}

/**
 * Resolves with the job's final status. The worker reports finished attempts in batches; after
 * each committed batch the task database — the record of truth — is asked whether the job has
 * ended. Rejects when a part (controller, worker) stops or fails first, or after `timeoutMs`.
 */
function waitForJobEnd(o: {
  db: TaskDatabase;
  worker: WorkerHarness;
  jobId: number;
  parts: Promise<void>[];
  timeoutMs: number;
}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const cleanUp: (() => void)[] = [];
    let settled = false;
    const end = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      for (const f of cleanUp) f();
      settle();
    };
    const fail = (error: unknown): void =>
      end(() => reject(error instanceof Error ? error : new Error(String(error))));

    const timer = setTimeout(
      () => fail(new Error(`job ${o.jobId} still running after ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    cleanUp.push(() => clearTimeout(timer));
    cleanUp.push(
      o.worker.on('batch:committed', () => {
        o.db.job(o.jobId).then((job) => {
          if (job && job.status !== 'running') end(() => resolve(job.status));
        }, fail);
      }),
    );
    for (const part of o.parts) {
      part.then(() => fail(new Error(`a pipeline part stopped before job ${o.jobId} ended`)), fail);
    }
  });
}

/** Prints each task's state, output metadata, files and log lines. */
async function printJob(db: TaskDatabase, jobId: number, status: string): Promise<void> {
  console.log(`job ${jobId}: ${status}`);
  for (const summary of await db.tasks({ jobId })) {
    const task = await db.task(summary.id);
    if (!task) continue;
    const state = task.reason ? `${task.state} (${task.reason})` : task.state;
    const label = `  ${task.name ?? task.path} (${task.type}): ${state}`;
    if (task.control) {
      console.log(`${label}, control flow`);
      continue;
    }
    console.log(`${label}, ${task.attempts.length} attempt(s)`);
    const last = task.attempts.at(-1);
    if (!last) continue;
    console.log(`    output metadata: ${JSON.stringify(toPlainMetadata(last.outputMetadata))}`);
    for (const v of last.versions) {
      console.log(
        `    file ${v.workingDirectory}/${v.filename}: ${v.size} bytes, sha256 ${v.sha256.slice(0, 12)}…, QC ${v.passedQc ? 'passed' : 'failed'}`,
      );
    }
    for (const line of await db.logs({ taskId: task.id })) {
      console.log(`    log [${line.stream}] ${line.message}`);
    }
    if (last.error) console.log(`    error: ${last.error}`);
    if (last.traceback) console.log(`    traceback:\n${last.traceback.replace(/^/gm, '      ')}`);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'eas-custom-orchestrator-'));
let done = false;
try {
  done = await runExample(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
if (!done) {
  console.error('the job did not end done');
  process.exitCode = 1;
}
