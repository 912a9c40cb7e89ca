import { z } from 'zod';
import { parseDuration } from '../core/index.js';

/** Names of task types and containers: a letter or `_`, then letters, digits, `_`, `.`, `-`. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EXPORT_NAME_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Binary (Ki…Ti) and decimal (k…T) suffixes of Kubernetes memory quantities. */
const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

const name = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    error: `${what} names start with a letter or "_" and hold only letters, digits, "_", "." and "-"`,
  });

function duration(options: { positive: boolean }) {
  return z
    .union([z.number(), z.string()], {
      error: 'must be a duration: milliseconds as a number, or a string such as "30s", "5m", "2h"',
    })
    .transform((value, ctx) => {
      let ms: number;
      try {
        ms = parseDuration(value);
      } catch {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${JSON.stringify(value)} is not a duration; write milliseconds as a number, or e.g. "30s", "5m", "2h"`,
        });
        return z.NEVER;
      }
      if (options.positive && ms === 0) {
        ctx.issues.push({ code: 'custom', input: value, message: 'must be longer than 0' });
        return z.NEVER;
      }
      return ms;
    });
}

const memory = z
  .union([z.number(), z.string()], { error: 'must be bytes as a number, or e.g. "512Mi", "2Gi"' })
  .transform((value, ctx) => {
    const m =
      typeof value === 'string'
        ? /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|M|G|T)?\s*$/.exec(value)
        : null;
    const bytes =
      typeof value === 'number' ? value : m ? Number(m[1]) * MEMORY_UNITS[m[2] ?? '']! : NaN;
    if (!Number.isFinite(bytes) || bytes < 1) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `${JSON.stringify(value)} is not an amount of memory; write bytes as a number, or e.g. "512Mi", "2Gi"`,
      });
      return z.NEVER;
    }
    return Math.round(bytes);
  });

const cpu = z
  .union([z.number(), z.string()], {
    error: 'must be a number of CPUs (0.5, 2) or millicores ("500m")',
  })
  .transform((value, ctx) => {
    const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(value) : null;
    const cpus = typeof value === 'number' ? value : m ? Number(m[1]) / (m[2] ? 1000 : 1) : NaN;
    if (!Number.isFinite(cpus) || cpus <= 0) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `${JSON.stringify(value)} is not a CPU request; write a number above 0 (0.5, 2) or millicores ("500m")`,
      });
      return z.NEVER;
    }
    return cpus;
  });

/** `'./handlers.mjs#myTda'` → `{ path: './handlers.mjs', exportName: 'myTda' }`. */
const moduleSpec = z
  .string({ error: 'must be a string such as "./handlers.mjs#myTda"' })
  .transform((spec, ctx) => {
    const hash = spec.lastIndexOf('#');
    const path = hash < 0 ? spec : spec.slice(0, hash);
    const exportName = hash < 0 ? 'default' : spec.slice(hash + 1);
    const fail = (message: string) => {
      ctx.issues.push({ code: 'custom', input: spec, message });
      return z.NEVER;
    };
    if (!/^(\.{1,2})?\//.test(path)) {
      return fail(
        `"${spec}" is not a module path; start it with "./" (relative to the registry file) or "/", e.g. "./handlers.mjs#myTda"`,
      );
    }
    if (!EXPORT_NAME_PATTERN.test(exportName)) {
      return fail(
        `"${exportName}" after "#" is not an export name; write e.g. "./handlers.mjs#myTda", or leave out "#…" for the default export`,
      );
    }
    return { path, exportName };
  });

const semanticTypes = z.array(z.string().min(1, { error: 'must not be empty' }), {
  error: 'must be a list of output semantic types, e.g. [lightcurve, debugging]',
});

const scalingSchema = z.strictObject({
  min: z.number().int().min(0).optional(),
  max: z.number().int().min(1).optional(),
  cooldown: duration({ positive: false }).optional(),
});

/** zod schema of one entry under `containers`. */
export const containerEntrySchema = z.strictObject({
  image: z.string().min(1).optional(),
  cpu: cpu.optional(),
  memory: memory.optional(),
  gpu: z.number().int().min(0).optional(),
  concurrency: z.number().int().min(1).optional(),
  scaling: scalingSchema.optional(),
});

const outputsSchema = z
  .strictObject({ required: semanticTypes.optional(), optional: semanticTypes.optional() })
  .superRefine((outputs, ctx) => {
    for (const type of outputs.required ?? []) {
      if (outputs.optional?.includes(type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['optional'],
          message: `"${type}" is listed as both required and optional; keep one`,
        });
      }
    }
  });

const retrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).optional(),
  backoff: duration({ positive: false }).optional(),
  maxBackoff: duration({ positive: false }).optional(),
});

/** zod schema of one entry under `taskTypes`. */
export const taskTypeEntrySchema = z.strictObject({
  container: name('Container').optional(),
  command: z
    .array(z.string().min(1, { error: 'must not be empty' }), {
      error:
        'must be a list of strings (argv), e.g. ["python3", "tda_wrapper.py"]; no shell is involved',
    })
    .min(1, { error: 'must name at least the program, e.g. ["python3", "tda_wrapper.py"]' })
    .optional(),
  module: moduleSpec.optional(),
  cwd: z.string().min(1).optional(),
  env: z
    .record(
      z.string().regex(ENV_NAME_PATTERN, {
        error: 'environment variable names hold only letters, digits and "_"',
      }),
      z.string({ error: 'environment values must be strings; quote numbers, e.g. "1"' }),
    )
    .optional(),
  outputs: outputsSchema.optional(),
  retry: retrySchema.optional(),
  timeout: duration({ positive: true }).optional(),
  qc: z.enum(['default', 'none']).optional(),
  description: z.string().optional(),
});

/**
 * zod schema of a task-type registry file: its shape, names and values. References between
 * entries (a task type's container, how each type runs) are checked by the loader, so that one
 * report lists every problem.
 */
export const registryFileSchema = z.strictObject({
  containers: z.record(name('Container'), containerEntrySchema).optional(),
  taskTypes: z.record(name('Task type'), taskTypeEntrySchema).optional(),
});

/** A registry file after the schema: durations in ms, memory in bytes, module specs split. */
export type ParsedRegistryFile = z.output<typeof registryFileSchema>;
/** One parsed container entry. */
export type ParsedContainerEntry = z.output<typeof containerEntrySchema>;
/** One parsed task-type entry. */
export type ParsedTaskTypeEntry = z.output<typeof taskTypeEntrySchema>;

/** Keys allowed at each level of the file, to suggest a fix for a misspelt key. */
export const KNOWN_KEYS = {
  file: Object.keys(registryFileSchema.shape),
  container: Object.keys(containerEntrySchema.shape),
  scaling: Object.keys(scalingSchema.shape),
  taskType: Object.keys(taskTypeEntrySchema.shape),
  outputs: ['required', 'optional'],
  retry: Object.keys(retrySchema.shape),
} as const;
