/**
 * Box least squares on worker threads: {@link boxLeastSquaresInThreads} splits a period grid
 * into interleaved shares (period `i` goes to share `i mod k`, so every share holds short and
 * long periods alike and costs about the same), computes each share in a worker thread of a
 * process-wide pool, and puts the spectrum back together. Every period's values depend on that
 * period alone, so the result is identical, number for number, to {@link boxLeastSquares} in
 * the calling thread — while the calling thread stays free (a pipeline worker keeps
 * heartbeating) and a multi-core machine computes the shares at once.
 *
 * The pool holds at most `availableParallelism()` threads, started on first use and kept for
 * the next search; idle threads do not keep the process alive. Several searches at once (a
 * worker running many tasks) share the pool, so together they never use more threads than
 * the machine has cores; their shares wait in order.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EasError } from '../core/index.js';
import {
  blsResult,
  emptySpectrum,
  prepareBoxLeastSquares,
  type BlsSpectrum,
  type BoxLeastSquaresOptions,
  type BoxLeastSquaresResult,
  type PreparedBls,
} from './bls.js';

/** Options of {@link boxLeastSquaresInThreads}. */
export interface BoxLeastSquaresThreadsOptions extends BoxLeastSquaresOptions {
  /**
   * Most shares the grid is split into, hence most threads used by this search (default: the
   * machine's available parallelism). Grids of fewer than {@link MIN_PERIODS_PER_SHARE}
   * periods per share are split less. Even `1` runs off the calling thread.
   */
  threads?: number;
  /**
   * Stops the search: its threads are terminated (the pool starts fresh ones when needed) and
   * the promise rejects with `signal.reason`.
   */
  signal?: AbortSignal;
}

/** Below this many periods per share, splitting costs more than it saves. */
export const MIN_PERIODS_PER_SHARE = 2000;

/** @internal Message to a BLS worker thread. */
export interface BlsThreadRequest {
  id: number;
  prep: PreparedBls;
  periods: Float64Array;
}

/** @internal Message from a BLS worker thread. */
export type BlsThreadReply =
  | { id: number; spectrum: BlsSpectrum; error?: undefined }
  | { id: number; error: { message: string; stack: string }; spectrum?: undefined };

/**
 * {@link boxLeastSquares} computed on worker threads: same parameters, same numbers, same
 * errors (thrown before any thread starts), returned as a promise.
 *
 * @example
 * ```ts
 * const periods = autoPeriodGrid(t, durations, { minimumPeriod: 1, maximumPeriod: 120 });
 * const r = await boxLeastSquaresInThreads(t, flux, undefined, periods, durations);
 * console.log(r.bestPeriod, signalDetectionEfficiency(r.power));
 * ```
 */
export async function boxLeastSquaresInThreads(
  time: Float64Array,
  flux: Float64Array,
  dy: Float64Array | undefined,
  periods: Float64Array,
  durations: Float64Array,
  options: BoxLeastSquaresThreadsOptions = {},
): Promise<BoxLeastSquaresResult> {
  const prep = prepareBoxLeastSquares(time, flux, dy, periods, durations, options);
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new EasError('USAGE', `threads must be an integer ≥ 1, got ${threads}`, {
      where: 'science/bls',
    });
  }
  const np = periods.length;
  const k = Math.max(1, Math.min(threads, Math.floor(np / MIN_PERIODS_PER_SHARE)));
  const shares: Float64Array[] = [];
  for (let s = 0; s < k; s++) {
    const share = new Float64Array(Math.ceil((np - s) / k));
    for (let i = s, j = 0; i < np; i += k, j++) share[j] = periods[i]!;
    shares.push(share);
  }
  const parts = await Promise.all(shares.map((share) => sharedPool().run(prep, share, options)));
  if (k === 1) return blsResult(periods, parts[0]!);
  const whole = emptySpectrum(np);
  const keys = Object.keys(whole) as (keyof BlsSpectrum)[];
  parts.forEach((part, s) => {
    for (const key of keys) {
      const from = part[key];
      const to = whole[key];
      for (let i = s, j = 0; i < np; i += k, j++) to[i] = from[j]!;
    }
  });
  return blsResult(periods, whole);
}

/**
 * Terminates the pool's threads (a later search starts new ones). Idle threads never keep a
 * process alive, so this is only needed to release them early, e.g. at the end of a test.
 */
export async function closeBlsThreads(): Promise<void> {
  const p = pool;
  pool = undefined;
  if (p) await p.close();
}

interface Job {
  id: number;
  request: BlsThreadRequest;
  resolve: (s: BlsSpectrum) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  worker: Worker | undefined;
}

let pool: ThreadPool | undefined;

function sharedPool(): ThreadPool {
  pool ??= new ThreadPool(availableParallelism());
  return pool;
}

/**
 * Where the thread's module is. From the sources (tests, tsx) it is the `.ts` file next to
 * this one, started through `ts-thread.mjs`; from the build it is `dist/science/bls-thread.js`, wherever
 * the bundler put this code (a shared chunk at the root of dist/ or an entry below it).
 */
function threadEntry(): { url: URL; workerData?: { entry: string } } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./bls-thread.ts', here).href;
    return { url: new URL('./ts-thread.mjs', here), workerData: { entry } };
  }
  for (const rel of ['./science/bls-thread.js', './bls-thread.js', '../science/bls-thread.js']) {
    const url = new URL(rel, here);
    if (existsSync(fileURLToPath(url))) return { url };
  }
  throw new EasError('INTERNAL', `the BLS worker thread's module is missing next to ${here}`, {
    where: 'science/bls-threads',
  });
}

/** A fixed-size pool of BLS threads: one share per thread at a time, the rest wait in order. */
class ThreadPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly waiting: Job[] = [];
  private started = 0;
  private nextId = 1;

  constructor(private readonly size: number) {}

  run(
    prep: PreparedBls,
    periods: Float64Array,
    options: { signal?: AbortSignal | undefined },
  ): Promise<BlsSpectrum> {
    const signal = options.signal;
    return new Promise<BlsSpectrum>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const id = this.nextId++;
      const job: Job = {
        id,
        request: { id, prep, periods },
        resolve,
        reject,
        signal,
        onAbort: undefined,
        worker: undefined,
      };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.waiting.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    const all = [...this.idle, ...this.busy.keys()];
    for (const job of [...this.waiting, ...this.busy.values()]) {
      this.settle(job, new EasError('CLOSED', 'the BLS thread pool was closed'));
    }
    this.waiting.length = 0;
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      let worker = this.idle.pop();
      if (worker === undefined && this.started < this.size) worker = this.spawn();
      if (worker === undefined) return;
      const job = this.waiting.shift()!;
      job.worker = worker;
      this.busy.set(worker, job);
      worker.ref();
      worker.postMessage(job.request);
    }
  }

  private spawn(): Worker {
    const { url, workerData } = threadEntry();
    const worker = new Worker(url, { workerData });
    this.started++;
    worker.on('message', (reply: BlsThreadReply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (job !== undefined && job.id === reply.id) {
        if (reply.error) {
          const err = new Error(reply.error.message);
          err.stack = reply.error.stack;
          this.settle(job, err);
        } else this.settle(job, undefined, reply.spectrum);
      }
      this.pump();
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) =>
      this.lost(worker, new EasError('INTERNAL', `a BLS worker thread exited (code ${code})`)),
    );
    return worker;
  }

  /** A thread died or was terminated: forget it, fail its share, start others if needed. */
  private lost(worker: Worker, err: unknown): void {
    const idleAt = this.idle.indexOf(worker);
    const job = this.busy.get(worker);
    if (idleAt < 0 && job === undefined) return;
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    this.busy.delete(worker);
    this.started--;
    if (job) this.settle(job, err);
    this.pump();
  }

  private abort(job: Job): void {
    const at = this.waiting.indexOf(job);
    if (at >= 0) this.waiting.splice(at, 1);
    const worker = job.worker;
    if (worker !== undefined && this.busy.get(worker) === job) {
      this.busy.delete(worker);
      this.started--;
      void worker.terminate();
    }
    this.settle(job, job.signal?.reason ?? new EasError('CLOSED', 'aborted'));
    this.pump();
  }

  private settle(job: Job, err: unknown, spectrum?: BlsSpectrum): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    job.onAbort = undefined;
    if (spectrum !== undefined) job.resolve(spectrum);
    else job.reject(err);
  }
}
