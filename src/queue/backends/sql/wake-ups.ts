import { EventEmitter } from 'node:events';

/**
 * In-process wake-ups of waiting claims. Several SQL queue backends in one process may share
 * one database (a controller and its embedded workers each open one), so the channel is keyed
 * by the database's URL, not by the backend instance. Claimers in other processes learn about
 * new work by polling.
 *
 * A sequence number per channel closes the gap between "the claim found nothing" and "the
 * claimer starts listening": a claimer notes the number before it reads the table and waits
 * only if it has not moved since.
 */
export class WakeUps {
  private static shared: WakeUps | undefined;
  private readonly emitter = new EventEmitter();
  private readonly sequence = new Map<string, number>();

  private constructor() {
    // One listener per waiting claim; hundreds are normal, so the leak warning would mislead.
    this.emitter.setMaxListeners(0);
  }

  /** The process-wide instance (made on first use: nothing happens at import time). */
  static get(): WakeUps {
    return (WakeUps.shared ??= new WakeUps());
  }

  /** The channel's current sequence number. */
  seq(channel: string): number {
    return this.sequence.get(channel) ?? 0;
  }

  /** Tells waiters on `channel` that items of `types` were enqueued. */
  notify(channel: string, types: ReadonlySet<string>): void {
    this.sequence.set(channel, this.seq(channel) + 1);
    this.emitter.emit(channel, types);
  }

  /**
   * Resolves after `ms`, when items of one of `types` are enqueued on `channel`, when
   * `signal` aborts, or when `cancel` is called through the returned handle — whichever comes
   * first. Resolves at once if the channel moved past `seenSeq`.
   */
  wait(
    channel: string,
    types: ReadonlySet<string>,
    seenSeq: number,
    ms: number,
    signal: AbortSignal | undefined,
    register: (cancel: () => void) => () => void,
  ): Promise<void> {
    if (this.seq(channel) !== seenSeq || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onEnqueue = (enqueued: ReadonlySet<string>): void => {
        for (const t of enqueued) {
          if (types.has(t)) return done();
        }
      };
      const timer = setTimeout(done, ms);
      const unregister = register(done);
      this.emitter.on(channel, onEnqueue);
      signal?.addEventListener('abort', done, { once: true });
      const emitter = this.emitter;
      function done(): void {
        clearTimeout(timer);
        emitter.off(channel, onEnqueue);
        signal?.removeEventListener('abort', done);
        unregister();
        resolve();
      }
    });
  }
}
