/**
 * Autoscaling with real processes: `eas run --workers auto --until-idle` (the built binary) on
 * SQLite runs a burst of 300 short tasks plus one long one. Its local process scaler starts
 * `eas worker` processes up to the container's max, drains them when the demand falls (never
 * the one running the long task), and ends at zero; every task is done exactly once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runEas, spawnEas, tempDir, withDb } from '../cli/harness.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/autoscale/', import.meta.url));
/** burst.json: 300 short naps in a loop, one long nap, the loop node itself. */
const NAPS = 301;

let dir: string;
let remove: () => void;
let dir2: string;
let remove2: () => void;

function writeConfig(dir: string): void {
  writeFileSync(
    join(dir, 'eas.yaml'),
    [
      'database: { url: sqlite:.eas/eas.db }',
      'filestore: { root: .eas/files }',
      `registry: ${JSON.stringify(join(FIXTURES, 'registry.yaml'))}`,
      'logLevel: warn',
      '',
    ].join('\n'),
  );
}

beforeAll(async () => {
  // Building dist/ (when src/ is newer) can take a minute on a busy machine.
  await ensureBuilt();
  ({ dir, remove } = tempDir('autoscale'));
  ({ dir: dir2, remove: remove2 } = tempDir('autoscale-kill'));
  writeConfig(dir);
  writeConfig(dir2);
}, 180_000);
afterAll(() => {
  remove?.();
  remove2?.();
});

/** Per nap task: its state, its attempts and how many passed QC; attempts by state. */
function napRecord(dir: string): {
  naps: { state: string; attempts: number; passed: number }[];
  attemptStates: Record<string, number>;
} {
  return withDb(dir, (db) => ({
    naps: db
      .prepare(
        `SELECT t.state, count(a.id) AS attempts,
                sum(CASE WHEN a.qc = 'passed' THEN 1 ELSE 0 END) AS passed
         FROM eas_tasks t LEFT JOIN eas_attempts a ON a.task_id = t.id
         WHERE t.type = 'nap' GROUP BY t.id`,
      )
      .all() as { state: string; attempts: number; passed: number }[],
    attemptStates: Object.fromEntries(
      (
        db.prepare(`SELECT state, count(*) AS n FROM eas_attempts GROUP BY state`).all() as {
          state: string;
          n: number;
        }[]
      ).map((r) => [r.state, r.n]),
    ),
  }));
}

/** A `scale: <container> <from> → <to> (<reason>)` line of `eas run --workers auto`. */
interface ScaleLine {
  container: string;
  from: number;
  to: number;
  reason: string;
}

function scaleLines(stderr: string): ScaleLine[] {
  const out: ScaleLine[] = [];
  for (const m of stderr.matchAll(/^scale: (\S+) (\d+) → (\d+) \((.*)\)$/gm))
    out.push({ container: m[1]!, from: Number(m[2]), to: Number(m[3]), reason: m[4]! });
  return out;
}

describe('eas run --workers auto', () => {
  it('scales local workers up for a burst, drains them to zero, and runs every task once', async () => {
    const submitted = await runEas(['submit', join(FIXTURES, 'burst.json'), '--json'], dir);
    expect(submitted.code, submitted.stderr).toBe(0);

    const run = await runEas(['run', '--workers', 'auto', '--until-idle'], dir);
    expect(run.code, run.stderr).toBe(0);

    const lines = scaleLines(run.stderr);
    const burst = lines.filter((l) => l.container === 'burst');
    const peak = Math.max(...burst.map((l) => l.to));
    const last = burst[burst.length - 1];
    // Up for the burst (more than one worker, never above max 3), then down to zero.
    expect(peak, run.stderr).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(3);
    expect(burst[0]!.from).toBe(0);
    expect(burst[0]!.reason).toMatch(/^scale up: /);
    expect(burst.some((l) => l.to < l.from)).toBe(true);
    expect(last?.to).toBe(0);
    // The container with nothing to run was never started.
    expect(lines.filter((l) => l.container === 'eas-base')).toEqual([]);
    expect(run.stdout).toMatch(/Worker processes at most: burst [23]\./);

    const record = {
      ...napRecord(dir),
      ...withDb(dir, (db) => ({
        workerPids: (
          db
            .prepare(`SELECT count(DISTINCT pid) AS n FROM eas_attempts WHERE task_type = 'nap'`)
            .get() as { n: number }
        ).n,
        workersLeftRunning: (
          db
            .prepare(
              `SELECT count(*) AS n FROM eas_worker_hosts WHERE state = 'running' AND types LIKE '%nap%'`,
            )
            .get() as { n: number }
        ).n,
      })),
    };

    expect(record.naps).toHaveLength(NAPS);
    expect(record.naps.filter((n) => n.state !== 'done')).toEqual([]);
    // Exactly one attempt per task, and it passed QC: nothing lost, stalled or run twice.
    expect(record.naps.filter((n) => n.attempts !== 1 || n.passed !== 1)).toEqual([]);
    expect(Object.keys(record.attemptStates)).toEqual(['succeeded']);
    expect(record.workerPids).toBeGreaterThan(1);
    expect(record.workersLeftRunning).toBe(0);

    console.log(
      `autoscale-local: ${record.naps.length} nap tasks done with one QC-passed attempt each; ` +
        `attempts by state ${JSON.stringify(record.attemptStates)}; ` +
        `${record.workerPids} worker processes ran them; peak ${peak} replicas; ` +
        `scale lines: ${burst.map((l) => `${l.from}→${l.to}`).join(', ')}`,
    );
  });

  it('replaces a worker killed mid-burst; its attempts are re-run and every task is done once', async () => {
    const submitted = await runEas(['submit', join(FIXTURES, 'burst.json'), '--json'], dir2);
    expect(submitted.code, submitted.stderr).toBe(0);
    const child = spawnEas(['run', '--workers', 'auto', '--until-idle'], dir2);
    let stderr = '';
    let killed: number | undefined;
    child.stdout!.resume();
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      // The first worker to claim is killed outright (no drain): a crash, not a scale-in.
      const m = /^\[worker burst (\d+)\] worker: claiming/m.exec(stderr);
      if (m && killed === undefined) {
        killed = Number(m[1]);
        setTimeout(() => process.kill(killed!, 'SIGKILL'), 300);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, stderr).toBe(0);
    expect(killed).toBeDefined();
    expect(stderr).toContain(`worker ${killed} of burst exited unexpectedly (SIGKILL)`);
    const lines = scaleLines(stderr).filter((l) => l.container === 'burst');
    expect(lines[lines.length - 1]?.to).toBe(0);

    const record = napRecord(dir2);
    expect(record.naps).toHaveLength(NAPS);
    expect(record.naps.filter((n) => n.state !== 'done')).toEqual([]);
    // Each task passed QC exactly once; the killed worker's attempts were stalled and re-run.
    expect(record.naps.filter((n) => n.passed !== 1)).toEqual([]);
    expect(Object.keys(record.attemptStates).sort()).toEqual(
      record.attemptStates.stalled ? ['stalled', 'succeeded'] : ['succeeded'],
    );
    console.log(
      `autoscale-local (worker ${killed} killed): ${record.naps.length} nap tasks done, each with one QC-passed attempt; ` +
        `attempts by state ${JSON.stringify(record.attemptStates)}; scale lines: ${lines.map((l) => `${l.from}→${l.to}`).join(', ')}`,
    );
  });
});
