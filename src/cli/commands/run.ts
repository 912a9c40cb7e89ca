import type { Command } from 'commander';
import { EasError } from '../../core/index.js';
import type { Pipeline } from '../../pipeline.js';
import { withPipeline, type CommandContext } from '../context.js';
import { countsLine, type Output } from '../format.js';

/** Options of {@link runUntil}. */
export interface RunLoopOptions {
  /** Worker concurrency. */
  workers: number;
  /** Stop when no job is running and nothing is queued. */
  untilIdle: boolean;
  /** Print progress. */
  output?: Output;
  /** Only these jobs decide the exit code (default: jobs running at start and submitted meanwhile). */
}

/**
 * Runs an embedded controller and worker on a pipeline until idle (or until SIGINT/SIGTERM).
 * Returns 1 when a job it ran failed, else 0.
 */
export async function runUntil(p: Pipeline, options: RunLoopOptions): Promise<number> {
  const controller = p.controller();
  const worker = p.worker({ concurrency: options.workers });
  const startJobs = new Set(
    (await p.db.jobs()).filter((j) => j.status === 'running').map((j) => j.id),
  );
  controller.on('job:submitted', (j) => startJobs.add(j.jobId));
  const o = options.output;
  let finishedSinceStart = 0;
  const progress = new Progress(o);

  let stopped = false;
  const stopAll = (reason: string): void => {
    if (stopped) return;
    stopped = true;
    worker.stop(reason);
    controller.stop(reason);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    o?.err(`\n${sig}: stopping gracefully (running attempts finish or are handed back)…`);
    stopAll(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let checking = false;
  const checkIdle = async (): Promise<void> => {
    if (!options.untilIdle || checking || stopped) return;
    checking = true;
    try {
      const running = (await p.db.jobs()).filter((j) => j.status === 'running');
      if (running.length > 0) return;
      const counts = await p.queue.counts();
      const queued = Object.values(counts).reduce((n, c) => n + c.ready + c.leased, 0);
      if (queued === 0 && worker.inFlight === 0) stopAll('idle');
    } finally {
      checking = false;
    }
  };
  worker.on('worker:idle', () => void checkIdle());
  worker.on('batch:committed', (r) => {
    finishedSinceStart += r.done.length + r.failed.length;
    progress.tick(p, finishedSinceStart);
    if (r.finishedJobs.length > 0) {
      for (const j of r.finishedJobs)
        o?.err(progress.clear() + `job ${j.jobId} finished: ${j.status}`);
      void checkIdle();
    }
  });
  worker.on('worker:error', (e) => o?.err(`worker error: ${e.message}`));

  try {
    const controllerRun = controller.run();
    // Let the controller's start-up recovery and reconcile fill the queue before the worker claims.
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([worker.run(), controllerRun]);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o?.err(progress.clear());
  }
  const jobs = (await p.db.jobs()).filter((j) => startJobs.has(j.id));
  const failed = jobs.filter((j) => j.status === 'failed');
  if (o) {
    const s = await p.db.status();
    o.out(`Ran ${finishedSinceStart} attempts. Tasks: ${countsLine(s.totals)}.`);
    if (failed.length > 0)
      o.out(
        `Job(s) with failures: ${failed.map((j) => `${j.id} "${j.name}"`).join(', ')}. See: eas errors`,
      );
  }
  return failed.length > 0 ? 1 : 0;
}

/** A one-line progress display on a terminal; plain lines every few seconds otherwise. */
class Progress {
  private last = 0;
  private shown = false;
  private busy = false;
  constructor(private readonly o: Output | undefined) {}

  tick(p: Pipeline, finished: number): void {
    const now = Date.now();
    const interval = this.o?.isTTY ? 200 : 5000;
    if (!this.o || this.busy || now - this.last < interval) return;
    this.last = now;
    this.busy = true;
    void p.db
      .status()
      .then((s) => {
        const t = s.totals;
        const total = Object.values(t).reduce((a, b) => a + b, 0);
        const end = t.done + t.failed + t.blocked + t.cancelled;
        const pct = total ? Math.floor((100 * end) / total) : 100;
        if (this.o!.isTTY) {
          const width = 30;
          const fill = Math.round((width * pct) / 100);
          process.stderr.write(
            `\r[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${pct}% ${end}/${total} tasks  running ${t.running}  failed ${t.failed}  blocked ${t.blocked}   `,
          );
          this.shown = true;
        } else {
          this.o!.err(
            `progress: ${end}/${total} tasks ended (${pct}%), ${finished} attempts run; ${countsLine(t)}`,
          );
        }
      })
      .catch(() => undefined)
      .finally(() => (this.busy = false));
  }

  clear(): string {
    if (!this.shown) return '';
    this.shown = false;
    return '\r\x1b[K';
  }
}

/** `eas run [--workers N] [--until-idle]`. */
export function registerRun(program: Command, ctx: CommandContext): void {
  program
    .command('run')
    .description('run the controller and a worker in this process (embedded mode)')
    .option(
      '--workers <n>',
      'attempts run at once (default: worker.concurrency of eas.yaml, else 4)',
    )
    .option('--until-idle', 'stop when every job has ended and the queue is empty')
    .action(async (opts: { workers?: string; untilIdle?: boolean }) => {
      let workers: number | undefined;
      if (opts.workers !== undefined) {
        workers = Number(opts.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 1024) {
          throw new EasError(
            'USAGE',
            `--workers must be an integer from 1 to 1024, got "${opts.workers}"`,
            { where: '--workers' },
          );
        }
      }
      const code = await withPipeline(ctx, (p) =>
        runUntil(p, {
          workers: workers ?? p.config.workerConcurrency,
          untilIdle: Boolean(opts.untilIdle),
          output: ctx.output,
        }),
      );
      ctx.exitCode = code;
    });
}
