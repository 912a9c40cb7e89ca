import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  InvalidInputError,
  processAlive,
  isTransientBackendError,
  retryWhileTransient,
  waitOutTransient,
  silentLogger,
  TypedEmitter,
  type Logger,
  type Problem,
} from '../core/index.js';
import {
  defaultJobName,
  ExpressionResolver,
  expandChainCollecting,
  parseChain,
  unresolvedInputMessage,
  validateChain,
  type ChainDocument,
  type ChainPlan,
  type ValueResolver,
} from '../chain/index.js';
import { checkLogicalPath } from '../filestore/index.js';
import type { JobQueue } from '../queue/index.js';
import type { TaskTypeRegistry } from '../registry/index.js';
import type { AttemptPayload, JobStatus, ReadyAttempt, TaskDatabase } from '../taskdb/index.js';
import { Dispatcher } from './dispatcher.js';
import { planDeferred } from './deferred.js';
// ── Autoscaling (src/control/scaling/) ──
import { Autoscaler, type AutoscalerEvents } from './scaling/autoscaler.js';
import type { AutoscalerSettings } from './scaling/options.js';
import type { Scaler } from './scaling/scaler.js';

/**
 * Lease of a control-flow task the controller expands: expansion is one transaction, so a
 * minute is ample; a dead controller's expansion is redone by the next one after it.
 */
const CONTROL_LEASE_MS = 60_000;

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** The task database. */
  db: TaskDatabase;
  /** The job queue ready attempts go to. */
  queue: JobQueue;
  /** Task types. */
  registry: TaskTypeRegistry;
  /** Logger; the controller binds `{ component: 'controller' }`. @defaultValue silent */
  logger?: Logger;
  /** Evaluates chain expressions. @defaultValue the chain language's {@link ExpressionResolver} */
  resolver?: ValueResolver;
  /** How often expired leases are reaped, ms. @defaultValue 1000 */
  reapIntervalMs?: number;
  /** How often the slow reconcile runs, ms (also once at start-up). @defaultValue 60000 */
  reconcileIntervalMs?: number;
  /** This machine's name, to recognise its own dead worker processes. @defaultValue os.hostname() */
  host?: string;
  /**
   * A running attempt with no heartbeat for this long is stalled by reconcile even without an
   * expired lease (its queue item was lost with its worker). @defaultValue 90000 (three default leases)
   */
  silentAfterMs?: number;
  /**
   * A running attempt the queue does not hold (no lease, no item) with no heartbeat for this
   * long is stalled without waiting for `silentAfterMs`: its worker died between the commit
   * that started it and the queue call that leased it, or the queue lost the item. It must
   * exceed the workers' heartbeat interval (a third of a lease by default) plus the clock
   * difference between their hosts and the controller's (heartbeats carry the worker's
   * clock); an attempt whose lease the queue still holds is left to lease expiry.
   * `createPipeline` passes one lease. @defaultValue a third of `silentAfterMs`
   */
  unleasedAfterMs?: number;
  /**
   * Lease of the attempts the dispatcher claims and starts for the workers it serves (see
   * {@link Dispatcher}); it runs inside {@link Controller.run} when the queue has mailboxes (Redis).
   * `createPipeline` passes the configured lease. @defaultValue 30000
   */
  leaseMs?: number;
  // ── Autoscaling (src/control/scaling/) ──
  /**
   * Scales worker containers to the demand while this controller runs (so, among several
   * controllers, only the leader): `KubernetesScaler` in a cluster, `LocalProcessScaler` on one
   * machine. The controller does not close it. @defaultValue none: no autoscaling
   */
  scaler?: Scaler;
  /** How the autoscaler runs when `scaler` is given (interval, containers). @defaultValue every container, every second */
  scaling?: AutoscalerSettings;
}

/** What a submission produced (the `eas submit --json` shape, plus the job id). */
export interface SubmitSummary {
  /** The new job's id (absent on a dry run). */
  jobId?: number;
  jobName: string;
  /** Tasks, control-flow nodes included. */
  tasks: number;
  /** Tasks per type. */
  byType: Record<string, number>;
  /** Nodes that will expand at run time. */
  deferred: number;
  /** Attempts queued at once. */
  ready: number;
}

/** What to submit. */
export interface SubmitInput {
  /** The chain: a parsed document, or its text (JSON or YAML). */
  chain: ChainDocument | string;
  /** File the chain came from: names the job by default and appears in messages. */
  source?: string;
  /** Job priority: higher runs first. @defaultValue 0 */
  priority?: number;
  /** Validate and count without writing anything. @defaultValue false */
  dryRun?: boolean;
}

/** Events of the controller. */
export interface ControllerEvents {
  'job:submitted': [{ jobId: number; tasks: number }];
  'job:finished': [{ jobId: number; status: JobStatus }];
  'attempt:stalled': [{ attemptIds: number[] }];
  'reconcile:done': [{ queued: number; released: number; countersFixed: number }];
  'worker:lost': [{ workerId: string; attempts: number }];
  // ── Autoscaling (src/control/scaling/), emitted only with a `scaler` ──
  /** Every scaling tick: the decision for each container, holds included. */
  'scale:decided': AutoscalerEvents['scale:decided'];
  /** The scaler changed a container's replicas (`from` → `to`, with the decision's reason). */
  'scale:applied': AutoscalerEvents['scale:applied'];
  /** The scaler failed to read or change a container's replicas; the next tick tries again. */
  'scale:failed': AutoscalerEvents['scale:failed'];
}

/**
 * The controller (DESIGN §4, §5): validates and expands submitted chains in one transaction,
 * keeps the queue fed, reaps expired leases, recovers work of dead workers, and runs the slow
 * reconcile that repairs anything the event-driven path missed.
 *
 * Scheduling itself is event-driven and happens where an attempt finishes: the task database
 * releases the dependents of a QC-passed attempt in the same transaction and the worker
 * enqueues them, so a dependent is claimable a few milliseconds after its producer passes QC.
 * The controller's periodic work (reaping every second, reconciling every minute) is the
 * safety net, never the hot path.
 *
 * @example
 * ```ts
 * const controller = new Controller({ db, queue, registry });
 * const { jobId } = await controller.submit({ chain: text, source: 'grid.json' });
 * void controller.run(); // reaping and reconcile until stop()
 * ```
 */
export class Controller extends TypedEmitter<ControllerEvents> {
  private readonly db: TaskDatabase;
  private readonly queue: JobQueue;
  private readonly registry: TaskTypeRegistry;
  private readonly log: Logger;
  private readonly resolver: ValueResolver;
  private readonly reapIntervalMs: number;
  private readonly reconcileIntervalMs: number;
  private readonly host: string;
  private readonly silentAfterMs: number;
  private readonly unleasedAfterMs: number;
  private stopping = false;
  private queueShortBefore = false;
  private wake: (() => void) | undefined;
  private controlAbort = new AbortController();
  /** The worker id under which the controller holds the control-flow tasks it expands. */
  readonly controllerId: string;
  /** The autoscaling loop, when a `scaler` was given; it runs inside {@link run}. */
  readonly autoscaler: Autoscaler | undefined;
  /** The dispatcher, when the queue has mailboxes (Redis); it runs inside {@link run}. */
  readonly dispatcher: Dispatcher | undefined;

  constructor(options: ControllerOptions) {
    super();
    this.db = options.db;
    this.queue = options.queue;
    this.registry = options.registry;
    this.log = (options.logger ?? silentLogger()).child({ component: 'controller' });
    this.resolver = options.resolver ?? new ExpressionResolver();
    this.reapIntervalMs = options.reapIntervalMs ?? 1000;
    this.reconcileIntervalMs = options.reconcileIntervalMs ?? 60_000;
    this.host = options.host ?? hostname();
    this.silentAfterMs = options.silentAfterMs ?? 90_000;
    this.unleasedAfterMs = Math.min(
      options.unleasedAfterMs ?? this.silentAfterMs / 3,
      this.silentAfterMs,
    );
    this.controllerId = `${this.host}:${process.pid}:controller:${randomBytes(3).toString('hex')}`;
    this.dispatcher = this.queue.mailboxes
      ? new Dispatcher({
          db: this.db,
          queue: this.queue,
          leaseMs: options.leaseMs ?? 30_000,
          logger: options.logger,
        })
      : undefined;
    // ── Autoscaling (src/control/scaling/) ──
    this.autoscaler = options.scaler
      ? new Autoscaler({
          ...options.scaling,
          db: this.db,
          registry: this.registry,
          scaler: options.scaler,
          logger: options.logger,
        })
      : undefined;
    this.autoscaler?.on('scale:decided', (e) => this.emit('scale:decided', e));
    this.autoscaler?.on('scale:applied', (e) => this.emit('scale:applied', e));
    this.autoscaler?.on('scale:failed', (e) => this.emit('scale:failed', e));
  }

  /**
   * Validates a chain whole, expands it and writes it in one transaction, then queues the
   * tasks that are ready. With `dryRun`, only validates and counts.
   *
   * @throws EasError `JSON_SYNTAX` (line and column) or InvalidInputError `CHAIN_INVALID`
   *   listing every problem with its chain path; nothing is written then.
   */
  async submit(input: SubmitInput): Promise<SubmitSummary> {
    const source = input.source ?? 'chain';
    const doc =
      typeof input.chain === 'string'
        ? parseChain(input.chain, source)
        : validateChain(input.chain, source);
    const seed = randomBytes(8).toString('hex');
    const { plan, problems } = expandChainCollecting(doc, {
      catalog: this.registry.catalog(),
      resolver: this.resolver,
      defaultJobName: defaultJobName(source),
      seed,
      normalizePath: checkLogicalPath,
    });
    problems.push(...(await this.checkPlan(plan)));
    if (problems.length > 0)
      throw new InvalidInputError('CHAIN_INVALID', `Chain ${source} invalid`, problems);
    const byType: Record<string, number> = {};
    for (const t of plan.tasks) byType[t.type] = (byType[t.type] ?? 0) + 1;
    const summary: SubmitSummary = {
      jobName: plan.jobName,
      tasks: plan.tasks.length,
      byType,
      deferred: plan.deferred,
      ready: 0,
    };
    if (input.dryRun) return summary;

    const result = await this.db.submit({
      name: plan.jobName,
      workingDirectory: plan.workingDirectory,
      chain: doc,
      source: input.source,
      priority: input.priority ?? 0,
      seed,
      tasks: plan.tasks,
    });
    await this.enqueue(result.ready);
    this.emit('job:submitted', { jobId: result.jobId, tasks: result.taskCount });
    return { ...summary, jobId: result.jobId, ready: result.ready.length };
  }

  /**
   * Binds inputs with no producer in the job to the newest QC-passed file of an earlier job;
   * checks that the inputs of bodies expanded at run time will have one too.
   */
  private async checkPlan(plan: ChainPlan): Promise<Problem[]> {
    const problems: Problem[] = [];
    for (const u of plan.unresolvedInputs) {
      const task = plan.tasks[u.taskKey]!;
      const input = task.inputs[u.inputIndex]!;
      const found = await this.db.findPassedVersion(input.workingDirectory, input.filename);
      if (found) input.externalProductId = found.productId;
      else {
        problems.push({
          path: input.where,
          message: unresolvedInputMessage(plan, input),
        });
      }
    }
    // An input of a body expanded at run time is bound then, but must have a producer now.
    for (const input of plan.unresolvedBodyInputs ?? []) {
      if (await this.db.findPassedVersion(input.workingDirectory, input.filename)) continue;
      problems.push({
        path: input.where,
        message: unresolvedInputMessage(plan, input, { body: true }),
      });
    }
    return problems;
  }

  /** Puts ready attempts into the queue (idempotent). */
  async enqueue(ready: readonly ReadyAttempt[]): Promise<void> {
    if (ready.length === 0) return;
    await this.queue.enqueue(ready);
  }

  /**
   * Recovers the work of worker processes on this machine that died without stopping (their
   * pid is gone): their leases are released at once instead of waiting for expiry.
   */
  async recoverDeadLocalWorkers(): Promise<number> {
    let recovered = 0;
    for (const w of await this.db.workers('running')) {
      if (w.host !== this.host || processAlive(w.pid)) continue;
      const leased = await this.queue.releaseOwner(w.id);
      const running = await this.db.runningAttemptsOf([w.id]);
      const ids = [...new Set([...leased.map((l) => l.attemptId), ...running])];
      const result = await this.db.stallAttempts(ids);
      await this.enqueue(result.ready);
      await this.db.stopWorker(w.id);
      recovered += ids.length;
      this.log.warn(
        { workerId: w.id, attempts: ids.length },
        'worker died; its attempts are re-queued',
      );
      this.emit('worker:lost', { workerId: w.id, attempts: ids.length });
      if (result.stalled.length > 0) this.emit('attempt:stalled', { attemptIds: result.stalled });
    }
    return recovered;
  }

  /** Re-queues attempts whose lease expired. Returns how many were stalled. */
  async reapExpired(): Promise<number> {
    const expired = await this.queue.reclaimExpired();
    if (expired.length === 0) return 0;
    const result = await this.db.stallAttempts(expired.map((e) => e.attemptId));
    await this.enqueue(result.ready);
    if (result.stalled.length > 0) {
      this.log.warn({ attempts: result.stalled.length }, 'leases expired; attempts re-queued');
      this.emit('attempt:stalled', { attemptIds: result.stalled });
    }
    return result.stalled.length;
  }

  /**
   * Settles jobs whose last tasks all ended but which are still `running`: on PostgreSQL, the
   * reports of a job's last tasks, committing at the same moment, can each see the other's task
   * still running (see `TaskDatabase.settleEndedJobs`). Runs with every reap: one query.
   */
  async settleEnded(): Promise<number> {
    const settled = await this.db.settleEndedJobs();
    for (const j of settled) {
      this.log.info(j, 'job ended');
      this.emit('job:finished', j);
    }
    return settled.length;
  }

  /**
   * Stores the totals of one job that ended since its totals were last stored (see
   * `TaskDatabase.storeJobTotals`), so `eas status` and the dashboard read them instead of all
   * the job's rows. Runs with every reap; one job at a time, since a large job's totals take a
   * few hundred milliseconds to read (on SQLite, beside the workers' reports).
   */
  async storeJobTotals(): Promise<number[]> {
    const r = await this.db.storeJobTotals(1);
    for (const f of r.failed)
      this.log.warn(
        f,
        'job totals not stored; eas status and the dashboard count this job from its rows',
      );
    return r.stored;
  }

  /**
   * Re-queues running attempts nobody heartbeats for `silentAfterMs`, whatever their queue
   * item says: their worker died with the item lost (a queue that lost its data), or started
   * them in a commit whose answer never arrived. Those silent for `unleasedAfterMs` already go
   * too when the queue does not hold them: their worker died between the commit that started
   * them and the queue call that leased them, and no lease will ever expire for them. One
   * query on the live attempts (a partial index) in the common case, so it runs with every
   * reap.
   */
  async stallSilent(): Promise<number> {
    let silent = await this.db.silentAttempts(this.unleasedAfterMs);
    if (silent.length === 0) return 0;
    if (this.unleasedAfterMs < this.silentAfterMs) {
      const longSilent = new Set(await this.db.silentAttempts(this.silentAfterMs));
      const unleased: number[] = [];
      // After a database outage every running attempt is silent: ask the queue in chunks of
      // concurrent calls (one round trip each on Redis), not one call after the other.
      for (let i = 0; i < silent.length; i += 200) {
        const chunk = silent.slice(i, i + 200);
        const held = await Promise.all(
          chunk.map((id) => (longSilent.has(id) ? false : this.queue.has(id))),
        );
        chunk.forEach((id, k) => {
          if (!held[k]) unleased.push(id);
        });
      }
      silent = unleased;
      if (silent.length === 0) return 0;
    }
    const stalled = await this.db.stallAttempts(silent);
    await this.enqueue(stalled.ready);
    this.log.warn({ attempts: silent.length }, 'running attempts without heartbeats re-queued');
    this.emit('attempt:stalled', { attemptIds: stalled.stalled });
    return stalled.stalled.length;
  }

  /**
   * Whether the queue has lost items: fewer items in it (ready or leased) than live attempts in
   * the task database (queued or running; each holds an item until its result is committed),
   * twice in a row (one look can fall between a commit and its enqueue). It happens when a
   * Redis without persistence restarts, or when items were reclaimed from the queue and the
   * database step after it failed; reconcile then rebuilds the queue from the database at once
   * rather than at its next interval. A false alarm costs one reconcile.
   */
  private async queueLostItems(): Promise<boolean> {
    const live = await this.db.liveAttemptCount();
    let inQueue = 0;
    if (live > 0) {
      for (const c of Object.values(await this.queue.counts())) inQueue += c.ready + c.leased;
    }
    const short = live > inQueue;
    const lost = short && this.queueShortBefore;
    this.queueShortBefore = short && !lost;
    if (lost) {
      this.log.warn({ live, inQueue }, 'the queue lost items; rebuilding it from the database');
      // Mailboxes go with the queue's data: what the dispatcher sent and no worker took is gone.
      this.dispatcher?.forgetInTransit();
    }
    return lost;
  }

  /** The slow repair pass: silent attempts, counters, lost queue items, finished jobs. */
  async reconcile(): Promise<void> {
    await this.stallSilent();
    const r = await this.db.reconcile();
    await this.enqueue(r.queued);
    for (const j of r.finishedJobs) this.emit('job:finished', j);
    if (r.countersFixed > 0 || r.released > 0 || r.blocked > 0) {
      this.log.warn(
        { countersFixed: r.countersFixed, released: r.released, blocked: r.blocked },
        'reconcile repaired state',
      );
    }
    this.emit('reconcile:done', {
      queued: r.queued.length,
      released: r.released,
      countersFixed: r.countersFixed,
    });
  }

  /**
   * Runs until {@link stop}: recovers dead local workers and reconciles once, then reaps
   * expired leases every `reapIntervalMs` and reconciles every `reconcileIntervalMs`.
   * Rejects on a fatal error (the database unreachable).
   */
  async run(): Promise<void> {
    this.stopping = false;
    this.controlAbort = new AbortController();
    await this.untilAvailable('starting', async () => {
      await this.recoverDeadLocalWorkers();
      await this.reconcile();
      await this.db.registerWorker({
        id: this.controllerId,
        host: this.host,
        pid: process.pid,
        types: this.controlTypes(),
        concurrency: 1,
      });
    });
    // Settled here and awaited in `finally`: a rejection must not go unhandled meanwhile.
    let expandFailure: unknown;
    const expanding = this.expandLoop().catch((e: unknown) => {
      expandFailure = e;
      this.stop('expanding control tasks failed');
    });
    // ── Autoscaling (src/control/scaling/): ends with the controller, like expansion ──
    let scalingFailure: unknown;
    const scaling = this.autoscaler?.run(this.controlAbort.signal).catch((e: unknown) => {
      scalingFailure = e;
      this.stop('autoscaling failed');
    });
    let dispatchFailure: unknown;
    const dispatching = this.dispatcher?.run(this.controlAbort.signal).catch((e: unknown) => {
      dispatchFailure = e;
      this.stop('dispatching failed');
    });
    let lastReconcile = Date.now();
    let failures = 0;
    try {
      while (!this.stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.reapIntervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        if (this.stopping) break;
        try {
          await this.reapExpired();
          await this.stallSilent();
          await this.settleEnded();
          await this.storeJobTotals();
          const lost = await this.queueLostItems();
          if (lost || failures > 0 || Date.now() - lastReconcile >= this.reconcileIntervalMs) {
            // After an outage, reconcile at once: the queue may have lost items meanwhile.
            await this.recoverDeadLocalWorkers();
            await this.reconcile();
            lastReconcile = Date.now();
          }
          failures = 0;
        } catch (e) {
          if (!isTransientBackendError(e)) throw e;
          await this.backOff(e, 'reaping and reconciling', failures++);
        }
      }
    } finally {
      this.stopping = true;
      this.controlAbort.abort();
      await expanding;
      await scaling;
      await dispatching;
      // A job that ended since the last reap (an embedded run stops when its job ends) gets
      // its totals now rather than at the next controller's start.
      await this.storeJobTotals().catch((e: unknown) =>
        this.log.debug({ err: e }, 'job totals not stored on stop'),
      );
      await this.db.stopWorker(this.controllerId).catch(() => undefined);
    }
    if (expandFailure !== undefined) throw expandFailure;
    if (scalingFailure !== undefined) throw scalingFailure;
    if (dispatchFailure !== undefined) throw dispatchFailure;
  }

  private controlTypes(): string[] {
    return this.registry
      .types()
      .filter((t) => this.registry.isControlFlow(t.name))
      .map((t) => t.name);
  }

  /**
   * Expands deferred control-flow tasks as they become ready: they arrive through the job
   * queue like any task (the moment their providers pass QC) and the controller is their worker.
   */
  private async expandLoop(): Promise<void> {
    for (let failures = 0; !this.stopping;) {
      try {
        await this.expandSome();
        failures = 0;
      } catch (e) {
        if (!isTransientBackendError(e)) throw e;
        await this.backOff(e, 'claiming control tasks', failures++);
      }
    }
  }

  /** Claims ready control-flow tasks (waiting up to 500 ms) and expands them. */
  private async expandSome(): Promise<void> {
    const items = await this.queue.claim({
      owner: this.controllerId,
      types: this.controlTypes(),
      max: 16,
      leaseMs: CONTROL_LEASE_MS,
      waitMs: 500,
      signal: this.controlAbort.signal,
    });
    if (items.length === 0) return;
    const ids = items.map((i) => i.attemptId);
    const { payloads, stale } = await this.db.startAttempts(ids, {
      id: this.controllerId,
      host: this.host,
      pid: process.pid,
    });
    if (stale.length > 0) await this.queue.complete(this.controllerId, stale);
    for (const p of payloads) await this.expandOne(p);
  }

  private async expandOne(p: AttemptPayload): Promise<void> {
    const started = Date.now();
    for (let failures = 0; ; failures++) {
      try {
        await this.expandOnce(p, started);
        return;
      } catch (e) {
        // A server away is not the chain's fault: try again (the expansion is refused as
        // stale if it had in fact been committed) unless stopping, when the attempt is left
        // to its lease and expanded by whoever reaps it.
        if (!isTransientBackendError(e) || this.stopping) throw e;
        await this.backOff(e, 'expanding a control task', failures);
      }
    }
  }

  private async expandOnce(p: AttemptPayload, started: number): Promise<void> {
    try {
      const plan = await planDeferred(
        {
          db: this.db,
          registry: this.registry,
          resolver: this.resolver,
          workerId: this.controllerId,
        },
        p,
      );
      const r = await this.db.expandDeferred(plan);
      await this.queue.complete(this.controllerId, [p.attemptId]);
      await this.enqueue(r.ready);
      for (const j of r.finishedJobs) this.emit('job:finished', j);
      this.log.debug(
        { taskId: p.taskId, tasks: plan.children.length, done: plan.done },
        'control task expanded',
      );
    } catch (e) {
      if (isTransientBackendError(e)) throw e;
      const message = e instanceof Error ? e.message : String(e);
      this.log.warn({ taskId: p.taskId, err: message }, 'control task failed');
      const result = await this.db.finishAttempts([
        {
          attemptId: p.attemptId,
          workerId: this.controllerId,
          succeeded: false,
          qcPassed: false,
          error: e instanceof InvalidInputError ? e.summary() : message.split('\n')[0],
          traceback: message,
          startedAt: started,
          endedAt: Date.now(),
          wallMs: Date.now() - started,
          cpuMs: 0,
          cpuChildrenMs: 0,
          outputs: [],
          outputMetadata: {},
          retry: { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0 },
        },
      ]);
      await this.queue.complete(this.controllerId, [p.attemptId]);
      await this.enqueue(result.ready);
      for (const j of result.finishedJobs) this.emit('job:finished', j);
    }
  }

  /** Waits out a transient backend error: logs it and sleeps a growing backoff. */
  private backOff(e: unknown, doing: string, failures: number): Promise<void> {
    return waitOutTransient(this.log, e, doing, failures);
  }

  /** Runs `op`, retrying while it fails with a transient backend error (until stopped). */
  private untilAvailable(doing: string, op: () => Promise<void>): Promise<void> {
    return retryWhileTransient(this.log, doing, op, () => this.stopping);
  }

  /** Stops {@link run} after its current step. */
  stop(reason = 'stop requested'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason }, 'controller stopping');
    this.controlAbort.abort();
    this.wake?.();
  }
}
