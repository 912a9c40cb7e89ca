import { z } from 'zod';
import {
  InvalidInputError,
  parseDuration,
  type Duration,
  type Logger,
  type OpenSqlOptions,
  type SqlDatabase,
} from '../core/index.js';
import type { QueueBackend } from './queue-backend.js';

/**
 * How often a waiting SQL claim looks at the table again, ms. Short enough that an item
 * enqueued by another process is picked up within a blink; an enqueue in the same process
 * wakes waiting claims at once regardless. Each poll is one short transaction, so on a
 * PostgreSQL server with hundreds of idle workers raise it (e.g. 250 ms).
 */
export const DEFAULT_POLL_MS = 25;

/** Options of `createSqlQueueBackend`. */
export interface SqlQueueBackendOptions {
  /**
   * Where the queue lives. A `SqlDatabase` (normally the task database — the embedded
   * default) is shared: the queue's `close()` leaves it open. A URL (`sqlite:<file>` or
   * `postgres://…`) is opened for the queue alone and closed by `close()`.
   */
  sql: SqlDatabase | string;
  /** Logger; the backend binds `{ component: 'queue', backend: 'sql' }`. @defaultValue silent */
  logger?: Logger;
  /** Poll interval of a waiting claim, ms (≥ 1). @defaultValue {@link DEFAULT_POLL_MS} */
  pollMs?: number;
  /** How to open `sql` when it is a URL. @defaultValue the defaults of `openSqlDatabase` */
  open?: OpenSqlOptions;
}

function isSqlDatabase(value: unknown): value is SqlDatabase {
  const v = value as Partial<SqlDatabase> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.all === 'function' &&
    typeof v.run === 'function' &&
    typeof v.transaction === 'function' &&
    typeof v.profile === 'object' &&
    typeof v.knex === 'function'
  );
}

/** Validates {@link SqlQueueBackendOptions}. */
export const sqlQueueBackendOptionsSchema = z.object({
  sql: z.union([
    z.string().regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<file> or postgres://…'),
    z.custom<SqlDatabase>(isSqlDatabase, 'must be a SqlDatabase (openSqlDatabase) or a URL'),
  ]),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && 'child' in v).optional(),
  pollMs: z.number().int().min(1).default(DEFAULT_POLL_MS),
  open: z
    .object({
      poolMax: z.number().int().min(1).optional(),
      busyTimeoutMs: z.number().int().min(0).optional(),
      logger: z
        .custom<Logger>((v) => typeof v === 'object' && v !== null && 'child' in v)
        .optional(),
    })
    .optional(),
});

/** {@link SqlQueueBackendOptions} with defaults applied. */
export type ResolvedSqlQueueBackendOptions = z.output<typeof sqlQueueBackendOptionsSchema>;

/** The SQL backend, in the task database or a database of its own. */
export interface SqlJobQueueTarget extends SqlQueueBackendOptions {
  /** Selects the SQL backend. */
  backend: 'sql';
}

/** The key prefix of the Redis queue when none is given: keys read `eas:items`, `eas:ready:<type>`…. */
export const DEFAULT_REDIS_PREFIX = 'eas';

/**
 * How long `createRedisQueueBackend` waits for Redis to answer before it fails with
 * `BACKEND_UNAVAILABLE`. Long enough for a server across a slow network, short enough that a
 * wrong URL or a stopped server is reported promptly instead of retried forever.
 */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 5_000;

/**
 * How long one Redis queue call waits for a connection and an answer before it fails with
 * `BACKEND_UNAVAILABLE`. Covers a short restart or failover (ioredis reconnects within a second
 * of the server answering) without leaving a worker hanging through a real outage. Every
 * script is short, even a claim of thousands of items, so a healthy server answers far sooner.
 */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 10_000;

/** Options of `createRedisQueueBackend`. */
export interface RedisQueueBackendOptions {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). The password is never
   * logged or shown in errors.
   */
  url: string;
  /**
   * Start of every key of this queue (letters, digits, `_`, `-`, `.`, `{`, `}`; no `:`).
   * Queues with different prefixes share a server without seeing each other.
   * @defaultValue {@link DEFAULT_REDIS_PREFIX}
   */
  prefix?: string;
  /** Logger; the backend binds `{ component: 'queue', backend: 'redis' }`. @defaultValue silent */
  logger?: Logger;
  /**
   * How long opening waits for the server (ms or e.g. `'5s'`).
   * @defaultValue {@link DEFAULT_REDIS_CONNECT_TIMEOUT_MS}
   */
  connectTimeout?: Duration;
  /**
   * How long a call waits for a connection and an answer while the server is away before it
   * fails with `BACKEND_UNAVAILABLE` (ms or e.g. `'10s'`).
   * @defaultValue {@link DEFAULT_REDIS_COMMAND_TIMEOUT_MS}
   */
  commandTimeout?: Duration;
}

/** A positive duration: ms as a number, or a string such as `'5s'`, turned into ms. */
const positiveDurationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    const ms = parseDuration(value);
    if (ms > 0) return ms;
    ctx.addIssue({ code: 'custom', message: 'must be more than 0 ms' });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^duration: /, '') });
  }
  return z.NEVER;
});

/** Validates {@link RedisQueueBackendOptions}. */
export const redisQueueBackendOptionsSchema = z.object({
  // The message must not echo the URL: it may hold a password.
  url: z.string().regex(/^rediss?:\/\/.+/, 'must be redis://… or rediss://…'),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]{1,64}$/, 'must be 1–64 letters, digits or _ - . { } (no ":")')
    .default(DEFAULT_REDIS_PREFIX),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && 'child' in v).optional(),
  connectTimeout: positiveDurationSchema.default(DEFAULT_REDIS_CONNECT_TIMEOUT_MS),
  commandTimeout: positiveDurationSchema.default(DEFAULT_REDIS_COMMAND_TIMEOUT_MS),
});

/** {@link RedisQueueBackendOptions} with defaults applied (timeouts in ms). */
export type ResolvedRedisQueueBackendOptions = z.output<typeof redisQueueBackendOptionsSchema>;

/** The Redis backend (ioredis, atomic Lua scripts, blocking claims): for many worker processes. */
export interface RedisJobQueueTarget extends RedisQueueBackendOptions {
  /** Selects the Redis backend. */
  backend: 'redis';
}

/** A backend built by the caller (a test double, a backend from another package). */
export interface CustomJobQueueTarget {
  /** The backend; the queue's `close()` closes it. */
  backend: QueueBackend;
}

/** Which backend a {@link JobQueue} runs on. */
export type JobQueueTarget = SqlJobQueueTarget | RedisJobQueueTarget | CustomJobQueueTarget;

/** Options of `createJobQueue` that do not depend on the backend. */
export interface JobQueueOptions {
  /** Logger; the queue binds `{ component: 'queue', backend }`. @defaultValue silent */
  logger?: Logger;
}

// ---------------------------------------------------------------------------------------------
// Arguments of the queue's operations (validated by the façade, trusted by backends).

const attemptIdSchema = z.number().int().min(0);

/** Validates one `QueueItem`. */
export const queueItemSchema = z.object({
  attemptId: attemptIdSchema,
  taskType: z.string().min(1),
  jobId: z.number().int().min(0),
  priority: z.number().int().optional(),
  availableAt: z.number().int().min(0).optional(),
});

/** Validates a `ClaimRequest`. */
export const claimRequestSchema = z.object({
  owner: z.string().min(1),
  types: z.array(z.string().min(1)).min(1, 'name at least one task type'),
  max: z.number().int().min(1),
  leaseMs: z.number().int().positive(),
  waitMs: z.number().int().min(0).optional(),
  signal: z
    .custom<AbortSignal>((v) => v instanceof AbortSignal, 'must be an AbortSignal')
    .optional(),
});

/** Validates a worker id. */
export const ownerSchema = z.string().min(1);
/** Validates a list of attempt ids. */
export const attemptIdsSchema = z.array(attemptIdSchema);
/** Validates a lease length, ms. */
export const leaseMsSchema = z.number().int().positive();
/** Validates a job id. */
export const jobIdSchema = z.number().int().min(0);
/** Validates `reclaimExpired`'s arguments. */
export const reclaimSchema = z.object({
  now: z.number().int().min(0).optional(),
  max: z.number().int().min(1).optional(),
});

/** A non-negative safe integer (an attempt or job id). */
function isId(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** `test` holds for every index of `list`, holes included (`every` skips them; schemas do not). */
function everyIndex(list: readonly unknown[], test: (v: unknown) => boolean): boolean {
  for (let i = 0; i < list.length; i++) if (!test(list[i])) return false;
  return true;
}

/**
 * Quick checks of the hot path's arguments, each accepting only what its schema accepts: a
 * queue call of a busy dispatcher carries hundreds of ids or items, and a plain loop over them
 * costs a fraction of the schema's walk. What a quick check refuses, the schema judges (and
 * words the error).
 */
export const quickCheck = {
  owner: (v: unknown): boolean => typeof v === 'string' && v.length > 0,
  leaseMs: (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0,
  attemptIds: (v: unknown): boolean => Array.isArray(v) && everyIndex(v, isId),
  queueItems: (v: unknown): boolean =>
    Array.isArray(v) &&
    everyIndex(v, (i: unknown) => {
      if (typeof i !== 'object' || i === null || Array.isArray(i)) return false;
      const { attemptId, taskType, jobId, priority, availableAt } = i as Record<string, unknown>;
      return (
        isId(attemptId) &&
        typeof taskType === 'string' &&
        taskType.length > 0 &&
        isId(jobId) &&
        (priority === undefined || Number.isSafeInteger(priority)) &&
        (availableAt === undefined || isId(availableAt))
      );
    }),
};

/**
 * Parses `value` with `schema`, or throws {@link InvalidInputError} `USAGE` listing every
 * problem as `<where>.<path>: <message>`. With `quick`, a value it accepts is taken as it is
 * (see {@link quickCheck}).
 */
export function parseArgument<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
  quick?: (value: unknown) => boolean,
): z.output<S> {
  if (quick?.(value)) return value as z.output<S>;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw new InvalidInputError('USAGE', `Invalid argument to ${where.split(/[.[]/)[0]}`, problems);
}
