import {
  EasError,
  InvalidInputError,
  type Problem,
  type TypedMetadata,
  type TypedValue,
} from '../core/index.js';
import {
  criterionHolds,
  expandFragment,
  LiteralResolver,
  type TaskDescriptor,
  type ValueResolver,
} from '../chain/index.js';
import { checkLogicalPath } from '../filestore/index.js';
import type { TaskTypeRegistry } from '../registry/index.js';
import type { AttemptPayload, DeferredExpansion, TaskDatabase } from '../taskdb/index.js';

/** What planning a run-time expansion needs. */
export interface DeferredContext {
  db: TaskDatabase;
  registry: TaskTypeRegistry;
  resolver?: ValueResolver;
  workerId: string;
}

/**
 * Plans the run-time expansion of a claimed control-flow task (DESIGN §3):
 * - `execution_conditional`: evaluates `criterion` with the `requested_metadata` of its
 *   providers and expands `task_list` (true) or `else_task_list` (false) under it; the branch
 *   sees the same `requested_metadata`.
 * - `execution_do_while_loop`: expands iteration 1 at once; each later time (after the named
 *   body tasks of the last iteration passed QC) evaluates `repeat_criterion` with their output
 *   metadata and `<iteration_name>_index` = the last iteration, and expands the next one or ends.
 *
 * @throws InvalidInputError `CHAIN_INVALID` for a criterion or body that cannot be evaluated or
 *   bound (the caller fails the control task with the message).
 */
export async function planDeferred(
  ctx: DeferredContext,
  p: AttemptPayload,
): Promise<DeferredExpansion> {
  const resolver = ctx.resolver ?? new LiteralResolver();
  const job = await ctx.db.job(p.jobId);
  if (!job) throw new EasError('NOT_FOUND', `job ${p.jobId} is gone`);
  const d = p.description as TaskDescriptor & Record<string, unknown>;
  const jobName = typeof d.job_name === 'string' ? d.job_name : job.name;
  const scopeFor = (metadata: TypedMetadata) => ({
    metadata,
    requestedMetadata: p.requestedMetadata,
    seed: job.seed,
    path: p.path,
  });
  const parent = {
    path: p.path,
    depth: depthOf(p.path),
    workingDirectory: p.workingDirectory,
    jobName,
    metadata: p.metadata,
  };
  const options = {
    catalog: ctx.registry.catalog(),
    resolver,
    defaultJobName: jobName,
    seed: job.seed,
    normalizePath: checkLogicalPath,
  };

  if (p.taskType === 'execution_conditional') {
    const verdict = criterionHolds(
      resolver.resolve(d.criterion, scopeFor(p.metadata), `${p.path}.criterion`),
    );
    const field = verdict ? 'task_list' : 'else_task_list';
    const list = (d[field] as TaskDescriptor[] | undefined) ?? [];
    const f = expandFragment(
      {
        list,
        listPath: `${p.path}.${field}`,
        parent,
        jobName,
        requestedMetadata: p.requestedMetadata,
      },
      options,
    );
    await bindInputs(ctx, p.jobId, f.tasks, f.unresolvedInputs, f.problems);
    if (f.problems.length > 0)
      throw new InvalidInputError('CHAIN_INVALID', `Branch of ${p.path} invalid`, f.problems);
    return {
      attemptId: p.attemptId,
      workerId: ctx.workerId,
      children: f.tasks,
      done: true,
      waitFor: [],
    };
  }

  if (p.taskType === 'execution_do_while_loop') {
    const name = String(d.iteration_name ?? '').trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new InvalidInputError('CHAIN_INVALID', 'Chain invalid', [
        { path: `${p.path}.iteration_name`, message: 'must be a name' },
      ]);
    }
    const done = await ctx.db.childCount(p.taskId);
    if (done > 0) {
      const metadata = {
        ...p.metadata,
        [`${name}_index`]: { type: 'int', value: done } as TypedValue,
      };
      const again = criterionHolds(
        resolver.resolve(d.repeat_criterion, scopeFor(metadata), `${p.path}.repeat_criterion`),
      );
      if (!again)
        return {
          attemptId: p.attemptId,
          workerId: ctx.workerId,
          children: [],
          done: true,
          waitFor: [],
        };
    }
    const k = done + 1;
    const iterationPath = `${p.path}@${k - 1}`;
    const f = expandFragment(
      {
        list: (d.task_list as TaskDescriptor[] | undefined) ?? [],
        listPath: `${iterationPath}.task_list`,
        parent,
        jobName,
        requestedMetadata: p.requestedMetadata,
        iteration: {
          path: iterationPath,
          position: k - 1,
          metadata: { [`${name}_index`]: { type: 'int', value: k } },
        },
      },
      options,
    );
    const wanted = Array.isArray(d.requires_metadata_from_child)
      ? (d.requires_metadata_from_child as unknown[]).map(String)
      : [];
    if (wanted.length === 0) {
      f.problems.push({
        path: `${p.path}.requires_metadata_from_child`,
        message:
          'names the body tasks whose output metadata the repeat_criterion reads; at least one is needed',
      });
    }
    const waitFor: { name: string; providerKey: number }[] = [];
    for (const w of wanted) {
      const t = f.tasks.find((x) => x.parentKey === 0 && x.name === w);
      if (t) waitFor.push({ name: w, providerKey: t.key });
      else
        f.problems.push({
          path: `${p.path}.requires_metadata_from_child`,
          message: `no body task is named "${w}"`,
        });
    }
    await bindInputs(ctx, p.jobId, f.tasks, f.unresolvedInputs, f.problems);
    if (f.problems.length > 0)
      throw new InvalidInputError(
        'CHAIN_INVALID',
        `Iteration ${k} of ${p.path} invalid`,
        f.problems,
      );
    return {
      attemptId: p.attemptId,
      workerId: ctx.workerId,
      children: f.tasks,
      done: false,
      waitFor,
    };
  }
  throw new EasError('INTERNAL', `${p.taskType} has no run-time expansion`);
}

/** Binds inputs without a producer in the fragment to the job's own files, then to earlier jobs'. */
async function bindInputs(
  ctx: DeferredContext,
  jobId: number,
  tasks: {
    inputs: {
      workingDirectory: string;
      filename: string;
      where: string;
      jobProductId?: number;
      externalProductId?: number;
    }[];
  }[],
  unresolved: { taskKey: number; inputIndex: number }[],
  problems: Problem[],
): Promise<void> {
  for (const u of unresolved) {
    const input = tasks[u.taskKey]!.inputs[u.inputIndex]!;
    const own = await ctx.db.jobProduct(jobId, input.workingDirectory, input.filename);
    if (own !== undefined) {
      input.jobProductId = own;
      continue;
    }
    const earlier = await ctx.db.findPassedVersion(input.workingDirectory, input.filename);
    if (earlier) input.externalProductId = earlier.productId;
    else {
      problems.push({
        path: input.where,
        message: `no task of this job declares output "${input.filename}" in working directory "${input.workingDirectory}", and no earlier job has it`,
      });
    }
  }
}

/** Depth of a task from its chain path: one level per `task_list[i]` and per loop iteration. */
function depthOf(path: string): number {
  return (path.match(/\[\d+\]|@\d+/g) ?? []).length;
}
