/**
 * DESIGN §8 "nothing is lost", with real processes and servers of the test's own: a job of a
 * few thousand tasks runs through `eas controller` and two `eas worker` daemons (the built
 * binary) on a private PostgreSQL (initdb in a temporary directory) — with the queue in
 * PostgreSQL or in a private Redis — while the test kills a worker mid-task, kills the
 * controller mid-expansion and mid-run, restarts Redis with its data gone, and restarts
 * PostgreSQL. After each: every task is done with exactly one QC-passed attempt, no attempt
 * started after its task was done, and every file version is stored, intact and the only
 * thing in the store.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFileRepository } from '../../src/filestore/index.js';
import { ensureBuilt, runEas, startDaemon, tempDir, type Daemon } from '../cli/harness.js';
import {
  privatePostgresPossible,
  startPrivatePostgres,
  startPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
} from '../helpers/private-servers.js';
import { REQUIRE_SERVICES } from '../helpers/services.js';

const REGISTRY = fileURLToPath(new URL('../fixtures/cluster/registry.yaml', import.meta.url));
/** Loop iterations: each a producer, a consumer, and a conditional on the consumer's result. */
const N = 600;
/** Root + loop + per iteration (chain, produce, consume, conditional) + 1 or 2 branch tasks. */
const TASKS = 2 + 4 * N + N / 2 + 2 * (N / 2);
const LEASE_MS = 2000;

const possible = privatePostgresPossible();
if (!possible && REQUIRE_SERVICES) {
  throw new Error('no PostgreSQL server binaries for a private server, and EAS_REQUIRE_SERVICES=1');
}

let pg: PrivatePostgres;
let redis: PrivateRedis | undefined;
let dir: string;
let remove: () => void;
let scenario = 0;
const daemons: Daemon[] = [];

beforeAll(async () => {
  if (!possible) return;
  await ensureBuilt();
  ({ dir, remove } = tempDir('faults'));
  pg = await startPrivatePostgres();
  writeFileSync(join(dir, 'chain.json'), JSON.stringify(chain()));
}, 120_000);
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    d.child.kill('SIGKILL');
    await d.exited;
  }
});
afterAll(async () => {
  await redis?.destroy();
  await pg?.destroy();
  remove?.();
});

function chain(): Record<string, unknown> {
  return {
    job_name: 'faults',
    task_list: [
      {
        task: 'execution_for_loop',
        parameter: 'i',
        values: Array.from({ length: N }, (_, i) => i),
        task_list: [
          { task: 'produce', name: 'p', outputs: { data: "'d_{i}.txt'.format(**metadata)" } },
          { task: 'consume', name: 'c', inputs: { data: "'d_{i}.txt'.format(**metadata)" } },
          {
            task: 'execution_conditional',
            requires_metadata_from: ['c'],
            criterion: "(metadata['i'] % 2 == 0)",
            task_list: [{ task: 'null', name: 'even' }],
            else_task_list: [
              { task: 'null', name: 'odd_1' },
              { task: 'null', name: 'odd_2' },
            ],
          },
        ],
      },
    ],
  };
}

function start(argv: string[], env: Record<string, string>): Daemon {
  const d = startDaemon(argv, dir, env);
  daemons.push(d);
  return d;
}

async function kill(d: Daemon): Promise<void> {
  d.child.kill('SIGKILL');
  await d.exited;
  daemons.splice(daemons.indexOf(d), 1);
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const { default: pgLib } = await import('pg');
  const c = new pgLib.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Tasks in state `done`, read straight from the database (null while it is away). */
async function doneCount(url: string): Promise<number | null> {
  try {
    const [r] = await query<{ n: number }>(
      url,
      "SELECT count(*)::int AS n FROM eas_tasks WHERE state = 'done'",
    );
    return r!.n;
  } catch {
    return null;
  }
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Run {
  url: string;
  env: Record<string, string>;
  filesRoot: string;
  controller: Daemon;
  workers: Daemon[];
  /** Waits until at least this fraction of the tasks is done. */
  progress(fraction: number): Promise<void>;
}

/**
 * Submits the job to a fresh database, starts a controller and two workers, lets `fault` do
 * its damage, waits for the job to end and checks the record.
 */
async function runWithFault(queue: Queue, fault: (run: Run) => Promise<string>): Promise<void> {
  const name = `faults_${++scenario}`;
  await query(pg.url, `CREATE DATABASE ${name}`);
  const url = pg.url.replace(/\/postgres$/, `/${name}`);
  const filesRoot = join(dir, `${name}-files`);
  const env: Record<string, string> = {
    EAS_DATABASE_URL: url,
    EAS_FILESTORE: filesRoot,
    EAS_REGISTRY: REGISTRY,
    EAS_LOG_LEVEL: 'error',
    EAS_LEASE_MS: String(LEASE_MS),
  };
  if (queue !== 'sql') env.EAS_REDIS_URL = `${redis!.url}/${scenario % 16}`;
  if (queue === 'redis-dispatch') env.EAS_WORKER_DISPATCH = '1';
  const submitted = await runEas(['submit', 'chain.json'], dir, env);
  expect(submitted.code, submitted.stderr).toBe(0);
  const run: Run = {
    url,
    env,
    filesRoot,
    controller: start(['controller'], env),
    workers: [1, 2].map(() => start(['worker', '--concurrency', '8'], env)),
    progress: (fraction) =>
      until(`${fraction * 100} % of the tasks done`, async () => {
        const n = await doneCount(url);
        return n !== null && n >= fraction * TASKS;
      }),
  };
  const happened = await fault(run);
  await until('every task done', async () => (await doneCount(url)) === TASKS);
  await checkRecord(url, filesRoot, happened);
  // A graceful stop of every daemon ends with exit 0.
  for (const d of daemons) d.child.kill('SIGTERM');
  for (const d of daemons) expect(await d.exited).toBe(0);
  daemons.length = 0;
}

async function checkRecord(url: string, filesRoot: string, happened: string): Promise<void> {
  const states = await query<{ state: string; n: number }>(
    url,
    'SELECT state, count(*)::int AS n FROM eas_tasks GROUP BY state',
  );
  expect(states).toEqual([{ state: 'done', n: TASKS }]);
  const work = await query<{ n: number }>(
    url,
    'SELECT count(*)::int AS n FROM eas_tasks WHERE control = 0',
  );
  const passed = await query<{ task_id: number; n: number }>(
    url,
    `SELECT t.id AS task_id, count(a.id)::int AS n FROM eas_tasks t
       LEFT JOIN eas_attempts a ON a.task_id = t.id AND a.qc = 'passed'
      WHERE t.control = 0 GROUP BY t.id`,
  );
  expect(passed).toHaveLength(work[0]!.n);
  expect(
    passed.filter((r) => r.n !== 1),
    'work tasks without exactly one QC-passed attempt',
  ).toEqual([]);
  const late = await query<{ n: number }>(
    url,
    `SELECT count(*)::int AS n FROM eas_attempts a
       JOIN eas_attempts p ON p.task_id = a.task_id AND p.qc = 'passed' AND p.id <> a.id
      WHERE a.started_at IS NOT NULL AND a.started_at > p.ended_at`,
  );
  expect(late[0]!.n, 'attempts started after their task was done').toBe(0);
  const attempts = await query<{ state: string; n: number }>(
    url,
    'SELECT state, count(*)::int AS n FROM eas_attempts GROUP BY state ORDER BY state',
  );
  const versions = await query<{ sha256: string; size: number; passed_qc: number }>(
    url,
    'SELECT sha256, size::int AS size, passed_qc FROM eas_versions',
  );
  const products = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM eas_products');
  expect(products[0]!.n).toBe(N);
  expect(versions).toHaveLength(N);
  expect(versions.every((v) => v.passed_qc === 1)).toBe(true);
  const files = await createFileRepository({ root: filesRoot });
  try {
    for (const v of versions) {
      expect((await files.stat(v.sha256))?.size, `object ${v.sha256} stored`).toBe(v.size);
      expect(await files.verify(v.sha256), `object ${v.sha256} intact`).toBe(true);
    }
  } finally {
    await files.close();
  }
  const objectsDir = join(filesRoot, 'objects');
  const stored = readdirSync(objectsDir).flatMap((prefix) =>
    readdirSync(join(objectsDir, prefix)).map((rest) => prefix + rest),
  );
  expect(stored.sort(), 'objects in the store = those of the versions').toEqual(
    [...new Set(versions.map((v) => v.sha256))].sort(),
  );
  console.log(
    `${happened}: ${TASKS} tasks done, ${work[0]!.n} work tasks with one QC-passed attempt each, ` +
      `attempts ${attempts.map((a) => `${a.state} ${a.n}`).join(', ')}; ` +
      `${versions.length} versions stored and intact, ${stored.length} objects, none orphaned`,
  );
}

/** The queue, and whether the workers claim themselves or the controller's dispatcher serves them. */
type Queue = 'sql' | 'redis' | 'redis-dispatch';
const QUEUES: Queue[] = ['sql', 'redis', 'redis-dispatch'];

describe.skipIf(!possible)('cluster faults on a private PostgreSQL', () => {
  for (const queue of QUEUES) {
    describe(`queue: ${queue}`, () => {
      beforeAll(async () => {
        if (queue !== 'sql' && redis === undefined) redis = await startPrivateRedis();
      });

      it('SIGKILL of a worker mid-task', async () => {
        await runWithFault(queue, async (run) => {
          await run.progress(0.25);
          const victim = run.workers[0]!;
          await kill(victim);
          start(['worker', '--concurrency', '8'], run.env);
          return 'worker SIGKILLed at 25 %, a new one started';
        });
      }, 180_000);

      it('SIGKILL of the controller mid-expansion and again mid-run', async () => {
        await runWithFault(queue, async (run) => {
          await run.progress(0.15);
          await kill(run.controller);
          await new Promise((r) => setTimeout(r, 500));
          const second = start(['controller'], run.env);
          await run.progress(0.6);
          await kill(second);
          await new Promise((r) => setTimeout(r, 500));
          start(['controller'], run.env);
          return 'controller SIGKILLed at 15 % and 60 %, restarted each time';
        });
      }, 180_000);

      it('PostgreSQL restart mid-run', async () => {
        await runWithFault(queue, async (run) => {
          await run.progress(0.3);
          await pg.stop('fast');
          await new Promise((r) => setTimeout(r, 2000));
          await pg.start();
          return 'PostgreSQL stopped at 30 % and started 2 s later';
        });
      }, 180_000);

      if (queue !== 'sql') {
        it('Redis restart with its data gone', async () => {
          await runWithFault(queue, async (run) => {
            await run.progress(0.3);
            await redis!.kill();
            await new Promise((r) => setTimeout(r, 1000));
            await redis!.start();
            return 'Redis killed at 30 % and started empty 1 s later';
          });
        }, 180_000);
      }
    });
  }
});
