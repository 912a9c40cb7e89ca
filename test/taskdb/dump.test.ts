/**
 * `copyDatabase` and `tableChecksums` on real databases: a pipeline run on PostgreSQL (a
 * for-loop, files with metadata, metadata dependencies, a failing task and the task it blocks,
 * log lines, worker hosts) is copied PostgreSQL → SQLite → a second PostgreSQL schema with every
 * table's rows and sha256 equal at each step, the views read the same, and the restored
 * databases keep allocating ids after the copied ones. Also SQLite → SQLite, and the refusals:
 * a non-empty target, a database that is no task database, a row the target cannot hold.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float, loadConfig, openSqlDatabase } from '../../src/core/index.js';
import { createPipeline, type Pipeline } from '../../src/pipeline.js';
import type { HandlerDefinition } from '../../src/sdk/index.js';
import {
  DUMP_TABLES,
  TaskDatabase,
  copyDatabase,
  differingTables,
  openCopySource,
  openCopyTarget,
  tableChecksums,
  type TableChecksum,
} from '../../src/taskdb/index.js';
import { createTestPipeline, runChainToEnd } from '../../src/testing/index.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';

const pgOk = await postgresAvailable();

/** Tables of a pipeline database that are deliberately not copied (see DUMP_TABLES). */
const NOT_COPIED = [
  'eas_migrations',
  'eas_migrations_lock',
  'eas_queue',
  'eas_queue_migrations',
  'eas_queue_migrations_lock',
];

/** Writes its output file and reports metadata of several types (floats, unicode, JSON). */
const HANDLERS: Record<string, HandlerDefinition> = {
  write_lc: {
    run: (ctx) => {
      const size = Number(ctx.task.metadata.size);
      ctx.log('info', `writing ${ctx.task.outputs.lightcurve} for size ${size}`);
      ctx.log('warn', 'ünïcode log line: Ω ≈ 0.1 + 0.2');
      writeFileSync(ctx.task.outputs.lightcurve!, `lightcurve of size ${size}\n`);
      return {
        metadata: {
          ratio: float(size / 3),
          third: 0.1 + 0.2,
          label: `größe ${size}`,
          n: 7,
          outcome: size > 2 ? 'PASS' : 'FAIL',
        },
        fileMetadata: { lightcurve: { cadence: 900, nested: { a: [1, 2.5], b: null } } },
      };
    },
  },
};

const CHAIN = {
  job_name: 'dump-fixture',
  working_directory: 'grid',
  task_list: [
    {
      task: 'execution_for_loop',
      parameter: 'size',
      values: [1, 2.5, 3],
      task_list: [
        {
          task: 'write_lc',
          name: 'make',
          outputs: { lightcurve: "'lc_{size_index}.txt'.format(**metadata)" },
        },
        {
          task: 'set_metadata',
          name: 'mark',
          inputs: { lightcurve: "'lc_{size_index}.txt'.format(**metadata)" },
          values: { twice: "(metadata['size'] * 2)", Zeta: 'z', alpha: 'a', ärger: 'ä', _x: 1 },
        },
        { task: 'null', name: 'after', requires_metadata_from: ['mark'] },
      ],
    },
    { task: 'error', name: 'broken', outputs: { lightcurve: 'broken.txt' } },
    { task: 'null', name: 'reads_broken', inputs: { lightcurve: 'broken.txt' } },
  ],
};

/** Submits a chain and runs it to its end; the job's id. */
async function runChain(p: Pipeline, chain: unknown): Promise<number> {
  return (await runChainToEnd(p, JSON.stringify(chain))).jobId;
}

/** A pipeline (SQL queue, files in a temporary directory) on the database at `url`. */
async function pipelineOn(url: string, dir: string): Promise<Pipeline> {
  const config = { ...loadConfig({ cwd: dir, env: {} }), databaseUrl: url };
  return createPipeline({ config, handlers: HANDLERS });
}

/** What the TaskDatabase views show: status, jobs, every task's detail, products, logs, errors. */
async function views(db: TaskDatabase): Promise<unknown> {
  const tasks = await db.tasks({ limit: 10_000 });
  return {
    status: await db.status(),
    jobs: await db.jobs(),
    tasks: await Promise.all(tasks.map((t) => db.task(t.id))),
    products: await db.products(),
    logs: await db.logs({ limit: 10_000 }),
    errors: await db.errors(),
    counts: await db.counts(),
  };
}

function sqliteTables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'eas%'")
        .pluck()
        .all() as string[]
    ).sort();
  } finally {
    db.close();
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function scratch(): string {
  const t = tempDir('eas-dump-');
  cleanups.push(t.remove);
  return t.dir;
}

describe.runIf(pgOk)('PostgreSQL → SQLite → PostgreSQL', () => {
  let pgUrl: string;
  let pg2Url: string;
  let sqliteUrl: string;
  let original: Record<string, TableChecksum>;
  let originalViews: unknown;
  let originalJobStatus: unknown;
  let jobId: number;

  beforeAll(async () => {
    const s1 = await freshPostgresSchema();
    const s2 = await freshPostgresSchema();
    cleanups.push(s1.drop, s2.drop);
    pgUrl = s1.url;
    pg2Url = s2.url;
    sqliteUrl = `sqlite:${join(scratch(), 'copy', 'eas.db')}`;
    const p = await pipelineOn(pgUrl, scratch());
    try {
      jobId = await runChain(p, CHAIN);
      // The dashboard totals the controller stores after a job ends (unless its reap did).
      await p.db.storeJobTotals();
      original = await tableChecksums(p.db.sql);
      originalViews = await views(p.db);
      originalJobStatus = await p.db.status(jobId);
    } finally {
      await p.close();
    }
  }, 60_000);

  it('the source run filled every copied table (so the comparison below covers each one)', async () => {
    for (const name of DUMP_TABLES) expect(original[name]!.rows, name).toBeGreaterThan(0);
    const view = originalViews as { status: { totals: Record<string, number> } };
    expect(view.status.totals).toMatchObject({ done: 14, failed: 1, blocked: 1 });
  });

  it('PG → new SQLite file: every table has the same rows and sha256, read in pages of 3', async () => {
    const source = await openCopySource(pgUrl);
    const target = await openCopyTarget(sqliteUrl);
    try {
      const result = await copyDatabase(source, target, { pageSize: 3 });
      expect(result.tables).toEqual(original);
      expect(result.countersRaised).toEqual([]);
      expect(result.sequencesReset).toEqual([]);
      expect(await tableChecksums(target)).toEqual(original);
      expect(await tableChecksums(target, { pageSize: 2 })).toEqual(original);
      expect(await tableChecksums(source)).toEqual(original);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('the SQLite copy reads the same through the TaskDatabase views', async () => {
    const db = new TaskDatabase(await openSqlDatabase(sqliteUrl));
    try {
      expect(await views(db)).toEqual(originalViews);
    } finally {
      await db.close();
    }
  });

  it('SQLite → a second, fresh PG schema: identical again (keyset pages of 4), and the same views', async () => {
    const source = await openCopySource(sqliteUrl);
    const target = await openCopyTarget(pg2Url);
    try {
      const result = await copyDatabase(source, target, { pageSize: 4 });
      expect(result.tables).toEqual(original);
      // The log lines' serial id, and the sequences attempt and version ids come from.
      expect(result.sequencesReset).toEqual([
        'eas_attempts.id',
        'eas_log_lines.id',
        'eas_versions.id',
      ]);
      expect(differingTables(await tableChecksums(target), original)).toEqual([]);
    } finally {
      await source.close();
      await target.close();
    }
    const db = new TaskDatabase(await openSqlDatabase(pg2Url));
    try {
      expect(await views(db)).toEqual(originalViews);
    } finally {
      await db.close();
    }
  });

  it('text keys are read in byte order even where PostgreSQL collates them otherwise (ICU)', async () => {
    // The test database collates by bytes (C.UTF-8); many servers use a language collation,
    // under which "alpha" < "Zeta". Give the metadata keys such a collation and the checksums
    // and the order of a copy must not change.
    const s5 = await freshPostgresSchema();
    cleanups.push(s5.drop);
    const source = await openCopySource(sqliteUrl);
    const target = await openCopyTarget(s5.url);
    try {
      await copyDatabase(source, target);
      await target.run(
        'ALTER TABLE eas_metadata ALTER COLUMN key TYPE varchar(255) COLLATE "und-x-icu"',
      );
      const icuOrder = await target.all<{ key: string }>(
        "SELECT DISTINCT key FROM eas_metadata WHERE key IN ('Zeta', 'alpha') ORDER BY key",
      );
      expect(icuOrder.map((r) => r.key)).toEqual(['alpha', 'Zeta']);
      expect(await tableChecksums(target)).toEqual(original);
      const back = await openCopyTarget(sqliteUrlIn(scratch()));
      try {
        expect((await copyDatabase(target, back, { pageSize: 2 })).tables).toEqual(original);
      } finally {
        await back.close();
      }
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('the restored PG database runs a new job whose ids all follow the copied ones', async () => {
    const before = (await views(await openViews(pg2Url))) as {
      tasks: { id: number; attempts: { id: number }[] }[];
      logs: { id: number }[];
    };
    const maxTask = Math.max(...before.tasks.map((t) => t.id));
    const maxAttempt = Math.max(...before.tasks.flatMap((t) => t.attempts.map((a) => a.id)));
    const maxLog = Math.max(...before.logs.map((l) => l.id));

    const p = await pipelineOn(pg2Url, scratch());
    try {
      const second = await runChain(p, CHAIN);
      expect(second).toBe(jobId + 1);
      const status = await p.db.status(second);
      expect(status.totals).toMatchObject({ done: 14, failed: 1, blocked: 1 });
      const tasks = await p.db.tasks({ jobId: second, limit: 1000 });
      expect(Math.min(...tasks.map((t) => t.id))).toBe(maxTask + 1);
      const details = await Promise.all(tasks.map((t) => p.db.task(t.id)));
      const attempts = details.flatMap((d) => d!.attempts.map((a) => a.id));
      expect(Math.min(...attempts)).toBe(maxAttempt + 1);
      const logs = await p.db.logs({ jobId: second, limit: 1000 });
      expect(logs.length).toBeGreaterThan(0);
      expect(Math.min(...logs.map((l) => l.id))).toBeGreaterThan(maxLog);
      // The first job reads as before.
      expect(await p.db.status(jobId)).toEqual(originalJobStatus);
    } finally {
      await p.close();
    }
  }, 60_000);

  it('a non-empty target is refused with USAGE naming its tables, and its checksums do not change', async () => {
    const source = await openCopySource(sqliteUrl);
    const target = await openCopyTarget(pgUrl);
    try {
      const before = await tableChecksums(target);
      const error = await copyDatabase(source, target).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'USAGE' });
      expect((error as Error).message).toMatch(/^The target postgres:.* is not empty: eas_jobs, /);
      expect((error as Error).message).toContain('Nothing was changed.');
      expect(await tableChecksums(target)).toEqual(before);
      expect(before).toEqual(original);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('a row the target cannot hold fails the copy, and the target stays empty (one transaction)', async () => {
    // SQLite does not enforce varchar(255); PostgreSQL does. eas_worker_hosts is copied after
    // the jobs, tasks and attempts, so those were written before the failure.
    const file = join(scratch(), 'long-host.db');
    {
      const s = await openCopySource(sqliteUrl);
      const t = await openCopyTarget(`sqlite:${file}`);
      await copyDatabase(s, t);
      await s.close();
      await t.close();
    }
    const db = new Database(file);
    db.prepare('UPDATE eas_worker_hosts SET host = ?').run('h'.repeat(300));
    db.close();

    const s3 = await freshPostgresSchema();
    cleanups.push(s3.drop);
    const source = await openCopySource(`sqlite:${file}`);
    const target = await openCopyTarget(s3.url);
    try {
      const empty = await tableChecksums(target);
      const error = await copyDatabase(source, target).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INTERNAL' });
      expect((error as Error).message).toMatch(
        /^Copying eas_worker_hosts into postgres:.* failed .*too long.*The target is unchanged\.$/,
      );
      expect(await tableChecksums(target)).toEqual(empty);
      for (const name of DUMP_TABLES.filter((n) => n !== 'eas_counters'))
        expect(empty[name]!.rows, name).toBe(0);
      const counters = await target.all<{ value: number }>('SELECT value FROM eas_counters');
      expect(counters.map((c) => Number(c.value))).toEqual([0, 0, 0, 0, 0]);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('an empty PostgreSQL schema is no task database: a clear USAGE error, nothing created', async () => {
    const s4 = await freshPostgresSchema();
    cleanups.push(s4.drop);
    await expect(openCopySource(s4.url)).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(
        /^postgres:.* is not a plato-eas task database: it has no eas_migrations table\. Check the URL \(for PostgreSQL also its search_path\)\.$/,
      ),
    });
    const raw = await openSqlDatabase(s4.url);
    const target = await openCopyTarget(sqliteUrlIn(scratch()));
    try {
      await expect(copyDatabase(raw, target)).rejects.toMatchObject({ code: 'USAGE' });
      const tables = await raw.all(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()',
      );
      expect(tables).toEqual([]);
    } finally {
      await raw.close();
      await target.close();
    }
  });
});

async function openViews(url: string): Promise<TaskDatabase> {
  const db = new TaskDatabase(await openSqlDatabase(url));
  cleanups.push(() => db.close());
  return db;
}

function sqliteUrlIn(dir: string): string {
  return `sqlite:${join(dir, 'eas.db')}`;
}

describe('SQLite → SQLite', () => {
  it('copies an embedded pipeline into a new file: same rows, sha256 and views; the copy runs a new job', async () => {
    await using t = await createTestPipeline({ handlers: HANDLERS });
    const { jobId } = await t.runChain(CHAIN as never);
    const original = await tableChecksums(t.db.sql);
    const originalViews = await views(t.db);
    const url = sqliteUrlIn(scratch());

    const target = await openCopyTarget(url);
    try {
      const result = await copyDatabase(t.db.sql, target, { pageSize: 5 });
      expect(result.tables).toEqual(original);
      expect(await tableChecksums(target)).toEqual(original);
    } finally {
      await target.close();
    }

    const p = await pipelineOn(url, scratch());
    try {
      expect(await views(p.db)).toEqual(originalViews);
      const second = await runChain(p, CHAIN);
      expect(second).toBe(jobId + 1);
      expect((await p.db.status(second)).totals).toMatchObject({ done: 14, failed: 1 });
      const logs = await p.db.logs({ limit: 10_000 });
      expect(new Set(logs.map((l) => l.id)).size).toBe(logs.length);
    } finally {
      await p.close();
    }
  }, 60_000);

  it('every eas_* table of a pipeline database is copied or deliberately left out', async () => {
    await using t = await createTestPipeline();
    const all = sqliteTables(join(t.dir, '.eas', 'eas.db'));
    expect(all.filter((n) => !DUMP_TABLES.includes(n) && !NOT_COPIED.includes(n))).toEqual([]);
    expect(DUMP_TABLES.filter((n) => !all.includes(n))).toEqual([]);
  });

  it('an empty target reads as 0 rows per table with the sha256 of nothing', async () => {
    const target = await openCopyTarget(sqliteUrlIn(scratch()));
    try {
      const sums = await tableChecksums(target);
      expect(Object.keys(sums)).toEqual([...DUMP_TABLES]);
      expect(sums['eas_jobs']).toEqual({
        rows: 0,
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      });
      expect(sums['eas_counters']!.rows).toBe(5);
    } finally {
      await target.close();
    }
  });

  it('a SQLite file with other tables is neither a source nor a target, and is left unchanged', async () => {
    const file = join(scratch(), 'other.db');
    const raw = new Database(file);
    raw.exec(
      "CREATE TABLE stars (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO stars VALUES (1, 'Kepler-10')",
    );
    raw.close();
    await expect(openCopySource(`sqlite:${file}`)).rejects.toMatchObject({
      code: 'USAGE',
      message: `sqlite:${file} is not a plato-eas task database: it has no eas_migrations table. Check the URL.`,
    });
    await expect(openCopyTarget(`sqlite:${file}`)).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('is not a plato-eas task database but holds tables (stars)'),
    });
    expect(sqliteTables(file)).toEqual([]);
  });

  it('a missing source file is NOT_FOUND and is not created', async () => {
    const file = join(scratch(), 'missing.db');
    await expect(openCopySource(`sqlite:${file}`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(existsSync(file)).toBe(false);
  });

  it('a file that is not SQLite at all is bad input, not an unreachable server', async () => {
    const file = join(scratch(), 'notes.txt');
    writeFileSync(file, 'not a database\n'.repeat(100));
    await expect(openCopySource(`sqlite:${file}`)).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('cannot be opened as a database'),
    });
  });

  it('copying a database into itself is refused', async () => {
    const db = await openCopyTarget(sqliteUrlIn(scratch()));
    try {
      await expect(copyDatabase(db, db)).rejects.toMatchObject({ code: 'USAGE' });
    } finally {
      await db.close();
    }
  });
});
