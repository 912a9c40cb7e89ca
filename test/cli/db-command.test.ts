/**
 * `eas db dump <target>` and `eas db restore <source>` in-process through `main()`: an embedded
 * pipeline is dumped into a new SQLite file and restored into another pipeline with the same
 * `eas status`; through PostgreSQL and back with every table identical; a non-empty target, a
 * bad URL and a missing file exit 2 and change nothing; an unreachable server exits 3; a value
 * one engine cannot hold (NaN) is reported as a difference with exit 1.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlDatabase } from '../../src/core/index.js';
import { DUMP_TABLES, tableChecksums, type TableChecksum } from '../../src/taskdb/index.js';
import { freshPostgresSchema, postgresAvailable } from '../helpers/services.js';
import {
  CHAINS,
  dropEasVariables,
  json,
  runMain,
  tempDir,
  writeE2eConfig,
  type StatusJson,
} from './harness.js';

const pgOk = await postgresAvailable();

interface DumpJson {
  source: string;
  target: string;
  identical: boolean;
  tables: Record<string, { source: TableChecksum; target: TableChecksum; identical: boolean }>;
  countersRaised: string[];
  sequencesReset: string[];
}

let root: string;
let remove: () => void;
/** A pipeline that ran two jobs (one with a failure): the database every case copies. */
let laptop: string;
let status: StatusJson;
let sums: Record<string, TableChecksum>;

async function checksumsOf(url: string): Promise<Record<string, TableChecksum>> {
  const db = await openSqlDatabase(url);
  try {
    return await tableChecksums(db);
  } finally {
    await db.close();
  }
}

/** A new pipeline directory (eas.yaml: SQLite under .eas/) that has not run anything. */
let n = 0;
function pipelineDir(): string {
  const dir = join(root, `pipeline-${++n}`);
  mkdirSync(dir);
  writeE2eConfig(dir);
  return dir;
}

beforeAll(async () => {
  dropEasVariables();
  ({ dir: root, remove } = tempDir('db-command'));
  laptop = pipelineDir();
  for (const chain of ['three-nulls-and-pair.json', 'error-blocks-consumer.json']) {
    const r = await runMain(['submit', join(CHAINS, 'e2e', chain)], laptop);
    expect(r.code, r.stderr).toBe(0);
  }
  const run = await runMain(['run', '--until-idle'], laptop);
  expect(run.code, run.stderr).toBe(1);
  status = json<StatusJson>(await runMain(['status', '--json'], laptop));
  sums = await checksumsOf(`sqlite:${join(laptop, '.eas', 'eas.db')}`);
}, 60_000);

afterAll(() => remove?.());

describe('eas db dump into SQLite', () => {
  it('a plain file path: exit 0, a line per table with rows and sha256 on both sides, then "identical"', async () => {
    const r = await runMain(['db', 'dump', 'laptop-copy.db'], laptop);
    expect(r.code, r.stderr).toBe(0);
    const file = join(laptop, 'laptop-copy.db');
    expect(r.stdout).toContain(`  into sqlite:${file}\n`);
    for (const t of DUMP_TABLES) {
      const s = sums[t]!;
      const line = `${s.rows} +${s.sha256.slice(0, 16)}`;
      expect(r.stdout).toMatch(new RegExp(`^${t} +${line} +${line}$`, 'm'));
    }
    expect(r.stdout).toMatch(/\nidentical: 14 tables, \d+ rows, same sha256 on both sides\n$/);
    expect(await checksumsOf(`sqlite:${file}`)).toEqual(sums);
  });

  it('--json, into a sqlite: URL: identical, with both sides of every table', async () => {
    const out = json<DumpJson>(
      await runMain(['db', 'dump', 'sqlite:json-copy.db', '--json'], laptop),
    );
    expect(out.identical).toBe(true);
    expect(out.target).toBe(`sqlite:${join(laptop, 'json-copy.db')}`);
    expect(Object.keys(out.tables)).toEqual([...DUMP_TABLES]);
    for (const t of DUMP_TABLES) {
      expect(out.tables[t]).toEqual({ source: sums[t], target: sums[t], identical: true });
    }
    expect(out.countersRaised).toEqual([]);
  });

  it('an existing non-empty target: exit 2 naming it, and it is unchanged', async () => {
    const file = join(laptop, 'laptop-copy.db');
    const r = await runMain(['db', 'dump', file], laptop);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`eas: The target sqlite:${file} is not empty: eas_jobs, eas_tasks,`);
    expect(r.stdout).toBe('');
    expect(await checksumsOf(`sqlite:${file}`)).toEqual(sums);
  });

  it('a URL of another kind exits 2 and creates nothing', async () => {
    const r = await runMain(['db', 'dump', 'mysql://root@localhost/eas'], laptop);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '"mysql://root@localhost/eas" is neither sqlite:<file>, a file path nor postgres://…',
    );
  });

  it('without a target argument: a usage error, exit 2', async () => {
    const r = await runMain(['db', 'dump'], laptop);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'target'");
  });

  it('from a pipeline that has no database yet: exit 2, and no database is created', async () => {
    const empty = pipelineDir();
    const r = await runMain(['db', 'dump', 'x.db'], empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`No SQLite database at ${join(empty, '.eas', 'eas.db')}`);
    expect(existsSync(join(empty, '.eas', 'eas.db'))).toBe(false);
    expect(existsSync(join(empty, 'x.db'))).toBe(false);
  });

  it('from a database of a newer schema: exit 2, and the new target file is removed again', async () => {
    expect((await runMain(['db', 'dump', 'future.db'], laptop)).code).toBe(0);
    const future = await openSqlDatabase(`sqlite:${join(laptop, 'future.db')}`);
    await future.run(
      `INSERT INTO eas_migrations (name, batch, migration_time) VALUES ('9999-future', 2, 0)`,
    );
    await future.close();
    const r = await runMain(['--database', 'sqlite:future.db', 'db', 'dump', 'fresh.db'], laptop);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has a newer schema than this plato-eas knows (9999-future)');
    expect(existsSync(join(laptop, 'fresh.db'))).toBe(false);
  });

  it('into the configured database itself: exit 2', async () => {
    const r = await runMain(['db', 'dump', '.eas/eas.db'], laptop);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Source and target are the same database');
  });
});

describe('eas db restore from SQLite', () => {
  let office: string;

  it('into a new pipeline: exit 0, "identical", and eas status reads as on the laptop', async () => {
    office = pipelineDir();
    const r = await runMain(['db', 'restore', join(laptop, 'laptop-copy.db')], office);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Copied sqlite:${join(laptop, 'laptop-copy.db')}\n`);
    expect(r.stdout).toMatch(/\nidentical: 14 tables, /);
    expect(json<StatusJson>(await runMain(['status', '--json'], office))).toEqual(status);
    expect(await checksumsOf(`sqlite:${join(office, '.eas', 'eas.db')}`)).toEqual(sums);
  });

  it('a second time: the configured database is not empty, exit 2 naming it, nothing changed', async () => {
    const db = join(office, '.eas', 'eas.db');
    const r = await runMain(['db', 'restore', join(laptop, 'json-copy.db')], office);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`The target sqlite:${db} is not empty`);
    expect(await checksumsOf(`sqlite:${db}`)).toEqual(sums);
  });

  it('from a file that does not exist: exit 2, and the file is not created', async () => {
    const fresh = pipelineDir();
    const r = await runMain(['db', 'restore', 'nowhere.db'], fresh);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`No SQLite database at ${join(fresh, 'nowhere.db')}`);
    expect(existsSync(join(fresh, 'nowhere.db'))).toBe(false);
  });
});

describe.runIf(pgOk)('through PostgreSQL and back', () => {
  let pg: string;
  const drops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    const s = await freshPostgresSchema();
    drops.push(s.drop);
    pg = s.url;
  });
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it('laptop → PostgreSQL (dump) → a new laptop (restore from the cluster): identical both ways', async () => {
    const up = await runMain(['db', 'dump', pg], laptop);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/\nidentical: 14 tables, /);
    expect(up.stdout).toContain('  into postgres://');
    expect(await checksumsOf(pg)).toEqual(sums);

    const back = pipelineDir();
    const down = await runMain(['db', 'restore', pg], back);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/\nidentical: 14 tables, /);
    expect(json<StatusJson>(await runMain(['status', '--json'], back))).toEqual(status);
    expect(await checksumsOf(`sqlite:${join(back, '.eas', 'eas.db')}`)).toEqual(sums);
  });

  it('restore into a configured PostgreSQL database (--database): exit 0, identical; again: exit 2', async () => {
    const s = await freshPostgresSchema();
    drops.push(s.drop);
    const copy = join(laptop, 'laptop-copy.db');
    const r = await runMain(['--database', s.url, 'db', 'restore', copy], laptop);
    expect(r.code, r.stderr).toBe(0);
    const again = await runMain(['--database', s.url, 'db', 'restore', copy], laptop);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/The target postgres:\/\/.* is not empty/);
    expect(await checksumsOf(s.url)).toEqual(sums);
  });

  it('a value SQLite cannot hold (a NaN duration) is reported as a difference: exit 1', async () => {
    const s = await freshPostgresSchema();
    drops.push(s.drop);
    expect((await runMain(['db', 'dump', s.url], laptop)).code).toBe(0);
    const db = await openSqlDatabase(s.url);
    await db.run(`UPDATE eas_attempts SET wall_ms = 'NaN' WHERE id = 1`);
    await db.close();
    const r = await runMain(['--database', s.url, 'db', 'dump', 'nan.db'], root);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^eas_attempts .* DIFFERENT$/m);
    expect(r.stdout).toMatch(/\nDIFFERENT: eas_attempts differ between source and target\.\n$/);
  });
});

describe('an unreachable PostgreSQL server', () => {
  it('as the dump target exits 3, and as the restore source too', async () => {
    const url = 'postgres://postgres@127.0.0.1:1/test';
    const dump = await runMain(['db', 'dump', url], laptop);
    expect(dump.code).toBe(3);
    expect(dump.stderr).toContain('is unreachable');
    const restore = await runMain(['db', 'restore', url], pipelineDir());
    expect(restore.code).toBe(3);
  });
});
