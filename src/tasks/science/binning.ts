/** `binning`: flux-conserving rebinning to `cadence` seconds (a description field). */
import type { HandlerDefinition, TaskContext } from '../../sdk/index.js';
import { binLightCurve } from '../../science/index.js';
import { numberParam, readInput, specsOf, usage, writeOutput } from './common.js';

const TASK = 'binning';

export const binningTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const cadence =
      numberParam(TASK, ctx.task.description, 'cadence') ??
      numberParam(TASK, specsOf(ctx), 'cadence');
    if (cadence === undefined || !(cadence > 0)) {
      throw usage(TASK, 'cadence (seconds, > 0) is required');
    }
    const lc = readInput(ctx, TASK, 'lightcurve');
    const binned = binLightCurve(lc, cadence);
    return {
      metadata: { n_samples_in: lc.time.length, n_samples: binned.time.length, cadence },
      fileMetadata: writeOutput(ctx, TASK, 'lightcurve', binned),
    };
  },
};
