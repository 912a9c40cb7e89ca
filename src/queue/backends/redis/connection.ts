import type { Redis, RedisOptions } from 'ioredis';
import { EasError, isEasError, redactUrl, type Logger } from '../../../core/index.js';
import { QueueClosedError } from '../../errors.js';
import type { LoadedScript, ScriptName } from './scripts.js';

/**
 * Reconnection backoff while Redis is away: 100 ms, 200 ms, … capped at 1 s, forever. Short,
 * so a restarted server is back in use within a second of answering; endless, because the
 * queue must work again after any outage (DESIGN §8). Calls made meanwhile fail after the
 * command timeout instead of waiting for it.
 */
const RECONNECT_STEP_MS = 100;
const RECONNECT_MAX_MS = 1_000;

/**
 * A blocked BLPOP is given up this long after its own timeout should have ended it. Covers a
 * connection that died without a close event (a vanished host): the waiting claim then looks
 * again through the main connection, which reports the outage.
 */
const BLOCK_GRACE_MS = 1_000;

/**
 * After a wait connection fails, the waiting claim pauses this long before it looks again,
 * so an outage cannot turn a waiting claim into a busy loop.
 */
const BLOCKER_RETRY_MS = 100;

/** The oldest Redis the scripts and the blocking claim run on (BLPOP with a fractional timeout). */
const MIN_REDIS_VERSION: readonly [number, number] = [6, 0];

/** Replies saying the server is up but cannot serve the queue now (memory, replica, loading…). */
const SERVER_STATE_REPLY =
  /^(OOM|READONLY|LOADING|MASTERDOWN|BUSY|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|NOAUTH|WRONGPASS|NOPERM)\b/;

/** ioredis refused to send because the connection is not up: nothing reached the server. */
const NOT_SENT = "Stream isn't writeable";

/** Pause before sending again a request that never left (the connection was just dropping). */
const NOT_SENT_RETRY_MS = 20;

type RedisConstructor = new (url: string, options: RedisOptions) => Redis;
type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Loads the optional peer `ioredis`. Only here, lazily: users of the SQL queue never need it.
 *
 * @throws EasError `MISSING_PEER` when it is not installed.
 */
async function loadIoredis(): Promise<RedisConstructor> {
  try {
    const mod = await import('ioredis');
    return (mod.Redis ?? mod.default) as unknown as RedisConstructor;
  } catch (e) {
    throw new EasError(
      'MISSING_PEER',
      'Redis support needs the "ioredis" package: run `npm i ioredis`.',
      { cause: e },
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The database number in a Redis URL's path (`redis://host:6379/3` → 3), undefined without one.
 * @throws EasError `CONFIG_INVALID` for a path that is not a database number.
 */
function databaseOf(url: string, displayUrl: string): number | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined; // ioredis reports a malformed URL itself
  }
  const db = decodeURIComponent(path.replace(/^\//, ''));
  if (db === '') return undefined;
  if (!/^\d+$/.test(db)) {
    throw new EasError(
      'CONFIG_INVALID',
      `Redis URL ${displayUrl}: "${db}" is not a database number; write redis://host:port/<number> (0 to 15 on a default server).`,
      { where: 'queue.redis.url' },
    );
  }
  return Number(db);
}

/** The password of `url`, when it has one, so messages can be scrubbed of it. */
function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password.length > 0 ? password : undefined;
  } catch {
    return undefined;
  }
}

/** What {@link RedisConnection.open} needs. */
export interface RedisConnectionOptions {
  /** `redis://…` or `rediss://…`, credentials included (never logged or shown). */
  url: string;
  /** How long opening may take before it fails. */
  connectTimeoutMs: number;
  /** How long one call may wait for a connection and an answer before it fails. */
  commandTimeoutMs: number;
  /** Bound to the queue's component already. */
  logger: Logger;
  /** Defined as commands on the connection. */
  scripts: readonly LoadedScript[];
}

/**
 * The Redis side of the Redis queue backend: one connection for commands and scripts, and a
 * pool of wait connections for blocking pops (a blocked connection can do nothing else).
 * Turns every ioredis and Redis failure into a typed error in one place ({@link toError}),
 * and never shows the URL's password.
 *
 * Calls fail fast instead of queueing while the server is away: the offline queue is off, a
 * call waits for the connection at most `commandTimeoutMs` and then fails with
 * `BACKEND_UNAVAILABLE`, and commands in flight when a connection drops are not re-sent (a
 * re-sent claim could lease items to a caller that already gave up). ioredis reconnects in
 * the background, so calls succeed again once the server answers.
 */
export class RedisConnection {
  /** The URL with its password replaced by `***`. */
  readonly displayUrl: string;
  private readonly password: string | undefined;
  private readonly idle: Redis[] = [];
  private readonly busy = new Set<Redis>();
  private readonly cancels = new Set<() => void>();
  private closed = false;
  private down = false;

  private constructor(
    private readonly client: Redis,
    url: string,
    private readonly options: RedisConnectionOptions,
  ) {
    this.displayUrl = redactUrl(url);
    this.password = passwordOf(url);
    client.on('error', (e: Error) => this.lost(e.message));
    client.on('close', () => this.lost('connection closed'));
    client.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      this.options.logger.info({ url: this.displayUrl }, 'redis connection restored');
    });
  }

  private lost(reason: string): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.options.logger.warn(
      { url: this.displayUrl, reason: this.scrub(reason) },
      'redis connection lost, reconnecting',
    );
  }

  /**
   * Connects, checks the server's version and defines the scripts.
   *
   * @throws EasError `MISSING_PEER` without ioredis; `BACKEND_UNAVAILABLE` naming the
   *   (redacted) URL when the server does not answer within `connectTimeoutMs` or is too old.
   */
  static async open(options: RedisConnectionOptions): Promise<RedisConnection> {
    const RedisClient = await loadIoredis();
    const displayUrl = redactUrl(options.url);
    const db = databaseOf(options.url, displayUrl);
    const client = new RedisClient(options.url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times: number) => Math.min(RECONNECT_STEP_MS * times, RECONNECT_MAX_MS),
      connectionName: 'eas-queue',
    });
    let firstError: Error | undefined;
    const onError = (e: Error): void => {
      firstError ??= e;
    };
    client.on('error', onError);
    const scrub = (text: string): string => {
      const password = passwordOf(options.url);
      return password === undefined ? text : text.split(password).join('***');
    };
    try {
      await withTimeout(client.connect(), options.connectTimeoutMs);
      if (db !== undefined) {
        // ioredis selects the URL's database on connect but only reports a refusal as an event
        // (and goes on in database 0): asked again, a refusal is an answer.
        try {
          await withTimeout(client.select(db), options.connectTimeoutMs);
        } catch (e) {
          if (!/DB index|out of range|invalid DB/i.test((e as Error).message)) throw e;
          client.disconnect();
          throw new EasError(
            'CONFIG_INVALID',
            `Redis at ${displayUrl} has no database ${db} (${(e as Error).message}). ` +
              'Pick one the server has (0 to 15 unless its "databases" setting says more).',
            { where: 'queue.redis.url' },
          );
        }
      }
      const info = await withTimeout(client.info('server'), options.connectTimeoutMs);
      const version = /redis_version:(\d+)\.(\d+)/.exec(info);
      const [major, minor] = [Number(version?.[1] ?? 0), Number(version?.[2] ?? 0)];
      const [needMajor, needMinor] = MIN_REDIS_VERSION;
      if (major < needMajor || (major === needMajor && minor < needMinor)) {
        client.disconnect();
        throw new EasError(
          'BACKEND_UNAVAILABLE',
          `Redis at ${displayUrl} is version ${major}.${minor}; the Redis queue needs ` +
            `${needMajor}.${needMinor} or later.`,
          { where: 'queue.redis.url' },
        );
      }
    } catch (e) {
      client.disconnect();
      if (isEasError(e)) throw e;
      const reason = scrub((firstError ?? (e as Error)).message || String(e));
      throw new EasError(
        'BACKEND_UNAVAILABLE',
        `Redis at ${displayUrl} is unreachable: ${reason} (gave up after ` +
          `${options.connectTimeoutMs} ms). Is the server running, and is the URL right?`,
        { cause: e, where: 'queue.redis.url' },
      );
    } finally {
      client.off('error', onError);
    }
    for (const s of options.scripts) {
      client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    }
    return new RedisConnection(client, options.url, options);
  }

  private scrub(text: string): string {
    return this.password === undefined ? text : text.split(this.password).join('***');
  }

  /**
   * The one place where a failure of Redis or ioredis becomes a typed error (STYLE §4):
   * a script error is a bug (`INTERNAL`); a server that refuses for its state (out of memory,
   * read-only replica, loading, bad credentials) or a connection that is down or silent is
   * `BACKEND_UNAVAILABLE`. The message names the operation and the redacted URL.
   */
  toError(error: unknown, operation: string): EasError {
    if (isEasError(error)) return error;
    const message = this.scrub(error instanceof Error ? error.message : String(error));
    const isReply = error instanceof Error && error.name === 'ReplyError';
    if (isReply && !SERVER_STATE_REPLY.test(message)) {
      return new EasError(
        'INTERNAL',
        `A Redis queue script failed in ${operation}() at ${this.displayUrl}: ${message}`,
        { cause: error, where: `queue.${operation}` },
      );
    }
    const hint = isReply
      ? 'Check the server (memory, replica role, credentials).'
      : 'Is the server running? The queue reconnects by itself and works again once it answers.';
    return new EasError(
      'BACKEND_UNAVAILABLE',
      `Redis at ${this.displayUrl} could not serve ${operation}(): ${message}. ${hint}`,
      { cause: error, where: `queue.${operation}` },
    );
  }

  /** Resolves when the main connection is ready; rejects after `commandTimeoutMs` or on close. */
  private whenReady(operation: string, deadline: number): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    if (this.closed) return Promise.reject(new QueueClosedError(operation, 'redis'));
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.cancels.delete(onClose);
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => finish();
      const onClose = (): void => finish(new QueueClosedError(operation, 'redis'));
      const timer = setTimeout(
        () =>
          finish(
            this.toError(
              new Error(`not connected for ${this.options.commandTimeoutMs} ms`),
              operation,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
      this.client.on('ready', onReady);
      this.cancels.add(onClose);
    });
  }

  /**
   * Sends one request on the main connection once it is ready (waiting at most
   * `commandTimeoutMs` for it), and maps failures with {@link toError}. A request that never
   * left because the connection dropped just before is sent again within the same deadline.
   */
  private async send<T>(operation: string, request: (client: Redis) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.commandTimeoutMs;
    for (;;) {
      await this.whenReady(operation, deadline);
      try {
        return await request(this.client);
      } catch (e) {
        const notSent = e instanceof Error && e.message.startsWith(NOT_SENT);
        if (!notSent || this.closed || Date.now() >= deadline) throw this.toError(e, operation);
        await new Promise((resolve) => setTimeout(resolve, NOT_SENT_RETRY_MS));
      }
    }
  }

  /** Runs a queue script with its head (keys and key prefixes) and its own arguments. */
  script(
    operation: string,
    name: ScriptName,
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return this.send(operation, (client) => {
      const call = (client as unknown as Record<ScriptName, ScriptCall>)[name];
      return call.apply(client, [...args]);
    });
  }

  /** HEXISTS. */
  hashHas(operation: string, key: string, field: string): Promise<boolean> {
    return this.send(operation, async (client) => (await client.hexists(key, field)) === 1);
  }

  /** RPUSH of values to a list; with `keepLast`, then LTRIM to its newest `keepLast` (atomically). */
  pushAll(
    operation: string,
    key: string,
    values: readonly string[],
    keepLast?: number,
  ): Promise<void> {
    return this.send(operation, async (client) => {
      if (keepLast === undefined) await client.rpush(key, ...values);
      else
        await client
          .multi()
          .rpush(key, ...values)
          .ltrim(key, -keepLast, -1)
          .exec();
    });
  }

  /** LPOP of up to `count` values from the head of a list (none when it is empty). */
  popSome(operation: string, key: string, count: number): Promise<string[]> {
    return this.send(operation, async (client) => (await client.lpop(key, count)) ?? []);
  }

  /** DEL of keys. */
  remove(operation: string, keys: readonly string[]): Promise<void> {
    return this.send(operation, async (client) => {
      if (keys.length > 0) await client.del(...keys);
    });
  }

  /** RPUSH of one token (best effort: a lost token only delays a wake-up). */
  pushToken(key: string): void {
    if (this.closed || this.client.status !== 'ready') return;
    this.client.rpush(key, '1').catch(() => undefined);
  }

  /**
   * Blocks on a wait connection until a token is popped from one of `keys` (BLPOP), `ms`
   * passes, `signal` aborts or the connection closes. Returns the key a token came from, or
   * undefined. Never throws: when the server is away it pauses briefly and returns undefined,
   * and the caller's next call through the main connection reports the outage.
   */
  async blockingPop(
    keys: readonly string[],
    ms: number,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    return (await this.blockingPopEntry(keys, ms, signal))?.[0];
  }

  /** {@link blockingPop}, returning the key and the value popped from it. */
  async blockingPopEntry(
    keys: readonly string[],
    ms: number,
    signal: AbortSignal | undefined,
  ): Promise<[string, string] | undefined> {
    if (this.closed || signal?.aborted) return undefined;
    let blocker: Redis;
    try {
      blocker = await this.takeBlocker();
    } catch (e) {
      this.options.logger.debug({ reason: this.scrub((e as Error).message) }, 'redis wait failed');
      await this.pause(Math.min(ms, BLOCKER_RETRY_MS), signal);
      return undefined;
    }
    // The wait ends on the first of: BLPOP's reply or error, the wait connection closing, the
    // guard timer, `signal`, close(). ioredis leaves a command that was in flight when its
    // connection dropped unsettled (it is neither re-sent nor rejected, as configured), so
    // the reply is never the only way out.
    type Outcome = { entry: [string, string] | undefined; healthy: boolean; failure?: string };
    const outcome = await new Promise<Outcome>((resolve) => {
      let settled = false;
      const finish = (result: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        signal?.removeEventListener('abort', interrupt);
        blocker.off('close', onClose);
        this.cancels.delete(interrupt);
        resolve(result);
      };
      const interrupt = (): void => finish({ entry: undefined, healthy: false });
      const onClose = (): void =>
        finish({ entry: undefined, healthy: false, failure: 'wait connection closed' });
      const guard = setTimeout(
        () => finish({ entry: undefined, healthy: false, failure: 'no answer to BLPOP' }),
        ms + BLOCK_GRACE_MS,
      );
      signal?.addEventListener('abort', interrupt, { once: true });
      blocker.once('close', onClose);
      this.cancels.add(interrupt);
      if (this.closed || signal?.aborted || blocker.status !== 'ready') {
        finish({ entry: undefined, healthy: false });
        return;
      }
      // Redis takes fractional seconds (6.0+); 0 would mean "forever".
      blocker.blpop(...keys, Math.max(1, Math.ceil(ms)) / 1000).then(
        (reply) => {
          // A value popped after the wait was given up (stop, guard) goes back to the head of
          // its list: a mailbox message must not vanish (best effort while the server answers).
          if (settled && reply) this.client.lpush(reply[0], reply[1]).catch(() => undefined);
          finish({ entry: reply ? [reply[0], reply[1]] : undefined, healthy: true });
        },
        (e: unknown) =>
          finish({ entry: undefined, healthy: false, failure: (e as Error).message ?? String(e) }),
      );
    });
    this.busy.delete(blocker);
    if (outcome.healthy && !this.closed && blocker.status === 'ready') this.idle.push(blocker);
    else blocker.disconnect();
    if (outcome.failure !== undefined && !this.closed && !signal?.aborted) {
      this.options.logger.debug({ reason: this.scrub(outcome.failure) }, 'redis wait failed');
      await this.pause(Math.min(ms, BLOCKER_RETRY_MS), signal);
    }
    return outcome.entry;
  }

  private async takeBlocker(): Promise<Redis> {
    const pooled = this.idle.pop();
    if (pooled) {
      this.busy.add(pooled);
      return pooled;
    }
    // A duplicate has the same URL and options; a blocking pop must not hit the command
    // timeout, so it goes (the BLPOP timeout and BLOCK_GRACE_MS bound the wait instead).
    const blocker = this.client.duplicate({
      commandTimeout: undefined,
      connectionName: 'eas-queue-wait',
    });
    blocker.on('error', () => undefined);
    this.busy.add(blocker);
    try {
      await withTimeout(blocker.connect(), this.options.connectTimeoutMs);
    } catch (e) {
      this.busy.delete(blocker);
      blocker.disconnect();
      throw e;
    }
    return blocker;
  }

  private pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.cancels.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.cancels.add(done);
    });
  }

  /** Ends blocking pops, pauses and waits for the connection at once; later ones end at once too. */
  interrupt(): void {
    this.closed = true;
    for (const cancel of [...this.cancels]) cancel();
  }

  /** Closes every connection (after {@link interrupt} and once calls in flight are done). */
  disconnect(): void {
    this.closed = true;
    for (const blocker of [...this.idle, ...this.busy]) blocker.disconnect();
    this.idle.length = 0;
    this.busy.clear();
    this.client.disconnect();
  }
}
