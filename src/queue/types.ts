import type { LeasedItem } from './queue-backend.js';

/** Payload of `item:enqueued`. */
export interface ItemsEnqueuedEvent {
  /** Items passed to `enqueue` (attempt ids already queued included: enqueue is idempotent). */
  count: number;
}

/** Payload of `item:claimed`. */
export interface ItemsClaimedEvent {
  /** The worker that claimed. */
  owner: string;
  /** What it received, in claim order (never empty: empty claims emit nothing). */
  items: readonly LeasedItem[];
}

/** Payload of `lease:expired`. */
export interface LeasesExpiredEvent {
  /** Items `reclaimExpired` took back (never empty). */
  items: readonly LeasedItem[];
}

/** The events of a `JobQueue`, named `noun:verb` (STYLE §3). */
export interface JobQueueEvents {
  /** Items were enqueued. */
  'item:enqueued': [ItemsEnqueuedEvent];
  /** A claim returned items. */
  'item:claimed': [ItemsClaimedEvent];
  /** `reclaimExpired` took back items whose lease ran out. */
  'lease:expired': [LeasesExpiredEvent];
}
