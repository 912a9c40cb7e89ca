import { isEasError } from '../core/index.js';
import type { TaskTypeCatalog } from '../chain/index.js';
import type { TaskTypeRegistry } from '../registry/index.js';

/** Adapts the task-type registry to what the chain expander asks. */
export function catalogOf(registry: TaskTypeRegistry): TaskTypeCatalog {
  return {
    has: (type) => registry.has(type),
    isControlFlow: (type) => registry.isControlFlow(type),
    optionalOutputs: (type) => registry.get(type).outputs.optional,
    maxAttempts: (type) => registry.get(type).retry.maxAttempts,
    describeUnknown: (type) => {
      try {
        registry.get(type);
        return `task type "${type}" is unknown`;
      } catch (e) {
        return isEasError(e) ? e.message : `task type "${type}" is unknown`;
      }
    },
  };
}
