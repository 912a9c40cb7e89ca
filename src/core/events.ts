import { EventEmitter } from 'node:events';

/**
 * An EventEmitter whose event names and payloads are typed by a map
 * (`{ 'attempt:claimed': [AttemptPayload] }`). Events are named `noun:verb` (STYLE §3).
 */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends keyof Events & string>(
    event: K,
    listener: (...args: Events[K]) => void,
  ): () => void {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return () => this.emitter.off(event, listener as (...args: unknown[]) => void);
  }

  /** Subscribes for one call. */
  once<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): void {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
  }

  /** Unsubscribes. */
  off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): void {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
  }

  /** Emits to every listener; a listener that throws does not stop the others. */
  protected emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
    // Most events of a busy worker have no listener: skip the copy of the listener list.
    if (this.emitter.listenerCount(event) === 0) return;
    for (const l of this.emitter.listeners(event)) {
      try {
        (l as (...a: unknown[]) => void)(...args);
      } catch {
        // A listener's failure is its own; the emitter keeps going.
      }
    }
  }
}
