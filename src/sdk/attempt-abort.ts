/**
 * An attempt's abort switch, with the `AbortSignal` made only when something asks for it.
 *
 * A harness aborts an attempt on timeout, lease loss or a stop, and each attempt needs a way to
 * be aborted; but most in-process handlers never read their signal, and an `AbortController`
 * with its `EventTarget` cost about 11 µs an attempt in the cluster bench's workers (a no-op
 * attempt's whole budget there is about 200 µs). The harness itself waits on
 * {@link AttemptAbort.onAbort}, a plain callback list.
 */
export class AttemptAbort {
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;
  private listeners: (() => void)[] | undefined;

  /** Whether {@link abort} was called. */
  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  /** The reason given to {@link abort}; undefined before. */
  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  /** An `AbortSignal` that aborts with this switch (already aborted if it was), made once. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /** Aborts once with `reason`; later calls do nothing. Runs the listeners, then the signal's. */
  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const l of listeners) l();
    this.controller?.abort(reason);
  }

  /**
   * Calls `listener` once when the switch aborts (at once if it has). Returns a function that
   * removes it.
   */
  onAbort(listener: () => void): () => void {
    if (this.abortedWith) {
      listener();
      return () => undefined;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const i = this.listeners?.indexOf(listener) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }
}

/** Settles as `promise` does, or rejects with the switch's reason as soon as it aborts. */
export function raceAbort<T>(promise: Promise<T>, abort: AttemptAbort): Promise<T> {
  if (abort.aborted) return Promise.reject(abort.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const off = abort.onAbort(() => reject(abort.reason as Error));
    promise.then(
      (v) => {
        off();
        resolve(v);
      },
      (e: unknown) => {
        off();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
