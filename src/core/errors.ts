/**
 * The error codes of plato-eas. Each names one kind of failure; the CLI maps codes to exit
 * codes in one place (`exitCodeFor`).
 */
export type EasErrorCode =
  | 'CONFIG_INVALID'
  | 'CHAIN_INVALID'
  | 'JSON_SYNTAX'
  | 'REGISTRY_INVALID'
  | 'UNKNOWN_TASK_TYPE'
  | 'PATH_INVALID'
  | 'NOT_FOUND'
  | 'USAGE'
  | 'CONFLICT'
  | 'LEASE_LOST'
  | 'STALE_ATTEMPT'
  | 'TASK_FAILED'
  | 'TIMEOUT'
  | 'BACKEND_UNAVAILABLE'
  | 'MISSING_PEER'
  | 'CHECKSUM_MISMATCH'
  | 'CLOSED'
  | 'INTERNAL';

/**
 * Options accepted by {@link EasError}.
 *
 * @inline
 */
export interface EasErrorOptions {
  /** The error that caused this one (ES2022 `cause`). */
  cause?: unknown;
  /** Where the problem is: a chain path, a file with line and column, a config key. */
  where?: string;
  /** Structured details a program may read (never credentials or file contents). */
  details?: Record<string, unknown>;
}

/**
 * The base class of every error plato-eas throws on purpose. The message says what went
 * wrong, where, and how to fix it; `code` says what kind of failure it is.
 *
 * @example
 * ```ts
 * try { await submit(chain) } catch (e) { if (isEasError(e) && e.code === 'CHAIN_INVALID') … }
 * ```
 */
export class EasError extends Error {
  /** The kind of failure. */
  readonly code: EasErrorCode;
  /** Where the problem is, when known. */
  readonly where: string | undefined;
  /** Structured details. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: EasErrorCode, message: string, options: EasErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.where = options.where;
    this.details = options.details;
  }
}

/** True when `value` is an {@link EasError} (also across bundle copies, by shape). */
export function isEasError(value: unknown): value is EasError {
  return (
    value instanceof EasError ||
    (value instanceof Error &&
      typeof (value as { code?: unknown }).code === 'string' &&
      'where' in value &&
      'details' in value)
  );
}

/** One problem among several found in one input (a chain, a registry, a config). */
export interface Problem {
  /** Where: `task_list[2].inputs.lightcurve`, `eas.yaml: queue.leaseMs`, `chain.json:4:17`. */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/**
 * An input was rejected because of one or more problems, all reported at once. Its message
 * lists every problem with its place; `problems` holds them for programs.
 */
export class InvalidInputError extends EasError {
  /** Every problem found. */
  readonly problems: Problem[];

  constructor(
    code: EasErrorCode,
    subject: string,
    problems: Problem[],
    options: EasErrorOptions = {},
  ) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    super(code, `${subject}: ${problems.length} ${noun}\n${problemLines(problems).join('\n')}`, {
      ...options,
      where: options.where ?? problems[0]?.path,
    });
    this.problems = problems;
    this.#subject = subject;
  }

  readonly #subject: string;

  /**
   * The error on one line, for a place that stores or shows one line (a failed attempt's
   * `error`, read by `eas tree`, `eas errors` and `eas task`): the subject and the first
   * `limit` problems as `path: message`, separated by `; `, then `… and N more`. The full
   * list stays in {@link EasError.message}.
   */
  summary(limit = 3): string {
    const shown = this.problems
      .slice(0, limit)
      .map((p) => `${p.path}: ${p.message}`.replace(/\s*\n\s*/g, ' '));
    const more = this.problems.length - shown.length;
    const count = this.problems.length === 1 ? '' : ` ${this.problems.length} problems:`;
    return `${this.#subject}:${count} ${shown.join('; ')}${more > 0 ? `; … and ${more} more` : ''}`;
  }
}

/** A mistake copied into more loop iterations than this is told once, naming this many. */
const PLACES_SHOWN = 3;

/**
 * One line a problem; the same mistake in more than {@link PLACES_SHOWN} iterations of a loop
 * (the same message at paths that differ only in their `@N` iteration indices, an unknown task
 * type in every copy, say) is told once, with the first places and a count.
 */
function problemLines(problems: readonly Problem[]): string[] {
  const keyOf = (p: Problem): string => `${p.path.replace(/@\d+/g, '@*')}\u0000${p.message}`;
  const places = new Map<string, string[]>();
  for (const p of problems) {
    const list = places.get(keyOf(p));
    if (list) list.push(p.path);
    else places.set(keyOf(p), [p.path]);
  }
  const lines: string[] = [];
  for (const p of problems) {
    const paths = places.get(keyOf(p))!;
    if (paths.length <= PLACES_SHOWN) lines.push(`  - ${p.path}: ${p.message}`);
    else if (p.path === paths[0]) {
      const shown = paths.slice(0, PLACES_SHOWN).join(', ');
      lines.push(`  - ${shown} and ${paths.length - PLACES_SHOWN} more: ${p.message}`);
    }
  }
  return lines;
}

/** Process exit codes of the CLI (DESIGN §7). */
export const EXIT_CODES = {
  ok: 0,
  taskFailures: 1,
  usage: 2,
  unreachable: 3,
} as const;

/**
 * The exit code for an error: 2 for bad input or usage, 3 when a server is unreachable, 1
 * otherwise. The one place where error codes become exit codes.
 */
export function exitCodeFor(error: unknown): number {
  if (!isEasError(error)) return 1;
  switch (error.code) {
    case 'CONFIG_INVALID':
    case 'CHAIN_INVALID':
    case 'JSON_SYNTAX':
    case 'REGISTRY_INVALID':
    case 'UNKNOWN_TASK_TYPE':
    case 'PATH_INVALID':
    case 'NOT_FOUND':
    case 'USAGE':
    case 'CONFLICT':
    case 'MISSING_PEER':
      return EXIT_CODES.usage;
    case 'BACKEND_UNAVAILABLE':
      return EXIT_CODES.unreachable;
    default:
      return EXIT_CODES.taskFailures;
  }
}

/** SQLSTATE classes and codes of a server going away or not yet accepting connections. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);
const TRANSIENT_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const TRANSIENT_MESSAGES = [
  /connection terminated/i,
  /connection error/i,
  /not queryable/i,
  /unable to acquire a connection/i,
  /timeout acquiring a connection/i,
  /connection is closed/i,
  /server closed the connection/i,
  /the database system is (shutting down|starting up|in recovery mode)/i,
  /max retries per request/i,
  /stream isn't writeable/i,
  /^aborted$/,
];

/**
 * Whether an error says a server (PostgreSQL, Redis) is away for now — refused or dropped
 * connections, a server shutting down or starting, serialization conflicts — so the operation
 * can be tried again once it is back, rather than a bug or bad input. Daemons retry such
 * errors with a backoff instead of exiting; everything else still ends them.
 */
export function isTransientBackendError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (isEasError(e) && e.code === 'BACKEND_UNAVAILABLE') return true;
    const { code } = e as { code?: unknown };
    if (typeof code === 'string') {
      if (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08') || TRANSIENT_ERRNOS.has(code))
        return true;
    }
    if (TRANSIENT_MESSAGES.some((re) => re.test(e instanceof Error ? e.message : ''))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The wait before retry `n` (0-based) after a transient error: 250 ms doubling to 5 s. */
export function transientBackoffMs(n: number): number {
  return Math.min(5000, 250 * 2 ** Math.min(n, 5));
}

/** Where {@link waitOutTransient} reports what it waits for. */
export interface TransientLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * Waits out failure number `failures` (0-based) of a transient backend error while `doing`
 * something: logs it at `warn` and sleeps {@link transientBackoffMs}.
 */
export async function waitOutTransient(
  log: TransientLog,
  e: unknown,
  doing: string,
  failures: number,
): Promise<void> {
  const ms = transientBackoffMs(failures);
  log.warn({ err: e, retryInMs: ms }, `${doing}: a server is unavailable; retrying in ${ms} ms`);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `op`, retrying with a growing backoff while it fails with a transient backend error
 * ({@link isTransientBackendError}); any other error, or one after `giveUp()` turned true, is
 * thrown.
 */
export async function retryWhileTransient<T>(
  log: TransientLog,
  doing: string,
  op: () => Promise<T>,
  giveUp: () => boolean = () => false,
): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await op();
    } catch (e) {
      if (!isTransientBackendError(e) || giveUp()) throw e;
      await waitOutTransient(log, e, doing, failures);
    }
  }
}
