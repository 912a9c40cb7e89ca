import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/core/index.js';
import { createPipeline } from '../../src/pipeline.js';
import { builtCli } from '../lib/built-cli.js';
import { machineFacts } from '../lib/machine.js';
import { cpuWindow, pidsNamed } from '../lib/proc-cpu.js';
import { figure, type ScenarioResult } from '../lib/report.js';
import { distribution, round } from '../lib/stats.js';

/** Parents, each waiting for two children: 3 no-op tasks a parent. */
const PARENTS = 3000;
const WORKERS = 2;
/** BullMQ's slots per worker process: one Worker per queue, each with this concurrency. */
const CONCURRENCY = 16;
/** Our slots per worker process: the same total, one `eas worker` claiming both task types. */
const OUR_CONCURRENCY = 2 * CONCURRENCY;
const PG_URL = process.env.EAS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.EAS_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** How often each side is asked whether its DAG is done; the CPU window closes then. */
const POLL_MS = 200;
/** Steps of the chain run after the DAG, each waiting for the one before. */
const CHAIN_STEPS = 200;
const BULLMQ_WORKER = fileURLToPath(new URL('../lib/bullmq-worker.mjs', import.meta.url));

interface SideResult {
  tasks: number;
  submitSeconds: number;
  runSeconds: number;
  tasksPerSecond: number;
  latencyMs: ReturnType<typeof distribution>;
  /** CPU ms a task over the run, by process group (from `/proc`), and their sum. */
  cpuPerTaskMs: Record<string, number>;
  /** Process groups of which `/proc` showed no process: their CPU is missing from the figure. */
  cpuUnseen: string[];
}

/** Ours only: the handoff on idle workers, and the PostgreSQL round trip beneath it. */
interface ChainResult {
  /** Step done → next step started on its worker, over one chain of {@link CHAIN_STEPS}. */
  latencyMs: ReturnType<typeof distribution>;
  /** `SELECT 1` from a client to the same PostgreSQL. */
  pgRoundTripMs: ReturnType<typeof distribution>;
}

/** CPU ms a task by group, rounded, with their sum as `total`. */
function perTask(cpu: Record<string, number>, tasks: number): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [group, ms] of Object.entries(cpu)) {
    out[group] = round(ms / tasks, 3);
    total += ms;
  }
  out.total = round(total / tasks, 3);
  return out;
}

async function pgQuery<T>(url: string, sql: string): Promise<T[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready?: RegExp,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (ready && ready.test(text)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`process exited (${code}): ${text.slice(-500)}`)),
    );
    if (!ready) resolve(child);
  });
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.removeAllListeners('exit');
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * Polls until no task of the job is live. Not the job's status: no controller runs here, and
 * on PostgreSQL the reports of a job's last tasks, committing at the same moment, can each see
 * the other's task still running, which leaves the job for the controller to end (see
 * `Controller.settleEnded`). Not a count of done tasks either: that scans a table full of dead
 * row versions mid-run (20 ms a poll), PostgreSQL work the bench would charge to the run; live
 * tasks are looked up through the job's state index.
 */
async function untilNoLiveTask(url: string, jobId: number): Promise<void> {
  for (;;) {
    const [r] = await pgQuery<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM eas_tasks
        WHERE job_id = ${jobId} AND state IN ('waiting', 'queued', 'running', 'stalled')`,
    );
    if (r!.n === 0) return;
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

/**
 * Ours: the chain on PostgreSQL + Redis, `eas worker` processes running the built-in no-op;
 * with `dispatch`, workers started with `--dispatch` beside an `eas controller` whose dispatcher
 * serves them (its CPU is counted apart, as `dispatcher`, and in the total).
 */
async function ours(
  queue: 'redis' | 'sql',
  dispatch: boolean,
): Promise<SideResult & { chain: ChainResult }> {
  const name = `eas_bench_${randomBytes(4).toString('hex')}`;
  await pgQuery(PG_URL, `CREATE DATABASE ${name}`);
  const url = PG_URL.replace(/\/[^/?]+(\?.*)?$/, `/${name}`);
  const dir = mkdtempSync(join(tmpdir(), 'eas-bench-cluster-'));
  const redisDb = 1 + (process.pid % 14);
  const env: Record<string, string> = {
    EAS_DATABASE_URL: url,
    EAS_FILESTORE: join(dir, 'files'),
    EAS_LOG_LEVEL: 'warn',
  };
  if (queue === 'redis') env.EAS_REDIS_URL = `${REDIS_URL}/${redisDb}`;
  const children: ChildProcess[] = [];
  let runCpu: ReturnType<typeof cpuWindow> | undefined;
  try {
    const config = loadConfig({ cwd: dir, env });
    const p = await createPipeline({ config });
    let t0 = 0;
    let dagJob = 0;
    try {
      // The workers start and wait for work before the job is submitted, so that no worker's
      // start-up (loading the whole library) falls inside the measured run; the submission
      // queues its ready tasks at its end, so the run still begins on a full queue, as
      // BullMQ's does (its flows are added before its small worker script starts).
      const childEnv = { ...process.env, ...env };
      const cli = builtCli();
      if (dispatch) {
        children.push(
          await startProcess([...cli.argv, 'controller'], childEnv, /controller: leading/),
        );
      }
      for (let w = 0; w < WORKERS; w++) {
        children.push(
          await startProcess(
            [
              ...cli.argv,
              'worker',
              '--concurrency',
              String(OUR_CONCURRENCY),
              ...(dispatch ? ['--dispatch'] : []),
            ],
            childEnv,
            /worker: (claiming|served)/,
          ),
        );
      }
      t0 = performance.now();
      dagJob = (
        await p.controller().submit({
          chain: {
            job_name: 'cluster-dag',
            task_list: [
              {
                task: 'execution_for_loop',
                parameter: 'i',
                values: Array.from({ length: PARENTS }, (_, i) => i),
                task_list: [
                  { task: 'null', name: 'a' },
                  { task: 'null', name: 'b' },
                  // Parents are a task type of their own, as BullMQ's are a queue of their own:
                  // claims are fair across types, so a released parent does not wait behind the
                  // children still queued (set_metadata without values does nothing).
                  { task: 'set_metadata', name: 'parent', requires_metadata_from: ['a', 'b'] },
                ],
              },
            ],
          },
        })
      ).jobId!;
    } finally {
      await p.close();
    }
    // The workers were idle until the submission queued its tasks, at its end: their CPU from
    // here on is the run's (their first claims may begin a few ms before), as is the servers'.
    // The submission's own database work stays outside.
    runCpu = cpuWindow({
      workers: () => children.slice(dispatch ? 1 : 0).map((c) => c.pid!),
      ...(dispatch ? { dispatcher: () => [children[0]!.pid!] } : {}),
      postgresql: () => pidsNamed('postgres'),
      redis: () => (queue === 'redis' ? pidsNamed('redis-server') : []),
    });
    const submitSeconds = (performance.now() - t0) / 1000;
    const total = 3 * PARENTS;
    await untilNoLiveTask(url, dagJob);
    const { ms: cpu, unseen: cpuUnseen } = runCpu!.close();
    const [span] = await pgQuery<{ first: number; last: number; n: number }>(
      url,
      `SELECT min(a.started_at)::float8 AS first, max(a.ended_at)::float8 AS last, count(*)::int AS n
         FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id WHERE t.control = 0 AND a.qc = 'passed'`,
    );
    const lat = await pgQuery<{ ms: number }>(
      url,
      `SELECT (pa.started_at - max(ca.ended_at))::float8 AS ms
         FROM eas_tasks pt
         JOIN eas_attempts pa ON pa.task_id = pt.id AND pa.qc = 'passed'
         JOIN eas_tasks ct ON ct.parent_id = pt.parent_id AND ct.name IN ('a', 'b')
         JOIN eas_attempts ca ON ca.task_id = ct.id AND ca.qc = 'passed'
        WHERE pt.name = 'parent'
        GROUP BY pa.id, pa.started_at`,
    );
    if (span!.n !== total) throw new Error(`cluster-dag: ${span!.n} of ${total} tasks passed`);
    const runSeconds = (span!.last - span!.first) / 1000;

    // Then one chain of CHAIN_STEPS tasks, each waiting for the one before, on the same workers,
    // now idle: the handoff alone (one report that records a step and starts the next), beside
    // the PostgreSQL round trip beneath it.
    const c = await createPipeline({ config });
    let chainJob: number;
    try {
      const steps = Array.from({ length: CHAIN_STEPS }, (_, i) => ({
        task: 'set_metadata',
        name: `s${i}`,
        ...(i > 0 ? { requires_metadata_from: [`s${i - 1}`] } : {}),
      }));
      chainJob = (await c.controller().submit({ chain: { job_name: 'chain', task_list: steps } }))
        .jobId!;
    } finally {
      await c.close();
    }
    await untilNoLiveTask(url, chainJob);
    const handoffs = await pgQuery<{ ms: number }>(
      url,
      `SELECT (ca.started_at - pa.ended_at)::float8 AS ms
         FROM eas_metadata_deps d
         JOIN eas_tasks ct ON ct.id = d.consumer_task_id AND ct.job_id = ${chainJob}
         JOIN eas_attempts ca ON ca.task_id = ct.id AND ca.qc = 'passed'
         JOIN eas_attempts pa ON pa.task_id = d.provider_task_id AND pa.qc = 'passed'`,
    );
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const trips: number[] = [];
    try {
      for (let i = 0; i < CHAIN_STEPS; i++) {
        const t = performance.now();
        await client.query('SELECT 1');
        trips.push(performance.now() - t);
      }
    } finally {
      await client.end();
    }
    return {
      chain: {
        latencyMs: distribution(handoffs.map((h) => h.ms)),
        pgRoundTripMs: distribution(trips),
      },
      tasks: span!.n,
      submitSeconds: round(submitSeconds, 2),
      runSeconds: round(runSeconds, 2),
      tasksPerSecond: Math.round(span!.n / runSeconds),
      latencyMs: distribution(lat.map((l) => l.ms)),
      cpuPerTaskMs: perTask(cpu, span!.n),
      cpuUnseen,
    };
  } finally {
    await stopAll(children);
    await pgQuery(PG_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** BullMQ: the same DAG shape as flows (a parent with two children), no-op processors. */
async function bullmq(): Promise<SideResult> {
  const { FlowProducer, Queue } = await import('bullmq');
  const prefix = `eas-bench-${randomBytes(4).toString('hex')}`;
  const { hostname, port } = new URL(REDIS_URL);
  const connection = { host: hostname, port: Number(port || 6379), db: 15 };
  const children: ChildProcess[] = [];
  const flow = new FlowProducer({ connection, prefix });
  const parents = new Queue('bench-parents', { connection, prefix });
  const kids = new Queue('bench-children', { connection, prefix });
  try {
    const t0 = performance.now();
    const flows = Array.from({ length: PARENTS }, (_, i) => ({
      name: `parent-${i}`,
      queueName: 'bench-parents',
      children: [
        { name: `a-${i}`, queueName: 'bench-children' },
        { name: `b-${i}`, queueName: 'bench-children' },
      ],
    }));
    for (let i = 0; i < flows.length; i += 500) await flow.addBulk(flows.slice(i, i + 500));
    const submitSeconds = (performance.now() - t0) / 1000;
    // Each worker's CPU counts from the moment it says it is ready (the first already runs jobs
    // while the second starts; a worker takes its first jobs a few ms before it says so),
    // Redis's from the first.
    const windows: ReturnType<typeof cpuWindow>[] = [];
    for (let w = 0; w < WORKERS; w++) {
      const child = await startProcess(
        [BULLMQ_WORKER, `${REDIS_URL}/15`, prefix, String(CONCURRENCY)],
        process.env,
        /ready/,
      );
      children.push(child);
      if (w === 0) windows.push(cpuWindow({ redis: () => pidsNamed('redis-server') }));
      windows.push(cpuWindow({ workers: () => [child.pid!] }));
    }
    for (;;) {
      const done = await parents.getCompletedCount();
      if (done >= PARENTS) break;
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
    const cpu: Record<string, number> = { workers: 0, redis: 0 };
    const cpuUnseen = new Set<string>();
    for (const w of windows) {
      const r = w.close();
      for (const [group, ms] of Object.entries(r.ms)) cpu[group]! += ms;
      for (const group of r.unseen) cpuUnseen.add(group);
    }
    const jobs = [
      ...(await kids.getJobs(['completed'], 0, -1)),
      ...(await parents.getJobs(['completed'], 0, -1)),
    ];
    const first = Math.min(...jobs.map((j) => j.processedOn ?? Infinity));
    const last = Math.max(...jobs.map((j) => j.finishedOn ?? 0));
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const lat: number[] = [];
    for (const j of await parents.getJobs(['completed'], 0, -1)) {
      const deps = await j.getDependencies({ processed: {} });
      const kidsDone = Object.keys(deps.processed ?? {}).map((key) => {
        const id = key.split(':').at(-1)!;
        return byId.get(id)?.finishedOn ?? NaN;
      });
      if (kidsDone.length === 2 && kidsDone.every(Number.isFinite))
        lat.push((j.processedOn ?? NaN) - Math.max(...kidsDone));
    }
    const runSeconds = (last - first) / 1000;
    return {
      tasks: jobs.length,
      submitSeconds: round(submitSeconds, 2),
      runSeconds: round(runSeconds, 2),
      tasksPerSecond: Math.round(jobs.length / runSeconds),
      latencyMs: distribution(lat),
      cpuPerTaskMs: perTask(cpu, jobs.length),
      cpuUnseen: [...cpuUnseen],
    };
  } finally {
    await stopAll(children);
    await parents.obliterate({ force: true }).catch(() => undefined);
    await kids.obliterate({ force: true }).catch(() => undefined);
    await Promise.all([flow.close(), parents.close(), kids.close()]);
  }
}

/** Throughput, the two latencies and CPU a task of one of our runs, beside BullMQ's. */
function oursFigures(
  suffix: string,
  how: string,
  o: Awaited<ReturnType<typeof ours>>,
  b: SideResult,
  queue: 'redis' | 'sql',
): ReturnType<typeof figure>[] {
  return [
    figure({
      id: `cluster-dag-throughput${suffix}`,
      label: `no-op DAG, ${3 * PARENTS} tasks, ${WORKERS} worker processes × ${OUR_CONCURRENCY} slots, ${how}`,
      value: o.tasksPerSecond,
      unit: 'tasks/s',
      target: { op: '>=', value: b.tasksPerSecond },
      baseline: { label: 'BullMQ FlowProducer', value: b.tasksPerSecond, unit: 'jobs/s' },
    }),
    ...latencyFigures(
      `cluster-dag-latency${suffix}`,
      `last child done → parent started (${how})`,
      o.latencyMs,
      'BullMQ child done → parent started',
      b.latencyMs,
      1,
    ),
    ...latencyFigures(
      `cluster-chain-latency${suffix}`,
      `one chain of ${CHAIN_STEPS} steps on the idle workers (${how}): step done → next started`,
      o.chain.latencyMs,
      'PostgreSQL round trip (SELECT 1)',
      o.chain.pgRoundTripMs,
      2,
    ),
    figure({
      id: `cluster-dag-cpu-per-task${suffix}`,
      label: `CPU a task (${how}), ${queue === 'redis' ? 'eas processes + PostgreSQL + Redis' : 'eas processes + PostgreSQL'}`,
      value: o.cpuPerTaskMs.total!,
      unit: 'ms',
      baseline: {
        label: 'BullMQ workers + Redis',
        value: b.cpuPerTaskMs.total!,
        unit: 'ms',
      },
    }),
  ];
}

/**
 * The p50 and p99 figures of a latency, against DESIGN §9's handoff targets (2 ms and 20 ms),
 * each beside the same quantile of `baseline` (the row names the quantile), rounded to
 * `baselineDigits`.
 */
function latencyFigures(
  id: string,
  label: string,
  ours: ReturnType<typeof distribution>,
  baselineLabel: string,
  baseline: ReturnType<typeof distribution>,
  baselineDigits: number,
): ReturnType<typeof figure>[] {
  return (
    [
      ['p50', 2],
      ['p99', 20],
    ] as const
  ).map(([q, target]) =>
    figure({
      id: `${id}-${q}`,
      label: `${label}, ${q}`,
      value: round(ours[q], 1),
      unit: 'ms',
      target: { op: '<=', value: target },
      baseline: {
        label: baselineLabel,
        value: round(baseline[q], baselineDigits),
        unit: 'ms',
      },
    }),
  );
}

/**
 * DESIGN §9 "no-op DAG throughput on PostgreSQL + Redis, several worker processes: ≥ 1.0 ×
 * BullMQ's FlowProducer on the same DAG shape, same Redis, same run", and last child done →
 * parent started (claimed, and running on its worker) beside BullMQ's.
 */
export async function run(queue: 'redis' | 'sql' = 'redis'): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  // The servers' whole work for this scenario (set-up, submission and both runs, closed
  // connections included) is the bench's own, not other work on the machine.
  const servers = cpuWindow(
    { postgresql: () => pidsNamed('postgres'), redis: () => pidsNamed('redis-server') },
    true,
  );
  process.stderr.write(
    `  cluster-dag: ours (PostgreSQL + ${queue} queue), ${PARENTS} parents × 2 children\n`,
  );
  const o = await ours(queue, false);
  let d: Awaited<ReturnType<typeof ours>> | undefined;
  if (queue === 'redis') {
    process.stderr.write(
      `  cluster-dag: ours again, the workers served by the controller's dispatcher\n`,
    );
    d = await ours(queue, true);
  }
  process.stderr.write(`  cluster-dag: BullMQ FlowProducer, same shape, same Redis\n`);
  const b = await bullmq();
  const serverCpu = servers.close().ms;
  const warnings: string[] = [];
  for (const [side, r] of [
    ['ours', o],
    ...(d ? ([['ours dispatched', d]] as const) : []),
    ['BullMQ', b],
  ] as const) {
    if (r.cpuUnseen.length > 0)
      warnings.push(
        `${side}: no ${r.cpuUnseen.join(' or ')} process seen in /proc (a server elsewhere, or under another name): its CPU is missing from CPU a task`,
      );
  }
  if (o.tasks !== 3 * PARENTS)
    warnings.push(`ours: ${o.tasks} tasks QC-passed, ${3 * PARENTS} expected`);
  if (d && d.tasks !== 3 * PARENTS)
    warnings.push(`ours dispatched: ${d.tasks} tasks QC-passed, ${3 * PARENTS} expected`);
  if (b.tasks !== 3 * PARENTS)
    warnings.push(`BullMQ: ${b.tasks} jobs completed, ${3 * PARENTS} expected`);
  return {
    scenario: 'cluster-dag',
    title: 'Cluster DAG throughput and latency vs BullMQ',
    machine: machineFacts(),
    startedAt,
    durationMs: Math.round(performance.now() - t0),
    figures: [
      ...oursFigures('', 'workers claiming', o, b, queue),
      ...(d ? oursFigures('-dispatch', 'workers dispatched', d, b, queue) : []),
    ],
    serverCpuMs: Math.round(serverCpu.postgresql! + serverCpu.redis!),
    details: {
      queue,
      parents: PARENTS,
      workers: WORKERS,
      concurrency: { ours: OUR_CONCURRENCY, bullmqPerQueue: CONCURRENCY },
      ours: o,
      oursDispatched: d,
      bullmq: b,
    },
    notes: [
      `Same DAG on both sides: ${PARENTS} parents each waiting for two children, no-op work; ${WORKERS} worker processes with ${OUR_CONCURRENCY} task slots each (ours: children \`null\`, parents \`set_metadata\` without values, one \`eas worker --concurrency ${OUR_CONCURRENCY}\` claiming both types fairly, started before submission, which queues its tasks at its end; BullMQ: a Worker on the children's queue and one on the parents' queue, concurrency ${CONCURRENCY} each, started after the flows were added). Throughput = tasks / (last finish − first start), from each side's own timestamps (ms). Ours keeps the task database, attempts, QC and metadata on PostgreSQL; BullMQ keeps jobs in Redis only.`,
      "Latency: ours, the parent attempt's start as its worker ran it − the later child attempt's end as its worker saw it; between them the child's result waits for a report, which commits it and starts the parent in one transaction, and the answer comes back. BullMQ, the parent's processedOn − the later child's finishedOn.",
      `Chain: after the DAG, one job of ${CHAIN_STEPS} set_metadata tasks, each requiring the one before, on the same two workers (idle but for it): a step's end (its worker's clock) → the next step's start on its worker; the baseline is a SELECT 1 round trip from the bench to the same PostgreSQL.`,
      `Dispatched: the same run with \`eas worker --dispatch\` beside an \`eas controller\`, whose dispatcher claims, starts and records the attempts of both workers in shared transactions (its CPU counts as the workers'); a worker holds up to twice its slots.`,
      `CPU a task (from /proc, over each side's run): ours workers ${o.cpuPerTaskMs.workers} ms, PostgreSQL ${o.cpuPerTaskMs.postgresql} ms, Redis ${o.cpuPerTaskMs.redis} ms;${d ? ` dispatched: workers and controller ${d.cpuPerTaskMs.workers} ms, PostgreSQL ${d.cpuPerTaskMs.postgresql} ms, Redis ${d.cpuPerTaskMs.redis} ms;` : ''} BullMQ workers ${b.cpuPerTaskMs.workers} ms, Redis ${b.cpuPerTaskMs.redis} ms. On 2 cores the run is CPU-bound, so throughput follows the total. The servers are this machine's shared PostgreSQL and Redis: whatever else they served meanwhile counts too.`,
    ],
    warnings,
  };
}
