import type { ServerResponse } from 'node:http';
import type { Logger } from '../core/index.js';
import {
  progressFingerprint,
  type DashboardProgress,
  type JobSummary,
  type TaskDatabase,
} from '../taskdb/index.js';

/**
 * Longest a cached answer is served while the database's fingerprint stays the same: the
 * fingerprint sees every attempt created, started or ended, so this only bounds what it could
 * miss (a change made by hand in SQL).
 */
const CACHE_TTL_MS = 30_000;
/** Most cached answers kept (plots, per-job summaries); the oldest go first. */
const CACHE_ENTRIES = 200;

/**
 * Answers of expensive views (progress, timings, pass/fail, plots) cached under the database's
 * progress fingerprint: a view over a finished 1,000,000-task job is computed once, and any
 * progress of any job invalidates every entry at once.
 */
export class FingerprintCache {
  private fingerprint = '';
  private checkedAt = 0;
  private pending: Promise<string> | undefined;
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly db: TaskDatabase,
    /** How long a fingerprint read is reused, ms (it is a handful of index reads). */
    private readonly fingerprintMs = 250,
  ) {}

  /** The current fingerprint (re-read at most every `fingerprintMs`). */
  async current(): Promise<string> {
    if (Date.now() - this.checkedAt < this.fingerprintMs) return this.fingerprint;
    this.pending ??= progressFingerprint(this.db.sql).finally(() => (this.pending = undefined));
    const f = await this.pending;
    this.checkedAt = Date.now();
    if (f !== this.fingerprint) {
      this.fingerprint = f;
      this.entries.clear();
    }
    return f;
  }

  /** The cached answer under `key`, or `compute()`'s (shared by concurrent callers). */
  async get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    await this.current();
    const hit = this.entries.get(key);
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.value as Promise<T>;
    const value = compute();
    this.entries.set(key, { at: Date.now(), value });
    value.catch(() => this.entries.delete(key));
    if (this.entries.size > CACHE_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return value;
  }
}

/** Interval of the keep-alive comment on idle event streams, so proxies do not close them. */
const KEEPALIVE_MS = 15_000;

/**
 * Server-sent events of the dashboard (`GET /api/events`): one poller for all clients reads the
 * database's fingerprint every `intervalMs` and, when it changed, the progress counts, and
 * sends them as an `event: progress` to every open stream. Nothing polls while no one watches.
 */
export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private last: { fingerprint: string; progress: DashboardProgress } | undefined;
  private ticking = false;

  constructor(
    private readonly cache: FingerprintCache,
    private readonly progress: () => Promise<DashboardProgress>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Adds an open stream (its headers already sent); it gets the current progress at once. */
  subscribe(res: ServerResponse): void {
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimers();
    });
    if (this.last) send(res, 'progress', this.last.progress);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.keepalive = setInterval(() => {
        for (const c of this.clients) c.write(': keep-alive\n\n');
      }, KEEPALIVE_MS);
    }
    void this.tick();
  }

  /** Number of open streams. */
  get size(): number {
    return this.clients.size;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const fingerprint = await this.cache.current();
      if (this.last?.fingerprint === fingerprint) return;
      const progress = await this.progress();
      this.last = { fingerprint, progress };
      for (const c of this.clients) send(c, 'progress', progress);
    } catch (e) {
      this.log.warn({ err: e }, 'live update failed');
    } finally {
      this.ticking = false;
    }
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearInterval(this.keepalive);
    this.timer = undefined;
    this.keepalive = undefined;
  }

  /** Ends every stream and stops polling. */
  close(): void {
    this.stopTimers();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Per-job rows of an aggregate view (progress counts, timing sums, outcome counts) kept for every
 * job that is no longer running: such a job's rows cannot change until its status does (a rerun
 * makes it `running` again), so they are read once per server. Only running jobs are read again,
 * each by its own indexed query; on a cold start with many jobs, one scan reads them all.
 */
export class PerJobCache<R extends { jobId: number }> {
  private readonly stable = new Map<string, R[]>();

  constructor(private readonly fetch: (jobIds?: readonly number[]) => Promise<R[]>) {}

  /** The rows of `jobs`. */
  async rows(jobs: readonly JobSummary[]): Promise<R[]> {
    const key = (j: JobSummary): string => `${j.id}:${j.status}:${j.finishedAt ?? ''}`;
    const missing = jobs.filter((j) => j.status === 'running' || !this.stable.has(key(j)));
    const fetched = new Map<number, R[]>();
    if (missing.length > 0) {
      const rows =
        jobs.length > 1 && missing.length * 2 > jobs.length
          ? await this.fetch()
          : await this.fetch(missing.map((j) => j.id));
      for (const r of rows) {
        const list = fetched.get(r.jobId) ?? [];
        list.push(r);
        fetched.set(r.jobId, list);
      }
      for (const j of missing)
        if (j.status !== 'running') this.stable.set(key(j), fetched.get(j.id) ?? []);
      if (this.stable.size > 4 * jobs.length + 100) this.prune(new Set(jobs.map(key)));
    }
    return jobs.flatMap((j) => this.stable.get(key(j)) ?? fetched.get(j.id) ?? []);
  }

  private prune(keep: Set<string>): void {
    for (const k of this.stable.keys()) if (!keep.has(k)) this.stable.delete(k);
  }
}
