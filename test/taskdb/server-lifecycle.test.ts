import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toTypedMetadata, type SqlDatabase, type SqlExecutor } from '../../src/core/index.js';
import {
  createTaskDatabase,
  tableChecksums,
  TaskDatabase,
  type AttemptOutcome,
  type AttemptPayload,
  type FinishResult,
  type PlannedTask,
} from '../../src/taskdb/index.js';
import { failed, job, leaf, NO_RETRY, ok, WORKER } from '../contracts/taskdb-contract.js';
import { generalPath } from '../helpers/general-path.js';
import { freshPostgresSchema, postgresAvailable } from '../helpers/services.js';

/*
 * On PostgreSQL the hot lifecycle paths run on the server (`DialectProfile.serverLifecycle`):
 * starting attempts is one statement and finishing attempts that passed QC is one call of
 * `eas_finish_passed`. These tests run one job twice, step by step with the same clock and the
 * same outcomes — once through the server paths, once with the flag off (the general,
 * statement-by-statement paths SQLite uses) — and require every step's result and, at the
 * end, every table, row for row, to be identical.
 */

/** The same executor, recording the text of every statement it runs. */
function recording<T extends SqlExecutor>(ex: T, log: string[]): T {
  const wrap = (name: 'all' | 'get' | 'run') => ({
    value: (sql: string, params?: readonly unknown[]) => {
      log.push(sql);
      return (ex[name] as (s: string, p?: readonly unknown[]) => Promise<unknown>)(sql, params);
    },
  });
  return Object.create(ex, {
    all: wrap('all'),
    get: wrap('get'),
    run: wrap('run'),
    transaction: {
      value: <R>(fn: (tx: SqlExecutor) => Promise<R>) =>
        ex.transaction((tx) => fn(recording(tx, log))),
    },
  }) as T;
}

const out = (st: string, filename: string, optional = false) => ({
  semanticType: st,
  workingDirectory: 'wd',
  filename,
  optional,
});
const input = (st: string, filename: string, producerKey: number) => ({
  semanticType: st,
  workingDirectory: 'wd',
  filename,
  producerKey,
});

/**
 * Producers with files, version and output metadata and log lines; consumers of files and of
 * metadata; a diamond; a task that fails once and retries; a task that never writes its
 * optional output (its consumer is blocked); and a second job.
 */
function plans(): PlannedTask[][] {
  const first = job([
    leaf(1, { outputs: [out('lc', 'a.gz'), out('aux', 'a.aux')] }),
    leaf(2, { outputs: [out('lc', 'b.gz')] }),
    leaf(3, {
      inputs: [input('left', 'a.gz', 1), input('right', 'b.gz', 2)],
      metadataFrom: [{ name: 't1', providerKey: 1 }],
      outputs: [out('result', 'c.txt')],
    }),
    leaf(4, { inputs: [input('in', 'c.txt', 3)] }),
    leaf(5, { maxAttempts: 2 }),
    leaf(6, { outputs: [out('maybe', 'm.txt', true)] }),
    leaf(7, { inputs: [input('in', 'm.txt', 6)] }),
    leaf(8, { metadataFrom: [{ name: 't5', providerKey: 5 }] }),
  ]).tasks;
  const second = job([leaf(1), leaf(2, { metadataFrom: [{ name: 't1', providerKey: 1 }] })], 'k');
  return [first, second.tasks];
}

/** The outcome both runs report for an attempt: a pure function of its payload. */
function outcomeOf(p: AttemptPayload): AttemptOutcome {
  const fails = p.name === 't5' && p.attemptNumber === 1;
  const t = 5_000 + p.attemptId;
  return {
    attemptId: p.attemptId,
    workerId: WORKER.id,
    succeeded: !fails,
    qcPassed: !fails,
    error: fails ? 'boom' : undefined,
    traceback: fails ? 'Traceback: boom' : undefined,
    exitCode: fails ? 1 : 0,
    startedAt: t,
    endedAt: t + 7,
    wallMs: 7,
    cpuMs: 3.5,
    cpuChildrenMs: 0.25,
    outputs: p.outputs
      .filter((o) => o.semanticType !== 'maybe')
      .map((o, i) => ({
        semanticType: o.semanticType,
        sha256: String(p.taskId % 10).repeat(64),
        size: 100 + i,
        metadata: toTypedMetadata({ rows: 10 * p.taskId, kind: o.semanticType }),
      })),
    outputMetadata: toTypedMetadata({
      task: p.taskId,
      ratio: 0.5,
      flag: true,
      label: `t${p.taskId}`,
    }),
    retry: { ...NO_RETRY, maxAttempts: 2, backoffMs: 0 },
    logs: [
      { ts: t, level: 'info', stream: 'handler', message: `start ${p.taskId}` },
      { ts: t + 1, level: 'warn', stream: 'stderr', message: `quote ' and "json" {}` },
    ],
  };
}

interface Run {
  steps: unknown[];
  checksums: Record<string, { rows: number; sha256: string }>;
}

/**
 * Runs the plans to the end. With `takeMax`, each report asks to start up to that many of the
 * attempts it releases (`TakeRequest`), and those run in the next round without a start.
 */
async function runJob(db: TaskDatabase, takeMax = 0): Promise<Run> {
  const steps: unknown[] = [];
  let ready: number[] = [];
  let taken: AttemptPayload[] = [];
  for (const tasks of plans()) {
    const seed = `seed${steps.length}`;
    steps.push(seed);
    const r = await db.submit({ name: 'j', workingDirectory: 'wd', chain: {}, tasks, seed });
    ready.push(...r.ready.map((a) => a.attemptId));
  }
  const take = takeMax > 0 ? { worker: WORKER, types: ['null'], max: takeMax } : undefined;
  // Alternating batch shapes: everything at once, then one at a time.
  for (let round = 0; ready.length + taken.length > 0; round++) {
    const { payloads, stale } =
      ready.length > 0 ? await db.startAttempts(ready, WORKER) : { payloads: [], stale: [] };
    steps.push({ started: payloads, stale });
    const outcomes = [...payloads, ...taken]
      .map(outcomeOf)
      .sort((a, b) => a.attemptId - b.attemptId);
    const results: FinishResult[] = [];
    if (round % 2 === 0) results.push(await db.finishAttempts(outcomes, take));
    else for (const o of outcomes) results.push(await db.finishAttempts([o], take));
    const norm = results.map((f) => ({
      ...f,
      ready: [...f.ready].sort((a, b) => a.attemptId - b.attemptId),
      done: [...f.done].sort((a, b) => a - b),
    }));
    steps.push(norm);
    // A late, repeated report is refused as stale on both paths.
    if (round === 0) steps.push(await db.finishAttempts(outcomes.slice(0, 1), take));
    ready = results.flatMap((f) => f.ready.map((a) => a.attemptId)).sort((a, b) => a - b);
    taken = results.flatMap((f) => f.started);
  }
  steps.push(await db.status());
  return { steps, checksums: await tableChecksums(db.sql) };
}

const pg = await postgresAvailable();

describe.skipIf(!pg)('PostgreSQL server-side lifecycle', () => {
  const drops: (() => Promise<void>)[] = [];
  const dbs: TaskDatabase[] = [];
  let server: Run;
  let general: Run;
  let serverTaking: Run;
  let generalTaking: Run;

  async function open(): Promise<TaskDatabase> {
    const s = await freshPostgresSchema();
    drops.push(s.drop);
    let clock = 1_000;
    const db = await createTaskDatabase({ url: s.url, now: () => (clock += 10) });
    dbs.push(db);
    return db;
  }

  const statements: string[] = [];

  beforeAll(async () => {
    const a = await open();
    expect(a.sql.profile.serverLifecycle).toBe(true);
    let clock = 1_000;
    server = await runJob(
      new TaskDatabase(recording(a.sql, statements), { now: () => (clock += 10) }),
    );
    const b = await open();
    clock = 1_000;
    const viaGeneral = new TaskDatabase(generalPath(b.sql as SqlDatabase), {
      now: () => (clock += 10),
    });
    expect(viaGeneral.sql.profile.serverLifecycle).toBe(false);
    general = await runJob(viaGeneral);
    clock = 1_000;
    serverTaking = await runJob(
      new TaskDatabase((await open()).sql, { now: () => (clock += 10) }),
      2,
    );
    clock = 1_000;
    generalTaking = await runJob(
      new TaskDatabase(generalPath((await open()).sql as SqlDatabase), {
        now: () => (clock += 10),
      }),
      2,
    );
  });

  afterAll(async () => {
    for (const db of dbs) await db.close();
    for (const drop of drops) await drop();
  });

  it('took the server paths, and the general one where the server hands a batch back', () => {
    const count = (re: RegExp) => statements.filter((q) => re.test(q)).length;
    const finishes = count(/eas_finish_passed/);
    const general = count(/FOR UPDATE OF a/);
    const starts = count(/eas_start_attempts/);
    // Round 0 (5 attempts in one batch): the server hands the passed ones back, since t6 did
    // not write its optional output, and they go the general way with t5's failure; then the
    // repeated report, refused on the server. Round 1: t3, t5's retry and k/t2 one by one.
    // Round 2: t4 and t8 in one batch. One start statement a round.
    expect({ finishes, general, starts }).toEqual({ finishes: 6, general: 1, starts: 3 });
  });

  it('gives the same result at every step as the general path', () => {
    expect(server.steps.length).toBeGreaterThan(6);
    expect(server.steps).toEqual(general.steps);
  });

  it('ran the job to its end: done, retried, failed and blocked tasks as the chain says', () => {
    const status = server.steps.at(-1) as { totals: Record<string, number> };
    // 2 roots + 8 + 2 leaves; t7 is blocked by the optional output t6 did not write.
    expect(status.totals).toMatchObject({ done: 11, blocked: 1, failed: 0, waiting: 0 });
  });

  it('starts released attempts for the reporting worker, the same on both paths', () => {
    const started = serverTaking.steps
      .flatMap((s) => (Array.isArray(s) ? (s as FinishResult[]) : []))
      .flatMap((f) => f.started);
    // Released dependents: t3 (after t1 and t2), t4, t8, k/t2 and t5's retry; at most two a report.
    expect(started.length).toBeGreaterThanOrEqual(3);
    expect(started.every((p) => p.taskType === 'null')).toBe(true);
    // A taken attempt carries its payload: t3 gets its inputs and t1's metadata.
    const t3 = started.find((p) => p.name === 't3');
    expect(t3?.inputs.map((i) => i.filename).sort()).toEqual(['a.gz', 'b.gz']);
    expect(Object.keys(t3?.requestedMetadata ?? {})).toEqual(['t1']);
    expect(serverTaking.steps).toEqual(generalTaking.steps);
    expect(serverTaking.checksums).toEqual(generalTaking.checksums);
    // The same attempts ran and ended the same way as without taking.
    expect(serverTaking.checksums.eas_attempts!.rows).toBe(10);
    expect((serverTaking.steps.at(-1) as { totals: unknown }).totals).toEqual(
      (server.steps.at(-1) as { totals: unknown }).totals,
    );
  });

  for (const path of ['server', 'general'] as const) {
    it(`waits for a rerun reopening the job before ending it (${path} path)`, async () => {
      const opened = await open();
      const db =
        path === 'server' ? opened : new TaskDatabase(generalPath(opened.sql as SqlDatabase));
      const r = await db.submit({
        name: 'j',
        workingDirectory: 'wd',
        chain: {},
        tasks: job([leaf(1), leaf(2)]).tasks,
        seed: 's',
      });
      const [a1, a2] = r.ready.map((a) => a.attemptId).sort((x, y) => x - y);
      await db.startAttempts([a1!, a2!], WORKER);
      await db.finishAttempts([failed(a1!)]);
      const [t1] = (await db.sql.all<{ id: number }>(
        `SELECT id FROM eas_tasks WHERE state = 'failed'`,
      )) as { id: number }[];
      // A rerun of the job, not yet committed: it holds the job's row and has reopened t1.
      let commitRerun!: () => void;
      const held = new Promise<void>((resolve) => (commitRerun = resolve));
      let reopened!: () => void;
      const inside = new Promise<void>((resolve) => (reopened = resolve));
      const rerun = opened.sql.transaction(async (tx) => {
        await tx.run(`UPDATE eas_jobs SET status = 'running', finished_at = NULL WHERE id = ?`, [
          r.jobId,
        ]);
        await tx.run(`UPDATE eas_tasks SET state = 'queued' WHERE id = ?`, [t1!.id]);
        reopened();
        await held;
      });
      await inside;
      // The last live task ends meanwhile: without the rerun, the job would end here.
      let finished = false;
      const finish = db.finishAttempts([ok(a2!)]).finally(() => (finished = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(finished, 'the finish waits for the rerun').toBe(false);
      commitRerun();
      await rerun;
      expect((await finish).finishedJobs).toEqual([]);
      expect((await db.job(r.jobId))?.status).toBe('running');
    });
  }

  it('leaves every table identical, row for row, to the general path', () => {
    // 10 leaves, t5 twice, t7 never (blocked).
    expect(server.checksums.eas_attempts!.rows).toBe(10);
    expect(server.checksums.eas_versions!.rows).toBe(4);
    expect(server.checksums.eas_log_lines!.rows).toBe(20);
    expect(server.checksums).toEqual(general.checksums);
  });
});
