import { z } from 'zod';
import { InvalidInputError, parseDuration, type Duration, type Logger } from '../../core/index.js';
import type { TaskTypeRegistry } from '../../registry/index.js';
import type { TaskDatabase } from '../../taskdb/index.js';
import type { Scaler } from './scaler.js';

/**
 * How often the autoscaler looks at the demand, ms. A scale-up follows a burst within this
 * long; each look is one grouped read of the live attempts plus one `replicas()` call per
 * container, cheap enough for every second.
 */
export const DEFAULT_SCALING_INTERVAL_MS = 1000;

/**
 * How long a local worker process may take to exit after SIGTERM before it is killed, ms. A
 * worker drains on SIGTERM: it stops claiming and lets running attempts finish within its own
 * grace period (`eas worker --grace`, 30 s by default), then hands back what is left; this is
 * the backstop for one that hangs. A killed worker's attempts are recovered by the controller.
 */
export const DEFAULT_STOP_TIMEOUT_MS = 60_000;

/**
 * Consecutive worker processes of one container that may die on their own within
 * {@link START_WINDOW_MS} of starting before the local scaler refuses to start more: a worker
 * that cannot start (bad registry, unreachable database) would otherwise be restarted forever.
 */
export const DEFAULT_MAX_START_FAILURES = 3;

/** A worker process that lives this long has started well; its death is not a start failure. */
export const START_WINDOW_MS = 10_000;

const durationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^duration: /, '') });
    return z.NEVER;
  }
});

/** The settings of an {@link Autoscaler} besides the parts it works on. */
export interface AutoscalerSettings {
  /**
   * How often it decides (ms, or e.g. `'2s'`; at least 10 ms).
   * @defaultValue {@link DEFAULT_SCALING_INTERVAL_MS}
   */
  interval?: Duration;
  /** The containers it scales. @defaultValue every container of the registry */
  containers?: string[];
}

/** Validates {@link AutoscalerSettings}. */
export const autoscalerSettingsSchema = z.object({
  interval: durationSchema
    .refine((ms) => ms >= 10, { message: 'must be at least 10 ms' })
    .default(DEFAULT_SCALING_INTERVAL_MS),
  containers: z.array(z.string().min(1)).optional(),
});

/** {@link AutoscalerSettings} with defaults applied (the interval in ms). */
export type ResolvedAutoscalerSettings = z.output<typeof autoscalerSettingsSchema>;

/** Options of {@link Autoscaler}. */
export interface AutoscalerOptions extends AutoscalerSettings {
  /** Where the demand is read (`scalingDemand()`). */
  db: TaskDatabase;
  /** Task type → container, and each container's policy. */
  registry: TaskTypeRegistry;
  /** The platform the decisions are applied to. */
  scaler: Scaler;
  /** Logger; binds `{ component: 'autoscaler', scaler: scaler.name }`. @defaultValue silent */
  logger?: Logger;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** The settings of a {@link LocalProcessScaler} besides how to start a worker. */
export interface LocalProcessScalerSettings {
  /**
   * How long a worker may take to exit after SIGTERM before it is killed (ms or e.g. `'1m'`).
   * @defaultValue {@link DEFAULT_STOP_TIMEOUT_MS}
   */
  stopTimeout?: Duration;
  /**
   * Workers of one container that may die in a row right after starting before no more are
   * started for it (`scale` then fails with `INTERNAL` naming the container).
   * @defaultValue {@link DEFAULT_MAX_START_FAILURES}
   */
  maxStartFailures?: number;
}

/** Validates {@link LocalProcessScalerSettings}. */
export const localProcessScalerSettingsSchema = z.object({
  stopTimeout: durationSchema.default(DEFAULT_STOP_TIMEOUT_MS),
  maxStartFailures: z.number().int().min(1).default(DEFAULT_MAX_START_FAILURES),
});

/** {@link LocalProcessScalerSettings} with defaults applied (the timeout in ms). */
export type ResolvedLocalProcessScalerSettings = z.output<typeof localProcessScalerSettingsSchema>;

/** Which output stream of a worker process a line came from. */
export type WorkerStream = 'stdout' | 'stderr';

/** A worker process started by a {@link LocalProcessScaler}. */
export interface LocalWorkerProcess {
  /** The container it works for. */
  readonly container: string;
  /** Its process id (part of its worker id `<host>:<pid>:<suffix>`). */
  readonly pid: number;
  /** `running`, or `draining` once asked to stop (it finishes what it runs, then exits). */
  readonly state: 'running' | 'draining';
  /** When it was started, ms since the epoch. */
  readonly startedAt: number;
}

/** Options of {@link LocalProcessScaler}. */
export interface LocalProcessScalerOptions extends LocalProcessScalerSettings {
  /** The program a worker runs, e.g. `process.execPath` (Node) for `node bin/eas.js worker …`. */
  command: string;
  /**
   * The arguments of a worker of `container`, e.g.
   * `(c) => ['bin/eas.js', 'worker', '--container', c]`. Never put credentials here: every user
   * of the machine can read a command line. The worker must drain on SIGTERM (stop claiming,
   * finish, exit), as `eas worker` does.
   */
  args: (container: string) => readonly string[];
  /**
   * The whole environment of a worker (the database URL and other settings go here, not in
   * `args`). @defaultValue this process's environment
   */
  env?: Readonly<Record<string, string>>;
  /** Working directory of the workers. @defaultValue this process's */
  cwd?: string;
  /**
   * Receives each line a worker writes. @defaultValue logged at `info` with the container and
   * pid (at `warn` for stderr)
   */
  onOutput?: (line: string, worker: LocalWorkerProcess, stream: WorkerStream) => void;
  /** Logger; binds `{ component: 'scaler', scaler: 'local' }`. @defaultValue silent */
  logger?: Logger;
}

/**
 * Parses settings with `schema`, or throws {@link InvalidInputError} `USAGE` naming each bad
 * option as `<what>.<option>`.
 */
export function resolveSettings<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new InvalidInputError(
    'USAGE',
    `${what} invalid`,
    r.error.issues.map((i) => ({ path: `${what}.${i.path.join('.')}`, message: i.message })),
  );
}
