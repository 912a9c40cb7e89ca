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
  worker?: { concurrency?: number; heartbeatMs?: number | string; dispatch?: boolean };
  /**
   * The web dashboard (`eas web`). Its bearer tokens are never written here: they come from
   * `EAS_WEB_TOKEN` / `EAS_WEB_WRITE_TOKEN` or their `*_FILE` variants (see `loadWebTokens`).
   */
  web?: {
    /** Interface to bind. @defaultValue `'127.0.0.1'` */
    host?: string;
    /** Port; 0 picks a free one. @defaultValue 8080 */
    port?: number;
  };
  /** How `eas k8s render` lays the pipeline out on Kubernetes (see {@link KubernetesConfigFile}). */
  kubernetes?: KubernetesConfigFile;
}

/**
 * The `kubernetes:` key of `eas.yaml`: what `eas k8s render` needs beyond the task-type registry
 * to write manifests. Credentials are never written here: the manifests name Kubernetes Secrets
 * (`secrets`), which the operator creates.
 */
export interface KubernetesConfigFile {
  /** Namespace of every object. @defaultValue `'plato-eas'` */
  namespace?: string;
  /** Image of the controller and the dashboard. @defaultValue the image of container `eas-base` */
  image?: string;
  /** Image per registry container, overriding the registry's `image` (e.g. a private registry's copy). */
  images?: Record<string, string>;
  /** `imagePullPolicy` of every pod. @defaultValue Kubernetes' default for the tag */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Names of Secrets holding registry credentials for pulling images. @defaultValue none */
  imagePullSecrets?: string[];
  /** Job queue in the cluster: Redis (Secret `secrets.redis`) or the task database. @defaultValue `'redis'` */
  queue?: 'redis' | 'sql';
  /** Names of the Secrets the operator creates (each with one key, `url` or `token`). */
  secrets?: {
    /** Key `url`: `postgres://…` of the task database. @defaultValue `'eas-database'` */
    database?: string;
    /** Key `url`: `redis://…` of the job queue. @defaultValue `'eas-redis'` */
    redis?: string;
    /** Key `token`: bearer token of the dashboard. @defaultValue `'eas-web-token'` */
    webToken?: string;
  };
  /** The file repository's volume: a PersistentVolumeClaim mounted by every pod. */
  storage?: {
    /** Requested size. @defaultValue `'10Gi'` */
    size?: string;
    /** StorageClass; one that offers ReadWriteMany (NFS, CephFS…). @defaultValue the cluster default */
    storageClass?: string;
    /** Access mode; ReadWriteOnce only on a one-node cluster. @defaultValue `'ReadWriteMany'` */
    accessMode?: 'ReadWriteMany' | 'ReadWriteOnce';
  };
  /** The controller's Deployment. */
  controller?: {
    /** Replicas; more than one stand by for the leader. @defaultValue `1` */
    replicas?: number;
    /** CPUs requested. @defaultValue `'500m'` */
    cpu?: number | string;
    /** Memory requested (and limit). @defaultValue `'1Gi'` */
    memory?: string;
  };
  /** The dashboard's Deployment and Service. */
  web?: {
    /** Render them. @defaultValue `true` */
    enabled?: boolean;
    /** CPUs requested. @defaultValue `'250m'` */
    cpu?: number | string;
    /** Memory requested (and limit). @defaultValue `'512Mi'` */
    memory?: string;
  };
  /** Worker pods. */
  workers?: {
    /**
     * How long a stopping worker lets running attempts finish (`eas worker --grace`). Unset: the
     * longest `timeout` of the container's task types, at most `maxGrace`, else 30 s.
     */
    grace?: number | string;
    /** Upper bound of a grace derived from timeouts. @defaultValue `'1h'` */
    maxGrace?: number | string;
  };
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
      .object({
        concurrency: z.number().int().min(1).max(1024),
        heartbeatMs: durationSchema,
        dispatch: z.boolean(),
      })
      .partial()
      .strict()
      .optional(),
    web: z
      .object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) })
      .partial()
      .strict()
      .optional(),
    kubernetes: kubernetesSchema().optional(),
  })
  .strict();

/** zod schema of the `kubernetes:` key; names and quantities are checked as Kubernetes checks them. */
function kubernetesSchema() {
  // DNS-1123 label (namespaces) and subdomain (Secrets, StorageClasses), as the API server checks them.
  const label = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error:
      'must be a DNS-1123 label: lower-case letters, digits and "-", at most 63, e.g. "plato-eas"',
  });
  const subdomain = z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
      error:
        'must be a DNS-1123 name: lower-case letters, digits, "-" and ".", e.g. "eas-database"',
    });
  const image = z
    .string()
    .regex(/^[^\s]+$/, { error: 'must be an image reference without blanks' });
  const memory = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/, {
    error: 'must be a Kubernetes quantity such as "512Mi", "10Gi"',
  });
  const cpu = z.union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d+)?m?$/, { error: 'must be CPUs (0.5, 2) or millicores ("500m")' }),
  ]);
  return z
    .object({
      namespace: label,
      image,
      images: z.record(z.string(), image),
      imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']),
      imagePullSecrets: z.array(subdomain),
      queue: z.enum(['redis', 'sql']),
      secrets: z
        .object({ database: subdomain, redis: subdomain, webToken: subdomain })
        .partial()
        .strict(),
      storage: z
        .object({
          size: memory,
          storageClass: subdomain,
          accessMode: z.enum(['ReadWriteMany', 'ReadWriteOnce']),
        })
        .partial()
        .strict(),
      controller: z
        .object({ replicas: z.number().int().min(0).max(5), cpu, memory })
        .partial()
        .strict(),
      web: z.object({ enabled: z.boolean(), cpu, memory }).partial().strict(),
      workers: z.object({ grace: durationSchema, maxGrace: durationSchema }).partial().strict(),
    })
    .partial()
    .strict();
}

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
  /**
   * Workers are served by the controller's dispatcher instead of claiming themselves (Redis
   * queue only; `worker.dispatch`, `EAS_WORKER_DISPATCH`, `eas worker --dispatch`).
   */
  workerDispatch: boolean;
  /** Where `eas web` listens (its tokens are read separately, by `loadWebTokens`). */
  web: { host: string; port: number };
  /** The `kubernetes:` key of `eas.yaml` as validated (defaults are applied by `eas k8s render`). */
  kubernetes: KubernetesConfigFile | undefined;
}

/** Flags that override file and environment (the CLI passes its options here). */
export interface ConfigOverrides {
  databaseUrl?: string;
  redisUrl?: string;
  filestoreRoot?: string;
  registry?: string;
  logLevel?: string;
  workerConcurrency?: number;
  workerDispatch?: boolean;
  webHost?: string;
  webPort?: number;
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

  let workerDispatch = o.workerDispatch ?? file.worker?.dispatch ?? false;
  const envDispatch = envValue('EAS_WORKER_DISPATCH');
  if (o.workerDispatch === undefined && envDispatch !== undefined) {
    if (/^(1|true|yes)$/i.test(envDispatch)) workerDispatch = true;
    else if (/^(0|false|no)$/i.test(envDispatch)) workerDispatch = false;
    else
      problems.push({
        path: 'EAS_WORKER_DISPATCH',
        message: `"${envDispatch}" is not a yes/no value (1, true, yes, 0, false, no)`,
      });
  }

  const envWebHost = envValue('EAS_WEB_HOST');
  const webHost = o.webHost ?? envWebHost ?? file.web?.host ?? DEFAULT_WEB_HOST;
  let webPort = o.webPort ?? file.web?.port ?? DEFAULT_WEB_PORT;
  const envWebPort = envValue('EAS_WEB_PORT');
  if (o.webPort === undefined && envWebPort !== undefined) {
    const n = Number(envWebPort);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      problems.push({ path: 'EAS_WEB_PORT', message: `"${envWebPort}" is not a port (0-65535)` });
    else webPort = n;
  }
  if (!Number.isInteger(webPort) || webPort < 0 || webPort > 65535)
    problems.push({ path: '--port', message: `${webPort} is not a port (0-65535)` });

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
    workerDispatch,
    heartbeatMs,
    web: { host: webHost, port: webPort },
    kubernetes: file.kubernetes,
  };
}

/** Interface `eas web` binds by default: loopback only, so the dashboard is not on the network (DESIGN §8). */
export const DEFAULT_WEB_HOST = '127.0.0.1';
/** Port of `eas web` by default. */
export const DEFAULT_WEB_PORT = 8080;
/**
 * Shortest bearer token `eas web` accepts: 16 characters of a random token (e.g.
 * `openssl rand -hex 16` gives 32) cannot be guessed over the network.
 */
export const MIN_WEB_TOKEN_LENGTH = 16;

/**
 * The bearer tokens of the web dashboard. A request carrying `readToken` may read everything;
 * one carrying `writeToken` may also cancel, rerun and reschedule jobs.
 */
export interface WebTokens {
  readToken: string | undefined;
  writeToken: string | undefined;
}

/**
 * Reads the dashboard's bearer tokens from `EAS_WEB_TOKEN` (read scope) and
 * `EAS_WEB_WRITE_TOKEN` (write scope, which includes read), or from the files named by
 * `EAS_WEB_TOKEN_FILE` / `EAS_WEB_WRITE_TOKEN_FILE`. Tokens are never taken from flags (other
 * users can read a command line) nor from `eas.yaml`.
 *
 * @throws InvalidInputError `CONFIG_INVALID` when a file cannot be read, a token is shorter than
 *   {@link MIN_WEB_TOKEN_LENGTH} or holds blanks, or both tokens are the same.
 */
export function loadWebTokens(env: Record<string, string | undefined> = process.env): WebTokens {
  const problems: Problem[] = [];
  const read = (name: string): string | undefined => {
    const direct = env[name];
    let value: string | undefined;
    if (direct !== undefined && direct !== '') value = direct;
    else if (env[`${name}_FILE`]) {
      const file = env[`${name}_FILE`]!;
      try {
        value = readFileSync(file, 'utf8').trim();
      } catch (e) {
        problems.push({
          path: `${name}_FILE`,
          message: `cannot read ${file}: ${(e as Error).message}`,
        });
      }
    }
    if (value === undefined) return undefined;
    // Only the length is reported: a message must never carry the secret.
    if (value.length < MIN_WEB_TOKEN_LENGTH || /\s/.test(value)) {
      problems.push({
        path: name,
        message: `must be at least ${MIN_WEB_TOKEN_LENGTH} characters without blanks (got ${value.length}); make one with: openssl rand -hex 16`,
      });
      return undefined;
    }
    return value;
  };
  const readToken = read('EAS_WEB_TOKEN');
  const writeToken = read('EAS_WEB_WRITE_TOKEN');
  if (readToken !== undefined && readToken === writeToken)
    problems.push({
      path: 'EAS_WEB_WRITE_TOKEN',
      message: 'is the same as EAS_WEB_TOKEN: give the write scope a token of its own',
    });
  if (problems.length > 0)
    throw new InvalidInputError('CONFIG_INVALID', 'Configuration invalid', problems);
  return { readToken, writeToken };
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
