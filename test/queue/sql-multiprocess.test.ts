import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqlQueueBackend, type QueueItem } from '../../src/queue/index.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/claim-loop.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROCESSES = 4;
const ITEMS = 2_000;

const postgres = await postgresAvailable();

interface WorkerReport {
  owner: string;
  claimed: number[];
  completed: number[];
}

interface Worker {
  ready: Promise<void>;
  report: Promise<WorkerReport>;
  go(): void;
}

/** Starts one claim-loop process; it claims once `go()` is called and reports when the queue is empty. */
function startWorker(url: string, owner: string): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, url, owner, 'a,b'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) onReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const report = new Promise<WorkerReport>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`worker ${owner} exited with ${code}: ${stderr || stdout}`));
      } else {
        resolve(JSON.parse(last) as WorkerReport);
      }
    });
  });
  // A worker that dies before it is ready must not leave the test waiting for `ready`.
  report.catch(() => onReady());
  return { ready, report, go: () => child.stdin.end('go\n') };
}

/** Enqueues ITEMS items (two task types) then lets PROCESSES processes drain the queue together. */
async function drainWithProcesses(url: string): Promise<void> {
  const queue = await createSqlQueueBackend({ sql: url });
  try {
    const items: QueueItem[] = Array.from({ length: ITEMS }, (_, i) => ({
      attemptId: i + 1,
      taskType: i % 2 === 0 ? 'a' : 'b',
      jobId: 1 + (i % 7),
      priority: i % 3,
    }));
    await queue.enqueue(items);

    const workers = Array.from({ length: PROCESSES }, (_, i) => startWorker(url, `worker-${i}`));
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    const reports = await Promise.all(workers.map((w) => w.report));

    const claimed = reports.flatMap((r) => r.claimed);
    expect(claimed).toHaveLength(ITEMS);
    expect(new Set(claimed).size).toBe(ITEMS);
    expect(new Set(claimed)).toEqual(new Set(items.map((i) => i.attemptId)));
    for (const r of reports) {
      expect([...r.completed].sort((x, y) => x - y)).toEqual([...r.claimed].sort((x, y) => x - y));
    }
    // The processes really claimed side by side. Not necessarily all four: SQLite's lock has no
    // queue (a blocked writer sleeps and retries), so one process can lose every race for a while.
    const participants = reports.filter((r) => r.claimed.length > 0).length;
    expect(
      participants,
      reports.map((r) => `${r.owner}: ${r.claimed.length}`).join(', '),
    ).toBeGreaterThanOrEqual(2);
    expect(await queue.counts()).toEqual({});
  } finally {
    await queue.close();
  }
}

describe('sql backend across processes', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it(`SQLite: ${PROCESSES} processes drain ${ITEMS} items, each delivered exactly once`, async () => {
    const dir = tempDir('eas-queue-mp-');
    cleanups.push(dir.remove);
    await drainWithProcesses(`sqlite:${join(dir.dir, 'eas.db')}`);
  });

  it.skipIf(!postgres)(
    `PostgreSQL: ${PROCESSES} processes drain ${ITEMS} items, each delivered exactly once`,
    async () => {
      const schema = await freshPostgresSchema();
      cleanups.push(schema.drop);
      await drainWithProcesses(schema.url);
    },
  );
});
