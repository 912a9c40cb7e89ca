import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobQueue } from '../queue/index.js';
import type { TaskDatabase } from '../taskdb/index.js';
import type { Controller } from './controller.js';
import type { LeaderElection } from './leader.js';

/** What {@link registerControllerMetrics} reads. */
export interface ControllerMetricsSources {
  db: TaskDatabase;
  queue: JobQueue;
  controller: Controller;
  election?: LeaderElection;
  /** Task states are counted at most this often, ms (a count over every task). @defaultValue 5000 */
  taskStatesEveryMs?: number;
}

/**
 * Registers the controller's Prometheus metrics in `registry`:
 *
 * - `eas_queue_depth{task_type, state}` — queue items per task type, `state` one of `ready`
 *   (claimable now), `delayed` (waiting out a retry backoff) and `leased` (held by a worker);
 *   a task type once seen stays listed (at 0) so a graph falls to zero rather than vanishing;
 * - `eas_tasks{state}` — tasks of every job by state (waiting … cancelled), cached briefly;
 * - `eas_controller_leader` — 1 while this controller leads, 0 on standby;
 * - `eas_attempts_stalled_total` — attempts the controller found stalled (expired lease or
 *   silent worker) and re-queued;
 * - `eas_jobs_finished_total{status}`;
 * - with the Redis queue: `eas_dispatcher_workers` (workers its dispatcher serves now, 0 on
 *   standby), `eas_dispatcher_commits_total` and `eas_dispatcher_outcomes_total` (its shared
 *   transactions and the results they recorded: their ratio is the batch size);
 * - with autoscaling (a controller with a `scaler`): `eas_desired_replicas{container}` (the
 *   latest decision), `eas_replicas{container}` (what the scaler reported before it) and
 *   `eas_scale_operations_total{container, direction}` (`up`/`down` changes applied).
 */
export function registerControllerMetrics(
  registry: Registry,
  sources: ControllerMetricsSources,
): void {
  const { db, queue, controller, election } = sources;
  const seenTypes = new Set<string>();
  new Gauge({
    name: 'eas_queue_depth',
    help: 'Queue items per task type: ready (claimable now), delayed (retry backoff), leased (held by a worker)',
    labelNames: ['task_type', 'state'],
    registers: [registry],
    async collect() {
      const counts = await queue.counts();
      for (const t of Object.keys(counts)) seenTypes.add(t);
      this.reset();
      for (const t of seenTypes) {
        const c = counts[t] ?? { ready: 0, delayed: 0, leased: 0 };
        this.set({ task_type: t, state: 'ready' }, c.ready - c.delayed);
        this.set({ task_type: t, state: 'delayed' }, c.delayed);
        this.set({ task_type: t, state: 'leased' }, c.leased);
      }
    },
  });
  const every = sources.taskStatesEveryMs ?? 5000;
  let states: { at: number; totals: Record<string, number> } | undefined;
  new Gauge({
    name: 'eas_tasks',
    help: 'Tasks of every job by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      if (states === undefined || Date.now() - states.at >= every) {
        const view = await db.status();
        states = { at: Date.now(), totals: { ...view.totals } as Record<string, number> };
      }
      this.reset();
      for (const [state, n] of Object.entries(states.totals)) this.set({ state }, n);
    },
  });
  const dispatcher = controller.dispatcher;
  if (dispatcher) {
    new Gauge({
      name: 'eas_dispatcher_workers',
      help: 'Workers the dispatcher serves now (0 on standby)',
      registers: [registry],
      collect() {
        this.set(dispatcher.workers);
      },
    });
    for (const [name, key, help] of [
      [
        'eas_dispatcher_commits_total',
        'commits',
        'Transactions in which the dispatcher recorded results',
      ],
      ['eas_dispatcher_outcomes_total', 'outcomes', 'Results the dispatcher recorded'],
    ] as const) {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(dispatcher.stats[key]);
        },
      });
    }
  }
  if (election) {
    new Gauge({
      name: 'eas_controller_leader',
      help: '1 while this controller leads, 0 while it stands by',
      registers: [registry],
      collect() {
        this.set(election.role === 'leader' ? 1 : 0);
      },
    });
  }
  const stalled = new Counter({
    name: 'eas_attempts_stalled_total',
    help: 'Attempts found stalled (lease expired or worker silent) and re-queued',
    registers: [registry],
  });
  controller.on('attempt:stalled', ({ attemptIds }) => stalled.inc(attemptIds.length));
  const finished = new Counter({
    name: 'eas_jobs_finished_total',
    help: 'Jobs that finished, by final status',
    labelNames: ['status'],
    registers: [registry],
  });
  controller.on('job:finished', ({ status }) => finished.inc({ status }));
  // ── Autoscaling (src/control/scaling/) ──
  const desired = new Gauge({
    name: 'eas_desired_replicas',
    help: 'Replicas the latest autoscaling decision wants, per container',
    labelNames: ['container'],
    registers: [registry],
  });
  const replicas = new Gauge({
    name: 'eas_replicas',
    help: 'Replicas the scaler reported at the latest autoscaling decision, per container',
    labelNames: ['container'],
    registers: [registry],
  });
  controller.on('scale:decided', ({ decisions }) => {
    for (const d of decisions) {
      desired.set({ container: d.container }, d.to);
      replicas.set({ container: d.container }, d.from);
    }
  });
  const scaled = new Counter({
    name: 'eas_scale_operations_total',
    help: 'Replica changes the autoscaler applied, per container and direction (up, down)',
    labelNames: ['container', 'direction'],
    registers: [registry],
  });
  controller.on('scale:applied', (a) => {
    if (a.to !== a.from)
      scaled.inc({ container: a.container, direction: a.to > a.from ? 'up' : 'down' });
  });
}
