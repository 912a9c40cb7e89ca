/**
 * Every Redis key name of the Redis queue backend (STYLE §6: they live in this one file). The
 * Lua scripts never spell a key: they receive the fixed keys as KEYS and the prefixes of the
 * per-type, per-owner and per-job keys as their first ARGV, in the order of {@link scriptHead}.
 *
 * Layout under the prefix `p` (default `eas`):
 *
 * | Key | Type | Holds |
 * |---|---|---|
 * | `p:items` | hash | attempt id → `<jobId>:<priority>:<availableAt>:<taskType>`, every queued item |
 * | `p:leased` | zset | leased attempt ids, scored by lease end (epoch ms) |
 * | `p:holders` | hash | leased attempt id → owner |
 * | `p:leased-counts` | hash | task type → number of leased items |
 * | `p:types` | set | task types that have items |
 * | `p:jobs` | set | job ids that have items |
 * | `p:ready:<type>` | zset | claimable items, score −priority, member `<availableAt>:<attemptId>` zero-padded |
 * | `p:delayed:<type>` | zset | items not claimable yet, scored by availableAt |
 * | `p:wake:<type>` | list | wake tokens: one per ready item (capped), popped by blocked claimers |
 * | `p:owner:<owner>` | set | attempt ids an owner leases |
 * | `p:job:<jobId>` | set | attempt ids of a job |
 * | `p:box:<name>` | list | a mailbox's messages (see `Mailboxes`), oldest first |
 */

/** The keys of one queue. */
export interface QueueKeys {
  /** The prefix every key starts with, followed by `:`. */
  readonly prefix: string;
  /** Hash: attempt id → item data. */
  readonly items: string;
  /** Zset: leased attempt ids by lease end. */
  readonly leased: string;
  /** Hash: leased attempt id → owner. */
  readonly holders: string;
  /** Hash: task type → leased count. */
  readonly leasedCounts: string;
  /** Set: task types with items. */
  readonly types: string;
  /** Set: job ids with items. */
  readonly jobs: string;
  /** Prefix of `ready:<type>` zsets. */
  readonly readyPrefix: string;
  /** Prefix of `delayed:<type>` zsets. */
  readonly delayedPrefix: string;
  /** Prefix of `wake:<type>` lists. */
  readonly wakePrefix: string;
  /** Prefix of `owner:<owner>` sets. */
  readonly ownerPrefix: string;
  /** Prefix of `job:<jobId>` sets. */
  readonly jobPrefix: string;
  /** Prefix of `box:<name>` lists (mailboxes; no queue script touches them). */
  readonly boxPrefix: string;
}

/**
 * The keys of the queue under `prefix`. Prefixes contain no `:` (the options schema checks),
 * so the key spaces of two different prefixes never overlap whatever the task types are named.
 */
export function queueKeys(prefix: string): QueueKeys {
  const p = `${prefix}:`;
  return {
    prefix: p,
    items: `${p}items`,
    leased: `${p}leased`,
    holders: `${p}holders`,
    leasedCounts: `${p}leased-counts`,
    types: `${p}types`,
    jobs: `${p}jobs`,
    readyPrefix: `${p}ready:`,
    delayedPrefix: `${p}delayed:`,
    wakePrefix: `${p}wake:`,
    ownerPrefix: `${p}owner:`,
    jobPrefix: `${p}job:`,
    boxPrefix: `${p}box:`,
  };
}

/** The number of KEYS every queue script takes (the `-6` in its file name). */
export const SCRIPT_KEY_COUNT = 6;

/**
 * The leading arguments of every queue script: KEYS[1..6] then ARGV[1..5], in the order
 * lua/includes/queue-lib.lua reads them.
 */
export function scriptHead(keys: QueueKeys): string[] {
  return [
    keys.items,
    keys.leased,
    keys.holders,
    keys.leasedCounts,
    keys.types,
    keys.jobs,
    keys.readyPrefix,
    keys.delayedPrefix,
    keys.wakePrefix,
    keys.ownerPrefix,
    keys.jobPrefix,
  ];
}

/** The wake list a claimer waiting for `taskType` blocks on. */
export function wakeKey(keys: QueueKeys, taskType: string): string {
  return `${keys.wakePrefix}${taskType}`;
}

/** A `SCAN MATCH` pattern covering every key of the queue (tools and tests). */
export function keyPattern(keys: QueueKeys): string {
  return `${keys.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}
