/**
 * The task-type registry: which task types exist, which container's workers run each, and how
 * (an external command, a JavaScript module, a built-in handler, or expansion by the
 * controller). Read from a YAML or JSON file — or the `registry:` key of `eas.yaml` — validated
 * with zod, every problem reported at once with its path. Built-in and control-flow task types
 * and the default container `eas-base` are present without an entry. The file format is
 * described in `docs/guides/registry.md`.
 *
 * @example
 * ```ts
 * import { loadRegistry } from 'plato-eas';
 *
 * const registry = await loadRegistry('eas-registry.yaml', {
 *   builtins: { null: { description: 'Does nothing.', runner: 'in-process' } },
 * });
 * registry.get('my_tda').runner;      // { kind: 'command', argv: ['python3', 'tda_wrapper.py'], cwd, env }
 * registry.typesOfContainer('eas-base').map((t) => t.name);   // ['null', …]
 * registry.get('nul');                 // EasError UNKNOWN_TASK_TYPE: … Did you mean "null"? …
 * ```
 * @module
 */
export {
  TaskTypeRegistry,
  type TaskTypeRegistryInit,
  type TaskTypeRegistryJson,
} from './registry.js';
export {
  loadRegistry,
  registryFromObject,
  type LoadRegistryOptions,
  type RegistryFromObjectOptions,
} from './load.js';
export {
  CONTROL_FLOW_TASK_TYPES,
  DEFAULT_CONTAINER,
  DEFAULT_CONTAINER_NAME,
  isControlFlowTaskType,
  type ControlFlowTaskType,
} from './builtins.js';
export { registryFileSchema, NAME_PATTERN } from './schema.js';
export type {
  RegistryFile,
  ContainerEntry,
  ScalingEntry,
  TaskTypeEntry,
  OutputsEntry,
  RetryEntry,
  BuiltinTaskType,
  ResolvedContainer,
  ResolvedTaskType,
  TaskRunner,
} from './types.js';
export {
  importXmlRegistry,
  IMPORTED_COMMAND_PREFIX,
  type ImportXmlRegistryOptions,
  type XmlRegistryImport,
} from './xml-import.js';
