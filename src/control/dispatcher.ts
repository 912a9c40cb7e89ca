import {
  fromWire,
  isTransientBackendError,
  retryWhileTransient,
  silentLogger,
  toWire,
  waitOutTransient,
  type Logger,
} from '../core/index.js';
import {
  DISPATCH_BOX,
  workerBox,
  type DispatchDelivery,
  type DispatchEvent,
  type JobQueue,
  type Mailboxes,
  type WorkerRoom,
} from '../queue/index.js';
import type { AttemptOutcome, AttemptPayload, TaskDatabase, WorkerInfo } from '../taskdb/index.js';

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  db: TaskDatabase;
  /** A queue with mailboxes (Redis); without them the dispatcher has nothing to do. */
  queue: JobQueue;
  /** Lease of the attempts it claims and starts for workers, ms. */
  leaseMs: number;
  logger?: Logger;
}

/** A worker the dispatcher serves, as it knows it. */
interface Served {
  worker: WorkerInfo;
  types: string[];
  /** Its room as it last said. */
  room: number;
  /** Its slots (concurrency). */
  slots: number;
  /** Attempts it had taken from its mailbox when it last said so. */
  received: number;
  /** Attempts posted to it (or promised, while a claim or commit is under way). */
  sent: number;
  seenAt: number;
  closing: boolean;
}

/** Outcomes committed in one transaction at most. */
const MAX_BATCH = 1_000;
/**
 * Commits under way at once. Two: results that arrive while one commits go into the next at
 * once instead of waiting for it (a dependent's start waits for at most one commit before its
 * own), and the database still gets batches; the lifecycle's locks are taken in id order, as
 * between the commits of several claiming workers.
 */
const COMMITS_IN_FLIGHT = 2;
/**
 * Beside a commit under way, results wait this long, ms, or until there are
 * {@link SECOND_COMMIT_MIN} of them, before a second commit takes them: a commit of a few
 * results pays a transaction's fixed cost for little.
 */
const SECOND_COMMIT_WAIT_MS = 3;
/** See {@link SECOND_COMMIT_WAIT_MS}. */
const SECOND_COMMIT_MIN = 64;
/** How long one wait for events lasts before the loop looks around (silent workers, stop). */
const EVENT_WAIT_MS = 1_000;
/** Claims for workers with room found nothing: look again after this, doubling… */
const POLL_MIN_MS = 2;
/** …up to this (work queued by others, e.g. a submission, starts within it). */
const POLL_MAX_MS = 50;

/**
 * The dispatcher (DESIGN §9, cluster throughput): runs in the leading controller and records the
 * hot path of the task lifecycle for the workers that ask for it (`eas worker --dispatch`), so
 * the task database gets a few large transactions instead of many small ones, one per worker
 * and batch.
 *
 * A served worker posts its room (and, with it, the outcomes of the attempts it ran) to the
 * dispatcher's mailbox. The dispatcher claims ready attempts from the queue in the worker's
 * name, fairly across its task types, starts them in the task database and posts their payloads
 * to the worker's mailbox; leases, heartbeats, lease expiry and `releaseOwner` work as for a
 * worker that claims itself. It commits the outcomes of every worker in one transaction, which
 * also starts the attempts it releases for the worker with the most room (so a dependent starts
 * the moment its last provider is recorded), queues the rest and completes the items.
 *
 * Failures: an outcome taken from the mailbox but not committed when the controller dies is
 * lost with it; its attempt's lease, no longer extended by the worker that ran it, expires and
 * the attempt runs again (at-least-once; the lost report never lands, so no attempt is recorded
 * twice). Events still in the mailbox wait for the next leader. A worker silent for a lease is
 * forgotten and its mailbox removed; what it held comes back through lease expiry.
 */
export class Dispatcher {
  private readonly served = new Map<string, Served>();
  private outcomes: AttemptOutcome[] = [];
  /** Commits under way (at most {@link COMMITS_IN_FLIGHT}). */
  private readonly finishing = new Set<Promise<void>>();
  /** When the oldest result waiting for a commit arrived (performance.now()). */
  private waitingSince = 0;
  private dispatching: Promise<void> | undefined;
  private failure: unknown;
  private pollMs = 0;
  private nextPollAt = 0;
  /** The next look ({@link kickIn}): a second commit's wait or an empty claim's poll. */
  private kickTimer: NodeJS.Timeout | undefined;
  private kickAt = 0;
  private stopped = false;
  private readonly log: Logger;
  /** Counts since construction: commits and the outcomes they recorded, starts and their attempts. */
  readonly stats = { commits: 0, outcomes: 0, taken: 0, starts: 0, started: 0 };

  constructor(private readonly o: DispatcherOptions) {
    this.log = (o.logger ?? silentLogger()).child({ component: 'dispatcher' });
  }

  /** Workers served now (metrics, tests). */
  get workers(): number {
    return this.served.size;
  }

  /**
   * Serves workers until `signal` aborts, then waits for the commits under way. Returns at once
   * when the queue has no mailboxes (the SQL queue).
   *
   * @throws what a commit or a start threw that was not a server being away.
   */
  async run(signal: AbortSignal): Promise<void> {
    const boxes = this.o.queue.mailboxes;
    if (!boxes) return;
    this.stopped = false;
    let failures = 0;
    try {
      while (!signal.aborted && this.failure === undefined) {
        let messages: string[];
        try {
          messages = await boxes.take(DISPATCH_BOX, MAX_BATCH, EVENT_WAIT_MS, signal);
          failures = 0;
        } catch (e) {
          if (!isTransientBackendError(e)) throw e;
          await waitOutTransient(this.log, e, 'reading worker events', failures++);
          continue;
        }
        for (const text of messages) this.apply(text, boxes);
        if (messages.length > 0) this.pollMs = 0;
        this.forgetSilent(boxes);
        this.kick(boxes);
      }
    } finally {
      this.stopped = true;
      clearTimeout(this.kickTimer);
      await Promise.all([...this.finishing, this.dispatching]);
      this.log.info({ ...this.stats }, 'dispatcher stopped');
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private apply(text: string, boxes: Mailboxes): void {
    let event: DispatchEvent<AttemptOutcome>;
    try {
      event = fromWire(text) as DispatchEvent<AttemptOutcome>;
    } catch (e) {
      this.log.error({ err: e }, 'unreadable worker event dropped');
      return;
    }
    if (event.kind === 'bye') {
      const w = this.served.get(event.workerId);
      const closed = (): Promise<void> =>
        this.post(boxes, event.workerId, { kind: 'closed' }).catch((e: unknown) =>
          this.log.warn({ err: e, workerId: event.workerId }, 'could not answer a goodbye'),
        );
      if (!w) {
        void closed();
        return;
      }
      w.closing = true;
      // Whatever is under way for it lands first; then nothing more comes.
      void Promise.all([this.dispatching, ...this.finishing]).then(async () => {
        await closed();
        if (this.served.get(event.workerId) === w) this.served.delete(event.workerId);
      });
      return;
    }
    this.note(event);
    if (event.kind === 'results') {
      if (this.outcomes.length === 0) this.waitingSince = performance.now();
      this.outcomes.push(...event.outcomes);
    }
  }

  /** Records what a worker said of itself. The first word from it sets what it has received as sent. */
  private note(r: WorkerRoom): void {
    const now = Date.now();
    const w = this.served.get(r.worker.id);
    if (!w) {
      // A worker without room (one that is stopping, or full) is served once it has some.
      if (r.room <= 0) return;
      this.served.set(r.worker.id, {
        worker: r.worker,
        types: r.types,
        room: r.room,
        slots: r.slots,
        received: r.received,
        sent: r.received,
        seenAt: now,
        closing: false,
      });
      this.log.info({ workerId: r.worker.id, room: r.room }, 'serving a worker');
      return;
    }
    w.types = r.types;
    w.room = r.room;
    w.slots = r.slots;
    // Events arrive in order, so what it received only grows; a worker that started again
    // under the same id counts from zero, and what was sent to its old self is gone.
    if (r.received < w.received) w.sent = r.received;
    w.received = r.received;
    w.seenAt = now;
  }

  /**
   * Counts nothing as on its way to any worker: called when the queue lost its data (Redis
   * restarted empty), which took the mailboxes and what they held with it. Without this, a
   * worker whose deliveries were lost would look full for ever.
   */
  forgetInTransit(): void {
    for (const w of this.served.values()) w.sent = w.received;
  }

  /** What may be sent to `w` now: its room less what is on its way to it. */
  private free(w: Served): number {
    return w.closing ? 0 : Math.max(0, w.room - (w.sent - w.received));
  }

  private forgetSilent(boxes: Mailboxes): void {
    const before = Date.now() - this.o.leaseMs;
    for (const [id, w] of this.served) {
      if (w.seenAt >= before) continue;
      this.served.delete(id);
      this.log.warn({ workerId: id }, 'worker silent for a lease: no longer served');
      boxes.remove([workerBox(id)]).catch(() => undefined);
    }
  }

  /** Starts a commit and a dispatch where there is something to do and none is under way. */
  private kick(boxes: Mailboxes): void {
    if (this.stopped || this.failure !== undefined) return;
    while (this.finishing.size < COMMITS_IN_FLIGHT && this.outcomes.length > 0) {
      if (this.finishing.size > 0 && this.outcomes.length < SECOND_COMMIT_MIN) {
        const wait = SECOND_COMMIT_WAIT_MS - (performance.now() - this.waitingSince);
        if (wait > 0) {
          this.kickIn(boxes, wait);
          break;
        }
      }
      const commit = this.step(boxes, this.finish(boxes), () => this.finishing.delete(commit));
      this.finishing.add(commit);
    }
    if (this.dispatching || ![...this.served.values()].some((w) => this.free(w) > 0)) return;
    const wait = this.nextPollAt - Date.now();
    if (wait > 0) {
      this.kickIn(boxes, wait);
      return;
    }
    this.dispatching = this.step(boxes, this.dispatch(boxes), () => (this.dispatching = undefined));
  }

  /** A commit or a dispatch under way: a failure stops the dispatcher; its end looks again. */
  private step(boxes: Mailboxes, work: Promise<void>, ended: () => void): Promise<void> {
    return work
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        ended();
        this.kick(boxes);
      });
  }

  /** Looks again in `ms` (or sooner, if a look is already due sooner). */
  private kickIn(boxes: Mailboxes, ms: number): void {
    const at = performance.now() + ms;
    if (this.kickTimer && this.kickAt <= at) return;
    clearTimeout(this.kickTimer);
    this.kickAt = at;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      this.kick(boxes);
    }, ms);
  }

  private fail(e: unknown): void {
    this.log.error({ err: e }, 'dispatching failed');
    this.failure ??= e;
  }

  /**
   * Commits outcomes of every worker in one transaction; the attempts it releases start under
   * the worker with the most room, in the same transaction: up to its room and one more set of
   * its slots, since they go before what it holds of their type (a dependent does not queue
   * behind the attempts claimed before its provider ended, and a full worker still moves a
   * chain on).
   */
  private async finish(boxes: Mailboxes): Promise<void> {
    const batch = this.outcomes.splice(0, MAX_BATCH);
    this.waitingSince = performance.now();
    let taker: Served | undefined;
    for (const w of this.served.values()) {
      if (!w.closing && (!taker || this.free(w) > this.free(taker))) taker = w;
    }
    const max = taker ? this.free(taker) + taker.slots : 0;
    // The room is promised while the commit is under way, so no claim takes it meanwhile.
    if (taker) taker.sent += max;
    let result;
    try {
      result = await retryWhileTransient(this.log, 'committing results', () =>
        this.o.db.finishAttempts(
          batch,
          taker ? { worker: taker.worker, types: taker.types, max } : undefined,
        ),
      );
    } finally {
      if (taker) taker.sent -= max;
    }
    this.stats.commits++;
    this.stats.outcomes += batch.length;
    this.stats.taken += result.started.length;
    if (taker && result.started.length > 0) {
      taker.sent += result.started.length;
      const id = taker.worker.id;
      await retryWhileTransient(this.log, 'leasing started attempts', () =>
        this.o.queue.adopt(
          id,
          result.started.map((p) => ({
            attemptId: p.attemptId,
            taskType: p.taskType,
            jobId: p.jobId,
          })),
          this.o.leaseMs,
        ),
      );
      await this.post(boxes, id, { kind: 'attempts', payloads: result.started, first: true });
    }
    const byWorker = new Map<string, number[]>();
    for (const o of batch) {
      const ids = byWorker.get(o.workerId) ?? [];
      ids.push(o.attemptId);
      byWorker.set(o.workerId, ids);
    }
    await Promise.all([
      result.ready.length > 0 &&
        retryWhileTransient(this.log, 'queueing released attempts', () =>
          this.o.queue.enqueue(result.ready),
        ),
      ...[...byWorker].map(([owner, ids]) =>
        retryWhileTransient(this.log, 'completing queue items', () =>
          this.o.queue.complete(owner, ids),
        ),
      ),
    ]);
    if (result.stale.length > 0)
      this.log.warn({ attempts: result.stale }, 'reports refused: attempts no longer theirs');
  }

  /** Claims for every worker with room, starts the claimed attempts and posts them. */
  private async dispatch(boxes: Mailboxes): Promise<void> {
    const claimed: [Served, number[]][] = [];
    // One claim per worker with room, all at once (each is a round trip to the queue).
    await Promise.all(
      [...this.served.values()].map(async (w) => {
        const n = this.free(w);
        if (n <= 0) return;
        w.sent += n; // promised while the claim is under way
        let items;
        try {
          items = await retryWhileTransient(this.log, 'claiming for workers', () =>
            this.o.queue.claim({
              owner: w.worker.id,
              types: w.types,
              max: n,
              leaseMs: this.o.leaseMs,
            }),
          );
        } finally {
          w.sent -= n;
        }
        if (items.length === 0) return;
        w.sent += items.length;
        claimed.push([w, items.map((i) => i.attemptId)]);
      }),
    );
    if (claimed.length === 0) {
      this.pollMs = Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, this.pollMs * 2));
      this.nextPollAt = Date.now() + this.pollMs;
      return;
    }
    this.pollMs = 0;
    this.nextPollAt = 0;
    await Promise.all(claimed.map(([w, ids]) => this.startFor(boxes, w, ids)));
  }

  private async startFor(boxes: Mailboxes, w: Served, ids: number[]): Promise<void> {
    let tries = 0;
    const { payloads, stale } = await retryWhileTransient(this.log, 'starting attempts', () => {
      tries++;
      return this.o.db.startAttempts(ids, w.worker);
    });
    w.sent -= ids.length - payloads.length;
    this.stats.starts++;
    this.stats.started += payloads.length;
    if (payloads.length > 0) await this.post(boxes, w.worker.id, { kind: 'attempts', payloads });
    if (stale.length === 0) return;
    await retryWhileTransient(this.log, 'completing stale items', () =>
      this.o.queue.complete(w.worker.id, stale),
    );
    // A start tried again may have gone through the first time with its answer lost: those
    // attempts run under the worker in the record, and it never got them. Hand them back.
    if (tries === 1) return;
    const staleSet = new Set(stale);
    const lost = (await this.o.db.runningAttemptsOf([w.worker.id])).filter((id) =>
      staleSet.has(id),
    );
    if (lost.length === 0) return;
    const r = await this.o.db.stallAttempts(lost, { handBack: true });
    await this.o.queue.enqueue(r.ready);
  }

  private post(
    boxes: Mailboxes,
    workerId: string,
    delivery: DispatchDelivery<AttemptPayload>,
  ): Promise<void> {
    return retryWhileTransient(this.log, 'posting to a worker', () =>
      boxes.post(workerBox(workerId), [toWire(delivery)]),
    );
  }
}
