import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { parseDuration } from './durations.js';
import { InvalidInputError, type Problem } from './errors.js';

/**
 * Settings of a plato-eas installation, as written in `eas.yaml`. Every field is optional;
 * {@link loadConfig} fills defaults and applies `EAS_*` environment variables and flags on top.
 */
export interface EasConfigFile {
  /** Task database URL: `sqlite:<file>` or `postgres://…`. @defaultValue `'sqlite:.eas/eas.db'` */
  database?: { url?: string };
  /** Redis URL; when set the Redis job queue is used, otherwise the SQL queue. */
  redis?: { url?: string };
  /** Directory of the file repository. @defaultValue `'.eas/files'` */
  filestore?: { root?: string };
  /** Path of a task-type registry file (YAML or JSON), relative to `eas.yaml`, or the registry inline. */
  registry?: string | Record<string, unknown>;
  /** Log level. @defaultValue `'info'` */
  logLevel?: string;
  /** Queue settings. */
  queue?: { leaseMs?: number | string };
  /** Worker settings. */
  worker?: { concurrency?: number; heartbeatMs?: number | string };
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const durationSchema = z.union([z.number().min(0), z.string()]).refine(
  (v) => {
    try {
      parseDuration(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a duration: write milliseconds or e.g. "30s", "5m", "2h"' },
);

const configFileSchema = z
  .object({
    database: z
      .object({ url: z.string().min(1) })
      .partial()
      .strict()
      .optional(),
    redis: z
      .object({ url: z.string().min(1) })
      .partial()
      .strict()
      .optional(),
    filestore: z
      .object({ root: z.string().min(1) })
      .partial()
      .strict()
      .optional(),
    registry: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
    logLevel: z.enum(LEVELS).optional(),
    queue: z.object({ leaseMs: durationSchema }).partial().strict().optional(),
    worker: z
      .object({ concurrency: z.number().int().min(1).max(1024), heartbeatMs: durationSchema })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

/** The configuration after defaults, file, environment and flags: what components receive. */
export interface ResolvedConfig {
  /** Path of the `eas.yaml` read, if any. */
  configPath: string | undefined;
  /** Directory relative paths are resolved against (that of `eas.yaml`, else the cwd). */
  baseDir: string;
  /** Task database URL, with a relative SQLite path made absolute. */
  databaseUrl: string;
  /** Redis URL, when a Redis queue is configured. */
  redisUrl: string | undefined;
  /** Absolute directory of the file repository. */
  filestoreRoot: string;
  /** Absolute path of the registry file, the inline registry, or undefined (built-ins only). */
  registry: string | Record<string, unknown> | undefined;
  /** Log level. */
  logLevel: (typeof LEVELS)[number];
  /** Lease length of claimed attempts, ms. */
  leaseMs: number;
  /** Concurrent attempts per worker. */
  workerConcurrency: number;
  /** Heartbeat interval, ms. */
  heartbeatMs: number;
}

/** Flags that override file and environment (the CLI passes its options here). */
export interface ConfigOverrides {
  databaseUrl?: string;
  redisUrl?: string;
  filestoreRoot?: string;
  registry?: string;
  logLevel?: string;
  workerConcurrency?: number;
}

/**
 * Options of {@link loadConfig}.
 *
 * @inline
 */
export interface LoadConfigOptions {
  /** Directory to look for `eas.yaml` in. @defaultValue `process.cwd()` */
  cwd?: string;
  /** Environment to read `EAS_*` from. @defaultValue `process.env` */
  env?: Record<string, string | undefined>;
  /** Flags. */
  overrides?: ConfigOverrides;
  /** Log level when neither flags, environment nor file set one. @defaultValue `'info'` */
  defaultLogLevel?: (typeof LEVELS)[number];
}

/** Name of the configuration file `eas init` writes. */
export const CONFIG_FILE_NAME = 'eas.yaml';

/** Lease of a claimed attempt: long enough to ride out a GC pause, short enough to notice a dead worker quickly. */
export const DEFAULT_LEASE_MS = 30_000;
/** Heartbeat interval: a third of the lease, so two missed beats still leave the lease alive. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

/**
 * Loads the configuration: defaults < `eas.yaml` (or the file named by `EAS_CONFIG`) < `EAS_*`
 * environment variables (and their `*_FILE` variants, which read a secret from a file) < flags.
 * This is the only place in plato-eas that reads `process.env`.
 *
 * @throws InvalidInputError `CONFIG_INVALID` listing every bad value with its place
 *   (`eas.yaml: worker.concurrency`, `EAS_LOG_LEVEL`).
 */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: Problem[] = [];

  const envValue = (name: string): string | undefined => {
    const direct = env[name];
    if (direct !== undefined && direct !== '') return direct;
    const file = env[`${name}_FILE`];
    if (file) {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch (e) {
        problems.push({
          path: `${name}_FILE`,
          message: `cannot read ${file}: ${(e as Error).message}`,
        });
      }
    }
    return undefined;
  };

  let configPath: string | undefined;
  const explicit = envValue('EAS_CONFIG');
  if (explicit) {
    configPath = resolve(cwd, explicit);
    if (!existsSync(configPath)) {
      throw new InvalidInputError('CONFIG_INVALID', 'Configuration invalid', [
        { path: 'EAS_CONFIG', message: `no file at ${configPath}` },
      ]);
    }
  } else if (existsSync(resolve(cwd, CONFIG_FILE_NAME))) {
    configPath = resolve(cwd, CONFIG_FILE_NAME);
  }

  let file: z.infer<typeof configFileSchema> = {};
  if (configPath) {
    const label = configPath;
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(configPath, 'utf8')) ?? {};
    } catch (e) {
      const where =
        e instanceof YAMLParseError && e.linePos
          ? `${label}:${e.linePos[0].line}:${e.linePos[0].col}`
          : label;
      throw new InvalidInputError('CONFIG_INVALID', 'Configuration invalid', [
        { path: where, message: (e as Error).message.split('\n')[0] ?? 'YAML syntax error' },
      ]);
    }
    const parsed = configFileSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push({
          path: `${label}: ${issue.path.join('.') || '(top level)'}`,
          message: issue.message,
        });
      }
    } else file = parsed.data;
  }

  const baseDir = configPath ? dirname(configPath) : cwd;
  const o = options.overrides ?? {};

  // Each value is reported under the name it came from: a flag, a variable or a file key.
  const fileKey = (key: string): string => (configPath ? `${configPath}: ${key}` : key);
  // A password in a flag is readable by every user of the machine (ps, shell history).
  for (const [flag, value] of [
    ['--database', o.databaseUrl],
    ['--redis', o.redisUrl],
  ] as const) {
    if (value !== undefined && redactUrl(value) !== value) {
      const variable = flag === '--database' ? 'EAS_DATABASE_URL' : 'EAS_REDIS_URL';
      problems.push({
        path: flag,
        message: `"${redactUrl(value)}" carries a password on the command line, where other users can read it; set ${variable} or ${variable}_FILE instead`,
      });
    }
  }
  const envDb = envValue('EAS_DATABASE_URL');
  const databaseUrl = normalizeDatabaseUrl(
    o.databaseUrl ?? envDb ?? file.database?.url ?? 'sqlite:.eas/eas.db',
    baseDir,
    problems,
    o.databaseUrl !== undefined
      ? '--database'
      : envDb !== undefined
        ? 'EAS_DATABASE_URL'
        : fileKey('database.url'),
  );
  const envRedis = envValue('EAS_REDIS_URL');
  const redisUrl = o.redisUrl ?? envRedis ?? file.redis?.url;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    const where =
      o.redisUrl !== undefined
        ? '--redis'
        : envRedis !== undefined
          ? 'EAS_REDIS_URL'
          : fileKey('redis.url');
    problems.push({
      path: where,
      message: `"${redactUrl(redisUrl)}" must start with redis:// or rediss://`,
    });
  }
  const filestoreRoot = resolve(
    baseDir,
    o.filestoreRoot ?? envValue('EAS_FILESTORE') ?? file.filestore?.root ?? '.eas/files',
  );

  let registry: ResolvedConfig['registry'] =
    o.registry ?? envValue('EAS_REGISTRY') ?? file.registry;
  if (typeof registry === 'string') registry = resolve(baseDir, registry);

  const levelRaw =
    o.logLevel ?? envValue('EAS_LOG_LEVEL') ?? file.logLevel ?? options.defaultLogLevel ?? 'info';
  let logLevel: ResolvedConfig['logLevel'] = 'info';
  if ((LEVELS as readonly string[]).includes(levelRaw))
    logLevel = levelRaw as ResolvedConfig['logLevel'];
  else
    problems.push({
      path: o.logLevel ? '--log-level' : envValue('EAS_LOG_LEVEL') ? 'EAS_LOG_LEVEL' : 'logLevel',
      message: `"${levelRaw}" is not one of ${LEVELS.join(', ')}`,
    });

  const duration = (
    value: number | string | undefined,
    fallback: number,
    where: string,
  ): number => {
    if (value === undefined) return fallback;
    try {
      return parseDuration(value, where);
    } catch (e) {
      problems.push({ path: where, message: (e as Error).message });
      return fallback;
    }
  };
  const leaseMs = duration(
    envValue('EAS_LEASE_MS') ?? file.queue?.leaseMs,
    DEFAULT_LEASE_MS,
    'queue.leaseMs',
  );
  const heartbeatMs = duration(
    file.worker?.heartbeatMs,
    Math.min(DEFAULT_HEARTBEAT_MS, Math.floor(leaseMs / 3)),
    'worker.heartbeatMs',
  );

  let workerConcurrency = o.workerConcurrency ?? file.worker?.concurrency ?? 4;
  const envConc = envValue('EAS_WORKER_CONCURRENCY');
  if (o.workerConcurrency === undefined && envConc !== undefined) {
    const n = Number(envConc);
    if (!Number.isInteger(n) || n < 1)
      problems.push({
        path: 'EAS_WORKER_CONCURRENCY',
        message: `"${envConc}" is not a positive integer`,
      });
    else workerConcurrency = n;
  }
  if (!Number.isInteger(workerConcurrency) || workerConcurrency < 1) {
    problems.push({
      path: 'worker.concurrency',
      message: `${workerConcurrency} is not a positive integer`,
    });
  }

  if (problems.length > 0)
    throw new InvalidInputError('CONFIG_INVALID', 'Configuration invalid', problems);
  return {
    configPath,
    baseDir,
    databaseUrl,
    redisUrl,
    filestoreRoot,
    registry,
    logLevel,
    leaseMs,
    workerConcurrency,
    heartbeatMs,
  };
}

function normalizeDatabaseUrl(
  url: string,
  baseDir: string,
  problems: Problem[],
  where: string,
): string {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') {
      problems.push({
        path: where,
        message: 'sqlite: needs a file path, e.g. sqlite:.eas/eas.db',
      });
      return url;
    }
    return `sqlite:${isAbsolute(path) ? path : resolve(baseDir, path)}`;
  }
  if (/^postgres(ql)?:\/\//.test(url)) return url;
  problems.push({
    path: where,
    message: `"${redactUrl(url)}" is neither sqlite:<file> nor postgres://…`,
  });
  return url;
}

/** A URL with its password replaced by `***`, safe for logs and messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/**
 * The environment a science code inherits from the process running it, without plato-eas's
 * own `EAS_*` settings (which may carry credentials).
 */
export function inheritedEnvironment(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('EAS_')) out[k] = v;
  }
  return out;
}
