/**
 * Cluster mode with real processes: `eas controller` and `eas worker` daemons (the built
 * binary) on PostgreSQL run the original's detection_grid_1d.json to the end while /metrics
 * shows the queue draining; a second controller stands by and takes over when the leader is
 * SIGKILLed; bad flags exit 2.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  json,
  runEas,
  startDaemon,
  tempDir,
  type Daemon,
  type StatusJson,
} from '../cli/harness.js';
import {
  freshPostgresSchema,
  postgresAvailable,
  REDIS_URL,
  redisAvailable,
} from '../helpers/services.js';

const REGISTRY = fileURLToPath(new URL('../fixtures/cluster/registry.yaml', import.meta.url));
const GRID = fileURLToPath(
  new URL('../../../shared/data/chains/detection_grid_1d.json', import.meta.url),
);
/** detection_grid_1d.json: 2 tools × 3 searches × 1 cadence × 10 sizes × 3 tasks + loops + root. */
const GRID_TASKS = 270;
const LEASE_MS = 3000;
const postgres = await postgresAvailable();
const redis = await redisAvailable();

const running: Daemon[] = [];
let dir: string;
let remove: () => void;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, remove } = tempDir('cluster'));
});
afterEach(async () => {
  for (const d of running.splice(0)) {
    d.child.kill('SIGKILL');
    await d.exited;
  }
});
afterAll(() => remove?.());

function start(argv: string[], env: Record<string, string>): Daemon {
  const d = startDaemon(argv, dir, env);
  running.push(d);
  return d;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ops endpoint a daemon printed (`serving … on http://127.0.0.1:<port>`). */
function opsUrl(d: Daemon): Promise<string> {
  return waitFor('the ops endpoint', () => {
    const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(d.stderr());
    if (d.child.exitCode !== null) throw new Error(`daemon exited: ${d.stderr()}`);
    return m?.[1];
  });
}

async function readyz(url: string): Promise<{ status: string; role?: string }> {
  const r = await fetch(`${url}/readyz`);
  return (await r.json()) as { status: string; role?: string };
}

/** Σ eas_queue_depth over task types for the ready and leased states. */
async function queueDepth(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^eas_queue_depth\{[^}]*state="(ready|leased)"[^}]*\} (\d+)/.exec(line);
    if (m) sum += Number(m[2]);
  }
  return sum;
}

describe.skipIf(!postgres || !redis)('cluster daemons on PostgreSQL + Redis', () => {
  it('controller + two workers run detection_grid_1d.json to the end; /metrics queue depth falls to 0', async () => {
    const schema = await freshPostgresSchema();
    // A Redis database of its own (the queue's keys carry the default prefix).
    const redisDb = 1 + (process.pid % 14);
    try {
      const env = {
        EAS_DATABASE_URL: schema.url,
        EAS_REDIS_URL: `${REDIS_URL}/${redisDb}`,
        EAS_REGISTRY: REGISTRY,
        EAS_LOG_LEVEL: 'warn',
        EAS_LEASE_MS: String(LEASE_MS),
      };
      expect((await runEas(['queue', 'empty'], dir, env)).code).toBe(0);
      const submitted = await runEas(['submit', GRID, '--json'], dir, env);
      expect(submitted.code, submitted.stderr).toBe(0);
      expect(JSON.parse(submitted.stdout)).toMatchObject({ tasks: GRID_TASKS });
      const controller = start(['controller', '--listen', '127.0.0.1:0'], env);
      const url = await opsUrl(controller);
      const depths = [await queueDepth(url)];
      const workers = [1, 2].map(() => start(['worker', '--concurrency', '4'], env));
      const status = await waitFor(
        'every task done',
        async () => {
          depths.push(await queueDepth(url));
          const s = json<StatusJson>(await runEas(['status', '--json'], dir, env));
          return s.totals.done === GRID_TASKS ? s : undefined;
        },
        90_000,
      );
      depths.push(await queueDepth(url));
      console.log(`queue depth seen on /metrics: ${depths.join(' ')}`);
      expect(status.totals).toMatchObject({ done: GRID_TASKS, failed: 0, blocked: 0 });
      expect(depths[0]).toBeGreaterThan(0);
      expect(Math.max(...depths)).toBeGreaterThan(0);
      expect(depths.at(-1)).toBe(0);
      // Every worker took part, and each stops gracefully on SIGTERM (exit 0).
      for (const w of workers) expect(w.stderr()).toContain('worker: claiming');
      for (const d of [...workers, controller]) d.child.kill('SIGTERM');
      for (const d of [...workers, controller]) expect(await d.exited).toBe(0);
      running.length = 0;
    } finally {
      await schema.drop();
    }
  }, 120_000);

  it('a second controller stands by and takes over within one lease period after the leader is killed', async () => {
    const schema = await freshPostgresSchema();
    try {
      const env = {
        EAS_DATABASE_URL: schema.url,
        EAS_LOG_LEVEL: 'warn',
        EAS_LEASE_MS: String(LEASE_MS),
      };
      await takeover(env);
    } finally {
      await schema.drop();
    }
  }, 60_000);
});

describe('cluster daemons on SQLite', () => {
  it('a second controller stands by and takes over when the leader is killed (lock file)', async () => {
    const env = {
      EAS_DATABASE_URL: `sqlite:${dir}/takeover.db`,
      EAS_LOG_LEVEL: 'warn',
      EAS_LEASE_MS: String(LEASE_MS),
    };
    await takeover(env);
  }, 60_000);

  it('refuses bad flags and passwords on the command line with exit 2', async () => {
    const env = { EAS_DATABASE_URL: `sqlite:${dir}/flags.db`, EAS_LOG_LEVEL: 'warn' };
    const cases: [string[], string][] = [
      [['worker', '--types', 'no_such_type'], 'unknown task type "no_such_type"'],
      [['worker', '--concurrency', '0'], '--concurrency must be an integer'],
      [['worker', '--container', 'nope'], '--container "nope" is not in the registry'],
      [['controller', '--listen', 'nowhere'], '--listen must be host:port'],
      [['controller', '--scaler', 'yarn'], '--scaler must be none or kubernetes'],
      [
        ['controller', '--database', 'postgres://eas:hunter2@127.0.0.1:5432/x'],
        'carries a password on the command line',
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await runEas(argv, dir, env);
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr + r.stdout).not.toContain('hunter2');
    }
  }, 60_000);
});

async function takeover(env: Record<string, string>): Promise<void> {
  const first = start(['controller', '--listen', '127.0.0.1:0'], env);
  const firstUrl = await opsUrl(first);
  await waitFor('the first controller to lead', async () =>
    (await readyz(firstUrl)).role === 'leader' ? true : undefined,
  );
  const second = start(['controller', '--listen', '127.0.0.1:0'], env);
  const secondUrl = await opsUrl(second);
  await waitFor('the second controller to stand by', async () =>
    (await readyz(secondUrl)).role === 'standby' ? true : undefined,
  );
  // Standing by stays standing by while the leader lives.
  await new Promise((r) => setTimeout(r, 1500));
  expect((await readyz(secondUrl)).role).toBe('standby');
  expect((await readyz(firstUrl)).role).toBe('leader');

  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  await first.exited;
  await waitFor(
    'the standby to take over',
    async () => ((await readyz(secondUrl)).role === 'leader' ? true : undefined),
    2 * LEASE_MS,
  );
  const tookMs = Date.now() - killedAt;
  console.log(`standby took over ${tookMs} ms after the leader was killed`);
  expect(tookMs).toBeLessThan(LEASE_MS);
  const text = await (await fetch(`${secondUrl}/metrics`)).text();
  expect(text).toMatch(/^eas_controller_leader 1$/m);
}
