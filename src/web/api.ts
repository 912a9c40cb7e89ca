import { basename } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EasError, type Logger } from '../core/index.js';
import { cancelJob, rerunJob } from '../control/index.js';
import type { FileRepository } from '../filestore/index.js';
import type { JobQueue } from '../queue/index.js';
import { isControlFlowTaskType } from '../registry/index.js';
import {
  LOG_LEVELS,
  TASK_STATES,
  logPage,
  plotRows,
  productDirectories,
  productPage,
  recentActivity,
  taskPage,
  timingTotals,
  summarizeTimings,
  outcomeCounts,
  summarizeOutcomes,
  progressCounts,
  progressOf,
  treeChildren,
  versionById,
  workTypes,
  type DashboardProgress,
  type JobSummary,
  type JobOutcomeCount,
  type OutcomeSummary,
  type ProgressCount,
  type TimingSummary,
  type TimingTotals,
  type PlotRow,
  type TaskDatabase,
  type StateCounts,
  type TaskState,
} from '../taskdb/index.js';
import type { AccessScope } from './auth.js';
import { PerJobCache, type FingerprintCache, type LiveHub } from './live.js';
import { aggregatePlot, fieldsOf, outputKeysOf, plotCsv } from './plot.js';

/** What the API routes work on. */
export interface ApiDeps {
  db: TaskDatabase;
  files: FileRepository;
  /** Opens (or returns) the job queue of the write actions; without it they are unavailable. */
  queue: (() => Promise<JobQueue>) | undefined;
  live: LiveHub;
  views: AggregateViews;
  scopeOf: (req: FastifyRequest) => AccessScope;
  tokenRequired: boolean;
  logger: Logger;
}

/** Most tasks one plot reads: a 1,000,000-task survey has at most a few 100,000 of one type. */
const MAX_PLOT_ROWS = 500_000;
/** Answers kept for jobs that are no longer running (plots, menus, directories); the oldest go first. */
const FINISHED_VIEWS = 200;
/** Tasks sampled to list the fields a task type offers. */
const FIELD_SAMPLE = 200;
/** Log lines shown per attempt in the task detail. */
const TASK_LOG_LINES = 300;

const id = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const optionalId = id.optional();
const limit = z.coerce.number().int().min(1).max(1000).optional();
const stateList = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (!s) return undefined;
    const states = s.split(',').filter(Boolean);
    for (const st of states) {
      if (!(TASK_STATES as readonly string[]).includes(st)) {
        ctx.addIssue({ code: 'custom', message: `"${st}" is not a task state` });
        return z.NEVER;
      }
    }
    return states as TaskState[];
  });
const field = z
  .string()
  .regex(
    /^(param|output|desc):[\w.-]{1,200}$|^timing:(wall_ms|cpu_ms|cpu_children_ms)$|^state$/,
    'not a plot field',
  );

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new EasError(
    'USAGE',
    `Bad ${where}: ${first?.path.join('.') || 'value'} ${first?.message ?? 'is invalid'}`,
    { where, details: { status: 400 } },
  );
}

/** `Content-Disposition` for a download: an ASCII fallback name plus the UTF-8 one (RFC 6266). */
export function contentDisposition(filename: string): string {
  const name = basename(filename);
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

async function readPlotRows(
  deps: ApiDeps,
  jobId: number | undefined,
  taskType: string,
  outputKeys: string[],
  descriptions: boolean,
): Promise<PlotRow[]> {
  const rows: PlotRow[] = [];
  const jobIds = jobId !== undefined ? [jobId] : (await deps.db.jobs()).map((j) => j.id);
  // One range of the (job_id, type, state, id) index at a time: no sort of a whole job.
  for (const job of jobIds) {
    for (const state of TASK_STATES) {
      let after: number | undefined;
      for (;;) {
        const p = await plotRows(deps.db.sql, {
          jobId: job,
          taskType,
          state,
          outputKeys,
          descriptions,
          afterId: after,
          limit: 10_000,
        });
        rows.push(...p.items);
        if (rows.length >= MAX_PLOT_ROWS) return rows;
        if (p.next === null) break;
        after = p.next;
      }
    }
  }
  return rows;
}

function noJob(jobId: number): EasError {
  return new EasError('NOT_FOUND', `No job ${jobId}.`, { where: `job ${jobId}` });
}

/** Throws `NOT_FOUND` when a job is named and does not exist (a view of it would be empty). */
async function requireJob(db: TaskDatabase, jobId: number | undefined): Promise<void> {
  if (jobId !== undefined && !(await db.job(jobId))) throw noJob(jobId);
}

/**
 * The progress the dashboard shows: the counts of `eas status --json` (control-flow tasks
 * included), with the counts of work tasks alone (no control-flow task) per job and in total.
 */
export interface WebProgress extends DashboardProgress {
  jobs: (DashboardProgress['jobs'][number] & { workCounts: StateCounts })[];
  workTotals: StateCounts;
}

/** The aggregate views (progress, timings, pass/fail), per-job cached. */
export class AggregateViews {
  private readonly progressRows: PerJobCache<ProgressCount>;
  private readonly timingRows: PerJobCache<TimingTotals>;
  private readonly outcomeRows: PerJobCache<JobOutcomeCount>;
  private readonly finished = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: TaskDatabase,
    private readonly cache: FingerprintCache,
  ) {
    this.progressRows = new PerJobCache((ids) => progressCounts(db.sql, ids));
    this.timingRows = new PerJobCache((ids) => timingTotals(db.sql, ids));
    this.outcomeRows = new PerJobCache((ids) => outcomeCounts(db.sql, ids));
  }

  private async jobs(jobId: number | undefined): Promise<JobSummary[]> {
    if (jobId === undefined) return this.db.jobs();
    const job = await this.db.job(jobId);
    if (!job) throw noJob(jobId);
    return [job];
  }

  /**
   * A view of one job, kept as long as the job is not running (its rows cannot change until its
   * status does); of a running job, or of all jobs, kept until the database's fingerprint changes.
   * `key` names the view; the job is added to it here.
   * @throws `NOT_FOUND` when there is no such job.
   */
  async ofJob<T>(jobId: number | undefined, key: string, compute: () => Promise<T>): Promise<T> {
    if (jobId === undefined) return this.cache.get(`all:${key}`, compute);
    const job = await this.db.job(jobId);
    if (!job) throw noJob(jobId);
    if (job.status === 'running') return this.cache.get(`job ${job.id}:${key}`, compute);
    const k = `${job.id}:${job.status}:${job.finishedAt ?? ''}:${key}`;
    let value = this.finished.get(k) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      this.finished.set(k, value);
      value.catch(() => this.finished.delete(k));
      if (this.finished.size > FINISHED_VIEWS) {
        const oldest = this.finished.keys().next().value;
        if (oldest !== undefined) this.finished.delete(oldest);
      }
    }
    return value;
  }

  /**
   * Task counts by state per job and type (one job, or all), as `eas status` counts them, plus
   * each job's and the total `workCounts`: the same without control-flow tasks, which are done
   * as soon as they are expanded, so the progress bars show the work that ran.
   */
  progress(jobId?: number): Promise<WebProgress> {
    return this.cache.get(`progress:${jobId ?? ''}`, async () => {
      const jobs = await this.jobs(jobId);
      const rows = await this.progressRows.rows(jobs);
      const work = progressOf(
        jobs,
        rows.filter((r) => !isControlFlowTaskType(r.type)),
      );
      const all = progressOf(jobs, rows);
      return {
        ...all,
        jobs: all.jobs.map((j, i) => ({ ...j, workCounts: work.jobs[i]!.counts })),
        workTotals: work.totals,
      };
    });
  }

  /** Timings per task type and attempt state. */
  timings(jobId?: number): Promise<TimingSummary[]> {
    return this.cache.get(`timings:${jobId ?? ''}`, async () =>
      summarizeTimings(await this.timingRows.rows(await this.jobs(jobId))),
    );
  }

  /** Outcome counts per task type. */
  outcomes(jobId?: number): Promise<OutcomeSummary[]> {
    return this.cache.get(`outcomes:${jobId ?? ''}`, async () =>
      summarizeOutcomes(await this.outcomeRows.rows(await this.jobs(jobId))),
    );
  }
}

/** Registers every `/api/…` route (see docs/guides/web-dashboard.md for the list). */
export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;

  app.get('/api/session', async (req) => ({
    scope: deps.scopeOf(req),
    tokenRequired: deps.tokenRequired,
    writeActions: deps.scopeOf(req) === 'write' && deps.queue !== undefined,
    database: db.sql.dialect,
  }));

  app.get('/api/progress', async (req) => {
    const q = parse(z.object({ job: optionalId }), req.query, 'query');
    return deps.views.progress(q.job);
  });

  app.get('/api/tree', async (req) => {
    const q = parse(
      z.object({
        job: id,
        parent: optionalId,
        after: z.coerce.number().int().min(-1).optional(),
        limit,
      }),
      req.query,
      'query',
    );
    await requireJob(db, q.job);
    return treeChildren(db.sql, {
      jobId: q.job,
      parentId: q.parent ?? null,
      afterPosition: q.after,
      limit: q.limit,
    });
  });

  app.get('/api/tasks', async (req) => {
    const q = parse(
      z.object({
        job: optionalId,
        state: stateList,
        type: z.string().max(200).optional(),
        depth: z.coerce.number().int().min(0).max(1000).optional(),
        after: optionalId,
        limit,
      }),
      req.query,
      'query',
    );
    await requireJob(db, q.job);
    return taskPage(db.sql, {
      jobId: q.job,
      states: q.state,
      type: q.type || undefined,
      depth: q.depth,
      afterId: q.after,
      limit: q.limit,
    });
  });

  app.get('/api/tasks/:id', async (req) => {
    const p = parse(z.object({ id }), req.params, 'task id');
    const task = await db.task(p.id);
    if (!task) throw new EasError('NOT_FOUND', `No task ${p.id}.`, { where: `task ${p.id}` });
    const logs = [];
    for (const a of task.attempts) {
      const page = await logPage(db.sql, { attemptId: a.id, limit: TASK_LOG_LINES });
      logs.push({ attemptId: a.id, lines: page.items.reverse(), truncated: page.next !== null });
    }
    return { task, logs };
  });

  app.get('/api/versions/:id/download', async (req, reply) => {
    const p = parse(z.object({ id }), req.params, 'version id');
    const v = await versionById(db.sql, p.id);
    if (!v) throw new EasError('NOT_FOUND', `No version ${p.id}.`, { where: `version ${p.id}` });
    const stream = await deps.files.createReadStream(v.sha256);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', contentDisposition(v.filename))
      .header('content-length', String(v.size))
      .header('x-content-sha256', v.sha256)
      .send(stream);
  });

  app.get('/api/products/directories', async (req) => {
    const q = parse(z.object({ job: id }), req.query, 'query');
    return deps.views.ofJob(q.job, 'dirs', () => productDirectories(db.sql, q.job));
  });

  app.get('/api/products', async (req) => {
    const q = parse(
      z.object({
        job: id,
        dir: z.string().max(4096),
        after: z.string().max(4096).optional(),
        limit,
      }),
      req.query,
      'query',
    );
    await requireJob(db, q.job);
    return productPage(db.sql, {
      jobId: q.job,
      workingDirectory: q.dir,
      afterFilename: q.after,
      limit: q.limit,
    });
  });

  app.get('/api/logs', async (req) => {
    const q = parse(
      z.object({
        job: optionalId,
        task: optionalId,
        attempt: optionalId,
        level: z.enum(LOG_LEVELS).optional(),
        before: optionalId,
        limit,
      }),
      req.query,
      'query',
    );
    await requireJob(db, q.job);
    return logPage(db.sql, {
      jobId: q.job,
      taskId: q.task,
      attemptId: q.attempt,
      minLevel: q.level,
      beforeId: q.before,
      limit: q.limit,
    });
  });

  app.get('/api/timings', async (req) => {
    const q = parse(z.object({ job: optionalId }), req.query, 'query');
    return deps.views.timings(q.job);
  });

  app.get('/api/pass-fail', async (req) => {
    const q = parse(z.object({ job: optionalId }), req.query, 'query');
    return deps.views.outcomes(q.job);
  });

  app.get('/api/workers', async () => db.workers());

  app.get('/api/activity', async (req) => {
    const q = parse(
      z.object({ job: optionalId, limit: z.coerce.number().int().min(1).max(5000).optional() }),
      req.query,
      'query',
    );
    await requireJob(db, q.job);
    return recentActivity(db.sql, { jobId: q.job, limit: q.limit });
  });

  app.get('/api/plot/types', async (req) => {
    const q = parse(z.object({ job: optionalId }), req.query, 'query');
    return deps.views.ofJob(q.job, 'types', () => workTypes(db.sql, q.job));
  });

  app.get('/api/plot/fields', async (req) => {
    const q = parse(
      z.object({ job: optionalId, type: z.string().min(1).max(200) }),
      req.query,
      'query',
    );
    return deps.views.ofJob(q.job, `fields:${q.type}`, async () => {
      const sample = await plotRows(db.sql, {
        jobId: q.job,
        taskType: q.type,
        limit: FIELD_SAMPLE,
      });
      return fieldsOf(sample.items);
    });
  });

  app.get('/api/plot', async (req, reply) => {
    const q = parse(
      z.object({
        job: optionalId,
        type: z.string().min(1).max(200),
        x: field,
        y: field.optional().or(z.literal('').transform(() => undefined)),
        value: field,
        level: z.string().max(200).optional(),
        format: z.enum(['json', 'csv']).optional(),
      }),
      req.query,
      'query',
    );
    const data = await deps.views.ofJob(
      q.job,
      `plot:${JSON.stringify([q.job, q.type, q.x, q.y, q.value, q.level])}`,
      async () => {
        const fields = [q.x, q.y, q.value];
        const rows = await readPlotRows(
          deps,
          q.job,
          q.type,
          outputKeysOf(fields),
          fields.some((f) => f?.startsWith('desc:')),
        );
        return aggregatePlot(rows, {
          taskType: q.type,
          x: q.x,
          y: q.y,
          value: q.value,
          level: q.level,
        });
      },
    );
    if (q.format === 'csv') {
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', contentDisposition(`${q.type}-plot.csv`))
        .send(plotCsv(data));
    }
    return data;
  });

  app.get('/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...securityHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    deps.live.subscribe(res);
  });

  // Checks the scope, and gives the opener of the queue (called after the parameters are checked).
  const writeAction = (req: FastifyRequest): (() => Promise<JobQueue>) => {
    if (deps.scopeOf(req) !== 'write')
      throw new EasError(
        'USAGE',
        'This dashboard is read-only: write actions need the write token.',
        {
          where: 'authorization',
          details: { status: 403 },
        },
      );
    if (!deps.queue)
      throw new EasError('USAGE', 'No job queue is attached to this dashboard.', {
        where: 'queue',
        details: { status: 403 },
      });
    return deps.queue;
  };

  app.post('/api/jobs/:id/cancel', async (req) => {
    const queue = writeAction(req);
    const p = parse(z.object({ id }), req.params, 'job id');
    return cancelJob({ db, queue: await queue(), logger: deps.logger }, p.id);
  });

  app.post('/api/jobs/:id/rerun', async (req) => {
    const queue = writeAction(req);
    const p = parse(z.object({ id }), req.params, 'job id');
    const r = await rerunJob({ db, queue: await queue(), logger: deps.logger }, p.id);
    return { ...r, ready: r.ready.length };
  });

  app.post('/api/reschedule', async (req) => {
    const queue = await writeAction(req)();
    // The database is the truth, the queue a cache: re-queue every attempt the database says
    // is queued (enqueue is idempotent), after repairing counters as the controller's
    // reconcile does.
    const r = await db.reconcile();
    if (r.queued.length > 0) await queue.enqueue(r.queued);
    deps.logger.info(
      { queued: r.queued.length, released: r.released },
      'rescheduled from the dashboard',
    );
    return {
      queued: r.queued.length,
      released: r.released,
      countersFixed: r.countersFixed,
      blocked: r.blocked,
    };
  });
}

/** Headers on every answer: a strict content security policy and no sniffing or framing. */
export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
      "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/** The HTTP status an error maps to. */
export function statusOf(e: unknown): number {
  if (e instanceof EasError) {
    const s = e.details?.status;
    if (typeof s === 'number') return s;
    if (e.code === 'NOT_FOUND') return 404;
    if (e.code === 'USAGE' || e.code === 'CONFLICT') return 409;
    if (e.code === 'PATH_INVALID') return 400;
    if (e.code === 'BACKEND_UNAVAILABLE') return 503;
  }
  const code = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 ? code : 500;
}

/** Sends `e` as `{ error }` JSON with its status; unexpected errors say only "internal error". */
export function sendError(reply: FastifyReply, e: unknown, log: Logger): void {
  const status = statusOf(e);
  if (status >= 500) log.error({ err: e }, 'dashboard request failed');
  const message =
    status >= 500 && !(e instanceof EasError)
      ? 'internal error (see the eas web log)'
      : e instanceof Error
        ? e.message
        : String(e);
  void reply.code(status).send({ error: message });
}
