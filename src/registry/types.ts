import type { Duration } from '../core/index.js';

// ── What a registry file says (input) ────────────────────────────────────────────────────────

/**
 * A task-type registry file (YAML or JSON) as written. Every key is optional; an empty file
 * gives the built-in task types in the default container `eas-base`. Unknown keys are errors.
 *
 * @example
 * ```yaml
 * containers:
 *   tda-python: { image: my-lab/tda:3, cpu: 2, memory: 8Gi, scaling: { max: 50 } }
 * taskTypes:
 *   my_tda:
 *     container: tda-python
 *     command: ["python3", "tda_wrapper.py"]
 *     outputs: { optional: [debugging] }
 *     retry: { maxAttempts: 3, backoff: 30s }
 *     timeout: 2h
 * ```
 */
export interface RegistryFile {
  /** Worker images by name. `eas-base` exists without an entry; an entry for it changes it. */
  containers?: Record<string, ContainerEntry>;
  /** Task types by name. Built-in task types exist without an entry; an entry changes them. */
  taskTypes?: Record<string, TaskTypeEntry>;
}

/** One container of a registry file: a worker image, its resource requests and scaling policy. */
export interface ContainerEntry {
  /** Image reference. Needed on Kubernetes only; `eas run` starts local workers. */
  image?: string;
  /** CPUs requested per worker: a number (`0.5`, `2`) or millicores (`'500m'`). @defaultValue `1` */
  cpu?: number | string;
  /**
   * Memory requested per worker: bytes as a number, or a quantity such as `'512Mi'`, `'2Gi'`
   * (binary: Ki Mi Gi Ti) or `'500M'` (decimal: k M G T). @defaultValue `'2Gi'`
   */
  memory?: number | string;
  /** GPUs requested per worker, an integer. @defaultValue `0` */
  gpu?: number;
  /** Attempts one worker runs at once. @defaultValue `1` (`4` for `eas-base`) */
  concurrency?: number;
  /** Autoscaling policy. */
  scaling?: ScalingEntry;
}

/** The autoscaling policy of a container. */
export interface ScalingEntry {
  /** Fewest workers kept running, even when idle. @defaultValue `0` */
  min?: number;
  /** Most workers started. @defaultValue `10` (`20` for `eas-base`) */
  max?: number;
  /** How long a container stays idle before it scales down. @defaultValue `'5m'` */
  cooldown?: Duration;
}

/**
 * One task type of a registry file. A type that is not built in needs exactly one of
 * `command` or `module`. An entry for a built-in type changes its settings; with `command` or
 * `module` it also replaces the built-in handler (a science team wrapping its own `verify`).
 */
export interface TaskTypeEntry {
  /** Container whose workers run it. @defaultValue `'eas-base'` */
  container?: string;
  /**
   * An external program as argv, first element the program: `["python3", "tda_wrapper.py"]`.
   * No shell is involved. A relative program path is taken relative to `cwd`.
   */
  command?: string[];
  /**
   * A JavaScript handler: `'./handlers.mjs#myTda'`, a path relative to the registry file,
   * then `#` and the export name. Without `#…` the default export is used.
   */
  module?: string;
  /** Working directory of `command`, relative to the registry file. @defaultValue its folder */
  cwd?: string;
  /** Environment variables added for `command`. */
  env?: Record<string, string>;
  /** Semantic types of its file outputs. A required output that is not written fails QC. */
  outputs?: OutputsEntry;
  /** Retry policy of a failed attempt. */
  retry?: RetryEntry;
  /** Longest an attempt may run before it is failed. @defaultValue none */
  timeout?: Duration;
  /** `'none'` skips quality control of its outputs. @defaultValue `'default'` */
  qc?: 'default' | 'none';
  /** One line for people: what it does. */
  description?: string;
}

/** The output semantic types of a task type. */
export interface OutputsEntry {
  /** Outputs that must be written. @defaultValue `[]` */
  required?: string[];
  /** Outputs that may be skipped; their consumers become blocked. @defaultValue `[]` */
  optional?: string[];
}

/** The retry policy of a task type: delays double from `backoff` up to `maxBackoff`. */
export interface RetryEntry {
  /** Attempts in all, the first included: `1` never retries. @defaultValue `1` */
  maxAttempts?: number;
  /** Delay before the first retry. @defaultValue `'10s'` */
  backoff?: Duration;
  /** Longest delay between attempts. @defaultValue `'10m'` */
  maxBackoff?: Duration;
}

/**
 * A task type whose handler ships with plato-eas (the `eas-base` task library). The registry
 * cannot import the handlers, so whoever loads it passes these in (see `loadRegistry`).
 */
export interface BuiltinTaskType {
  /** One line for people: what it does. */
  description: string;
  /** Output semantic types it writes. @defaultValue none */
  outputs?: OutputsEntry;
  /** Retry policy. @defaultValue one attempt */
  retry?: RetryEntry;
  /** Longest an attempt may run. @defaultValue none */
  timeout?: Duration;
  /** Built-in handlers run inside the worker process. */
  runner: 'in-process';
}

// ── What the registry holds (resolved) ───────────────────────────────────────────────────────

/** A container with every default applied. */
export interface ResolvedContainer {
  /** Its name. */
  readonly name: string;
  /** Image reference; `undefined` when the file gave none (local workers need none). */
  readonly image: string | undefined;
  /** CPUs requested per worker. */
  readonly cpu: number;
  /** Memory requested per worker, bytes. */
  readonly memoryBytes: number;
  /** GPUs requested per worker. */
  readonly gpu: number;
  /** Attempts one worker runs at once. */
  readonly concurrency: number;
  /** Autoscaling policy. */
  readonly scaling: {
    readonly min: number;
    readonly max: number;
    /** Idle time before scaling down, ms. */
    readonly cooldownMs: number;
  };
}

/**
 * How a task type is run:
 * - `command`: an external program, given the task as a JSON file in `EAS_TASK_FILE`;
 * - `module`: a JavaScript handler, the named export of a module;
 * - `builtin`: a handler of the `eas-base` task library, in the worker process;
 * - `controller`: a control-flow type, expanded by the controller and never run by a worker.
 *
 * @inline
 */
export type TaskRunner =
  | {
      readonly kind: 'command';
      /** Program and arguments. */
      readonly argv: readonly string[];
      /** Absolute working directory. */
      readonly cwd: string;
      /** Variables added to the environment. */
      readonly env: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: 'module';
      /** Absolute path of the module. */
      readonly modulePath: string;
      /** Name of the export; `'default'` for the default export. */
      readonly exportName: string;
    }
  | { readonly kind: 'builtin' }
  | { readonly kind: 'controller' };

/** A task type with every default applied, as the controller and the workers use it. */
export interface ResolvedTaskType {
  /** Its name, as chains write it in `task`. */
  readonly name: string;
  /** Container whose workers run it; `undefined` for control-flow types only. */
  readonly container: string | undefined;
  /** How it is run. */
  readonly runner: TaskRunner;
  /** Output semantic types, required and optional. */
  readonly outputs: { readonly required: readonly string[]; readonly optional: readonly string[] };
  /** Retry policy: attempts in all, then delays doubling from `backoffMs` up to `maxBackoffMs`. */
  readonly retry: {
    readonly maxAttempts: number;
    readonly backoffMs: number;
    readonly maxBackoffMs: number;
  };
  /** Longest an attempt may run, ms; `undefined` for no limit. */
  readonly timeoutMs: number | undefined;
  /** `'none'` skips quality control of its outputs. */
  readonly qc: 'default' | 'none';
  /** One line for people (empty when none was given). */
  readonly description: string;
  /** Where it was declared: the registry file, `'inline'`, or `'built-in'`. */
  readonly source: string;
}
