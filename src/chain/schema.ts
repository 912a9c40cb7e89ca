import { z } from 'zod';
import { FloatValue, misspellingsOf, type Problem } from '../core/index.js';

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
/** What a JSON value is, for a message: `an object`, `text`, `a number`, `null`… */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof FloatValue || typeof value === 'number') return 'a number';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'boolean') return 'true or false';
  return 'an object';
}

/**
 * The error of a list field: `is required: <required>` when it is missing (and `required` is
 * given), `must be a list of <what>, got an object` when it is something else.
 */
function listError(what: string, required?: string) {
  return (issue: { input?: unknown }): string =>
    issue.input === undefined && required !== undefined
      ? `is required: ${required}`
      : `must be a list of ${what}, got ${kindOf(issue.input)}`;
}

const loopName = z
  .string({ error: 'is required: a name' })
  .regex(/^\s*[A-Za-z_][A-Za-z0-9_]*\s*$/, 'must be a name (letters, digits, _)');
const range = z.tuple([scalar, scalar, scalar], { error: 'must be [start, end, n]' });

/** Fields a descriptor of any type may have (DESIGN §3). */
const COMMON_FIELDS = [
  'task',
  'name',
  'inputs',
  'outputs',
  'job_name',
  'working_directory',
  'requires_metadata_from',
] as const;

/**
 * The fields of each control-flow type besides {@link COMMON_FIELDS}. Their set is fixed: any
 * other key is an error, so `log_rnage` or `else_tasklist` cannot pass as a parameter.
 * `task_list_else` is the original prototype's name of the else branch (its code read
 * `'task_list_else'`), an alias of `else_task_list`.
 */
export const CONTROL_TYPE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  execution_chain: ['task_list'],
  execution_for_loop: ['parameter', 'values', 'linear_range', 'log_range', 'task_list'],
  execution_conditional: ['criterion', 'task_list', 'else_task_list', 'task_list_else'],
  execution_do_while_loop: [
    'iteration_name',
    'repeat_criterion',
    'requires_metadata_from_child',
    'task_list',
  ],
};

/**
 * What is wrong with the keys of a descriptor of control-flow type `type`: a key the type does
 * not have (with a did-you-mean for a near miss, and the list of its fields), and both
 * `else_task_list` and its alias `task_list_else`. Paths are `at.<key>` (`at` empty: `<key>`).
 * Returns nothing for a type that is not control flow.
 */
export function controlFieldProblems(
  type: string,
  descriptor: Record<string, unknown>,
  at: string,
): Problem[] {
  const own = CONTROL_TYPE_FIELDS[type];
  if (!own) return [];
  const fields = [...COMMON_FIELDS, ...own];
  const where = (key: string) => (at ? `${at}.${key}` : key);
  const problems: Problem[] = [];
  for (const key of Object.keys(descriptor)) {
    if (fields.includes(key)) continue;
    if (key === 'else_task_list' || key === 'task_list_else') {
      problems.push({
        path: where(key),
        message: `${type} has no else branch ("${key}"): only execution_conditional has one`,
      });
      continue;
    }
    const slips = misspellingsOf(key, fields);
    problems.push({
      path: where(key),
      message:
        `${type} has no field "${key}".` +
        (slips.length > 0 ? ` Did you mean ${slips.map((c) => `"${c}"`).join(' or ')}?` : '') +
        ` Its fields: ${fields.join(', ')}.`,
    });
  }
  if (descriptor.else_task_list !== undefined && descriptor.task_list_else !== undefined)
    problems.push({
      path: where('task_list_else'),
      message:
        'has both "else_task_list" and "task_list_else", two names of the else branch; give one',
    });
  return problems;
}

/**
 * The fields of each control-flow type (DESIGN §3), checked when `task` names it literally.
 * A field that is an expression is checked again when it is evaluated.
 */
const CONTROL_FIELDS: Record<string, z.ZodType> = {
  execution_for_loop: z
    .object({
      parameter: loopName,
      values: z.array(scalar, { error: listError('values') }).optional(),
      linear_range: range.optional(),
      log_range: range.optional(),
      task_list: z.array(z.unknown(), { error: listError('task descriptors', 'the loop body') }),
    })
    .refine(
      (d) => [d.values, d.linear_range, d.log_range].filter((x) => x !== undefined).length === 1,
      { message: 'needs exactly one of "values", "linear_range" or "log_range"' },
    ),
  execution_conditional: z.object({
    criterion: scalar,
    task_list: z.array(z.unknown()).optional(),
    else_task_list: z.array(z.unknown()).optional(),
    task_list_else: z.array(z.unknown()).optional(),
  }),
  execution_do_while_loop: z.object({
    iteration_name: loopName,
    repeat_criterion: scalar,
    requires_metadata_from_child: z
      .array(z.string().min(1), {
        error: listError('names of body tasks', 'the names of the body tasks the criterion reads'),
      })
      .min(1, 'names at least one body task'),
    task_list: z
      .array(z.unknown(), { error: listError('task descriptors', 'the loop body') })
      .min(1, 'must not be empty'),
  }),
  execution_chain: z.object({
    task_list: z.array(z.unknown(), { error: listError('task descriptors', 'the chained tasks') }),
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
        .array(z.string().min(1), { error: listError('names of earlier sibling tasks') })
        .optional(),
      task_list: z.array(taskDescriptorSchema, { error: listError('task descriptors') }).optional(),
      else_task_list: z
        .array(taskDescriptorSchema, { error: listError('task descriptors') })
        .optional(),
      task_list_else: z
        .array(taskDescriptorSchema, { error: listError('task descriptors') })
        .optional(),
    })
    .passthrough()
    .superRefine((d, ctx) => {
      const type = typeof d.task === 'string' ? d.task.trim() : '';
      for (const p of controlFieldProblems(type, d, ''))
        ctx.addIssue({ code: 'custom', path: [p.path], message: p.message });
      const fields = CONTROL_FIELDS[type];
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
    task_list: z.array(taskDescriptorSchema, {
      error: listError('task descriptors', 'a list of task descriptors'),
    }),
  })
  .passthrough();

/** The fields that hold a body of tasks: the list, the else branch and its alias. */
export const BODY_FIELDS = ['task_list', 'else_task_list', 'task_list_else'] as const;

/** Fields of a descriptor that are structure, not the task's own parameters. */
export const STRUCTURAL_FIELDS: ReadonlySet<string> = new Set([...COMMON_FIELDS, ...BODY_FIELDS]);
