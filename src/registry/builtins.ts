import type { ResolvedContainer, ResolvedTaskType } from './types.js';

/**
 * The control-flow task types (DESIGN §3). They are in every registry, run nowhere: the
 * controller expands them into child tasks. A registry file cannot configure them.
 */
export const CONTROL_FLOW_TASK_TYPES = [
  'execution_chain',
  'execution_for_loop',
  'execution_do_while_loop',
  'execution_conditional',
] as const;

/** The name of a control-flow task type. */
export type ControlFlowTaskType = (typeof CONTROL_FLOW_TASK_TYPES)[number];

const CONTROL_FLOW_DESCRIPTIONS: Record<ControlFlowTaskType, string> = {
  execution_chain: 'Runs its task_list as child tasks.',
  execution_for_loop: 'Runs its task_list once per value of a loop parameter.',
  execution_do_while_loop: 'Runs its task_list again while repeat_criterion holds.',
  execution_conditional: 'Runs task_list or else_task_list depending on criterion.',
};

/** True when `name` is a control-flow task type (expanded by the controller, never queued). */
export function isControlFlowTaskType(name: string): name is ControlFlowTaskType {
  return (CONTROL_FLOW_TASK_TYPES as readonly string[]).includes(name);
}

/** The resolved control-flow task types: no container, no retries, no outputs, no QC. */
export function controlFlowTaskTypes(): ResolvedTaskType[] {
  return CONTROL_FLOW_TASK_TYPES.map((name) => ({
    name,
    container: undefined,
    runner: { kind: 'controller' },
    outputs: { required: [], optional: [] },
    retry: { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0 },
    timeoutMs: undefined,
    qc: 'none',
    description: CONTROL_FLOW_DESCRIPTIONS[name],
    source: 'built-in',
  }));
}

/** Name of the container that runs the built-in task types unless a registry says otherwise. */
export const DEFAULT_CONTAINER_NAME = 'eas-base';

const GIB = 1024 ** 3;

/**
 * The container `eas-base` when the registry file does not declare it. An entry for
 * `eas-base` in the file changes only the fields it gives. The values are those of the
 * DESIGN §5 example; concurrency is 4 rather than 1 because the built-in handlers are light and
 * spend much of their time reading and writing files.
 */
export const DEFAULT_CONTAINER: ResolvedContainer = Object.freeze({
  name: DEFAULT_CONTAINER_NAME,
  image: 'plato/eas-base:latest',
  cpu: 1,
  memoryBytes: 2 * GIB,
  gpu: 0,
  concurrency: 4,
  scaling: Object.freeze({ min: 0, max: 20, cooldownMs: 5 * 60_000 }),
});
