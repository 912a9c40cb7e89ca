import { z } from 'zod';
import { InvalidInputError } from '../core/index.js';

/**
 * The numeric settings of a WorkerHarness, checked at construction so a mistake fails at once
 * with the option named, not minutes later as a lost lease.
 */
export const workerHarnessSettingsSchema = z
  .object({
    concurrency: z.number().int().min(1).max(1024).default(4),
    leaseMs: z.number().int().min(10).default(30_000),
    heartbeatMs: z.number().int().min(1).optional(),
    graceMs: z.number().int().min(0).default(30_000),
    claimWaitMs: z.number().int().min(0).max(60_000).default(500),
  })
  .refine((o) => o.heartbeatMs === undefined || o.heartbeatMs < o.leaseMs, {
    message: 'must be shorter than leaseMs, or the lease runs out between two heartbeats',
    path: ['heartbeatMs'],
  });

/** The settings after defaults. */
export type ResolvedWorkerHarnessSettings = z.output<typeof workerHarnessSettingsSchema>;

/** Validates the numeric settings of a harness. @throws InvalidInputError `USAGE` naming each bad option. */
export function resolveWorkerHarnessSettings(
  input: Record<string, unknown>,
): ResolvedWorkerHarnessSettings {
  const r = workerHarnessSettingsSchema.safeParse(input);
  if (r.success) return r.data;
  throw new InvalidInputError(
    'USAGE',
    'WorkerHarness options invalid',
    r.error.issues.map((i) => ({
      path: `WorkerHarnessOptions.${i.path.join('.')}`,
      message: i.message,
    })),
  );
}
