import {
  InvalidInputError,
  isTransientBackendError,
  silentLogger,
  TypedEmitter,
  waitOutTransient,
  type Logger,
} from '../../core/index.js';
import type { TaskTypeRegistry } from '../../registry/index.js';
import type { TaskDatabase } from '../../taskdb/index.js';
import { decideReplicas, scalingPolicies, type ScalingPolicies } from './decide.js';
import {
  autoscalerSettingsSchema,
  resolveSettings,
  type AutoscalerOptions,
  type ResolvedAutoscalerSettings,
} from './options.js';
import type { Scaler, ScaleResult, WorkerRef } from './scaler.js';
import type { ContainerDemand, ScaleDecision, ScalingHistory } from './types.js';

/** A decision a scaler applied: what was asked and what the platform was asked for. */
export interface ScaleApplied extends ScaleResult {
  /** Replicas the decision asked for (`to` may be higher to protect busy workers). */
  readonly requested: number;
  /** The decision's reason. */
  readonly reason: string;
}

/** Events of {@link Autoscaler} (the controller re-emits them as its own). */
export interface AutoscalerEvents {
  /** Every tick: the decision for each container, holds included. */
  'scale:decided': [{ decisions: readonly ScaleDecision[] }];
  /** A scaler changed (or was asked to change) a container's replicas. */
  'scale:applied': [ScaleApplied];
  /**
   * A scaler failed to read (`requested` absent) or to change a container's replicas; the next
   * tick tries again.
   */
  'scale:failed': [{ container: string; requested: number | undefined; error: Error }];
}

/**
 * The autoscaling loop (DESIGN §5): every `interval` it reads the demand per container from the
 * task database, asks the scaler for the replicas it runs, decides with the pure
 * {@link decideReplicas} and applies the changes through the {@link Scaler}.
 *
 * The controller runs one while it leads (give `ControllerOptions.scaler`), so among several
 * controllers only the leader scales. A scaler that fails to read or change a container's
 * replicas is reported (`scale:failed`) and tried again at the next tick, the other containers
 * scaled meanwhile; a task database (or scaler) that is away is waited out; any other error in
 * reading the demand ends {@link run}.
 *
 * @example
 * ```ts
 * const autoscaler = new Autoscaler({ db, registry, scaler, interval: '2s' });
 * autoscaler.on('scale:applied', (a) => console.log(a.container, a.from, '→', a.to, a.reason));
 * await autoscaler.run(signal);
 * ```
 */
export class Autoscaler extends TypedEmitter<AutoscalerEvents> {
  private readonly db: TaskDatabase;
  private readonly registry: TaskTypeRegistry;
  private readonly scaler: Scaler;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly settings: ResolvedAutoscalerSettings;
  private readonly policies: ScalingPolicies;
  private readonly containers: readonly string[];
  private histories = new Map<string, ScalingHistory>();
  private reasons = new Map<string, string>();
  /** The last scaling error per container, to log a lasting failure once. */
  private failures = new Map<string, string>();

  /** @throws InvalidInputError `USAGE` for a bad setting or a container not in the registry. */
  constructor(options: AutoscalerOptions) {
    super();
    this.db = options.db;
    this.registry = options.registry;
    this.scaler = options.scaler;
    this.now = options.now ?? Date.now;
    this.log = (options.logger ?? silentLogger()).child({
      component: 'autoscaler',
      scaler: options.scaler.name,
    });
    this.settings = resolveSettings(
      autoscalerSettingsSchema,
      { interval: options.interval, containers: options.containers },
      'AutoscalerOptions',
    );
    this.policies = scalingPolicies(options.registry);
    const known = Object.keys(this.policies);
    const unknown = (this.settings.containers ?? []).filter((c) => !known.includes(c));
    if (unknown.length > 0) {
      throw new InvalidInputError('USAGE', 'AutoscalerOptions invalid', [
        {
          path: 'AutoscalerOptions.containers',
          message: `${unknown.map((c) => `"${c}"`).join(', ')} not in the registry (containers: ${known.join(', ')})`,
        },
      ]);
    }
    this.containers = this.settings.containers ?? known;
  }

  /** How often {@link run} decides, ms. */
  get intervalMs(): number {
    return this.settings.interval;
  }

  /**
   * The demand on each scaled container now: live attempts of its task types (task type →
   * container through the registry) and the workers running them. Attempts of task types the
   * registry no longer knows, and of control-flow types (the controller runs those), count for
   * no container.
   */
  async demand(): Promise<ContainerDemand[]> {
    const out = new Map<
      string,
      { queued: number; delayed: number; running: number; busy: Map<string, WorkerRef> }
    >();
    for (const c of this.containers)
      out.set(c, { queued: 0, delayed: 0, running: 0, busy: new Map() });
    for (const d of await this.db.scalingDemand()) {
      const container = this.registry.has(d.taskType)
        ? this.registry.get(d.taskType).container
        : undefined;
      const entry = container === undefined ? undefined : out.get(container);
      if (entry === undefined) continue;
      entry.queued += d.queued;
      entry.delayed += d.delayed;
      entry.running += d.running;
      for (const w of d.workers) entry.busy.set(w.workerId, { workerId: w.workerId, host: w.host });
    }
    return [...out].map(([container, e]) => ({
      container,
      queued: e.queued,
      delayed: e.delayed,
      running: e.running,
      busy: [...e.busy.values()],
    }));
  }

  /**
   * One round: reads the demand and the replicas, decides, applies the changes. Returns the
   * decisions (holds included).
   */
  async tick(): Promise<ScaleDecision[]> {
    const all = await this.demand();
    // A container whose replicas cannot be read (its Deployment is missing) is skipped this
    // tick; the others are still scaled.
    const replicas = await Promise.all(
      all.map((d) =>
        this.scaler.replicas(d.container).then(
          (n) => n,
          (e: unknown) => {
            if (isTransientBackendError(e)) throw e;
            this.failed(d.container, undefined, e);
            return undefined;
          },
        ),
      ),
    );
    const demand = all.filter((_, i) => replicas[i] !== undefined);
    const decisions = decideReplicas(
      {
        containers: demand.map((d) => ({
          container: d.container,
          queued: d.queued,
          running: d.running,
          busy: d.busy.length,
          replicas: replicas[all.indexOf(d)]!,
          history: this.histories.get(d.container),
        })),
      },
      this.policies,
      this.now(),
    );
    for (const d of decisions) this.histories.set(d.container, d.history);
    this.emit('scale:decided', { decisions });
    for (const [i, d] of decisions.entries()) {
      this.logDecision(d);
      if (d.change === 'hold') continue;
      try {
        const r = await this.scaler.scale({
          container: d.container,
          replicas: d.to,
          busy: demand[i]!.busy,
        });
        this.failures.delete(d.container);
        this.log.info(
          { container: d.container, from: r.from, to: r.to, requested: d.to },
          'replicas changed',
        );
        this.emit('scale:applied', { ...r, requested: d.to, reason: d.reason });
      } catch (e) {
        this.failed(d.container, d.to, e);
      }
    }
    return decisions;
  }

  /**
   * Reports a container the scaler failed on: `scale:failed` every time, a warning when the
   * error differs from the previous one of that container (a lasting failure is not logged
   * every tick).
   */
  private failed(container: string, requested: number | undefined, e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    const fields = { container, requested, err: error.message };
    if (this.failures.get(container) !== error.message) {
      this.log.warn(fields, 'scaling failed; trying again at the next tick');
    } else this.log.debug(fields, 'scaling failed again');
    this.failures.set(container, error.message);
    this.emit('scale:failed', { container, requested, error });
  }

  /** Logs a change at `info`, a hold at `debug` (at `info` when its reason changed kind). */
  private logDecision(d: ScaleDecision): void {
    const kind = d.reason.slice(0, d.reason.indexOf(':'));
    const fields = { container: d.container, from: d.from, to: d.to, reason: d.reason };
    if (d.change !== 'hold') this.log.info(fields, 'scaling decided');
    else if (this.reasons.get(d.container) !== kind) this.log.info(fields, 'scaling holds');
    else this.log.debug(fields, 'scaling holds');
    this.reasons.set(d.container, kind);
  }

  /**
   * Decides every `interval` until `signal` aborts (or forever). Starts with no history, so
   * a new leader waits a full cool-down before scaling anything down. Waits out a task
   * database that is away; rejects on any other error of reading the demand.
   */
  async run(signal?: AbortSignal): Promise<void> {
    this.histories = new Map();
    this.reasons = new Map();
    this.failures = new Map();
    let failures = 0;
    while (!signal?.aborted) {
      try {
        await this.tick();
        failures = 0;
      } catch (e) {
        if (!isTransientBackendError(e)) throw e;
        await waitOutTransient(this.log, e, 'autoscaling', failures++);
        continue;
      }
      await sleep(this.settings.interval, signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
