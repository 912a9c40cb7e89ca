import type { BuiltinTaskType } from '../../src/registry/index.js';

/** A few built-in task types, standing in for the `eas-base` task library. */
export const BUILTINS: Record<string, BuiltinTaskType> = {
  null: { description: 'Does nothing.', runner: 'in-process' },
  error: { description: 'Always fails.', runner: 'in-process' },
  verify: {
    description: 'Checks a light curve.',
    outputs: { required: ['verification'] },
    retry: { maxAttempts: 2, backoff: '1s' },
    runner: 'in-process',
  },
  synthesis_transit: {
    description: 'Synthesises a transit light curve.',
    outputs: { required: ['lightcurve'] },
    timeout: '10m',
    runner: 'in-process',
  },
};
