/**
 * The built-in task library of the `eas-base` image: its handlers (for the worker harness)
 * and their registry entries (for the task-type registry).
 *
 * @module
 */
import type { BuiltinTaskType } from '../registry/index.js';
import type { HandlerDefinition } from '../sdk/index.js';
import { errorTask, nullTask, setMetadataTask } from './basic.js';

export { nullTask, errorTask, setMetadataTask, DeliberateTaskError } from './basic.js';

/** Handlers of the built-in task types, by name. */
export const BUILTIN_HANDLERS: Readonly<Record<string, HandlerDefinition>> = {
  null: nullTask,
  error: errorTask,
  set_metadata: setMetadataTask,
};

/** Registry entries of the built-in task types, by name. */
export const BUILTIN_TASK_TYPES: Readonly<Record<string, BuiltinTaskType>> = {
  null: { description: 'Does nothing, or sleeps `sleep` seconds.', runner: 'in-process' },
  error: {
    description: 'Always fails, with a traceback (for testing failure handling).',
    runner: 'in-process',
  },
  set_metadata: {
    description: 'Records its evaluated `values` as output metadata.',
    runner: 'in-process',
  },
};
