import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/index.js';
import type { ChainDocument } from '../chain/index.js';
import type { HandlerDefinition } from '../sdk/index.js';
import type { StatusView } from '../taskdb/index.js';
import { createPipeline, type Pipeline } from '../pipeline.js';

/** Options of {@link createTestPipeline}. */
export interface TestPipelineOptions {
  /** A registry file or inline registry. @defaultValue built-in task types only */
  registry?: string | Record<string, unknown>;
  /** Extra in-process handlers by task type name. */
  handlers?: Record<string, HandlerDefinition>;
  /** Worker concurrency. @defaultValue 4 */
  concurrency?: number;
  /** Keep the temporary directory after close (to inspect it). @defaultValue false */
  keep?: boolean;
  /** Lease length of claimed attempts, ms. @defaultValue the configuration's (30 s) */
  leaseMs?: number;
  /** Heartbeat interval, ms. @defaultValue the configuration's (10 s) */
  heartbeatMs?: number;
}

/** A throw-away embedded pipeline. */
export interface TestPipeline extends Pipeline {
  /** The temporary directory holding the database and files. */
  readonly dir: string;
  /** Submits a chain and runs it to its end with an in-process controller and worker. */
  runChain(chain: ChainDocument | string): Promise<{ jobId: number; status: StatusView }>;
}

/**
 * Creates an embedded pipeline (SQLite, SQL queue, local files) in a new temporary directory,
 * removed again by `close()`.
 */
export async function createTestPipeline(options: TestPipelineOptions = {}): Promise<TestPipeline> {
  const dir = mkdtempSync(join(tmpdir(), 'eas-test-pipeline-'));
  const base = loadConfig({ cwd: dir, env: {} });
  const config = {
    ...base,
    registry: options.registry,
    workerConcurrency: options.concurrency ?? 4,
    leaseMs: options.leaseMs ?? base.leaseMs,
    heartbeatMs: options.heartbeatMs ?? base.heartbeatMs,
  };
  const pipeline = await createPipeline({ config, handlers: options.handlers });
  const close = async (): Promise<void> => {
    await pipeline.close();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };
  const runChain = (chain: ChainDocument | string) => runChainToEnd(pipeline, chain);
  return { ...pipeline, dir, runChain, close, [Symbol.asyncDispose]: close };
}

/**
 * Submits a chain to a pipeline and runs it to its end with an in-process controller and
 * worker (the controller expands conditionals and do-while loops as they become ready); resolves
 * with the job's id and status once the job is no longer running.
 */
export async function runChainToEnd(
  pipeline: Pipeline,
  chain: ChainDocument | string,
): Promise<{ jobId: number; status: StatusView }> {
  const controller = pipeline.controller({ reapIntervalMs: 100 });
  const { jobId } = await controller.submit({ chain });
  const worker = pipeline.worker({ claimWaitMs: 50 });
  const finished = new Promise<void>((resolve) => {
    const check = async (): Promise<void> => {
      const job = await pipeline.db.job(jobId!);
      if (job && job.status !== 'running') resolve();
    };
    worker.on('batch:committed', () => void check());
    worker.on('worker:idle', () => void check());
    controller.on('job:finished', () => void check());
  });
  const running = [controller.run(), worker.run()];
  await finished;
  worker.stop('job finished');
  controller.stop('job finished');
  await Promise.all(running);
  return { jobId: jobId!, status: await pipeline.db.status(jobId) };
}
