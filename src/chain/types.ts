import type {
  PlannedInput,
  PlannedOutput,
  PlannedTask,
  Problem,
  TypedMetadata,
  TypedValue,
} from '../core/index.js';

/**
 * One entry of a `task_list` (DESIGN §3). Structural fields are named here; any other field
 * (`specs`, `lc_duration`, `search_settings`, a loop's `parameter`…) is type-specific and
 * travels in the task's description, with expressions evaluated.
 */
export interface TaskDescriptor {
  /** The task type, or an expression that evaluates to one. */
  task: string;
  name?: string;
  /** Semantic type → filename (or expression). */
  inputs?: Record<string, string>;
  /** Semantic type → filename (or expression). */
  outputs?: Record<string, string>;
  /** Inherited by descendants. */
  job_name?: string;
  /** Inherited by descendants. */
  working_directory?: string;
  /** Names of earlier siblings whose output metadata this task reads. */
  requires_metadata_from?: string[];
  /** Children of a control-flow node. */
  task_list?: TaskDescriptor[];
  /** The else branch of `execution_conditional`. */
  else_task_list?: TaskDescriptor[];
  /** The original prototype's name of `else_task_list` (an alias; give one of the two). */
  task_list_else?: TaskDescriptor[];
  [field: string]: unknown;
}

/** A task chain document: what `eas submit` reads. */
export interface ChainDocument {
  job_name?: string;
  working_directory?: string;
  task_list: TaskDescriptor[];
  [field: string]: unknown;
}

/** What the expander needs to know about task types (the controller adapts the registry). */
export interface TaskTypeCatalog {
  /** Whether the type exists (built-in or registered). */
  has(type: string): boolean;
  /** Control-flow types are expanded by the controller. */
  isControlFlow(type: string): boolean;
  /** Output semantic types the type may leave unwritten. */
  optionalOutputs(type: string): readonly string[];
  /** Most attempts of a task of this type. */
  maxAttempts(type: string): number;
  /** An error message for an unknown type (with suggestions). */
  describeUnknown(type: string): string;
  /**
   * What is wrong with a task's evaluated description for its type (a built-in type's
   * parameters), each problem with its path. `structural` are the chain's own field names;
   * `skip` are fields evaluated only at start. Optional: without it descriptions are not checked.
   */
  checkDescription?(
    type: string,
    description: Record<string, unknown>,
    at: string,
    context: { structural: readonly string[]; skip: ReadonlySet<string> },
  ): Problem[];
}

/** Names an evaluated value sees (DESIGN §3). */
export interface EvaluationScope {
  /** The task's inherited metadata (loop variables and `*_index`). */
  metadata: TypedMetadata;
  /** Output metadata of the tasks in `requires_metadata_from`, when known. */
  requestedMetadata?: Record<string, TypedMetadata>;
  /** Seed material for `random.random()`: job seed and task path. */
  seed: string;
  /** Path of the task, for seeding and messages. */
  path: string;
}

/**
 * Turns a descriptor value into a typed value. A string whose first non-blank character is
 * `'`, `"` or `(` is an expression; anything else is literal. The chain-language
 * interpreter plugs in here; {@link LiteralResolver} is the fallback.
 */
export interface ValueResolver {
  /**
   * Evaluates `value` found at chain path `where`.
   * @throws InvalidInputError `CHAIN_INVALID` naming `where`, the expression and the column.
   */
  resolve(value: unknown, scope: EvaluationScope, where: string): TypedValue;
  /** Whether evaluating `value` needs `requested_metadata` (so the node expands at run time). */
  needsRequestedMetadata(value: unknown): boolean;
  /**
   * What is wrong with `value` (at chain path `where`) that shows without evaluating it: a
   * syntax error. Lets a value evaluated only at run time (a conditional's criterion) be
   * refused at submission. Optional: a resolver without it checks nothing early.
   */
  check?(value: unknown, where: string): Problem[];
  /**
   * The provider names `value` reads literally (`requested_metadata['fit']` → `fit`), so a
   * value evaluated only at run time can be checked against the providers it may read.
   * Optional: a resolver without it checks no names early.
   */
  requestedNames?(value: unknown): string[];
}

/** A file input of an expanded task (`where` is always set). */
export type ExpandedInput = PlannedInput & { where: string };

/** A file output of an expanded task (`where` is always set). */
export type ExpandedOutput = PlannedOutput & { where: string };

/** One task of an expanded chain: the shape the task database writes. */
export type ExpandedTask = Omit<PlannedTask, 'inputs' | 'outputs'> & {
  inputs: ExpandedInput[];
  outputs: ExpandedOutput[];
};

/** The result of expanding a chain: every task and edge, or the problems found. */
export interface ChainPlan {
  jobName: string;
  workingDirectory: string;
  tasks: ExpandedTask[];
  /** Inputs with no producer in this job; the controller binds them to earlier jobs or reports them. */
  unresolvedInputs: { taskKey: number; inputIndex: number }[];
  /**
   * Inputs of bodies expanded at run time (checked by trial at submission) that no task of the
   * job declares, in the chain or in a body: the caller binds them to earlier jobs or reports
   * them. Not part of `tasks`.
   */
  unresolvedBodyInputs?: ExpandedInput[];
  /** Nodes whose expansion waits for run-time metadata. */
  deferred: number;
  /** Plan keys of those nodes. */
  deferredKeys: number[];
  /**
   * Outputs declared inside the bodies of those nodes, as far as they are known at submission
   * (for messages: such a file has no producer until the body is expanded).
   */
  deferredOutputs?: DeferredOutput[];
}

/** An output declared inside the body of a node expanded at run time. */
export interface DeferredOutput {
  workingDirectory: string;
  filename: string;
  /** Chain path of the output (`task_list[1].task_list[0].outputs.lc`). */
  where: string;
  /** Chain path of the deferred node whose body declares it. */
  body: string;
}

/** Where a node sits and what it inherits. */
export interface NodeContext {
  key: number;
  path: string;
  depth: number;
  workingDirectory: string;
  jobName: string;
  metadata: TypedMetadata;
}

/** A list of children a control-flow node expands to. */
export interface ChildGroup {
  /** Field of the node the children come from (`task_list`, `else_task_list`). */
  field: string;
  descriptors: TaskDescriptor[];
  /** Metadata the children add to what they inherit (a loop variable and its index). */
  metadata?: TypedMetadata;
  /**
   * Put the children under a synthetic `execution_chain` node with this path and position
   * (one loop iteration), which records `metadata` as its own. Without it, the children hang
   * directly under the control-flow node.
   */
  node?: { path: string; position: number };
}

/** What a control-flow expander may use. */
export interface ExpanderTools {
  /** Records a problem (with its chain path). */
  report(problem: Problem): void;
  /** Evaluates a field value in the node's scope; undefined after reporting a problem. */
  evaluate(value: unknown, where: string): TypedValue | undefined;
  /** Whether a value reads `requested_metadata` (so the node must wait for run time). */
  needsRequestedMetadata(value: unknown): boolean;
  /** Reports what is wrong with a value evaluated later that shows now (its syntax). */
  check(value: unknown, where: string): void;
}

/**
 * How one control-flow type expands. It returns the child groups to expand now, or
 * `'deferred'` when the shape depends on other tasks' output metadata (a conditional, a
 * do-while iteration): the controller expands it at run time. New control-flow types register
 * in `CONTROL_EXPANDERS`.
 */
export type ControlExpander = (
  descriptor: TaskDescriptor,
  node: NodeContext,
  tools: ExpanderTools,
) => ChildGroup[] | 'deferred';
