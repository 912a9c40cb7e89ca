import { z } from 'zod';
import { FloatValue } from '../core/index.js';

const stringMap = z.record(
  z.string().min(1),
  z.string({ error: 'must be text: a filename or an expression' }),
  {
    error: 'must be an object of semantic type → filename',
  },
);

/** A scalar of a chain: a literal, or an expression string evaluated later. */
const scalar = z.union(
  [z.string(), z.number(), z.boolean(), z.custom<object>((v) => v instanceof FloatValue)],
  {
    error: 'must be a number, text or an expression',
  },
);
const loopName = z
  .string({ error: 'is required: a name' })
  .regex(/^\s*[A-Za-z_][A-Za-z0-9_]*\s*$/, 'must be a name (letters, digits, _)');
const range = z.tuple([scalar, scalar, scalar], { error: 'must be [start, end, n]' });

/**
 * The fields of each control-flow type (DESIGN §3), checked when `task` names it literally.
 * A field that is an expression is checked again when it is evaluated.
 */
const CONTROL_FIELDS: Record<string, z.ZodType> = {
  execution_for_loop: z
    .object({
      parameter: loopName,
      values: z.array(scalar, { error: 'must be a list of values' }).optional(),
      linear_range: range.optional(),
      log_range: range.optional(),
      task_list: z.array(z.unknown(), { error: 'is required: the loop body' }),
    })
    .refine(
      (d) => [d.values, d.linear_range, d.log_range].filter((x) => x !== undefined).length === 1,
      { message: 'needs exactly one of "values", "linear_range" or "log_range"' },
    ),
  execution_conditional: z.object({
    criterion: scalar,
    task_list: z.array(z.unknown()).optional(),
    else_task_list: z.array(z.unknown()).optional(),
  }),
  execution_do_while_loop: z.object({
    iteration_name: loopName,
    repeat_criterion: scalar,
    requires_metadata_from_child: z
      .array(z.string().min(1), {
        error: 'is required: the names of the body tasks the criterion reads',
      })
      .min(1, 'names at least one body task'),
    task_list: z
      .array(z.unknown(), { error: 'is required: the loop body' })
      .min(1, 'must not be empty'),
  }),
  execution_chain: z.object({
    task_list: z.array(z.unknown(), { error: 'is required: the chained tasks' }),
  }),
};

/**
 * The structural fields of a task descriptor. Type-specific fields pass through and are
 * evaluated into the task's description; the fields of a control-flow type are checked
 * against that type's schema.
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
    .passthrough()
    .superRefine((d, ctx) => {
      const fields = typeof d.task === 'string' ? CONTROL_FIELDS[d.task.trim()] : undefined;
      if (!fields) return;
      const r = fields.safeParse(d, { reportInput: true });
      if (r.success) return;
      for (const issue of r.error.issues) {
        const key = issue.path[0];
        const missing = issue.path.length === 1 && typeof key === 'string' && d[key] === undefined;
        ctx.addIssue({
          code: 'custom',
          path: issue.path,
          message: missing ? 'is required' : issue.message,
        });
      }
    }),
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
