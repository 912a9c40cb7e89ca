import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  EasError,
  inheritedEnvironment,
  isEasError,
  type ResolvedConfig,
} from '../../core/index.js';
import { LocalProcessScaler } from '../../control/index.js';
import type { Pipeline } from '../../pipeline.js';
import { withPipeline, type CommandContext } from '../context.js';
import { countsLine, countsOfJobs, plural, type Output } from '../format.js';

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
  // Every attempt this process ran to its end (a retried failure, a rerun's: each counts).
  let attemptsRun = 0;
  worker.on('attempt:finished', () => attemptsRun++);
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
    progress.tick(p, attemptsRun);
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
    o.out(
      `Ran ${plural(attemptsRun, 'attempt')}. Tasks of the jobs it ran: ${countsLine(countsOfJobs(s.jobs, startJobs))}.`,
    );
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

  tick(p: Pipeline, finished?: number): void {
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
            `progress: ${end}/${total} tasks ended (${pct}%)${finished === undefined ? '' : `, ${finished} attempts run`}; ${countsLine(t)}`,
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

/** Options of {@link runAutoscaled}. */
export interface AutoRunOptions {
  /** Stop when every job has ended and the queue is empty; the workers are drained to zero. */
  untilIdle: boolean;
  /** Print progress, scaling and worker lines. */
  output?: Output;
  /** How each worker process is started: a program and the arguments before `worker …`. */
  worker?: { command: string; args: readonly string[] };
  /** How often the autoscaler decides, ms. @defaultValue 1000 */
  intervalMs?: number;
}

/** How often `eas run --workers auto` looks for the end of the run and prints progress, ms. */
const AUTO_POLL_MS = 250;

/**
 * Runs an embedded controller that scales worker processes of each registry container to the
 * demand (`eas run --workers auto`): a {@link LocalProcessScaler} starts `eas worker
 * --container <name> --concurrency <its concurrency>` processes, configured through their
 * environment, and drains idle ones after the container's cool-down. With `untilIdle`, once
 * every job has ended and the queue is empty, the controller stops and the workers are drained
 * to zero. Returns 1 when a job it ran failed, else 0.
 *
 * @throws EasError `INTERNAL` when worker processes of a container keep dying at start.
 */
export async function runAutoscaled(p: Pipeline, options: AutoRunOptions): Promise<number> {
  const o = options.output;
  const worker = options.worker ?? { command: process.execPath, args: [easBinPath()] };
  const scaler = new LocalProcessScaler({
    command: worker.command,
    args: (c) => [
      ...worker.args,
      'worker',
      '--container',
      c,
      '--concurrency',
      String(p.registry.container(c).concurrency),
    ],
    env: workerEnvironment(p.config),
    cwd: p.config.baseDir,
    onOutput: (line, w) => o?.err(`[worker ${w.container} ${w.pid}] ${line}`),
    logger: p.logger,
  });
  const controller = p.controller({ scaler, scaling: { interval: options.intervalMs } });
  const startJobs = new Set(
    (await p.db.jobs()).filter((j) => j.status === 'running').map((j) => j.id),
  );
  controller.on('job:submitted', (j) => startJobs.add(j.jobId));
  const progress = new Progress(o);
  const peak = new Map<string, number>();
  let fatal: unknown;

  let stopped = false;
  const stopAll = (reason: string): void => {
    if (stopped) return;
    stopped = true;
    controller.stop(reason);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    o?.err(`\n${sig}: stopping gracefully (workers finish their running attempts)…`);
    stopAll(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  controller.on('scale:applied', (a) => {
    peak.set(a.container, Math.max(peak.get(a.container) ?? 0, a.to));
    o?.err(progress.clear() + `scale: ${a.container} ${a.from} → ${a.to} (${a.reason})`);
  });
  controller.on('scale:failed', ({ container, error }) => {
    if (isEasError(error) && error.details?.startFailures !== undefined) {
      fatal = error;
      stopAll('workers cannot start');
    } else o?.err(progress.clear() + `scale: ${container} failed: ${error.message}`);
  });
  scaler.on('worker:exited', (e) => {
    if (e.expected) return;
    o?.err(
      progress.clear() +
        `worker ${e.worker.pid} of ${e.worker.container} exited unexpectedly (${e.signal ?? `code ${e.code}`}); its attempts are re-queued`,
    );
    void controller.recoverDeadLocalWorkers().catch(() => undefined);
  });

  const status = new Map<number, string>();
  let checking = false;
  const check = async (): Promise<void> => {
    if (checking || stopped) return;
    checking = true;
    try {
      const jobs = await p.db.jobs();
      for (const j of jobs) {
        const before = status.get(j.id);
        if (before === 'running' && j.status !== 'running')
          o?.err(progress.clear() + `job ${j.id} finished: ${j.status}`);
        status.set(j.id, j.status);
      }
      progress.tick(p);
      if (!options.untilIdle || jobs.some((j) => j.status === 'running')) return;
      const counts = await p.queue.counts();
      const queued = Object.values(counts).reduce((n, c) => n + c.ready + c.leased, 0);
      if (queued === 0) stopAll('idle');
    } catch {
      // A busy or restarting database: the next poll looks again.
    } finally {
      checking = false;
    }
  };
  const poll = setInterval(() => void check(), AUTO_POLL_MS);

  try {
    await controller.run();
  } finally {
    clearInterval(poll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o?.err(progress.clear());
    // The run is over: drain what still runs, without waiting for the cool-down.
    const running = new Map<string, number>();
    for (const w of scaler.workers())
      if (w.state === 'running') running.set(w.container, (running.get(w.container) ?? 0) + 1);
    await scaler.close();
    for (const [c, n] of running) o?.err(`scale: ${c} ${n} → 0 (run ended)`);
  }
  if (fatal !== undefined) throw fatal;
  const jobs = (await p.db.jobs()).filter((j) => startJobs.has(j.id));
  const failed = jobs.filter((j) => j.status === 'failed');
  if (o) {
    const s = await p.db.status();
    const most = [...peak].map(([c, n]) => `${c} ${n}`).join(', ') || 'none started';
    o.out(
      `Worker processes at most: ${most}. Tasks of the jobs it ran: ${countsLine(countsOfJobs(s.jobs, startJobs))}.`,
    );
    if (failed.length > 0)
      o.out(
        `Job(s) with failures: ${failed.map((j) => `${j.id} "${j.name}"`).join(', ')}. See: eas errors`,
      );
  }
  return failed.length > 0 ? 1 : 0;
}

/**
 * The environment of a worker process started by `eas run --workers auto`: this process's
 * environment without its `EAS_*` variables, plus the settings that make the worker use the
 * same task database, queue, files and registry. Credentials (a database URL with a password)
 * travel here, never on the command line.
 */
export function workerEnvironment(config: ResolvedConfig): Record<string, string> {
  const env: Record<string, string> = {
    ...inheritedEnvironment(),
    EAS_DATABASE_URL: config.databaseUrl,
    EAS_FILESTORE: config.filestoreRoot,
    EAS_LOG_LEVEL: config.logLevel,
    EAS_LEASE_MS: String(config.leaseMs),
  };
  // eas.yaml carries what has no variable (an inline registry, the heartbeat interval).
  if (config.configPath !== undefined) env.EAS_CONFIG = config.configPath;
  if (typeof config.registry === 'string') env.EAS_REGISTRY = config.registry;
  if (config.redisUrl !== undefined) env.EAS_REDIS_URL = config.redisUrl;
  return env;
}

/**
 * The `eas` binary of this installation (`bin/eas.js` beside the package.json of plato-eas),
 * found from this module's location so that it is the same in a checkout, in `dist/` and in
 * `node_modules`.
 */
function easBinPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const { name } = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string };
        if (name === 'plato-eas' && existsSync(join(dir, 'bin', 'eas.js')))
          return join(dir, 'bin', 'eas.js');
      } catch {
        // not ours; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new EasError(
        'INTERNAL',
        'cannot find bin/eas.js of plato-eas to start worker processes from; is the package installed whole?',
      );
    dir = parent;
  }
}

/** `eas run [--workers N|auto] [--until-idle]`. */
export function registerRun(program: Command, ctx: CommandContext): void {
  program
    .command('run')
    .description(
      'run the controller and a worker in this process (embedded mode); with --workers auto, ' +
        'worker processes per registry container, scaled to the demand',
    )
    .option(
      '--workers <n|auto>',
      'attempts run at once in this process (default: worker.concurrency of eas.yaml, else 4); ' +
        '"auto": start and stop `eas worker` processes per container as the demand asks ' +
        '(its concurrency and scaling: min, max, cooldown in the registry)',
    )
    .option(
      '--until-idle',
      'stop when every job has ended and the queue is empty (with auto: after draining the workers)',
    )
    .action(async (opts: { workers?: string; untilIdle?: boolean }) => {
      if (opts.workers?.trim() === 'auto') {
        ctx.exitCode = await withPipeline(ctx, (p) =>
          runAutoscaled(p, { untilIdle: Boolean(opts.untilIdle), output: ctx.output }),
        );
        return;
      }
      let workers: number | undefined;
      if (opts.workers !== undefined) {
        workers = Number(opts.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 1024) {
          throw new EasError(
            'USAGE',
            `--workers must be an integer from 1 to 1024, got "${opts.workers}" (or "auto": worker processes scaled to the demand)`,
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
