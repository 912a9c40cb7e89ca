import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  EasError,
  float,
  inheritedEnvironment,
  stringifyKeepingFloats,
  toWire,
  fromWire,
  unwrapFloats,
  parseTypedMetadataJson,
  processAlive,
  isTransientBackendError,
  retryWhileTransient,
  waitOutTransient,
  silentLogger,
  toPlainMetadata,
  toTypedMetadata,
  TypedEmitter,
  type Logger,
  type TypedMetadata,
} from '../core/index.js';
import type { FileRepository } from '../filestore/index.js';
import {
  DISPATCH_BOX,
  workerBox,
  type DispatchDelivery,
  type DispatchEvent,
  type JobQueue,
  type Mailboxes,
  type WorkerRoom,
} from '../queue/index.js';
import type { ResolvedTaskType, TaskTypeRegistry } from '../registry/index.js';
import type {
  AttemptOutcome,
  AttemptPayload,
  FinishResult,
  JobStatus,
  LogLine,
  OutputVersion,
  TaskDatabase,
} from '../taskdb/index.js';
import { EVALUATE_AT_START, evaluateAtStart, ExpressionResolver } from '../chain/index.js';
import { HeldAttempts } from './held-attempts.js';
import { AttemptAbort, raceAbort } from './attempt-abort.js';
import { defaultQc } from './qc.js';
import { resolveWorkerHarnessSettings } from './options.js';
import { runCommand } from './runners/command.js';
import type { HandlerDefinition, HandlerResult, QcFunction, TaskFile } from './types.js';

/** Options of {@link WorkerHarness}. */
export interface WorkerHarnessOptions {
  db: TaskDatabase;
  queue: JobQueue;
  files: FileRepository;
  registry: TaskTypeRegistry;
  /** In-process handlers of built-in task types, by name (the `tasks` library supplies them). */
  handlers?: Record<string, HandlerDefinition>;
  /** Task types this worker claims. @defaultValue every non-control-flow type of the registry */
  types?: readonly string[];
  /** Attempts run at once. @defaultValue 4 */
  concurrency?: number;
  /** Lease length, ms. @defaultValue 30000 */
  leaseMs?: number;
  /** Heartbeat interval, ms. @defaultValue leaseMs / 3 */
  heartbeatMs?: number;
  /** How long a graceful stop waits for running attempts before handing them back, ms. @defaultValue 30000 */
  graceMs?: number;
  /** Scratch directory for attempts' working directories. @defaultValue the OS temp dir */
  scratchDir?: string;
  /** Keep the scratch directory of failed attempts for inspection. @defaultValue false */
  keepFailedScratch?: boolean;
  /**
   * Environment external commands inherit, plus `EAS_TASK_FILE`, `EAS_RESULT_FILE` and
   * `EAS_WORK_DIR`. @defaultValue this process's environment without its `EAS_*` settings
   */
  baseEnv?: Record<string, string>;
  /** Worker id. @defaultValue `<host>:<pid>:<random>` */
  workerId?: string;
  /** Logger; the harness binds `{ component: 'worker', workerId }`. */
  logger?: Logger;
  /** How long one claim waits for work before looping, ms. @defaultValue 500 */
  claimWaitMs?: number;
  /**
   * Served by the leading controller's dispatcher instead of claiming (needs the Redis queue):
   * the dispatcher claims, starts and records attempts for this worker in transactions shared
   * with the other workers it serves, and the worker only runs them (see
   * [the architecture](../../docs/architecture.md), "Dispatch"). @defaultValue false
   */
  dispatch?: boolean;
}

/** Events of the harness. */
export interface WorkerHarnessEvents {
  'attempt:started': [AttemptPayload];
  'attempt:finished': [{ payload: AttemptPayload; outcome: AttemptOutcome }];
  'batch:committed': [FinishResult];
  'job:finished': [{ jobId: number; status: JobStatus }];
  'lease:lost': [{ attemptId: number }];
  /** Heartbeats recorded in the task database for these running attempts. */
  heartbeat: [{ attemptIds: number[] }];
  'worker:idle': [];
  'worker:error': [Error];
}

interface Running {
  payload: AttemptPayload;
  abort: AttemptAbort;
  logs: LogLine[];
  done: Promise<void>;
  /** The code has ended: its slot is free for the next claim while its result commits. */
  slotReleased: boolean;
  /** When the harness started it (performance.now()). */
  startedAt: number;
}

/** Log lines kept per attempt in memory before an early flush. */
const LOG_FLUSH_LINES = 500;

/**
 * Claimed batches a worker may be starting at once. One: the next claim waits for the start
 * before it, and so gathers the slots freed meanwhile into one bigger batch.
 */
const STARTS_IN_FLIGHT = 1;

/**
 * Batch commits a worker keeps under way at once. Two: a result that ends while a commit is
 * under way can commit beside it (a dependent released by it starts without waiting for the
 * other commit), and the database still gets batches, not single results. On the cluster DAG
 * bench (2 workers × 32 slots, PostgreSQL on the same 2 cores) three in flight cost about a
 * sixth of the throughput for no gain in latency: smaller batches, each paying a statement's
 * fixed cost, and more transactions waiting for each other's locks. On SQLite, where writers
 * queue for one lock, commits simply wait their turn.
 */
const COMMITS_IN_FLIGHT = 2;

/**
 * While one commit is under way, the results reported since wait up to this long before a
 * second commit takes them, unless they already fill half the worker's slots: a second commit
 * of a few results would pay a transaction's fixed cost for little. Measured on the cluster DAG
 * bench (interleaved runs on one machine): a second commit at once gave 5,233–5,260 tasks/s
 * with provider-to-dependent p50 0 ms and p99 9–10 ms; waiting 2 ms or for 16 results gave
 * 5,632–5,988 tasks/s, p50 1 ms, p99 8–13 ms; one commit in flight only gave 5,933–6,228,
 * p50 2 ms, p99 18–20 ms (the targets' edge).
 */
const SECOND_COMMIT_WAIT_MS = 2;

/**
 * How long the claim loop waits for more slots to free when fewer than a quarter are free while
 * attempts still run: short attempts then claim and start in batches instead of one by one (each
 * claim and start is a round trip and a statement whatever its size), and a slot waits no more
 * than this for a long attempt's worker.
 */
const CLAIM_LINGER_MS = 2;

/**
 * How much work a dispatched worker keeps in hand per slot beyond the attempt it runs, ms by its
 * recent attempts' mean duration: enough to cover one round of the dispatcher (the worker says
 * it has room, the dispatcher claims, starts and posts; 10–30 ms under load on 2 cores), so a
 * slot that frees finds its next attempt at hand. It is the window of a stream: attempts of a
 * few ms need many in hand (a no-op DAG on 2 workers × 32 slots ran at 5,600 tasks/s with 2 an
 * attempt per slot, 7,900 with 8 and 8,400 with 16), attempts of seconds need one. Bounded in
 * time, it bounds what one worker holds while another has room to about this much work a slot.
 */
const DISPATCH_HOLD_MS = 50;
/** Attempts a dispatched worker may have per slot, running and held, at least: its slot's and one more. */
const DISPATCH_HOLD_MIN_PER_SLOT = 2;
/** …and at most (attempts of no duration: a no-op). */
const DISPATCH_HOLD_MAX_PER_SLOT = 16;
/**
 * A dispatched worker whose hold has shrunk (long attempts after short ones) hands back what it
 * holds beyond it, but only when the attempts it holds would wait longer than this, ms, for a
 * slot: a hold that shrinks a little among short attempts keeps what it has (each hand-back is a
 * transaction and a stalled attempt in the record), one that now holds minutes of work while
 * other workers may have room gives it back.
 */
const SHED_AFTER_MS = 1_000;
/** Weight of the newest attempt in the running mean of durations that sizes the hold. */
const DURATION_EWMA_WEIGHT = 0.1;

/**
 * The dispatcher's mailbox keeps at most this many events: while no controller runs, workers
 * still say every second that they are there, and those words must not pile up for ever. Far
 * more than the results of all attempts out at once, which is all a worker can have to report.
 */
const DISPATCH_BOX_KEEP = 100_000;

/** How often a dispatched worker tells the dispatcher its room when nothing else does, ms. */
const ROOM_EVERY_MS = 1_000;

/**
 * The worker harness (DESIGN §5): claims attempts from the job queue, stages their inputs from
 * the file repository, runs the science code — an in-process handler, or an external command
 * in any language given its task as a JSON file in `EAS_TASK_FILE` — while heartbeating its
 * lease, captures logs, tracebacks and timings, commits outputs, runs QC, and reports the end
 * to the task database in batches (one transaction for many attempts). The attempts released
 * by that report are enqueued at once, so dependents start within milliseconds.
 *
 * @example
 * ```ts
 * const worker = new WorkerHarness({ db, queue, files, registry, handlers: BUILTIN_HANDLERS });
 * const running = worker.run();
 * process.once('SIGTERM', () => worker.stop('SIGTERM'));
 * await running;
 * ```
 */
export class WorkerHarness extends TypedEmitter<WorkerHarnessEvents> {
  /** This worker's id, as recorded on attempts and leases. */
  readonly workerId: string;
  private readonly o: Required<
    Omit<
      WorkerHarnessOptions,
      'types' | 'workerId' | 'logger' | 'handlers' | 'baseEnv' | 'dispatch'
    >
  > & {
    handlers: Record<string, HandlerDefinition>;
    baseEnv: Record<string, string>;
  };
  private readonly types: string[];
  private readonly log: Logger;
  private readonly resolver = new ExpressionResolver();
  private readonly running = new Map<number, Running>();
  private readonly modules = new Map<string, Promise<HandlerDefinition>>();
  private pending: { payload: AttemptPayload; outcome: AttemptOutcome; resolve: () => void }[] = [];
  private starting = 0;
  /** Claimed attempts whose start is under way. */
  private readonly startingIds = new Set<number>();
  /** Slots asked for by the claim under way (0 when none is). */
  private claiming = 0;
  /** The last `queue.adopt` under way: a completion of the queue items waits for it. */
  private adopting: Promise<unknown> = Promise.resolve();
  /** Attempts this worker has run, numbering their scratch directories. */
  private attemptSeq = 0;
  private readonly starts = new Set<Promise<void>>();
  private startFailure: Error | undefined;
  private commitsInFlight = 0;
  /** Commits whose database step is done and whose queue steps are still under way. */
  private queueStepsInFlight = 0;
  private commitScheduled = false;
  private commitTimer: NodeJS.Timeout | undefined;
  /** When the oldest result waiting for a commit was reported (performance.now()). */
  private pendingSince = 0;
  private committedAll: (() => void)[] = [];
  /** Attempts whose code is running (started, not yet ended). */
  private executing = 0;
  private stopping = false;
  private claimAbort = new AbortController();
  private slotFreed: (() => void) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private scratchPath: string | undefined;
  private readonly host = hostname();
  /** The mailboxes when the dispatcher serves this worker (`dispatch`). */
  private readonly boxes: Mailboxes | undefined;
  /** Dispatched attempts waiting for a slot. */
  private readonly held = new HeldAttempts();
  /** Dispatched attempts taken from the mailbox so far. */
  private received = 0;
  private lastRoomAt = 0;
  /** Running mean of this worker's attempts' durations, ms (undefined before the first ends). */
  private meanAttemptMs: number | undefined;
  /** A hand-back of attempts beyond the hold under way (`shedSurplus`). */
  private shedding: Promise<void> | undefined;

  constructor(options: WorkerHarnessOptions) {
    super();
    const settings = resolveWorkerHarnessSettings({
      concurrency: options.concurrency,
      leaseMs: options.leaseMs,
      heartbeatMs: options.heartbeatMs,
      graceMs: options.graceMs,
      claimWaitMs: options.claimWaitMs,
    });
    const leaseMs = settings.leaseMs;
    this.workerId =
      options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.o = {
      db: options.db,
      queue: options.queue,
      files: options.files,
      registry: options.registry,
      handlers: options.handlers ?? {},
      concurrency: settings.concurrency,
      leaseMs,
      heartbeatMs: settings.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3)),
      graceMs: settings.graceMs,
      scratchDir: options.scratchDir ?? join(tmpdir(), 'eas-attempts'),
      keepFailedScratch: options.keepFailedScratch ?? false,
      baseEnv: options.baseEnv ?? inheritedEnvironment(),
      claimWaitMs: settings.claimWaitMs,
    };
    this.types = [
      ...(options.types ??
        options.registry
          .types()
          .filter((t) => !options.registry.isControlFlow(t.name))
          .map((t) => t.name)),
    ];
    for (const t of this.types) this.runnable(options.registry.get(t)); // fail fast on a type it cannot run
    if (options.dispatch) {
      this.boxes = options.queue.mailboxes;
      if (!this.boxes) {
        throw new EasError(
          'USAGE',
          `a dispatched worker needs the Redis queue; this queue is ${options.queue.backendName}`,
          { where: 'WorkerHarnessOptions.dispatch' },
        );
      }
    }
    this.log = (options.logger ?? silentLogger()).child({
      component: 'worker',
      workerId: this.workerId,
    });
  }

  /** This worker's own scratch directory: one per worker, so a dead worker's leftovers are known. */
  private get ownScratch(): string {
    return (this.scratchPath ??= join(this.o.scratchDir, scratchName(this.workerId)));
  }

  /**
   * Removes scratch directories left by workers of this host that died without cleaning up
   * (a SIGKILL): a worker's directory is removed once the task database knows it stopped or
   * its process is gone.
   */
  private async removeDeadScratch(): Promise<void> {
    const entries = await readdir(this.o.scratchDir).catch(() => [] as string[]);
    if (entries.length === 0) return;
    const live = new Set(
      (await this.o.db.workers('running'))
        .filter((w) => w.host !== hostname() || processAlive(w.pid))
        .map((w) => scratchName(w.id)),
    );
    for (const name of entries) {
      if (!name.startsWith('worker-') || live.has(name)) continue;
      await rm(join(this.o.scratchDir, name), { recursive: true, force: true });
    }
  }

  /** Attempts running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Dispatched workers: the attempts it takes at most now, running and held, as it tells the
   * dispatcher. Between 2 and 16 a slot, deeper the shorter its attempts have been (see the
   * cluster guide, "Dispatched workers"); 2 a slot before any attempt has ended.
   */
  get holdLimit(): number {
    return this.holdPerSlot() * this.o.concurrency;
  }

  /**
   * Claims and runs attempts until {@link stop}. Resolves after a graceful stop; rejects on a
   * fatal error (the database or queue unreachable).
   */
  async run(): Promise<void> {
    this.stopping = false;
    this.claimAbort = new AbortController();
    await this.removeDeadScratch();
    await this.o.db.registerWorker({
      id: this.workerId,
      host: hostname(),
      pid: process.pid,
      types: this.types,
      concurrency: this.o.concurrency,
    });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.o.heartbeatMs);
    this.heartbeatTimer.unref();
    this.log.info({ types: this.types.length, concurrency: this.o.concurrency }, 'worker started');
    try {
      if (this.boxes) {
        await this.runDispatched(this.boxes);
        return;
      }
      let failures = 0;
      let freeSince: number | undefined;
      while (!this.stopping) {
        if (this.startFailure) throw this.startFailure;
        try {
          // Slots: attempts claimed and starting, or executing. An ended attempt whose result
          // waits for its batch commit frees its slot, so the next batch fills while this one
          // commits; uncommitted results are bounded at twice the concurrency. A claim does not
          // wait for the previous batch's start: the two round trips overlap.
          const free = Math.min(
            this.o.concurrency - this.executing - this.starting - this.heldForTakes(),
            3 * this.o.concurrency - this.running.size - this.starting,
          );
          if (free <= 0 || this.starts.size >= STARTS_IN_FLIGHT) {
            if (free <= 0) freeSince = undefined;
            await new Promise<void>((resolve) => (this.slotFreed = resolve));
            continue;
          }
          if (free < Math.ceil(this.o.concurrency / 4) && this.executing + this.starting > 0) {
            // A few slots free while others run: wait briefly for more (CLAIM_LINGER_MS).
            freeSince ??= performance.now();
            const left = CLAIM_LINGER_MS - (performance.now() - freeSince);
            if (left > 0) {
              let timer: NodeJS.Timeout | undefined;
              await new Promise<void>((resolve) => {
                this.slotFreed = resolve;
                timer = setTimeout(resolve, left);
              });
              clearTimeout(timer);
              continue;
            }
          }
          freeSince = undefined;
          // The slots a claim asks for are spoken for until it returns: a commit meanwhile
          // takes released attempts only into the rest.
          this.claiming = free;
          let items;
          try {
            items = await this.o.queue.claim({
              owner: this.workerId,
              types: this.types,
              max: free,
              leaseMs: this.o.leaseMs,
              waitMs: this.o.claimWaitMs,
              signal: this.claimAbort.signal,
            });
          } finally {
            this.claiming = 0;
          }
          failures = 0;
          if (items.length === 0) {
            if (this.running.size === 0 && this.pending.length === 0 && this.starting === 0)
              this.emit('worker:idle');
            continue;
          }
          this.startClaimed(items.map((i) => i.attemptId));
        } catch (e) {
          if (!isTransientBackendError(e)) throw e;
          await this.backOff(e, 'claiming', failures++);
        }
      }
      await Promise.all(this.starts);
      // A commit under way may still start the dependents it released: they run before the
      // drain, which then waits for them too.
      await this.flush();
      await this.drain();
    } finally {
      // Also after a fatal error: the commits flushed below start nothing new.
      this.stopping = true;
      clearInterval(this.heartbeatTimer);
      await this.flush();
      await this.o.db.stopWorker(this.workerId).catch(() => undefined);
      this.log.info('worker stopped');
    }
  }

  /**
   * Stops gracefully: no new claims; running attempts get `graceMs` to finish, then are
   * aborted and handed back (re-queued as new attempts) so no work is lost.
   */
  stop(reason = 'stop requested'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason, inFlight: this.running.size }, 'worker stopping');
    this.claimAbort.abort();
    this.slotFreed?.();
  }

  /**
   * Starts claimed attempts in the task database and runs those it hands over; the others are
   * no longer ours (cancelled, superseded) and leave the queue. A start that fails while its
   * server is away is retried, so the items are not left to their lease's expiry; any other
   * failure stops the worker.
   */
  private startClaimed(attemptIds: number[]): void {
    this.starting += attemptIds.length;
    for (const id of attemptIds) this.startingIds.add(id);
    let counted = true;
    const started = (async () => {
      try {
        let tries = 0;
        const { payloads, stale } = await this.untilAvailable('starting attempts', () => {
          tries++;
          return this.o.db.startAttempts(attemptIds, this.workerInfo());
        });
        this.starting -= attemptIds.length;
        counted = false;
        for (const p of payloads) this.start(p);
        // A start tried again may have gone through the first time with its answer lost: its
        // attempts then come back stale here, yet run under this worker in the record.
        if (tries > 1) {
          for (const id of attemptIds) this.startingIds.delete(id);
          await this.handBackStrays();
        }
        if (stale.length > 0)
          await this.untilAvailable('completing stale items', () =>
            this.o.queue.complete(this.workerId, stale),
          );
      } catch (e) {
        this.startFailure ??= e instanceof Error ? e : new Error(String(e));
        this.claimAbort.abort();
      }
    })().finally(() => {
      if (counted) this.starting -= attemptIds.length;
      for (const id of attemptIds) this.startingIds.delete(id);
      this.starts.delete(started);
      this.wakeClaimer();
    });
    this.starts.add(started);
  }

  /**
   * The loop of a dispatched worker: tells the dispatcher its room, runs what arrives in its
   * mailbox, and on {@link stop} says goodbye, hands back whatever reached it after that, and
   * drains like a claiming worker.
   */
  private async runDispatched(boxes: Mailboxes): Promise<void> {
    const inbox = workerBox(this.workerId);
    let failures = 0;
    let said = false;
    while (!this.stopping) {
      try {
        if (!said || Date.now() - this.lastRoomAt >= ROOM_EVERY_MS) {
          await this.postEvent(boxes, { kind: 'room', ...this.roomInfo() });
          if (!said) this.log.info('waiting for the controller to dispatch attempts');
          said = true;
        }
        const messages = await boxes.take(inbox, 100, this.o.claimWaitMs, this.claimAbort.signal);
        failures = 0;
        for (const text of messages) this.receive(text);
        this.shedSurplus();
        if (messages.length === 0 && this.running.size === 0 && this.pending.length === 0)
          this.emit('worker:idle');
      } catch (e) {
        if (!isTransientBackendError(e)) throw e;
        await this.backOff(e, 'waiting for dispatched attempts', failures++);
      }
    }
    await this.shedding;
    // Nothing more is wanted: say so, and hand back what arrives until the dispatcher answers
    // (or a few seconds pass without one: no dispatcher runs).
    await this.untilAvailable('saying goodbye', () =>
      this.postEvent(boxes, { kind: 'bye', workerId: this.workerId }),
    );
    const until = Date.now() + Math.min(this.o.leaseMs, 5_000);
    const back: number[] = this.held.takeAll().map((p) => p.attemptId);
    for (let closed = false; !closed && Date.now() < until;) {
      const messages = await this.untilAvailable('reading the mailbox', () =>
        boxes.take(inbox, 100, Math.max(1, until - Date.now()), undefined),
      );
      for (const text of messages) {
        const d = this.delivery(text);
        if (d?.kind === 'closed') closed = true;
        else if (d) back.push(...d.payloads.map((p) => p.attemptId));
      }
    }
    if (back.length > 0) {
      this.log.info({ attempts: back.length }, 'handing back attempts not started');
      await this.handBack(back);
    }
    await this.flush();
    await this.drain();
  }

  /** Runs what the dispatcher sent, or keeps it until a slot frees. */
  private receive(text: string): void {
    const d = this.delivery(text);
    if (d?.kind !== 'attempts') return;
    this.received += d.payloads.length;
    const later: AttemptPayload[] = [];
    for (const p of d.payloads) {
      if (this.executing < this.o.concurrency) this.start(p);
      else later.push(p);
    }
    this.held.add(later, d.first);
  }

  /** A message of this worker's mailbox; undefined (logged) when it cannot be read. */
  private delivery(text: string): DispatchDelivery<AttemptPayload> | undefined {
    try {
      return fromWire(text) as DispatchDelivery<AttemptPayload>;
    } catch (e) {
      this.log.error({ err: e }, 'unreadable dispatch dropped');
      return undefined;
    }
  }

  /** What this worker can take, for the dispatcher (0 once stopping). */
  private roomInfo(): WorkerRoom {
    const capacity = this.stopping ? 0 : this.holdLimit;
    return {
      worker: this.workerInfo(),
      types: this.types,
      room: Math.max(0, capacity - this.executing - this.held.size),
      slots: this.o.concurrency,
      received: this.received,
    };
  }

  /**
   * Attempts a slot may have, running and held: one running and {@link DISPATCH_HOLD_MS} of
   * work after it by the mean duration so far (or the longest time an attempt has been running
   * now, if longer), within the bounds ({@link DISPATCH_HOLD_MIN_PER_SLOT} until an attempt has
   * ended).
   */
  private holdPerSlot(mean = this.expectedAttemptMs()): number {
    if (mean === undefined) return DISPATCH_HOLD_MIN_PER_SLOT;
    const wanted = 1 + Math.ceil(DISPATCH_HOLD_MS / Math.max(mean, 0.001));
    return Math.min(DISPATCH_HOLD_MAX_PER_SLOT, Math.max(DISPATCH_HOLD_MIN_PER_SLOT, wanted));
  }

  /**
   * How long an attempt of this worker takes, ms, as far as it can tell: the running mean of
   * those that ended, or the time the longest running one has taken so far if that is longer
   * (after a run of short attempts, the first long ones count at once, not only once they have
   * ended: else a worker would go on taking fifteen a slot of them while others wait for work).
   * Undefined before any attempt has ended.
   */
  private expectedAttemptMs(): number | undefined {
    if (this.meanAttemptMs === undefined) return undefined;
    let mean = this.meanAttemptMs;
    const now = performance.now();
    for (const r of this.running.values()) {
      if (!r.slotReleased) mean = Math.max(mean, now - r.startedAt);
    }
    return mean;
  }

  /**
   * Hands back the attempts held beyond the hold, when the hold has shrunk under them and they
   * would wait more than {@link SHED_AFTER_MS} for a slot: queued again, another worker with room
   * takes them. The newest go; dependents delivered first stay.
   */
  private shedSurplus(): void {
    if (this.shedding || this.stopping) return;
    const mean = this.expectedAttemptMs();
    if (mean === undefined) return;
    const limit = this.holdPerSlot(mean) * this.o.concurrency;
    const surplus = this.held.size - Math.max(0, limit - this.executing);
    if (surplus <= 0 || (this.held.size * mean) / this.o.concurrency <= SHED_AFTER_MS) return;
    const back = this.held.takeNewest(surplus).map((p) => p.attemptId);
    this.log.info({ attempts: back.length }, 'handing back attempts beyond the hold');
    this.shedding = this.handBack(back)
      .catch((e: unknown) => {
        this.log.error({ err: e }, 'handing back attempts beyond the hold failed');
        this.emit('worker:error', e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => (this.shedding = undefined));
  }

  private async postEvent(boxes: Mailboxes, event: DispatchEvent<AttemptOutcome>): Promise<void> {
    if (event.kind !== 'bye') this.lastRoomAt = Date.now();
    await boxes.post(DISPATCH_BOX, [toWire(event)], DISPATCH_BOX_KEEP);
  }

  /** Hands attempts back: stalled without counting, their items completed, queued again. */
  private async handBack(attemptIds: number[]): Promise<void> {
    const r = await this.untilAvailable('handing attempts back', () =>
      this.o.db.stallAttempts(attemptIds, { handBack: true }),
    );
    await this.afterAdopting(() =>
      this.untilAvailable('completing handed-back items', () =>
        this.o.queue.complete(this.workerId, attemptIds),
      ),
    );
    await this.untilAvailable('queueing handed-back tasks', () => this.o.queue.enqueue(r.ready));
  }

  private async drain(): Promise<void> {
    if (this.running.size === 0) return;
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.o.graceMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    const left = [...this.running.values()];
    this.log.warn({ attempts: left.length }, 'grace period over; handing running attempts back');
    for (const r of left)
      r.abort.abort(new EasError('CLOSED', 'worker stopping: attempt handed back'));
    await Promise.all(left.map((r) => r.done));
  }

  private start(payload: AttemptPayload): void {
    const abort = new AttemptAbort();
    const entry: Running = {
      payload,
      abort,
      logs: [],
      done: Promise.resolve(),
      slotReleased: false,
      startedAt: performance.now(),
    };
    this.running.set(payload.attemptId, entry);
    this.executing++;
    this.emit('attempt:started', payload);
    entry.done = this.execute(entry)
      .catch((e: unknown) => {
        this.log.error({ err: e, attemptId: payload.attemptId }, 'attempt crashed the harness');
        this.emit('worker:error', e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => {
        this.running.delete(payload.attemptId);
        this.releaseSlot(entry);
        this.wakeClaimer();
      });
  }

  /** The attempt's code has ended: one more attempt may start (see the claim loop). */
  private releaseSlot(entry: Running): void {
    if (entry.slotReleased) return;
    entry.slotReleased = true;
    this.executing--;
    const next = this.stopping ? undefined : this.held.next();
    if (next) this.start(next);
    this.wakeClaimer();
  }

  private wakeClaimer(): void {
    const wake = this.slotFreed;
    this.slotFreed = undefined;
    wake?.();
  }

  private async execute(entry: Running): Promise<void> {
    const { payload, abort } = entry;
    const type = this.o.registry.get(payload.taskType);
    const startedAt = Date.now();
    const cpu0 = processCpuMs();
    const needsDir =
      type.runner.kind === 'command' || payload.inputs.length > 0 || payload.outputs.length > 0;
    // Unique within this worker's own scratch directory (an attempt id may come back to it).
    // The scratch path is normalised once (join), so a plain separator makes the rest: `join`
    // normalises again each time, a measurable share of a no-op attempt.
    const workDir = `${this.ownScratch}${sep}attempt-${payload.attemptId}-${++this.attemptSeq}`;
    let task = this.taskFile(payload, workDir);
    let typedDescription = payload.description;
    const log = (level: LogLine['level'], stream: LogLine['stream'], message: string): void => {
      entry.logs.push({ ts: Date.now(), level, stream, message });
      if (entry.logs.length >= LOG_FLUSH_LINES) void this.flushLogs(entry);
    };
    let timeout: NodeJS.Timeout | undefined;
    if (type.timeoutMs !== undefined) {
      timeout = setTimeout(
        () => abort.abort(new EasError('TIMEOUT', `timed out after ${type.timeoutMs} ms`)),
        type.timeoutMs,
      );
    }

    let succeeded = false;
    let error: string | undefined;
    let traceback: string | undefined;
    let exitCode: number | null | undefined;
    let signal: string | null | undefined;
    let cpuMs = 0;
    let cpuChildrenMs = 0;
    let result: HandlerResult = {};
    let handedBack = false;
    try {
      if (EVALUATE_AT_START in payload.description) {
        // Fields that read requested_metadata are evaluated now that the providers passed QC.
        typedDescription = evaluateAtStart(
          payload.description,
          {
            metadata: payload.metadata,
            requestedMetadata: payload.requestedMetadata,
            seed: payload.jobSeed,
            path: payload.path,
          },
          this.resolver,
        );
        task = { ...task, description: unwrapFloats(typedDescription) as Record<string, unknown> };
      }
      if (needsDir) await this.stage(payload, task, workDir);
      if (type.runner.kind === 'command') {
        // Written so that 50.0 stays 50.0 for the science code's JSON reader.
        await writeFile(
          join(workDir, 'task.json'),
          stringifyKeepingFloats({ ...task, description: typedDescription }, 1),
        );
        const r = await runCommand({
          argv: [...type.runner.argv],
          cwd: type.runner.cwd,
          env: {
            ...this.o.baseEnv,
            ...type.runner.env,
            EAS_TASK_FILE: join(workDir, 'task.json'),
            EAS_RESULT_FILE: task.result_file,
            EAS_WORK_DIR: workDir,
          },
          signal: abort.signal,
          onLine: (stream, line) => log(stream === 'stderr' ? 'warn' : 'info', stream, line),
        });
        exitCode = r.exitCode;
        signal = r.signal;
        cpuMs = r.cpuMs;
        cpuChildrenMs = r.cpuChildrenMs;
        succeeded = r.exitCode === 0 && !r.timedOut && !r.aborted && r.spawnError === undefined;
        if (!succeeded) {
          traceback = r.stderrTail || undefined;
          error =
            r.spawnError ??
            (abort.aborted
              ? String((abort.reason as Error | undefined)?.message ?? 'aborted')
              : r.signal
                ? `killed by ${r.signal}`
                : `exit code ${r.exitCode}`);
        } else {
          result = await this.readResultFile(task.result_file);
        }
      } else {
        const def = await this.handlerFor(type);
        const harnessLog = this.log;
        let handlerLogger: Logger | undefined;
        const handlerResult = await raceAbort(
          Promise.resolve().then(() =>
            def.run({
              task,
              typedMetadata: payload.metadata,
              typedDescription,
              // Made when a handler asks for it (see AttemptAbort).
              get signal() {
                return abort.signal;
              },
              log: (level, message) => log(level, 'handler', message),
              // Made when a handler asks for it: most never log through it.
              get logger() {
                return (handlerLogger ??= harnessLog.child({
                  attemptId: payload.attemptId,
                  taskId: payload.taskId,
                  jobId: payload.jobId,
                }));
              },
            }),
          ),
          abort,
        );
        result = handlerResult ?? {};
        succeeded = true;
        cpuMs = processCpuMs() - cpu0;
        cpuChildrenMs = cpuMs;
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      succeeded = false;
      error = `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
      traceback = err.stack;
      if (cpuMs === 0) {
        cpuMs = processCpuMs() - cpu0;
        cpuChildrenMs = cpuMs;
      }
    } finally {
      clearTimeout(timeout);
    }
    if (abort.aborted && this.stopping && isHandBack(abort.reason)) handedBack = true;
    if (abort.aborted && isLeaseLost(abort.reason)) {
      // The lease is gone: the task database would refuse the report; drop it.
      await this.cleanup(workDir, needsDir, false);
      return;
    }

    const wallMs = performance.now() - entry.startedAt;
    this.meanAttemptMs =
      this.meanAttemptMs === undefined
        ? wallMs
        : this.meanAttemptMs + DURATION_EWMA_WEIGHT * (wallMs - this.meanAttemptMs);
    if (handedBack) {
      await this.handBack([payload.attemptId]);
      await this.cleanup(workDir, needsDir, false);
      return;
    }

    let outputs: OutputVersion[] = [];
    let qcPassed = false;
    let outputMetadata: TypedMetadata = {};
    try {
      outputMetadata = toTypedMetadata(result.metadata ?? {});
    } catch (e) {
      succeeded = false;
      error = `output metadata rejected: ${(e as Error).message}`;
    }
    if (succeeded) {
      try {
        const written: Record<string, { path: string; size: number }> = {};
        for (const o of payload.outputs) {
          const p = task.outputs[o.semanticType]!;
          const st = await stat(p).catch(() => undefined);
          if (st?.isFile()) written[o.semanticType] = { path: p, size: st.size };
        }
        const required = payload.outputs
          .filter((o) => !o.optional && !type.outputs.optional.includes(o.semanticType))
          .map((o) => o.semanticType);
        const qc: QcFunction =
          type.qc === 'none' ? () => ({ passed: true }) : ((await this.qcFor(type)) ?? defaultQc);
        const verdict = await qc({ task, written, required, metadata: outputMetadata });
        qcPassed = verdict.passed;
        if (!verdict.passed) error = verdict.reason ?? 'QC failed';
        for (const [sem, w] of Object.entries(written)) {
          const stored = await this.o.files.putFile(w.path);
          const fileMeta = result.fileMetadata?.[sem];
          outputs.push({
            semanticType: sem,
            sha256: stored.sha256,
            size: stored.size,
            ...(fileMeta ? { metadata: toTypedMetadata(fileMeta) } : {}),
          });
        }
      } catch (e) {
        qcPassed = false;
        error = `committing outputs failed: ${(e as Error).message}`;
        traceback = (e as Error).stack;
        outputs = [];
      }
    }
    if (error && !succeeded) log('error', 'harness', `attempt failed: ${error}`);
    else if (error) log('error', 'harness', `QC failed: ${error}`);

    const outcome: AttemptOutcome = {
      attemptId: payload.attemptId,
      workerId: this.workerId,
      succeeded,
      qcPassed: succeeded && qcPassed,
      error,
      traceback,
      exitCode: exitCode ?? null,
      signal: signal ?? null,
      startedAt,
      endedAt: Date.now(),
      wallMs,
      cpuMs,
      cpuChildrenMs,
      outputs,
      outputMetadata,
      logs: entry.logs.splice(0),
      retry: type.retry,
    };
    await this.cleanup(workDir, needsDir, !(succeeded && qcPassed) && this.o.keepFailedScratch);
    this.emit('attempt:finished', { payload, outcome });
    this.releaseSlot(entry);
    await this.report(payload, outcome);
  }

  /** Queues an outcome for the next batch commit and waits until it is committed. */
  private report(payload: AttemptPayload, outcome: AttemptOutcome): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.pending.length === 0) this.pendingSince = performance.now();
      this.pending.push({ payload, outcome, resolve });
      this.scheduleCommit();
    });
  }

  /**
   * Starts a batch commit on the next turn of the event loop (outcomes that end in the same
   * turn share it), unless {@link COMMITS_IN_FLIGHT} are already under way; each commit that
   * ends starts the next. Several commits in flight let the database flush them to disk
   * together, instead of one flush after the other. Beside a commit under way, a new one waits
   * for {@link SECOND_COMMIT_WAIT_MS} or half the slots' results, whichever comes first.
   */
  private scheduleCommit(): void {
    if (this.commitScheduled || this.pending.length === 0) return;
    if (this.commitsInFlight >= COMMITS_IN_FLIGHT) return;
    if (
      this.commitsInFlight > 0 &&
      !this.stopping &&
      this.pending.length < this.o.concurrency / 2
    ) {
      const wait = SECOND_COMMIT_WAIT_MS - (performance.now() - this.pendingSince);
      if (wait > 0) {
        this.commitTimer ??= setTimeout(() => {
          this.commitTimer = undefined;
          this.scheduleCommit();
        }, wait);
        return;
      }
    }
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      void this.commitBatch();
    });
  }

  private async commitBatch(): Promise<void> {
    if (this.pending.length === 0 || this.commitsInFlight >= COMMITS_IN_FLIGHT) return;
    const batch = this.pending.splice(0, 500);
    this.pendingSince = performance.now();
    if (this.boxes) return this.postResults(this.boxes, batch);
    this.commitsInFlight++;
    // The commit's slot is given back once the task database has answered: the next batch
    // commits while this one's queue steps run, so a result waits for one database round trip
    // at most, not for the queue calls of the batch before it.
    let slotHeld = true;
    const releaseCommitSlot = (): void => {
      if (!slotHeld) return;
      slotHeld = false;
      this.commitsInFlight--;
      this.queueStepsInFlight++;
      this.scheduleCommit();
    };
    // Free slots are held for the dependents this report releases: the task database starts
    // them under this worker in the same transaction, so a dependent runs the moment its last
    // provider is committed, without a trip through the queue. At most one slot per result
    // reported (a report rarely releases more), so claims go on beside the commit.
    let reserved = this.stopping
      ? 0
      : Math.max(
          0,
          Math.min(
            batch.length,
            this.o.concurrency - this.executing - this.starting - this.claiming,
          ),
        );
    this.starting += reserved;
    try {
      // Each step is retried alone while its server is away: the commit is refused as
      // stale if it had in fact gone through, and the queue steps are idempotent.
      const take =
        reserved > 0 ? { worker: this.workerInfo(), types: this.types, max: reserved } : undefined;
      let tries = 0;
      const result = await this.untilAvailable('committing results', () => {
        tries++;
        return this.o.db.finishAttempts(
          batch.map((b) => b.outcome),
          take,
        );
      });
      this.starting -= reserved;
      reserved = 0;
      for (const p of result.started) this.start(p);
      // A commit tried again may have gone through the first time with its answer lost: the
      // attempts it started for this worker then run nowhere. They are handed back at once.
      if (tries > 1 && take) await this.handBackStrays();
      releaseCommitSlot();
      // Released tasks are queued while the finished items are completed and the attempts
      // started here are recorded as this worker's leases (on Redis the calls share a round
      // trip): a dependent's wait does not include the completion.
      const committed = batch.map((b) => b.outcome.attemptId);
      await Promise.all([
        result.ready.length > 0 &&
          this.untilAvailable('queueing released tasks', () => this.o.queue.enqueue(result.ready)),
        result.started.length > 0 &&
          (this.adopting = this.afterAdopting(() =>
            this.untilAvailable('leasing started tasks', () =>
              this.o.queue.adopt(
                this.workerId,
                // A leased item's priority is never read: an item that leaves its lease is
                // re-queued by the controller as a new attempt with its job's priority.
                result.started.map((p) => ({
                  attemptId: p.attemptId,
                  taskType: p.taskType,
                  jobId: p.jobId,
                })),
                this.o.leaseMs,
              ),
            ),
          ).catch((e: unknown) => {
            this.log.warn({ err: e }, 'recording started attempts as leases failed');
          })),
        this.afterAdopting(() =>
          this.untilAvailable('completing queue items', () =>
            this.o.queue.complete(this.workerId, committed),
          ),
        ),
      ]);
      if (result.stale.length > 0)
        this.log.warn({ attempts: result.stale }, 'reports refused: attempts no longer ours');
      this.emit('batch:committed', result);
      for (const j of result.finishedJobs) this.emit('job:finished', j);
    } catch (e) {
      this.log.error({ err: e }, 'committing attempt results failed');
      this.emit('worker:error', e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.starting -= reserved;
      releaseCommitSlot();
      this.queueStepsInFlight--;
      for (const b of batch) b.resolve();
      this.wakeClaimer();
      if (this.allCommitted()) {
        for (const resolve of this.committedAll.splice(0)) resolve();
      }
    }
  }

  /**
   * A dispatched worker's "commit": its results go to the dispatcher, which records them. The
   * attempt's code has ended and its result is on its way; from here its lease is the
   * dispatcher's concern (an outcome lost before it is recorded comes back through lease expiry).
   */
  private async postResults(boxes: Mailboxes, batch: typeof this.pending): Promise<void> {
    this.commitsInFlight++;
    try {
      const event: DispatchEvent<AttemptOutcome> = {
        kind: 'results',
        outcomes: batch.map((b) => b.outcome),
        ...this.roomInfo(),
      };
      await this.untilAvailable('posting results', () => this.postEvent(boxes, event));
    } catch (e) {
      this.log.error({ err: e }, 'posting attempt results failed');
      this.emit('worker:error', e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.commitsInFlight--;
      for (const b of batch) b.resolve();
      this.scheduleCommit();
      if (this.allCommitted()) {
        for (const resolve of this.committedAll.splice(0)) resolve();
      }
    }
  }

  /**
   * Slots the claim loop leaves free for the dependents that results waiting for their commit
   * may release (see {@link commitBatch}): one per such result, at most a third of the slots. The
   * hold lasts only while a commit is under way, so it costs long attempts nothing; for short
   * ones it lets a dependent start in its provider's commit instead of queueing behind the
   * claims. Measured on the cluster DAG bench (2 workers × 32 slots): provider-to-dependent p99
   * 15–23 ms with a third held, 14–20 ms with half (and up to a fifth less throughput), 36–51
   * ms with none.
   */
  private heldForTakes(): number {
    // Results of a commit under way are not counted: that commit holds its own slots.
    return Math.min(this.pending.length, Math.ceil(this.o.concurrency / 3));
  }

  /**
   * Runs a queue call that removes this worker's items once the adopts sent before it have
   * landed, so an item is never recorded as leased after its attempt was completed.
   */
  private async afterAdopting<T>(op: () => Promise<T>): Promise<T> {
    await this.adopting;
    return op();
  }

  /**
   * Hands back attempts the task database has running under this worker that it does not run
   * (started by a start or commit whose answer was lost): stalled without counting, and queued
   * again.
   */
  private async handBackStrays(): Promise<void> {
    const ours = await this.untilAvailable('finding lost starts', () =>
      this.o.db.runningAttemptsOf([this.workerId]),
    );
    const strays = ours.filter((id) => !this.running.has(id) && !this.startingIds.has(id));
    if (strays.length === 0) return;
    this.log.warn({ attempts: strays }, 'a lost commit answer started attempts; handing them back');
    const r = await this.untilAvailable('handing back lost starts', () =>
      this.o.db.stallAttempts(strays, { handBack: true }),
    );
    await this.untilAvailable('queueing handed-back tasks', () => this.o.queue.enqueue(r.ready));
  }

  /** This worker as the task database records it on the attempts it starts. */
  private workerInfo(): { id: string; host: string; pid: number } {
    return { id: this.workerId, host: this.host, pid: process.pid };
  }

  /** Waits out a transient backend error: logs it and sleeps a growing backoff. */
  private backOff(e: unknown, doing: string, failures: number): Promise<void> {
    return waitOutTransient(this.log, e, doing, failures);
  }

  /** Runs `op`, retrying while it fails with a transient backend error. */
  private untilAvailable<T>(doing: string, op: () => Promise<T>): Promise<T> {
    return retryWhileTransient(this.log, doing, op);
  }

  /** Every reported outcome committed, its queue steps included. */
  private allCommitted(): boolean {
    return this.commitsInFlight === 0 && this.queueStepsInFlight === 0 && this.pending.length === 0;
  }

  /** Resolves when every reported outcome is committed. */
  private flush(): Promise<void> {
    if (this.allCommitted()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.committedAll.push(resolve);
      this.scheduleCommit();
    });
  }

  private async heartbeat(): Promise<void> {
    const ids = [...this.running.keys(), ...this.held.ids()];
    try {
      const held = new Set(
        ids.length ? await this.o.queue.extend(this.workerId, ids, this.o.leaseMs) : [],
      );
      const alive = new Set(await this.o.db.heartbeat(this.workerId, ids));
      if (alive.size > 0) this.emit('heartbeat', { attemptIds: [...alive] });
      for (const id of ids) {
        // The task database is the truth: an attempt it still has running under this worker
        // goes on even if the queue lost its item (the queue is a cache); only when the
        // database says the attempt is no longer ours (reaped, cancelled) is it stopped.
        if (!held.has(id) && alive.has(id))
          this.log.debug({ attemptId: id }, 'queue lost the lease; the attempt goes on');
        if (!alive.has(id)) {
          const r = this.running.get(id);
          if (r && !r.abort.aborted) {
            this.log.warn({ attemptId: id }, 'lease lost; stopping the attempt');
            this.emit('lease:lost', { attemptId: id });
            r.abort.abort(new EasError('LEASE_LOST', 'lease lost'));
          }
        }
      }
      for (const r of this.running.values()) if (r.logs.length > 0) await this.flushLogs(r);
    } catch (e) {
      if (isTransientBackendError(e)) this.log.warn({ err: e }, 'heartbeat failed: server away');
      else this.log.error({ err: e }, 'heartbeat failed');
    }
  }

  private async flushLogs(r: Running): Promise<void> {
    const lines = r.logs.splice(0);
    if (lines.length === 0) return;
    await this.o.db.appendLogs(
      lines.map((l) => ({
        ...l,
        attemptId: r.payload.attemptId,
        taskId: r.payload.taskId,
        jobId: r.payload.jobId,
      })),
    );
  }

  private taskFile(p: AttemptPayload, workDir: string): TaskFile {
    const inputs: Record<string, string> = {};
    const inputMetadata: Record<string, Record<string, unknown>> = {};
    for (const i of p.inputs) {
      inputs[i.semanticType] = join(workDir, 'inputs', i.filename);
      inputMetadata[i.semanticType] = toPlainMetadata(i.metadata);
    }
    const outputs: Record<string, string> = {};
    for (const o of p.outputs) outputs[o.semanticType] = join(workDir, 'outputs', o.filename);
    const requested: Record<string, Record<string, unknown>> = {};
    for (const [name, m] of Object.entries(p.requestedMetadata))
      requested[name] = toPlainMetadata(m);
    return {
      attempt_id: p.attemptId,
      attempt_number: p.attemptNumber,
      task_id: p.taskId,
      job_id: p.jobId,
      job_name: p.jobName,
      task_type: p.taskType,
      name: p.name,
      path: p.path,
      working_directory: p.workingDirectory,
      description: unwrapFloats(p.description) as Record<string, unknown>,
      metadata: toPlainMetadata(p.metadata),
      requested_metadata: requested,
      inputs,
      input_metadata: inputMetadata,
      outputs,
      result_file: `${workDir}${sep}result.json`,
      work_dir: workDir,
    };
  }

  private async stage(p: AttemptPayload, task: TaskFile, workDir: string): Promise<void> {
    await mkdir(join(workDir, 'outputs'), { recursive: true });
    for (const o of Object.values(task.outputs)) await mkdir(dirname(o), { recursive: true });
    for (const i of p.inputs) {
      const dest = task.inputs[i.semanticType]!;
      await mkdir(dirname(dest), { recursive: true });
      await this.o.files.materialize(i.sha256, dest);
    }
  }

  private async readResultFile(path: string): Promise<HandlerResult> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return {};
    }
    if (text.trim() === '') return {};
    return { metadata: toPlainTyped(parseTypedMetadataJson(text, 'EAS_RESULT_FILE')) };
  }

  private async cleanup(workDir: string, created: boolean, keep: boolean): Promise<void> {
    if (created && !keep) await rm(workDir, { recursive: true, force: true });
  }

  private runnable(type: ResolvedTaskType): void {
    if (type.runner.kind === 'builtin' && !this.o.handlers[type.name]) {
      throw new EasError(
        'REGISTRY_INVALID',
        `Task type ${type.name} is built in, but this worker has no handler for it.`,
        {
          where: type.name,
        },
      );
    }
    if (type.runner.kind === 'controller') {
      throw new EasError(
        'USAGE',
        `Task type ${type.name} is control flow: the controller expands it, workers never run it.`,
        {
          where: type.name,
        },
      );
    }
  }

  private handlerFor(type: ResolvedTaskType): Promise<HandlerDefinition> {
    if (type.runner.kind === 'builtin') return Promise.resolve(this.o.handlers[type.name]!);
    if (type.runner.kind !== 'module')
      throw new EasError('INTERNAL', `no in-process handler for ${type.name}`);
    const { modulePath, exportName } = type.runner;
    const key = `${modulePath}#${exportName}`;
    let def = this.modules.get(key);
    if (!def) {
      def = import(pathToFileURL(modulePath).href).then((mod: Record<string, unknown>) => {
        const exported = mod[exportName];
        if (typeof exported === 'function') return { run: exported as HandlerDefinition['run'] };
        if (exported && typeof (exported as HandlerDefinition).run === 'function')
          return exported as HandlerDefinition;
        throw new EasError(
          'REGISTRY_INVALID',
          `Module ${modulePath} has no function export "${exportName}" for task type ${type.name}.`,
          { where: type.source },
        );
      });
      this.modules.set(key, def);
    }
    return def;
  }

  private async qcFor(type: ResolvedTaskType): Promise<QcFunction | undefined> {
    if (type.runner.kind === 'builtin' || type.runner.kind === 'module')
      return (await this.handlerFor(type)).qc;
    return undefined;
  }
}

/** Typed metadata back to plain values, floats wrapped so they stay floats when typed again. */
function toPlainTyped(m: TypedMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v.type === 'float' ? float(v.value) : v.value;
  return out;
}

/** The scratch directory name of a worker id (ids hold `:`, kept readable but path-safe). */
function scratchName(workerId: string): string {
  return `worker-${workerId.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

function isHandBack(reason: unknown): boolean {
  return reason instanceof EasError && reason.code === 'CLOSED';
}

function isLeaseLost(reason: unknown): boolean {
  return reason instanceof EasError && reason.code === 'LEASE_LOST';
}

let cpuReading: { ms: number; at: number } | undefined;

/**
 * The process's CPU time (user + system, ms), read again only when the last reading is more
 * than 1 ms old: attempts that start or end close together share one reading, so a figure is
 * off by the process CPU of about 1 ms of wall time, either way. In-process handlers share the
 * process, so their CPU figure is the process's over the attempt either way; the reading is a
 * system call that cost tens of µs a call on the 2-core bench machine, twice per attempt, and
 * under load a turn of the event loop is often shorter than that.
 */
function processCpuMs(): number {
  const now = performance.now();
  if (cpuReading === undefined || now - cpuReading.at > 1) {
    const u = process.cpuUsage();
    cpuReading = { ms: (u.user + u.system) / 1000, at: now };
  }
  return cpuReading.ms;
}
