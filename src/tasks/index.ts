/**
 * The built-in task library of the `eas-base` image: its handlers (for the worker harness)
 * and their registry entries (for the task-type registry).
 *
 * @module
 */
import type { BuiltinTaskType } from '../registry/index.js';
import type { HandlerDefinition } from '../sdk/index.js';
import { errorTask, nullTask, setMetadataTask } from './basic.js';
import {
  binningTask,
  ingestLightcurvesTask,
  multiplyTask,
  synthesisTransitTask,
  transitSearchBlsTask,
  verifyTask,
} from './science/index.js';

export { nullTask, errorTask, setMetadataTask, DeliberateTaskError } from './basic.js';
export {
  verifyTask,
  multiplyTask,
  binningTask,
  ingestLightcurvesTask,
  synthesisTransitTask,
  transitSearchBlsTask,
} from './science/index.js';

/** Handlers of the built-in task types, by name. */
export const BUILTIN_HANDLERS: Readonly<Record<string, HandlerDefinition>> = {
  null: nullTask,
  error: errorTask,
  set_metadata: setMetadataTask,
  verify: verifyTask,
  multiply: multiplyTask,
  binning: binningTask,
  ingest_lightcurves: ingestLightcurvesTask,
  ingest_external_lcs: ingestLightcurvesTask,
  synthesis_transit: synthesisTransitTask,
  synthesis_batman: synthesisTransitTask,
  transit_search_bls: transitSearchBlsTask,
};

/** Registry entries of the built-in task types, by name. */
export const BUILTIN_TASK_TYPES: Readonly<Record<string, BuiltinTaskType>> = {
  null: { description: 'Does nothing, or sleeps `sleep` seconds.', runner: 'in-process' },
  error: {
    description: 'Always fails, with a traceback (for testing failure handling).',
    runner: 'in-process',
  },
  set_metadata: {
    description: 'Records its evaluated `values` as output metadata.',
    runner: 'in-process',
  },
  verify: {
    description:
      'Checks a light curve: time/flux ranges, cadence, gaps → metadata and `verification`.',
    outputs: { optional: ['verification'] },
    runner: 'in-process',
  },
  multiply: {
    description:
      'lightcurve_1 × lightcurve_2, the second resampled flux-conservingly onto the first.',
    outputs: { required: ['lightcurve'] },
    runner: 'in-process',
  },
  binning: {
    description: 'Flux-conserving rebinning of a light curve to `cadence` seconds.',
    outputs: { required: ['lightcurve'] },
    runner: 'in-process',
  },
  ingest_lightcurves: {
    description: 'Reads light curves matching `pattern` in `directory`; writes the first.',
    outputs: { required: ['lightcurve'] },
    runner: 'in-process',
  },
  ingest_external_lcs: {
    description: 'Alias of ingest_lightcurves.',
    outputs: { required: ['lightcurve'] },
    runner: 'in-process',
  },
  synthesis_transit: {
    description: 'A limb-darkened transit light curve (Mandel & Agol) from `specs`, with noise.',
    outputs: { required: ['lightcurve'] },
    runner: 'in-process',
  },
  synthesis_batman: {
    description: 'Alias of synthesis_transit (the original name).',
    outputs: { required: ['lightcurve'] },
    runner: 'in-process',
  },
  transit_search_bls: {
    description: 'Box least squares transit search; records period, SDE and the PASS/FAIL outcome.',
    outputs: { optional: ['debugging'] },
    runner: 'in-process',
  },
};
