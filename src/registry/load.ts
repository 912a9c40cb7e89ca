import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import {
  EasError,
  InvalidInputError,
  isEasError,
  parseDuration,
  parseJson,
  type Problem,
} from '../core/index.js';
import {
  controlFlowTaskTypes,
  DEFAULT_CONTAINER,
  DEFAULT_CONTAINER_NAME,
  isControlFlowTaskType,
} from './builtins.js';
import { didYouMean } from './errors.js';
import { TaskTypeRegistry } from './registry.js';
import {
  KNOWN_KEYS,
  NAME_PATTERN,
  registryFileSchema,
  type ParsedContainerEntry,
  type ParsedRegistryFile,
  type ParsedTaskTypeEntry,
} from './schema.js';
import type { BuiltinTaskType, ResolvedContainer, ResolvedTaskType } from './types.js';

/**
 * Options of {@link loadRegistry}.
 *
 * @inline
 */
export interface LoadRegistryOptions {
  /**
   * The built-in task types (the `eas-base` task library) by name. The registry cannot import
   * their handlers, so the caller passes their descriptions here.
   */
  builtins: Record<string, BuiltinTaskType>;
  /**
   * Directory a relative file path, and an inline registry's relative paths, are resolved
   * against (usually that of `eas.yaml`). A file's own paths are relative to the file.
   * @defaultValue `process.cwd()`
   */
  baseDir?: string;
}

/** Options of {@link registryFromObject}. */
export interface RegistryFromObjectOptions {
  /** The built-in task types by name, as for {@link loadRegistry}. */
  builtins: Record<string, BuiltinTaskType>;
  /** Directory `module` and `cwd` paths are resolved against (that of the registry file). */
  baseDir: string;
  /** Names the registry in errors and in {@link ResolvedTaskType.source}. @defaultValue `'inline'` */
  source?: string;
}

/**
 * Defaults of a container the file declares without every field. A user's container runs
 * one attempt per worker (concurrency 1) because science codes are usually single programs
 * sized to the whole worker; scaling stops at 10 workers until someone raises it on purpose.
 */
const CONTAINER_DEFAULTS = {
  cpu: 1,
  memoryBytes: 2 * 1024 ** 3,
  gpu: 0,
  concurrency: 1,
  scaling: { min: 0, max: 10, cooldownMs: 5 * 60_000 },
} as const;

/**
 * Retry defaults: one attempt (a science code that failed usually fails again the same way,
 * and a retry hides the first error); when retries are asked for, 10 s doubling up to 10 min.
 */
const RETRY_DEFAULTS = { maxAttempts: 1, backoffMs: 10_000, maxBackoffMs: 10 * 60_000 } as const;

/**
 * Loads the task-type registry: built-in and control-flow task types, the default container
 * `eas-base`, and what a YAML or JSON file (or an inline object, such as the `registry:` key of
 * `eas.yaml`) adds or changes.
 *
 * @param source A file path (`.json` is read as JSON, `.yaml`/`.yml` as YAML, anything else by
 *   its first character), an inline registry object, or `undefined` for built-ins only.
 * @throws InvalidInputError `REGISTRY_INVALID` listing every problem of the file at once
 *   (syntax errors with line and column); EasError `NOT_FOUND` when the file does not exist.
 */
export async function loadRegistry(
  source: string | Record<string, unknown> | undefined,
  options: LoadRegistryOptions,
): Promise<TaskTypeRegistry> {
  const baseDir = resolve(options.baseDir ?? process.cwd());
  if (source === undefined) {
    return registryFromObject({}, { builtins: options.builtins, baseDir, source: 'built-in' });
  }
  if (typeof source !== 'string') {
    return registryFromObject(source, { builtins: options.builtins, baseDir, source: 'inline' });
  }
  const file = resolve(baseDir, source);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new EasError(
        'NOT_FOUND',
        `Task-type registry file ${file} does not exist. Check the "registry" key of eas.yaml or the --registry flag.`,
        { where: file, cause: error },
      );
    }
    const message = `Task-type registry file ${file} cannot be read (${code ?? 'error'}).`;
    throw new EasError('REGISTRY_INVALID', message, { where: file, cause: error });
  }
  if (extname(file).toLowerCase() === '.xml' || text.trimStart().startsWith('<')) {
    throw new EasError(
      'REGISTRY_INVALID',
      `Task-type registry ${file} is XML, as the original's task_type_registry.xml: convert it once with \`eas registry import ${source} -o registry.yaml\` and name registry.yaml instead.`,
      { where: file },
    );
  }
  const parsed = parseRegistryText(text, file);
  return registryFromObject(parsed ?? {}, {
    builtins: options.builtins,
    baseDir: dirname(file),
    source: file,
  });
}

/** Parses the text of a registry file as JSON or YAML; syntax errors name line and column. */
function parseRegistryText(text: string, file: string): unknown {
  const ext = extname(file).toLowerCase();
  const json =
    ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && text.trimStart().startsWith('{'));
  const subject = `Task-type registry ${file} invalid`;
  if (json) {
    try {
      return parseJson(text, { source: file });
    } catch (error) {
      if (!isEasError(error) || error.code !== 'JSON_SYNTAX' || !error.where) throw error;
      const message = error.message.slice(error.where.length + 2);
      throw new InvalidInputError('REGISTRY_INVALID', subject, [{ path: error.where, message }], {
        cause: error,
      });
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { path: `${file}:${line}:${col}`, message: e.message };
    });
    throw new InvalidInputError('REGISTRY_INVALID', subject, problems, { cause: doc.errors[0] });
  }
  return doc.toJS();
}

/**
 * Builds a registry from an object shaped like a registry file, synchronously: what
 * {@link loadRegistry} does once the file is parsed. Paths in it are resolved against
 * `baseDir`.
 *
 * @throws InvalidInputError `REGISTRY_INVALID` listing every problem at once, each with its path
 *   (`taskTypes.my_tda.container`).
 * @throws EasError `INTERNAL` when `builtins` redefines a control-flow task type.
 */
export function registryFromObject(
  obj: unknown,
  options: RegistryFromObjectOptions,
): TaskTypeRegistry {
  const source = options.source ?? 'inline';
  const { builtins } = options;
  for (const name of Object.keys(builtins)) {
    if (isControlFlowTaskType(name)) {
      throw new EasError(
        'INTERNAL',
        `Built-in task type "${name}" clashes with a control-flow task type.`,
      );
    }
  }

  const result = registryFileSchema.safeParse(obj ?? {});
  const problems = [
    ...(result.success ? [] : issueProblems(result.error.issues)),
    ...checkReferences(obj, builtins),
  ];
  if (!result.success || problems.length > 0) {
    const sorted = problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    throw new InvalidInputError(
      'REGISTRY_INVALID',
      `Task-type registry ${source} invalid`,
      sorted,
      {
        where: source,
      },
    );
  }
  return resolveRegistry(result.data, builtins, resolve(options.baseDir), source);
}

// ── Problems ─────────────────────────────────────────────────────────────────────────────────

/** `taskTypes.my_tda.command[0]`; keys holding a `.` are quoted: `taskTypes["a.b"].timeout`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || '(top level)';
}

/** The keys allowed in the object at `path`, to suggest a fix for a misspelt key. */
function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  const [section, , field] = path;
  if (path.length === 0) return KNOWN_KEYS.file;
  if (section === 'containers')
    return path.length === 2 ? KNOWN_KEYS.container : KNOWN_KEYS.scaling;
  if (path.length === 2) return KNOWN_KEYS.taskType;
  return field === 'outputs' ? KNOWN_KEYS.outputs : field === 'retry' ? KNOWN_KEYS.retry : [];
}

function issueProblems(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        problems.push({
          path: formatPath([...issue.path, key]),
          message: `unknown key "${key}".${didYouMean(key, known)} Allowed here: ${known.join(', ')}.`,
        });
      }
    } else if (issue.code === 'invalid_key') {
      const inner = issue.issues[0]?.message ?? issue.message;
      problems.push({ path: formatPath(issue.path), message: `bad name: ${inner}` });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A duration if `value` is one, else undefined (the schema reports bad ones). */
function tryDuration(value: unknown): number | undefined {
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  try {
    return parseDuration(value);
  } catch {
    return undefined;
  }
}

/**
 * The checks the schema cannot make alone, run on the raw object even when the schema failed,
 * so that one report holds every problem: containers that do not exist, how each type runs,
 * settings that contradict each other (after defaults and built-in settings apply).
 */
function checkReferences(obj: unknown, builtins: Record<string, BuiltinTaskType>): Problem[] {
  if (!isRecord(obj)) return [];
  const problems: Problem[] = [];
  const add = (path: PropertyKey[], message: string) =>
    problems.push({ path: formatPath(path), message });
  const containers = isRecord(obj.containers) ? obj.containers : {};
  const containerNames = [...new Set([DEFAULT_CONTAINER_NAME, ...Object.keys(containers)])]
    .filter((n) => NAME_PATTERN.test(n))
    .sort();

  for (const [name, entry] of Object.entries(containers)) {
    if (!isRecord(entry) || !isRecord(entry.scaling)) continue;
    const defaults =
      name === DEFAULT_CONTAINER_NAME ? DEFAULT_CONTAINER.scaling : CONTAINER_DEFAULTS.scaling;
    const { min = defaults.min, max = defaults.max } = entry.scaling;
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      add(
        ['containers', name, 'scaling'],
        `min (${min}) is above max (${max}); raise max or lower min`,
      );
    }
  }

  const taskTypes = isRecord(obj.taskTypes) ? obj.taskTypes : {};
  for (const [name, entry] of Object.entries(taskTypes)) {
    if (isControlFlowTaskType(name)) {
      add(
        ['taskTypes', name],
        `"${name}" is a control-flow task type, expanded by the controller and run by no worker; remove this entry`,
      );
      continue;
    }
    if (!isRecord(entry)) continue;
    const builtin = builtins[name];
    const has = (key: string) => entry[key] !== undefined;

    if (typeof entry.container === 'string' && !containerNames.includes(entry.container)) {
      add(
        ['taskTypes', name, 'container'],
        `no container "${entry.container}" is declared.${didYouMean(entry.container, containerNames)} ` +
          `Declare it under "containers" or use one of: ${containerNames.join(', ')}`,
      );
    }
    if (has('command') && has('module')) {
      add(
        ['taskTypes', name],
        'give either "command" (an external program) or "module" (a JavaScript handler), not both',
      );
    } else if (!has('command') && !has('module') && !builtin) {
      add(
        ['taskTypes', name],
        `"${name}" is not a built-in task type, so it needs a way to run: "command" (e.g. ["python3", "wrapper.py"]) ` +
          `or "module" (e.g. "./handlers.mjs#${name}")`,
      );
    }
    for (const key of ['cwd', 'env']) {
      if (has(key) && !has('command'))
        add(['taskTypes', name, key], `"${key}" applies to "command" only; remove it`);
    }
    const retry = isRecord(entry.retry) ? entry.retry : {};
    const backoff =
      tryDuration(retry.backoff ?? builtin?.retry?.backoff) ?? RETRY_DEFAULTS.backoffMs;
    const maxBackoff =
      tryDuration(retry.maxBackoff ?? builtin?.retry?.maxBackoff) ?? RETRY_DEFAULTS.maxBackoffMs;
    if (backoff > maxBackoff) {
      add(
        ['taskTypes', name, 'retry', retry.backoff !== undefined ? 'backoff' : 'maxBackoff'],
        `backoff (${backoff} ms) is longer than maxBackoff (${maxBackoff} ms); raise maxBackoff or lower backoff`,
      );
    }
  }
  return problems;
}

// ── Resolution ───────────────────────────────────────────────────────────────────────────────

function resolveContainer(name: string, entry: ParsedContainerEntry): ResolvedContainer {
  const base =
    name === DEFAULT_CONTAINER_NAME
      ? DEFAULT_CONTAINER
      : { ...CONTAINER_DEFAULTS, image: undefined };
  return {
    name,
    image: entry.image ?? base.image,
    cpu: entry.cpu ?? base.cpu,
    memoryBytes: entry.memory ?? base.memoryBytes,
    gpu: entry.gpu ?? base.gpu,
    concurrency: entry.concurrency ?? base.concurrency,
    scaling: {
      min: entry.scaling?.min ?? base.scaling.min,
      max: entry.scaling?.max ?? base.scaling.max,
      cooldownMs: entry.scaling?.cooldown ?? base.scaling.cooldownMs,
    },
  };
}

function resolveTaskType(
  name: string,
  entry: ParsedTaskTypeEntry | undefined,
  builtin: BuiltinTaskType | undefined,
  baseDir: string,
  source: string,
): ResolvedTaskType {
  const where = `built-in task type ${name}`;
  const builtinMs = (value: string | number | undefined, field: string) =>
    value === undefined ? undefined : parseDuration(value, `${where}: ${field}`);
  const runner: ResolvedTaskType['runner'] = entry?.command
    ? {
        kind: 'command',
        argv: entry.command,
        cwd: resolve(baseDir, entry.cwd ?? '.'),
        env: entry.env ?? {},
      }
    : entry?.module
      ? {
          kind: 'module',
          modulePath: resolve(baseDir, entry.module.path),
          exportName: entry.module.exportName,
        }
      : { kind: 'builtin' };
  return {
    name,
    container: entry?.container ?? DEFAULT_CONTAINER_NAME,
    runner,
    outputs: {
      required: entry?.outputs?.required ?? builtin?.outputs?.required ?? [],
      optional: entry?.outputs?.optional ?? builtin?.outputs?.optional ?? [],
    },
    retry: {
      maxAttempts:
        entry?.retry?.maxAttempts ?? builtin?.retry?.maxAttempts ?? RETRY_DEFAULTS.maxAttempts,
      backoffMs:
        entry?.retry?.backoff ??
        builtinMs(builtin?.retry?.backoff, 'retry.backoff') ??
        RETRY_DEFAULTS.backoffMs,
      maxBackoffMs:
        entry?.retry?.maxBackoff ??
        builtinMs(builtin?.retry?.maxBackoff, 'retry.maxBackoff') ??
        RETRY_DEFAULTS.maxBackoffMs,
    },
    timeoutMs: entry?.timeout ?? builtinMs(builtin?.timeout, 'timeout'),
    qc: entry?.qc ?? 'default',
    description: entry?.description ?? builtin?.description ?? '',
    source: entry ? source : 'built-in',
  };
}

function resolveRegistry(
  file: ParsedRegistryFile,
  builtins: Record<string, BuiltinTaskType>,
  baseDir: string,
  source: string,
): TaskTypeRegistry {
  const containerEntries = { [DEFAULT_CONTAINER_NAME]: {}, ...file.containers };
  const containers = Object.entries(containerEntries).map(([name, entry]) =>
    resolveContainer(name, entry),
  );
  const entries = file.taskTypes ?? {};
  const names = new Set([...Object.keys(builtins), ...Object.keys(entries)]);
  const taskTypes = [...names].map((name) =>
    resolveTaskType(name, entries[name], builtins[name], baseDir, source),
  );
  return new TaskTypeRegistry({
    taskTypes: [...controlFlowTaskTypes(), ...taskTypes],
    containers,
    source,
  });
}
