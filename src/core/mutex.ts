/**
 * An async mutual-exclusion lock: `run(fn)` waits for every earlier holder, then runs `fn`.
 * Used where one connection must not interleave two transactions.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = false;

  /** True while some `run` callback is executing. */
  get locked(): boolean {
    return this.held;
  }

  /** Runs `fn` when the lock is free; the lock is released when `fn` settles. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(async () => {
      this.held = true;
      try {
        return await fn();
      } finally {
        this.held = false;
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
