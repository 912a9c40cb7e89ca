import { z } from 'zod';

const stringMap = z.record(z.string().min(1), z.string(), {
  error: 'must be an object of semantic type → filename',
});

/**
 * The structural fields of a task descriptor. Type-specific fields pass through and are
 * evaluated into the task's description; control-flow fields are checked by the expander of
 * each control-flow type.
 */
export const taskDescriptorSchema: z.ZodType = z.lazy(() =>
  z
    .object({
      task: z
        .string({
          error: (issue) =>
            issue.input === undefined
              ? 'is required: the task type (e.g. "null", "verify")'
              : 'must be text: the task type (e.g. "null", "verify")',
        })
        .min(1, 'must not be empty'),
      name: z.string().min(1).optional(),
      inputs: stringMap.optional(),
      outputs: stringMap.optional(),
      job_name: z.string().min(1).optional(),
      working_directory: z.string().optional(),
      requires_metadata_from: z
        .array(z.string().min(1), { error: 'must be a list of names of earlier sibling tasks' })
        .optional(),
      task_list: z
        .array(taskDescriptorSchema, { error: 'must be a list of task descriptors' })
        .optional(),
      else_task_list: z
        .array(taskDescriptorSchema, { error: 'must be a list of task descriptors' })
        .optional(),
    })
    .passthrough(),
);

/** A chain document: `{ job_name?, working_directory?, task_list }`. */
export const chainDocumentSchema = z
  .object({
    job_name: z.string().min(1).optional(),
    working_directory: z.string().optional(),
    task_list: z.array(taskDescriptorSchema, { error: 'is required: a list of task descriptors' }),
  })
  .passthrough();

/** Fields of a descriptor that are structure, not the task's own parameters. */
export const STRUCTURAL_FIELDS: ReadonlySet<string> = new Set([
  'task',
  'name',
  'inputs',
  'outputs',
  'job_name',
  'working_directory',
  'requires_metadata_from',
  'task_list',
  'else_task_list',
]);
