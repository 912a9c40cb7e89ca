import { existsSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import {
  EasError,
  fileErrorWords,
  FloatValue,
  InvalidInputError,
  parseIni,
  parseJsonKeepingFloats,
  stringifyKeepingFloats,
  toPlainMetadata,
  toTypedMetadata,
  type TypedMetadata,
} from '../core/index.js';
import { sidecarPath, writeMetadataCfg } from '../science/index.js';
import { expandChain, ExpressionResolver, type TaskDescriptor } from '../chain/index.js';
import type { FileRepository } from '../filestore/index.js';
import type { JobQueue } from '../queue/index.js';
import type { TaskTypeRegistry } from '../registry/index.js';
import type { AttemptDetail, TaskDatabase, TaskState } from '../taskdb/index.js';
import type { WorkerHarness } from './worker-harness.js';

/** The parts a standalone run uses (a throw-away embedded pipeline). */
export interface StandaloneParts {
  db: TaskDatabase;
  queue: JobQueue;
  files: FileRepository;
  registry: TaskTypeRegistry;
  /** A worker harness on those parts. */
  worker: () => WorkerHarness;
}

/** The outcome of a standalone run. */
export interface StandaloneResult {
  taskType: string;
  state: TaskState;
  /** The task's last attempt (timings, error, traceback, output metadata, versions). */
  attempt: AttemptDetail | undefined;
  /** Output files copied out of the repository, by semantic type. */
  outputs: Record<string, string>;
  /** Why the task did not end `done`, if it did not. */
  reason: string | null;
}

/** Working directory of a standalone task's files in its throw-away pipeline. */
const STANDALONE_WD = 'standalone';

/**
 * Reads a standalone task description: an original `.cfg` (INI with `[task]`, `[inputs]`,
 * `[outputs]` and any other section as a nested field such as `[specs]`) or a `.json`
 * descriptor (`{ "task": …, "inputs": {…}, … }`). Input paths are relative to `cwd`, as in
 * the original.
 *
 * @throws EasError `CONFIG_INVALID`/`JSON_SYNTAX` naming the file and line; `NOT_FOUND` for an
 *   input file that does not exist.
 */
export async function readStandaloneTask(
  file: string,
  cwd: string,
): Promise<{ descriptor: TaskDescriptor; inputs: Record<string, string> }> {
  const text = await readFile(resolve(cwd, file), 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new EasError('NOT_FOUND', `Cannot read ${file}: ${fileErrorWords(e)}`, {
      where: file,
      cause: e,
    });
  });
  let raw: Record<string, unknown>;
  if (extname(file).toLowerCase() === '.json') {
    raw = parseJsonKeepingFloats(text, file) as Record<string, unknown>;
  } else {
    const ini = parseIni(text, file);
    const task = ini.task;
    if (!task) throw new EasError('CONFIG_INVALID', `${file}: no [task] section`, { where: file });
    raw = { ...task };
    for (const [section, values] of Object.entries(ini))
      if (section !== 'task') raw[section] = { ...values };
  }
  if (typeof raw.task !== 'string' || raw.task.trim() === '') {
    throw new EasError('CONFIG_INVALID', `${file}: "task" (the task type) is required`, {
      where: `${file}: task`,
    });
  }
  const inputs: Record<string, string> = {};
  const problems = [];
  for (const [sem, p] of Object.entries(
    (raw.inputs as Record<string, unknown> | undefined) ?? {},
  )) {
    const path = resolve(cwd, String(p));
    if (!existsSync(path))
      problems.push({ path: `${file}: inputs.${sem}`, message: `no file at ${path}` });
    inputs[sem] = path;
  }
  if (problems.length > 0)
    throw new InvalidInputError('NOT_FOUND', `Standalone task ${file} invalid`, problems);
  const outputs: Record<string, string> = {};
  for (const [sem, f] of Object.entries((raw.outputs as Record<string, unknown> | undefined) ?? {}))
    outputs[sem] = String(f);
  const descriptor: TaskDescriptor = { ...(raw as TaskDescriptor), task: raw.task.trim() };
  // Inputs are bound by their file name in the standalone working directory.
  descriptor.inputs = Object.fromEntries(
    Object.entries(inputs).map(([sem, p]) => [sem, `${sem}__${basename(p)}`]),
  );
  descriptor.outputs = outputs;
  return { descriptor, inputs };
}

/**
 * Runs one task exactly as a pipeline would — registry, harness, QC, versions — against a
 * throw-away embedded pipeline: how a science team tests its module (DESIGN §5). Input files
 * (with their `.metadata.cfg` sidecars as version metadata) are stored first, as if an earlier
 * job had produced them; outputs are copied to `outDir` afterwards.
 */
export async function runStandalone(
  parts: StandaloneParts,
  task: { descriptor: TaskDescriptor; inputs: Record<string, string> },
  options: { outDir: string; source: string },
): Promise<StandaloneResult> {
  const { db, queue, files, registry } = parts;
  const jobName =
    typeof task.descriptor.job_name === 'string' ? task.descriptor.job_name : 'standalone';
  // Expanded (and so checked) first: a mistake in the task stops it before anything is stored.
  let plan;
  try {
    plan = expandChain(
      { job_name: jobName, working_directory: STANDALONE_WD, task_list: [task.descriptor] },
      {
        catalog: registry.catalog(),
        resolver: new ExpressionResolver(),
        defaultJobName: jobName,
        seed: 'standalone',
      },
    );
  } catch (e) {
    // The task is the file's, not a chain's: its problems are named by field.
    if (!(e instanceof InvalidInputError)) throw e;
    throw new InvalidInputError(
      e.code,
      `${options.source} invalid`,
      e.problems.map((p) => ({ ...p, path: p.path.replace(/^task_list\[0\]\.?/, '') || 'task' })),
      { cause: e },
    );
  }
  const imported = [];
  for (const [sem, path] of Object.entries(task.inputs)) {
    const stored = await files.putFile(path);
    imported.push({
      workingDirectory: STANDALONE_WD,
      filename: task.descriptor.inputs![sem]!,
      semanticType: sem,
      sha256: stored.sha256,
      size: stored.size,
      metadata: await sidecarMetadata(path),
    });
  }
  if (imported.length > 0) await db.importFiles('standalone inputs', imported);

  for (const t of plan.tasks) {
    for (const input of t.inputs) {
      const found = await db.findPassedVersion(input.workingDirectory, input.filename);
      if (!found)
        throw new EasError('INTERNAL', `standalone input ${input.filename} was not stored`);
      input.externalProductId = found.productId;
    }
  }
  if (plan.deferred > 0)
    throw new EasError(
      'USAGE',
      `${options.source}: a standalone task cannot be a conditional or do-while loop`,
    );
  const submitted = await db.submit({
    name: jobName,
    workingDirectory: STANDALONE_WD,
    chain: task.descriptor,
    source: options.source,
    tasks: plan.tasks,
  });
  await queue.enqueue(submitted.ready);

  const worker = parts.worker();
  const finished = new Promise<void>((done) => {
    const check = async (): Promise<void> => {
      const job = await db.job(submitted.jobId);
      if (job && job.status !== 'running') done();
    };
    worker.on('batch:committed', () => void check());
    worker.on('worker:idle', () => void check());
  });
  const running = worker.run();
  await finished;
  worker.stop('standalone task finished');
  await running;

  const [leaf] = (await db.tasks({ jobId: submitted.jobId })).filter((t) => !t.control);
  const detail = leaf ? await db.task(leaf.id) : undefined;
  const attempt = detail?.attempts[detail.attempts.length - 1];
  const outputs: Record<string, string> = {};
  for (const v of attempt?.versions ?? []) {
    const dest = join(options.outDir, v.filename);
    await copyFile(files.localPath(v.sha256), dest);
    outputs[v.semanticType] = dest;
    // The file's metadata travels beside it, as a standalone input's does (DESIGN §6): a next
    // standalone run reading this output sees it (a search finds its injected period).
    const stored = v.passedQc
      ? await db.findPassedVersion(v.workingDirectory, v.filename, submitted.jobId)
      : undefined;
    // What an INI line can hold: finite numbers and one-line texts under plain keys.
    const plain = Object.entries(toPlainMetadata(stored?.metadata ?? {})).filter(
      (e): e is [string, number | string] =>
        e[0] !== '' &&
        e[0].trim() === e[0] &&
        !/[=:\n[]/.test(e[0]) &&
        ((typeof e[1] === 'number' && Number.isFinite(e[1])) ||
          (typeof e[1] === 'string' && !e[1].includes('\n'))),
    );
    // Written or removed: a sidecar an earlier run left beside the same name must not stay.
    if (plain.length > 0)
      await writeFile(sidecarPath(dest), writeMetadataCfg(Object.fromEntries(plain)));
    else await rm(sidecarPath(dest), { force: true });
  }
  return {
    taskType: task.descriptor.task,
    state: detail?.state ?? 'failed',
    attempt,
    outputs,
    reason: detail?.reason ?? null,
  };
}

/** The `[metadata]` of `<file>.metadata.cfg`, typed, when the sidecar exists. */
async function sidecarMetadata(path: string): Promise<TypedMetadata | undefined> {
  const sidecar = `${path}.metadata.cfg`;
  if (!existsSync(sidecar)) return undefined;
  const ini = parseIni(await readFile(sidecar, 'utf8'), sidecar);
  return toTypedMetadata((ini.metadata ?? {}) as Record<string, unknown>);
}

/** JSON of a standalone result for `--json` (floats kept). */
export function standaloneResultJson(r: StandaloneResult): string {
  return stringifyKeepingFloats(
    {
      taskType: r.taskType,
      state: r.state,
      reason: r.reason,
      outputMetadata: Object.fromEntries(
        Object.entries(r.attempt?.outputMetadata ?? {}).map(([k, v]) => [
          k,
          v.type === 'float' ? new FloatValue(v.value) : v.value,
        ]),
      ),
      outputs: r.outputs,
      attempt: r.attempt && { ...r.attempt, outputMetadata: undefined },
    },
    2,
  );
}
