import { EasError, type Problem } from '../core/index.js';
import { checkBuiltinDescription, checkFieldSlips } from './builtin-params.js';
import { isControlFlowTaskType } from './builtins.js';
import { unknownContainerError, unknownTaskTypeError } from './errors.js';
import type { ResolvedContainer, ResolvedTaskType } from './types.js';

/**
 * What a {@link TaskTypeRegistry} is made of.
 *
 * @inline
 */
export interface TaskTypeRegistryInit {
  /** Every task type, built-in and control-flow ones included. */
  taskTypes: Iterable<ResolvedTaskType>;
  /** Every container. */
  containers: Iterable<ResolvedContainer>;
  /** Where it was read from: a file path, `'inline'` or `'built-in'`. */
  source: string;
}

/**
 * The plain data of a registry, as {@link TaskTypeRegistry.toJSON} returns it.
 *
 * @inline
 */
export interface TaskTypeRegistryJson {
  /** Where it was read from. */
  source: string;
  /** Containers by name. */
  containers: Record<string, ResolvedContainer>;
  /** Task types by name; environment values are redacted. */
  taskTypes: Record<string, ResolvedTaskType>;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const byName = (a: { name: string }, b: { name: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * Every task type plato-eas can run and every container that runs them: what the controller
 * consults to queue and scale, and what a worker consults to know how to run a task. Read-only;
 * its objects are frozen.
 *
 * Made by {@link loadRegistry} (from a file or an inline object) or `registryFromObject`;
 * construct it directly only from already resolved types (in tests, say).
 *
 * @example
 * ```ts
 * const type = registry.get('my_tda');            // throws UNKNOWN_TASK_TYPE with suggestions
 * if (type.runner.kind === 'command') spawn(type.runner.argv[0], type.runner.argv.slice(1));
 * for (const t of registry.typesOfContainer('tda-python')) queueNames.push(t.name);
 * ```
 */
export class TaskTypeRegistry {
  /** Where it was read from: a file path, `'inline'` or `'built-in'` (no file). */
  readonly source: string;
  readonly #types = new Map<string, ResolvedTaskType>();
  readonly #containers = new Map<string, ResolvedContainer>();

  /**
   * @throws EasError `INTERNAL` when a task type names a container that is not given, or a
   *   name appears twice — `registryFromObject` never produces either.
   */
  constructor(init: TaskTypeRegistryInit) {
    this.source = init.source;
    for (const c of [...init.containers].sort(byName)) {
      if (this.#containers.has(c.name))
        throw new EasError('INTERNAL', `Container "${c.name}" given twice.`);
      this.#containers.set(c.name, deepFreeze(c));
    }
    for (const t of [...init.taskTypes].sort(byName)) {
      if (this.#types.has(t.name))
        throw new EasError('INTERNAL', `Task type "${t.name}" given twice.`);
      if (t.container !== undefined && !this.#containers.has(t.container)) {
        throw new EasError(
          'INTERNAL',
          `Task type "${t.name}" names container "${t.container}", which is not given.`,
        );
      }
      this.#types.set(t.name, deepFreeze(t));
    }
  }

  /**
   * The task type called `name`.
   *
   * @throws EasError `UNKNOWN_TASK_TYPE` whose message suggests close names, lists the known
   *   types and says where to declare a new one.
   */
  get(name: string): ResolvedTaskType {
    const type = this.#types.get(name);
    if (!type) throw unknownTaskTypeError(name, [...this.#types.keys()], this.source);
    return type;
  }

  /** Whether a task type called `name` exists. */
  has(name: string): boolean {
    return this.#types.has(name);
  }

  /** Every task type, control-flow ones included, in name order. */
  types(): ResolvedTaskType[] {
    return [...this.#types.values()];
  }

  /** Every container, in name order. */
  containers(): ResolvedContainer[] {
    return [...this.#containers.values()];
  }

  /**
   * The container called `name`.
   *
   * @throws EasError `NOT_FOUND` naming close names and the known containers.
   */
  container(name: string): ResolvedContainer {
    const container = this.#containers.get(name);
    if (!container) throw unknownContainerError(name, [...this.#containers.keys()]);
    return container;
  }

  /**
   * The task types the workers of container `name` run, in name order: what a worker claims
   * and what the scaler counts. Control-flow types belong to no container.
   *
   * @throws EasError `NOT_FOUND` for an unknown container, so a misspelt `--container` fails
   *   at once instead of leaving a worker idle.
   */
  typesOfContainer(name: string): ResolvedTaskType[] {
    this.container(name);
    return this.types().filter((t) => t.container === name);
  }

  /**
   * Whether `name` is a control-flow type (`execution_chain`, `execution_for_loop`,
   * `execution_do_while_loop`, `execution_conditional`): expanded by the controller, never
   * queued for a worker.
   */
  isControlFlow(name: string): boolean {
    return isControlFlowTaskType(name);
  }

  /**
   * What the chain expander asks about task types (its `TaskTypeCatalog`): existence, control
   * flow, optional outputs, attempts, and the message for an unknown name.
   */
  catalog(): {
    has(type: string): boolean;
    isControlFlow(type: string): boolean;
    optionalOutputs(type: string): readonly string[];
    maxAttempts(type: string): number;
    describeUnknown(type: string): string;
    checkDescription(
      type: string,
      description: Record<string, unknown>,
      at: string,
      context: { structural: readonly string[]; skip: ReadonlySet<string> },
    ): Problem[];
  } {
    return {
      checkDescription: (type, description, at, context) =>
        !this.has(type)
          ? []
          : this.get(type).runner.kind === 'builtin'
            ? checkBuiltinDescription(type, description, at, context.structural, context.skip)
            : checkFieldSlips(type, description, at, context.structural),
      has: (type) => this.has(type),
      isControlFlow: (type) => this.isControlFlow(type),
      optionalOutputs: (type) => this.get(type).outputs.optional,
      maxAttempts: (type) => this.get(type).retry.maxAttempts,
      describeUnknown: (type) => {
        try {
          this.get(type);
          return `task type "${type}" is unknown`;
        } catch (e) {
          return e instanceof Error ? e.message : `task type "${type}" is unknown`;
        }
      },
    };
  }

  /**
   * The registry as plain data (for `eas registry show` and the dashboard). The values of
   * command environments are replaced by `'<redacted>'`, because this is what a logger or
   * `JSON.stringify` prints and they may hold credentials; {@link TaskTypeRegistry.get} has them.
   */
  toJSON(): TaskTypeRegistryJson {
    const taskTypes: Record<string, ResolvedTaskType> = {};
    for (const t of this.#types.values()) {
      taskTypes[t.name] =
        t.runner.kind === 'command'
          ? {
              ...t,
              runner: {
                ...t.runner,
                env: Object.fromEntries(Object.keys(t.runner.env).map((k) => [k, '<redacted>'])),
              },
            }
          : t;
    }
    return {
      source: this.source,
      containers: Object.fromEntries([...this.#containers].map(([k, c]) => [k, c])),
      taskTypes,
    };
  }
}
