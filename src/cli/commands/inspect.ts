import type { Command } from 'commander';
import { EasError } from '../../core/index.js';
import { LOG_LEVELS, TASK_STATES, type TaskSummary } from '../../taskdb/index.js';
import type { Pipeline } from '../../pipeline.js';
import { jobOption, parseId, withReadingPipeline, type CommandContext } from '../context.js';
import {
  countsLine,
  metadataLine,
  ms,
  printJson,
  STATE_MARK,
  table,
  taskLabel,
  time,
  bytes,
} from '../format.js';

/** `status`, `tree`, `task`, `logs`, `errors`. */
export function registerInspect(program: Command, ctx: CommandContext): void {
  program
    .command('status')
    .description('task counts by type and state, per job and in total')
    .option('--job <id>', 'only this job')
    .option('--json', 'print { jobs, taskTypes, totals } as JSON')
    .action(async (opts: { job?: string; json?: boolean }) => {
      const jobId = opts.job === undefined ? undefined : parseId(opts.job, '--job');
      await withReadingPipeline(ctx, async (p) => {
        const s = await p.db.status(jobId);
        if (jobId !== undefined && s.jobs.length === 0)
          throw new EasError('NOT_FOUND', `No job ${jobId}.`, { where: '--job' });
        if (opts.json) {
          printJson(ctx.output, {
            jobs: s.jobs.map((j) => ({
              id: j.id,
              name: j.name,
              status: j.status,
              submittedAt: new Date(j.submittedAt).toISOString(),
              finishedAt: j.finishedAt === null ? null : new Date(j.finishedAt).toISOString(),
              tasks: j.taskCount,
              counts: j.counts,
            })),
            taskTypes: s.taskTypes,
            totals: s.totals,
          });
          return;
        }
        if (s.jobs.length === 0) {
          ctx.output.out('No jobs yet. Submit one with: eas submit <chain.json>');
          return;
        }
        ctx.output.out(
          table(
            ['job', 'name', 'status', 'submitted', 'tasks'],
            s.jobs.map((j) => [j.id, j.name, j.status, time(j.submittedAt), countsLine(j.counts)]),
          ),
        );
        ctx.output.out('');
        const states = TASK_STATES;
        ctx.output.out(
          table(
            ['task type', ...states],
            [
              ...Object.entries(s.taskTypes).map(([t, c]) => [t, ...states.map((st) => c[st])]),
              ['TOTAL', ...states.map((st) => s.totals[st])],
            ],
          ),
        );
      });
    });

  program
    .command('tree')
    .description('the task tree of a job, with states')
    .option('--job <id>', 'job (default: the newest)')
    .option('--depth <n>', 'levels to show', '20')
    .option('--limit <n>', 'most lines to print', '500')
    .option('--json', 'print as JSON')
    .action(async (opts: { job?: string; depth: string; limit: string; json?: boolean }) => {
      const depth = parseId(opts.depth, '--depth');
      const limit = parseId(opts.limit, '--limit');
      await withReadingPipeline(ctx, async (p) => {
        const jobId = await jobOrNewest(p, opts.job);
        const job = (await p.db.job(jobId))!;
        const lines: { task: TaskSummary; depth: number }[] = [];
        let truncated = false;
        const walk = async (parent: number | null, d: number): Promise<void> => {
          if (d > depth) return;
          for (const t of await p.db.children(jobId, parent, limit + 1)) {
            if (lines.length >= limit) {
              truncated = true;
              return;
            }
            lines.push({ task: t, depth: d });
            if ((t.childCount ?? 0) > 0) await walk(t.id, d + 1);
          }
        };
        await walk(null, 0);
        if (opts.json) {
          printJson(ctx.output, {
            job,
            tasks: lines.map((l) => ({ ...l.task, depth: l.depth })),
            truncated,
          });
          return;
        }
        ctx.output.out(`job ${job.id} "${job.name}" (${job.status})`);
        for (const { task: t, depth: d } of lines) {
          const extra = t.reason ? `  — ${t.reason}` : '';
          ctx.output.out(
            `${'  '.repeat(d)}${STATE_MARK[t.state]} [${t.id}] ${taskLabel(t)}  ${t.state}${extra}`,
          );
        }
        if (truncated) ctx.output.out(`… more tasks not shown (raise --limit, or use --depth)`);
        ctx.output.out(
          `\nLook closer: eas task <id>   ·   failures: eas errors   ·   logs: eas logs --task <id>`,
        );
      });
    });

  program
    .command('task')
    .description('everything about one task: attempts, timings, metadata, files, why it waits')
    .argument('<id>', 'task id (see eas tree)')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const taskId = parseId(id, 'task id');
      await withReadingPipeline(ctx, async (p) => {
        const t = await p.db.task(taskId);
        if (!t)
          throw new EasError('NOT_FOUND', `No task ${taskId}. List tasks with: eas tree`, {
            where: id,
          });
        if (opts.json) {
          printJson(ctx.output, t);
          return;
        }
        const o = ctx.output;
        o.out(`task ${t.id}  ${taskLabel(t)}  — ${t.state}${t.reason ? ` (${t.reason})` : ''}`);
        o.out(`job ${t.jobId} "${t.jobName}", working directory "${t.workingDirectory}"`);
        if (Object.keys(t.metadata).length) o.out(`metadata: ${metadataLine(t.metadata)}`);
        if (Object.keys(t.description).length)
          o.out(`description: ${JSON.stringify(t.description)}`);
        for (const i of t.inputs)
          o.out(
            `input  ${i.semanticType} = ${i.filename}  from task ${i.producerTaskId} (${i.producerState})${i.ready ? '' : '  NOT READY'}`,
          );
        for (const out of t.outputs)
          o.out(`output ${out.semanticType} = ${out.filename}${out.optional ? ' (optional)' : ''}`);
        for (const m of t.metadataFrom)
          o.out(`metadata from "${m.name}" (task ${m.providerTaskId}, ${m.providerState})`);
        if (t.waitingFor.length) o.out(`waiting for:\n  ${t.waitingFor.join('\n  ')}`);
        for (const a of t.attempts) {
          o.out(
            `\nattempt ${a.number} [${a.id}] ${a.kind}: ${a.state}${a.qc && a.state === 'succeeded' ? `, QC ${a.qc}` : ''}  host ${a.host ?? '-'}  queued ${time(a.queuedAt)}  started ${time(a.startedAt)}  ended ${time(a.endedAt)}`,
          );
          o.out(
            `  wall ${ms(a.wallMs)}  cpu ${ms(a.cpuMs)}  cpu+children ${ms(a.cpuChildrenMs)}${a.exitCode !== null ? `  exit ${a.exitCode}` : ''}${a.signal ? `  signal ${a.signal}` : ''}`,
          );
          if (Object.keys(a.outputMetadata).length)
            o.out(`  output metadata: ${metadataLine(a.outputMetadata)}`);
          for (const v of a.versions)
            o.out(
              `  wrote ${v.filename} (${bytes(v.size)}, sha256 ${v.sha256.slice(0, 12)}…, QC ${v.passedQc ? 'passed' : 'failed'})`,
            );
          if (a.error) o.out(`  error: ${a.error}`);
          if (a.traceback) o.out(`  traceback:\n    ${a.traceback.split('\n').join('\n    ')}`);
        }
      });
    });

  program
    .command('logs')
    .description('log lines of attempts (stdout, stderr, handler and harness messages)')
    .option('--job <id>', 'only this job')
    .option('--task <id>', 'only this task')
    .option('--attempt <id>', 'only this attempt')
    .option('--level <level>', `minimum severity: ${LOG_LEVELS.join(', ')}`)
    .option('-n, --limit <n>', 'most lines', '200')
    .option('--json', 'print as JSON')
    .action(
      async (opts: {
        job?: string;
        task?: string;
        attempt?: string;
        level?: string;
        limit: string;
        json?: boolean;
      }) => {
        if (opts.level !== undefined && !(LOG_LEVELS as readonly string[]).includes(opts.level)) {
          throw new EasError(
            'USAGE',
            `--level must be one of ${LOG_LEVELS.join(', ')}, got "${opts.level}"`,
            { where: '--level' },
          );
        }
        const filter = {
          taskId: opts.task === undefined ? undefined : parseId(opts.task, '--task'),
          attemptId: opts.attempt === undefined ? undefined : parseId(opts.attempt, '--attempt'),
          minLevel: opts.level,
          limit: parseId(opts.limit, '--limit'),
        };
        await withReadingPipeline(ctx, async (p) => {
          // A job or task that does not exist is a mistake to say, not an empty answer.
          const jobId = await jobOption(p, opts.job);
          if (filter.taskId !== undefined && !(await p.db.task(filter.taskId)))
            throw new EasError('NOT_FOUND', `No task ${filter.taskId}.`, { where: '--task' });
          if (
            filter.attemptId !== undefined &&
            !(await p.db.sql.get('SELECT 1 AS found FROM eas_attempts WHERE id = ?', [
              filter.attemptId,
            ]))
          )
            throw new EasError('NOT_FOUND', `No attempt ${filter.attemptId}.`, {
              where: '--attempt',
            });
          const lines = await p.db.logs({ ...filter, jobId });
          if (opts.json) return printJson(ctx.output, lines);
          if (lines.length === 0) ctx.output.out('No log lines match.');
          for (const l of lines)
            ctx.output.out(
              `${time(l.ts)} ${l.level.padEnd(5)} task ${l.taskId} attempt ${l.attemptId} ${l.stream}: ${l.message}`,
            );
        });
      },
    );

  program
    .command('errors')
    .description('failed tasks with their error and traceback, and the tasks they blocked')
    .option('--job <id>', 'only this job')
    .option('--json', 'print as JSON')
    .action(async (opts: { job?: string; json?: boolean }) => {
      await withReadingPipeline(ctx, async (p) => {
        const jobId = await jobOption(p, opts.job);
        const errors = await p.db.errors(jobId);
        if (opts.json) return printJson(ctx.output, errors);
        if (errors.length === 0) {
          ctx.output.out('No failed or blocked tasks.');
          return;
        }
        for (const e of errors) {
          if (e.state === 'failed') {
            ctx.output.out(
              `✘ task ${e.taskId} ${taskLabel(e)} failed (job ${e.jobId}, attempt ${e.attemptNumber})`,
            );
            if (e.error) ctx.output.out(`  error: ${e.error}`);
            if (e.exitCode !== null) ctx.output.out(`  exit code: ${e.exitCode}`);
            if (e.signal) ctx.output.out(`  signal: ${e.signal}`);
            if (e.traceback)
              ctx.output.out(`  traceback:\n    ${e.traceback.split('\n').join('\n    ')}`);
          } else {
            ctx.output.out(`⊘ task ${e.taskId} ${taskLabel(e)} blocked: ${e.reason ?? ''}`);
          }
        }
        ctx.output.out(`\nDetails of one task: eas task <id>   ·   its logs: eas logs --task <id>`);
      });
    });
}

/** The job named by `--job`, or the newest. */
export async function jobOrNewest(p: Pipeline, job: string | undefined): Promise<number> {
  if (job !== undefined) return (await jobOption(p, job))!;
  const jobs = await p.db.jobs();
  if (jobs.length === 0)
    throw new EasError('NOT_FOUND', 'No jobs yet. Submit one with: eas submit <chain.json>');
  return jobs[0]!.id;
}
