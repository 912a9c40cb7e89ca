/**
 * The task-chain language (DESIGN §3): parsing JSON and YAML chains with positions in errors,
 * structural validation, value resolution and expansion into tasks and dependency edges.
 *
 * @example
 * ```ts
 * import { parseChain, expandChain } from 'plato-eas/chain';
 * const doc = parseChain(text, 'grid.json');
 * const plan = expandChain(doc, { catalog, defaultJobName: 'grid', seed: 'abc' });
 * ```
 * @module
 */
export { parseChain, validateChain, loadChainFile, defaultJobName, formatPath } from './load.js';
export {
  expandChain,
  expandChainCollecting,
  expandFragment,
  criterionHolds,
  evaluateAtStart,
  EVALUATE_AT_START,
  unresolvedInputMessage,
  type ExpandOptions,
  type FragmentRequest,
} from './expand.js';
export { isExpression, LiteralResolver } from './values.js';
export { chainDocumentSchema, taskDescriptorSchema, STRUCTURAL_FIELDS } from './schema.js';
export type {
  ChainDocument,
  TaskDescriptor,
  TaskTypeCatalog,
  EvaluationScope,
  ValueResolver,
  ExpandedInput,
  ExpandedOutput,
  ExpandedTask,
  ChainPlan,
  DeferredOutput,
} from './types.js';
export { CONTROL_EXPANDERS, MAX_LOOP_VALUES } from './control-flow.js';
export type { NodeContext, ChildGroup, ControlExpander, ExpanderTools } from './types.js';
export {
  ExpressionResolver,
  evaluateExpression,
  CONSTANTS,
  expressionLimits,
  type PyValue,
} from './expression/index.js';
