/**
 * The messages between the dispatcher (in the leading controller) and the workers it serves,
 * through the queue's {@link Mailboxes}: one mailbox the dispatcher reads, one per worker. The
 * queue carries them as text and knows nothing of what they hold; the task database's types
 * fill in `Payload` and `Outcome`. Written and read with `toWire`/`fromWire` (core).
 */

/** The mailbox the dispatcher reads. */
export const DISPATCH_BOX = 'dispatch';

/** The mailbox of one worker the dispatcher serves. */
export function workerBox(workerId: string): string {
  return `worker:${workerId}`;
}

/** How a served worker stands, sent with every event: what the dispatcher may send it. */
export interface WorkerRoom {
  /** The worker. */
  worker: { id: string; host: string; pid: number };
  /** Task types it runs. */
  types: string[];
  /** Attempts it can take on top of those it holds, as it sees it when it posts. */
  room: number;
  /** Attempts it runs at once (its concurrency). */
  slots: number;
  /** Attempts it has taken from its mailbox so far (the dispatcher counts what it sent). */
  received: number;
}

/** What a served worker posts to {@link DISPATCH_BOX}. */
export type DispatchEvent<Outcome> =
  /** It is there and has room (at start, and about every second as a sign of life). */
  | ({ kind: 'room' } & WorkerRoom)
  /** Attempts it ran, to be recorded. */
  | ({ kind: 'results'; outcomes: Outcome[] } & WorkerRoom)
  /** It stops: send nothing more; answer with `closed` once nothing is under way for it. */
  | { kind: 'bye'; workerId: string };

/** What the dispatcher posts to a worker's mailbox. */
export type DispatchDelivery<Payload> =
  /**
   * Attempts started under the worker (and leased to it in the queue): run them. `first`:
   * attempts a commit released (dependents of attempts just recorded), to run before those of
   * their task type it already holds, so a chain of tasks moves on without waiting behind the
   * rest (the held attempts of different types take turns).
   */
  | { kind: 'attempts'; payloads: Payload[]; first?: boolean }
  /** Answer to `bye`: nothing more will come. */
  | { kind: 'closed' };
