import type { TypedMetadata } from './typed-value.js';

/*
 * The expanded form of a task chain: what the chain expander produces and the task database
 * writes. It lives in core because both modules speak it and neither may import the other.
 */

/** A file input of a planned task. */
export interface PlannedInput {
  /** Semantic type (the key in `inputs`). */
  semanticType: string;
  workingDirectory: string;
  filename: string;
  /** Plan key of the producer in the same submission, if it is there. */
  producerKey?: number;
  /** Product id of an earlier job's QC-passed file, when no producer is in this submission. */
  externalProductId?: number;
  /** Product id of a file an existing task of the same job declares (run-time expansion). */
  jobProductId?: number;
  /** Chain path of the input (`task_list[2].inputs.lightcurve`), for messages. */
  where?: string;
}

/** A file output of a planned task. */
export interface PlannedOutput {
  semanticType: string;
  workingDirectory: string;
  filename: string;
  /** The registry marks this output optional: not writing it is not a failure. */
  optional: boolean;
  /** Chain path of the output, for messages. */
  where?: string;
}

/** One task of an expanded chain, ready to be written. */
export interface PlannedTask {
  /** Index of this task in the plan (0-based); parents and producers are referred to by key. */
  key: number;
  parentKey: number | null;
  /** Index among its siblings. */
  position: number;
  /** Chain path, e.g. `task_list[0].task_list[3]`. */
  path: string;
  name: string | null;
  type: string;
  workingDirectory: string;
  depth: number;
  /** Control-flow node (`execution_*`): expanded by the controller. */
  control: boolean;
  /** A control-flow node already expanded at submission (its children are in the plan): `done` at once. */
  expanded: boolean;
  /** Evaluated descriptor fields (the task's own parameters), JSON-serialisable. */
  description: Record<string, unknown>;
  /** Effective typed task metadata (inherited and own). */
  metadata: TypedMetadata;
  /** The keys this node introduces (e.g. a loop variable), recorded as the task's own metadata rows. */
  ownMetadata: TypedMetadata;
  inputs: PlannedInput[];
  outputs: PlannedOutput[];
  /** `requires_metadata_from`, resolved to plan keys. */
  metadataFrom: { name: string; providerKey: number }[];
  /** Most attempts before the task fails (retry policy of its type). */
  maxAttempts: number;
}
