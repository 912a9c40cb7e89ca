import type { Command } from 'commander';
import { cancelJob, deleteJob, rerunJob } from '../../control/index.js';
import type { CancelResult } from '../../taskdb/index.js';
import { parseId, runHint, withPipeline, type CommandContext } from '../context.js';
import { plural, printJson } from '../format.js';

function cancelLine(r: CancelResult): string {
  const byState = Object.entries(r.tasks)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return (
    `${plural(r.cancelledTasks, 'task')} cancelled${byState ? ` (${byState})` : ''}, ` +
    `${plural(r.cancelledAttempts, 'attempt')} stopped` +
    (r.runningAttempts > 0
      ? ` (${r.runningAttempts} running: their workers stop them at their next heartbeat)`
      : '')
  );
}

/** `cancel`, `rerun`, `delete`: operations on whole jobs. */
export function registerJobs(program: Command, ctx: CommandContext): void {
  program
    .command('cancel')
    .description('cancel a running job: its unfinished tasks and their attempts are cancelled')
    .argument('<job>', 'job id (see eas status)')
    .option('--json', 'print what was cancelled as JSON')
    .action(async (job: string, opts: { json?: boolean }) => {
      const jobId = parseId(job, 'job id');
      await withPipeline(ctx, async (p) => {
        const r = await cancelJob({ db: p.db, queue: p.queue, logger: p.logger }, jobId);
        if (opts.json) return printJson(ctx.output, r);
        ctx.output.out(`Cancelled job ${r.jobId} "${r.jobName}": ${cancelLine(r)}.`);
        ctx.output.out(`Run its unfinished part later with: eas rerun ${r.jobId}`);
      });
    });

  program
    .command('rerun')
    .description(
      'run the failed part of a job again: failed tasks get a new attempt, blocked and cancelled ones wait again',
    )
    .argument('<job>', 'job id (see eas status)')
    .option('--json', 'print what was queued as JSON')
    .action(async (job: string, opts: { json?: boolean }) => {
      const jobId = parseId(job, 'job id');
      await withPipeline(ctx, async (p) => {
        const r = await rerunJob({ db: p.db, queue: p.queue, logger: p.logger }, jobId);
        if (opts.json) {
          return printJson(ctx.output, {
            jobId: r.jobId,
            jobName: r.jobName,
            previousStatus: r.previousStatus,
            status: r.status,
            rerunTasks: r.rerunTasks,
            reopenedTasks: r.reopenedTasks,
            stillBlocked: r.stillBlocked,
            queued: r.ready.map((a) => ({ attemptId: a.attemptId, taskId: a.taskId })),
          });
        }
        ctx.output.out(
          `Rerunning job ${r.jobId} "${r.jobName}" (was ${r.previousStatus}): ` +
            `${plural(r.rerunTasks.length, 'failed task')} to run again, ` +
            `${plural(r.reopenedTasks.length, 'blocked or cancelled task')} waiting again; ` +
            `${plural(r.ready.length, 'attempt')} queued.`,
        );
        if (r.stillBlocked.length > 0)
          ctx.output.out(
            `${plural(r.stillBlocked.length, 'task')} stay blocked: an input's producer is done but did not write it. See: eas errors --job ${r.jobId}`,
          );
        if (r.status === 'running')
          ctx.output.out(await runHint(p, new Set(r.ready.map((a) => a.taskType))));
      });
    });

  program
    .command('delete')
    .description('delete a finished job: its tasks, attempts, products, logs and unshared files')
    .argument('<job>', 'job id (see eas status)')
    .option('--force', 'cancel the job first if it is running')
    .option('--json', 'print what was removed as JSON')
    .action(async (job: string, opts: { force?: boolean; json?: boolean }) => {
      const jobId = parseId(job, 'job id');
      await withPipeline(ctx, async (p) => {
        const r = await deleteJob(
          { db: p.db, queue: p.queue, files: p.files, logger: p.logger },
          jobId,
          { force: Boolean(opts.force) },
        );
        if (opts.json) return printJson(ctx.output, r);
        if (r.cancelled)
          ctx.output.out(`Cancelled job ${r.jobId} first: ${cancelLine(r.cancelled)}.`);
        const x = r.removed;
        ctx.output.out(
          `Deleted job ${r.jobId} "${r.jobName}": ${plural(x.tasks, 'task')}, ${plural(x.attempts, 'attempt')}, ` +
            `${plural(x.products, 'product')}, ${plural(x.versions, 'version')}, ${plural(x.logLines, 'log line')}; ` +
            `${plural(r.deletedObjects.length, 'stored file')} removed` +
            (r.sharedObjects.length > 0
              ? `, ${plural(r.sharedObjects.length, 'stored file')} kept (other jobs have the same content)`
              : '') +
            (r.keptObjects.length > 0
              ? `, ${plural(r.keptObjects.length, 'stored file')} kept for now (stored again since by another job's worker; eas gc removes ${r.keptObjects.length > 1 ? 'them' : 'it'} if no version refers to ${r.keptObjects.length > 1 ? 'them' : 'it'})`
              : '') +
            '.',
        );
      });
    });
}
