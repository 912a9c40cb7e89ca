import { silentLogger, type Logger, type SessionLock } from '../core/index.js';
import { TypedEmitter } from '../core/index.js';

/** Options of {@link LeaderElection}. */
export interface LeaderElectionOptions {
  /** The lock whose holder leads (`db.sql.sessionLock('controller')`). */
  lock: SessionLock;
  /**
   * How often a standby tries the lock and the leader checks it still holds it, ms. A standby
   * takes over at most this long after the leader died. @defaultValue 1000
   */
  checkMs?: number;
  /** After the leading function failed, how long before trying again, ms. @defaultValue 2000 */
  retryMs?: number;
  /** Logger; binds `{ component: 'leader' }`. @defaultValue silent */
  logger?: Logger;
}

/** Events of {@link LeaderElection}. */
export interface LeaderElectionEvents {
  /** This process took the lock and starts leading. */
  'leader:elected': [];
  /** This process waits: another holds the lock. Emitted once per wait. */
  'leader:standby': [];
  /** This process lost the lock while leading (its connection to the server dropped). */
  'leader:lost': [];
}

/** Where a {@link LeaderElection} stands. */
export type LeaderRole = 'starting' | 'standby' | 'leader' | 'stopped';

/**
 * One active leader among processes sharing a database (DESIGN §5: one active controller at a
 * time). Each process runs `run(lead)`; the one holding the lock runs `lead(signal)`, the others
 * wait as standbys and try the lock every `checkMs`. The lock is released by the server when the
 * leader's process dies, so a standby takes over within `checkMs` of that. A leader that finds
 * it no longer holds the lock (its connection dropped, e.g. a database restart) aborts `signal`,
 * waits for `lead` to return, and competes again; so does one whose `lead` failed.
 *
 * Two leaders can overlap only for the moment between a lost connection and the next check;
 * everything a controller does is a guarded transaction in the task database, so an overlap
 * repeats work at worst (a reap, a reconcile) and never duplicates it.
 */
export class LeaderElection extends TypedEmitter<LeaderElectionEvents> {
  private readonly lock: SessionLock;
  private readonly checkMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  private stopping = new AbortController();
  private current: LeaderRole = 'starting';

  constructor(options: LeaderElectionOptions) {
    super();
    this.lock = options.lock;
    this.checkMs = options.checkMs ?? 1000;
    this.retryMs = options.retryMs ?? 2000;
    this.log = (options.logger ?? silentLogger()).child({ component: 'leader' });
  }

  /** Where this process stands now. */
  get role(): LeaderRole {
    return this.current;
  }

  /**
   * Competes for the lock and leads while holding it, until {@link stop}. Resolves after the
   * lock is released.
   */
  async run(lead: (signal: AbortSignal) => Promise<void>): Promise<void> {
    this.stopping = new AbortController();
    const stopped = this.stopping.signal;
    try {
      while (!stopped.aborted) {
        let held = false;
        try {
          held = await this.lock.tryAcquire();
        } catch (e) {
          this.log.warn({ err: e }, 'cannot reach the lock; trying again');
        }
        if (!held) {
          if (this.current !== 'standby') {
            this.current = 'standby';
            this.log.info({ lock: this.lock.name }, 'another process leads; standing by');
            this.emit('leader:standby');
          }
          await sleep(this.checkMs, stopped);
          continue;
        }
        this.current = 'leader';
        this.log.info({ lock: this.lock.name }, 'leading');
        this.emit('leader:elected');
        const failed = await this.leadWhileHeld(lead, stopped);
        await this.lock.release().catch(() => undefined);
        if (failed && !stopped.aborted) await sleep(this.retryMs, stopped);
      }
    } finally {
      this.current = 'stopped';
      await this.lock.release().catch(() => undefined);
    }
  }

  /** Stops competing; a leader's `lead` is aborted and awaited before `run` resolves. */
  stop(): void {
    this.stopping.abort();
  }

  /** Runs `lead` and checks the lock every `checkMs`; true when `lead` failed. */
  private async leadWhileHeld(
    lead: (signal: AbortSignal) => Promise<void>,
    stopped: AbortSignal,
  ): Promise<boolean> {
    const leading = new AbortController();
    const onStop = (): void => leading.abort();
    stopped.addEventListener('abort', onStop, { once: true });
    let ended = false;
    let failed = false;
    const done = lead(leading.signal).then(
      () => {
        ended = true;
      },
      (e: unknown) => {
        ended = true;
        failed = true;
        this.log.error({ err: e }, 'the leader failed; competing again');
      },
    );
    try {
      while (!ended && !leading.signal.aborted) {
        await Promise.race([done, sleep(this.checkMs, leading.signal)]);
        if (ended || leading.signal.aborted) break;
        if (!(await this.lock.verify())) {
          this.log.warn({ lock: this.lock.name }, 'lost the lock; stepping down');
          this.current = 'standby';
          this.emit('leader:lost');
          leading.abort();
        }
      }
    } finally {
      leading.abort();
      stopped.removeEventListener('abort', onStop);
      await done;
    }
    return failed;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
