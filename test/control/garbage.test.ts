/**
 * Removing file-store objects without losing one a version needs: `deleteJob` keeps an object
 * another job's worker stored again after the deleted job's last version of it (its report not
 * yet committed), and `collectGarbage` (`eas gc`) removes only unreferenced objects idle for
 * longer than its age limit. Real SQLite, real files, the real binary for the CLI.
 */
import { utimes } from 'node:fs/promises';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/index.js';
import { collectGarbage, deleteJob } from '../../src/control/index.js';
import { createPipeline, type Pipeline } from '../../src/pipeline.js';
import { job, leaf, ok, WORKER } from '../contracts/taskdb-contract.js';
import { ensureBuilt, json, runEas, tempDir } from '../cli/harness.js';

const HOUR = 3600_000;
const LC = { semanticType: 'lightcurve', workingDirectory: 'wd', filename: 'lc.txt' };

let dir: string;
let remove: () => void;
let p: Pipeline;

beforeEach(async () => {
  ({ dir, remove } = tempDir('eas-garbage-'));
  p = await createPipeline({ config: loadConfig({ cwd: dir, env: {} }) });
});

afterEach(async () => {
  await p.close();
  remove();
});

/** Sets when an object was last stored, as if long ago. */
async function storedAgo(key: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  await utimes(p.files.localPath(key), then, then);
}

/** A job of one task whose attempt reports `content` as its light curve; the attempt's id. */
async function jobWriting(
  content: string,
  report = true,
): Promise<{ jobId: number; attemptId: number; key: string }> {
  const r = await p.db.submit(job([leaf(1, { outputs: [{ ...LC, optional: false }] })]));
  const [a] = r.ready;
  await p.db.startAttempts([a!.attemptId], WORKER);
  const stored = await p.files.putBuffer(Buffer.from(content));
  if (report)
    await p.db.finishAttempts([
      ok(a!.attemptId, [{ semanticType: 'lightcurve', sha256: stored.sha256, size: stored.size }]),
    ]);
  return { jobId: r.jobId, attemptId: a!.attemptId, key: stored.key };
}

/** Moves a job's versions back in time, as if it had finished `ms` ago. */
async function finishedAgo(jobId: number, ms: number): Promise<void> {
  await p.db.sql.run(
    'UPDATE eas_versions SET created_at = created_at - ? WHERE product_id IN (SELECT id FROM eas_products WHERE job_id = ?)',
    [ms, jobId],
  );
}

describe('deleteJob and objects stored again', () => {
  it("removes the deleted job's own object", async () => {
    const a = await jobWriting('light curve A');
    await finishedAgo(a.jobId, HOUR);
    await storedAgo(a.key, 2 * HOUR);
    const d = await deleteJob({ db: p.db, queue: p.queue, files: p.files }, a.jobId);
    expect([d.deletedObjects, d.keptObjects, d.missingObjects]).toEqual([[a.key], [], []]);
    expect(await p.files.stat(a.key)).toBeUndefined();
  });

  it("keeps an object another job's worker stored again before its report committed", async () => {
    const a = await jobWriting('same bytes');
    await finishedAgo(a.jobId, HOUR);
    await storedAgo(a.key, 2 * HOUR);
    // Job B's attempt stores the same bytes (the store keeps the object it has) …
    const b = await jobWriting('same bytes', false);
    expect(b.key).toBe(a.key);
    // … and job A is deleted before B's report commits.
    const d = await deleteJob({ db: p.db, queue: p.queue, files: p.files }, a.jobId);
    expect([d.deletedObjects, d.keptObjects]).toEqual([[], [a.key]]);
    await p.db.finishAttempts([
      ok(b.attemptId, [{ semanticType: 'lightcurve', sha256: b.key, size: 10 }]),
    ]);
    // B's version has its object, intact.
    expect(await p.files.verify(b.key)).toBe(true);
  });
});

describe('deleteJob right after its job ended', () => {
  it("waits for a report that stored the same bytes just before the job's commit, and keeps the object", async () => {
    // B's worker stores the bytes first (its report is slow) …
    const b = await jobWriting('shared bytes', false);
    // … then A stores and commits the same bytes, and A is deleted at once.
    const a = await jobWriting('shared bytes');
    expect(a.key).toBe(b.key);
    const deleting = deleteJob({ db: p.db, queue: p.queue, files: p.files }, a.jobId, {
      settleMs: 4000,
    });
    // B's report commits while the delete waits (its 4 s leave a loaded machine room).
    await new Promise((r) => setTimeout(r, 300));
    await p.db.finishAttempts([
      ok(b.attemptId, [{ semanticType: 'lightcurve', sha256: b.key, size: 12 }]),
    ]);
    const d = await deleting;
    expect([d.deletedObjects, d.keptObjects]).toEqual([[], [a.key]]);
    expect(await p.files.verify(b.key)).toBe(true);
  });
});

describe('collectGarbage', () => {
  it('removes unreferenced objects idle past the age limit, and only those', async () => {
    const kept = await jobWriting('referenced by a version');
    await storedAgo(kept.key, 3 * HOUR);
    const orphan = await p.files.putBuffer(
      Buffer.from('output of an attempt killed before its report'),
    );
    await storedAgo(orphan.key, 2 * HOUR);
    const fresh = await p.files.putBuffer(Buffer.from('stored a moment ago, report pending'));

    const dry = await collectGarbage({ db: p.db, files: p.files }, { dryRun: true });
    expect(dry).toMatchObject({
      scanned: 3,
      referenced: 1,
      recent: 1,
      missing: 0,
      dryRun: true,
      removed: { keys: [orphan.key], bytes: orphan.size },
    });
    expect(await p.files.stat(orphan.key)).toBeDefined();

    const r = await collectGarbage({ db: p.db, files: p.files });
    expect(r).toMatchObject({
      scanned: 3,
      referenced: 1,
      recent: 1,
      dryRun: false,
      removed: { keys: [orphan.key], bytes: orphan.size },
    });
    expect(await p.files.stat(orphan.key)).toBeUndefined();
    expect(await p.files.verify(kept.key)).toBe(true);
    expect(await p.files.verify(fresh.key)).toBe(true);

    // With no age limit the fresh one goes too; the referenced one never does.
    const all = await collectGarbage({ db: p.db, files: p.files }, { olderThanMs: 0 });
    expect(all.removed.keys).toEqual([fresh.key]);
    expect(await p.files.verify(kept.key)).toBe(true);
  });
});

describe('eas gc', () => {
  beforeAll(() => ensureBuilt());

  it('counts with --dry-run, removes without, and refuses a bad --older-than (exit 2)', async () => {
    const orphan = await p.files.putBuffer(Buffer.from('left by a killed attempt'));
    await storedAgo(orphan.key, 2 * HOUR);
    const ref = await jobWriting('a real product');
    await p.close();

    const bad = await runEas(['gc', '--older-than', 'soon'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--older-than: "soon" is not a duration/);
    // A bare number is milliseconds: far too young, outputs may be on their way.
    const young = await runEas(['gc', '--older-than', '1'], dir);
    expect(young.code).toBe(2);
    expect(young.stderr).toMatch(/less than a minute/);

    const dry = await runEas(['gc', '--dry-run'], dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^2 stored files: 1 referenced by versions; would remove 1 \(\d+ B\) unreferenced\.$/m,
    );

    const r = await runEas(['gc', '--json', '--older-than', '30m'], dir);
    expect(r.code).toBe(0);
    expect(json<{ removed: { keys: string[] } }>(r).removed.keys).toEqual([orphan.key]);

    p = await createPipeline({ config: loadConfig({ cwd: dir, env: {} }) });
    expect(await p.files.stat(orphan.key)).toBeUndefined();
    expect(await p.files.verify(ref.key)).toBe(true);
  });
});
