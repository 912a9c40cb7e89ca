/**
 * Helpers for your own tests: a throw-away embedded pipeline in a temporary directory, with
 * the controller and a worker, that runs a chain to its end.
 *
 * @example
 * ```ts
 * import { createTestPipeline } from 'plato-eas/testing';
 * await using t = await createTestPipeline();
 * const { jobId } = await t.runChain({ task_list: [{ task: 'null' }] });
 * ```
 * @module
 */
export {
  createTestPipeline,
  runChainToEnd,
  type TestPipeline,
  type TestPipelineOptions,
} from './test-pipeline.js';
