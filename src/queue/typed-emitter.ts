import { EventEmitter } from 'node:events';

/** Event name → the argument list its listeners receive. */
export type EventMap<Events> = { [K in keyof Events]: unknown[] };

/**
 * A small typed wrapper over Node's EventEmitter: `on('item:claimed', (e) => …)` knows the
 * payload's type. Only `on`, `once`, `off` are public; the owner emits.
 */
export class TypedEventEmitter<Events extends EventMap<Events>> {
  private readonly emitter = new EventEmitter();

  /** Adds a listener. */
  on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Adds a listener called at most once. */
  once<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener. */
  off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Calls the listeners of `event` synchronously; returns whether there were any. */
  emit<K extends keyof Events & string>(event: K, ...args: Events[K]): boolean {
    return this.emitter.emit(event, ...args);
  }

  /** Whether `event` has listeners (skip building a payload nobody reads). */
  has(event: keyof Events & string): boolean {
    return this.emitter.listenerCount(event) > 0;
  }
}
