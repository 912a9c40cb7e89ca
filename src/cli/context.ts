import { existsSync } from 'node:fs';
import {
  EasError,
  createLogger,
  loadConfig,
  type Logger,
  type ResolvedConfig,
} from '../core/index.js';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { plural, type Output } from './format.js';

/** Options every command accepts (set on the program). */
export interface GlobalOptions {
  database?: string;
  filestore?: string;
  registry?: string;
  logLevel?: string;
}

/** What a command runs with. */
export interface CommandContext {
  output: Output;
  cwd: string;
  globals: () => GlobalOptions;
  /** Exit code the command sets (0 unless it reports task failures). */
  exitCode: number;
}

/**
 * The configuration of a command: `eas.yaml` < `EAS_*` < flags; CLI logs default to `warn`
 * (daemons pass `info`).
 */
export function configOf(
  ctx: CommandContext,
  defaultLogLevel: ResolvedConfig['logLevel'] = 'warn',
): ResolvedConfig {
  const g = ctx.globals();
  return loadConfig({
    cwd: ctx.cwd,
    overrides: {
      databaseUrl: g.database,
      filestoreRoot: g.filestore,
      registry: g.registry,
      logLevel: g.logLevel,
    },
    defaultLogLevel,
  });
}

/** A logger for CLI commands: stderr, pretty on a terminal. */
export function loggerOf(config: ResolvedConfig): Logger {
  return createLogger({ level: config.logLevel });
}

/**
 * {@link withPipeline} for commands that only read the task database and the files: no job
 * queue is opened, so they answer while Redis is away (the database is the truth). Outside a
 * pipeline — no `eas.yaml` found and no SQLite database at the configured path — nothing is
 * created: a query from the wrong directory, or of a mistyped `--database` there, is told so
 * (`NOT_FOUND`, exit 2) instead of showing an empty pipeline and leaving a database behind. (In
 * a directory with an `eas.yaml`, a database not made yet is an empty pipeline.)
 */
export function withReadingPipeline<T>(
  ctx: CommandContext,
  fn: (p: Pipeline) => Promise<T>,
): Promise<T> {
  const config = configOf(ctx);
  assertPipelineHere(config);
  return withPipeline(ctx, fn, config, { queue: false });
}

/**
 * Refuses to go on outside a pipeline: no `eas.yaml` found and no SQLite database at the
 * configured path (see {@link withReadingPipeline}), before anything is created.
 * @throws EasError `NOT_FOUND` (exit 2)
 */
export function assertPipelineHere(config: ResolvedConfig): void {
  const file = config.databaseUrl.startsWith('sqlite:')
    ? config.databaseUrl.slice('sqlite:'.length)
    : undefined;
  if (file !== undefined && config.configPath === undefined && !existsSync(file)) {
    throw new EasError(
      'NOT_FOUND',
      `No pipeline here: no eas.yaml and no task database at ${file}. Start one with eas init or eas submit <chain>, or name yours with --database or EAS_DATABASE_URL.`,
      { where: file },
    );
  }
}

/** Opens the pipeline (of `config`, by default that of the command), runs `fn`, closes it. */
export async function withPipeline<T>(
  ctx: CommandContext,
  fn: (p: Pipeline) => Promise<T>,
  config: ResolvedConfig = configOf(ctx),
  options: { queue?: boolean } = {},
): Promise<T> {
  const pipeline = await createPipeline({ config, logger: loggerOf(config), ...options });
  try {
    return await fn(pipeline);
  } finally {
    await pipeline.close();
  }
}

/**
 * What to tell the user after queueing work of `taskTypes`: the worker daemons that will run it
 * (those that heartbeat within three leases and claim one of those types), or, when none does,
 * how to run it here.
 */
export async function runHint(p: Pipeline, taskTypes: Iterable<string>): Promise<string> {
  const wanted = new Set([...taskTypes].filter((t) => !p.registry.isControlFlow(t)));
  const since = Date.now() - 3 * p.config.leaseMs;
  const workers = (await p.db.workers('running')).filter(
    (w) => w.lastSeenAt >= since && w.types.some((t) => wanted.has(t)),
  );
  if (workers.length === 0) return 'Run it with: eas run --until-idle';
  const hosts = new Set(workers.map((w) => w.host)).size;
  const slots = workers.reduce((n, w) => n + w.concurrency, 0);
  return (
    `${plural(workers.length, 'worker')} on ${plural(hosts, 'host')} (${plural(slots, 'slot')}) ` +
    `will run it. Follow it with: eas status`
  );
}

/** Parses an id argument. @throws EasError `USAGE` */
export function parseId(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new EasError('USAGE', `${what} must be a positive integer, got "${value}"`, {
      where: what,
    });
  }
  return n;
}

/**
 * The job a `--job` option names, parsed and looked up; undefined without the option. A job
 * that does not exist is a mistake to say, not an empty answer. @throws EasError `USAGE`,
 * `NOT_FOUND`
 */
export async function jobOption(p: Pipeline, job: string | undefined): Promise<number | undefined> {
  if (job === undefined) return undefined;
  const id = parseId(job, '--job');
  if (!(await p.db.job(id)))
    throw new EasError('NOT_FOUND', `No job ${id}. List jobs with: eas status`, {
      where: '--job',
    });
  return id;
}
