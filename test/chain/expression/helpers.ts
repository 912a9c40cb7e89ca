import { toTypedMetadata, type TypedValue } from '../../../src/core/index.js';
import { evaluateExpression } from '../../../src/chain/index.js';
import type { EvaluationScope } from '../../../src/chain/index.js';

/** A realistic scope: a task deep in a grid, inside a do-while loop, after a transit search. */
export const scope: EvaluationScope = {
  metadata: toTypedMetadata({
    synthesis_tool: 'psls',
    synthesis_tool_index: 0,
    tda: 'tls',
    tda_index: 1,
    cadence: 900,
    cadence_index: 0,
    size: 0.02,
    size_index: 3,
    my_while_loop_index: 2,
  }),
  requestedMetadata: { transit_detection: toTypedMetadata({ outcome: 'PASS', snr: 12.5 }) },
  seed: 'job-seed',
  path: 'task_list[0].task_list[1]',
};

export const WHERE = 'task_list[2].task_list[0].outputs.lightcurve';

/** Evaluates `expr` in {@link scope}. */
export function ev(expr: string, s: EvaluationScope = scope): TypedValue {
  return evaluateExpression(expr, s, WHERE);
}
