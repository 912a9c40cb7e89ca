import { EasError, formatDuration } from '../../core/index.js';
import type { ResolvedContainer, TaskTypeRegistry } from '../../registry/index.js';
import type {
  ContainerScalingPolicy,
  ContainerSnapshot,
  ReplicaSample,
  ScaleDecision,
  ScalingHistory,
  ScalingSnapshot,
} from './types.js';

/** Scaling policies by container name. */
export type ScalingPolicies = Readonly<Record<string, ContainerScalingPolicy>>;

/** The scaling policy of a registry container: its concurrency and `scaling` settings. */
export function scalingPolicyOf(container: ResolvedContainer): ContainerScalingPolicy {
  return {
    concurrency: container.concurrency,
    min: container.scaling.min,
    max: container.scaling.max,
    cooldownMs: container.scaling.cooldownMs,
  };
}

/** The scaling policy of every container of a registry, by name. */
export function scalingPolicies(registry: TaskTypeRegistry): ScalingPolicies {
  const out: Record<string, ContainerScalingPolicy> = {};
  for (const c of registry.containers()) out[c.name] = scalingPolicyOf(c);
  return out;
}

/**
 * Decides the replicas of every container of `snapshot` (DESIGN §5): a pure function of the
 * demand, the policies and the clock — no I/O, no `Date.now()` — so that the same inputs give
 * the same decisions. See {@link decideContainer} for the rule.
 *
 * @example
 * ```ts
 * let history: ScalingHistory | undefined;
 * const [d] = decideReplicas(
 *   { containers: [{ container: 'tda', queued: 9, running: 0, busy: 0, replicas: 0, history }] },
 *   { tda: { concurrency: 4, min: 0, max: 10, cooldownMs: 60_000 } },
 *   Date.now(),
 * );
 * // d.to === 3, d.change === 'up'; keep d.history for the next call
 * ```
 * @throws EasError `NOT_FOUND` when a container of the snapshot has no policy.
 */
export function decideReplicas(
  snapshot: ScalingSnapshot,
  policies: ScalingPolicies,
  now: number,
): ScaleDecision[] {
  return snapshot.containers.map((s) => {
    const policy = policies[s.container];
    if (policy === undefined) {
      throw new EasError(
        'NOT_FOUND',
        `no scaling policy for container "${s.container}"; pass one for every container of the snapshot`,
        { where: s.container },
      );
    }
    return decideContainer(s, policy, now);
  });
}

/**
 * Decides the replicas of one container.
 *
 * 1. **Target.** `ceil((queued + running) / concurrency)`, clamped to `[min, max]`, then raised
 *    to `busy`: a worker that runs attempts is never removed, so the target never falls below
 *    the busy workers even when that exceeds `max`.
 * 2. **Up at once.** A target above the current replicas is applied now.
 * 3. **Down after the cool-down.** Below the current replicas, the decision goes to the highest
 *    target of the last `cooldownMs` (the lower value that held for the whole cool-down), so
 *    flapping demand does not make replicas flap. With `min` 0, an idle container goes to zero
 *    once it has been idle for the cool-down. Replicas above `max` (the policy was lowered) go
 *    down to it at once, never below the busy workers.
 *
 * The first call for a container has no history: the current replicas count as the target until
 * then, so a controller that starts (or takes over) waits a full cool-down before scaling down.
 * Inputs are read defensively: counts below 0 or not finite count as 0, a concurrency below 1
 * (the registry schema refuses it) as 1, a `max` below `min` as `min`.
 */
export function decideContainer(
  snapshot: ContainerSnapshot,
  policy: ContainerScalingPolicy,
  now: number,
): ScaleDecision {
  const queued = count(snapshot.queued);
  const running = count(snapshot.running);
  const busy = count(snapshot.busy);
  const from = count(snapshot.replicas);
  const concurrency = Math.max(1, count(policy.concurrency));
  const min = count(policy.min);
  const max = Math.max(min, count(policy.max));
  const cooldownMs = Number.isFinite(policy.cooldownMs) ? Math.max(0, policy.cooldownMs) : 0;

  const needed = Math.ceil((queued + running) / concurrency);
  const clamped = Math.min(max, Math.max(min, needed));
  const target = Math.max(clamped, busy);
  const ceiling = Math.max(max, busy);

  const history = record(snapshot.history, from, target, now, cooldownMs);
  // The window's highest target: what held through the whole cool-down.
  const held = Math.min(history[0]!.replicas, ceiling);

  let why = `${queued} queued + ${running} running at concurrency ${concurrency} need ${needed}`;
  if (needed > max) why += `, capped at max ${max}`;
  else if (needed < min) why += `, raised to min ${min}`;
  if (busy > clamped) why += `, raised to ${busy} busy worker${busy === 1 ? '' : 's'}`;

  const decision = (to: number, reason: string): ScaleDecision => ({
    container: snapshot.container,
    from,
    to,
    change: to > from ? 'up' : to < from ? 'down' : 'hold',
    target,
    reason,
    history,
  });

  if (target > from) return decision(target, `scale up: ${why}`);
  if (target === from) return decision(from, `steady: ${why}`);
  if (held < from) {
    const cause =
      from > ceiling
        ? `above max ${max}`
        : target === 0
          ? `idle for the cool-down (${formatDuration(cooldownMs)})`
          : `demand below ${from} for the cool-down (${formatDuration(cooldownMs)})`;
    return decision(held, `scale down: ${cause}; ${why}`);
  }
  // The window's highest falls below `from` once the last step at or above it leaves the window.
  const last = history.findLastIndex((p) => p.replicas >= from);
  const left = history[last]!.until + cooldownMs - now;
  return decision(
    from,
    `cool-down: ${why}; holding ${from} for ${formatDuration(Math.max(0, left))} more`,
  );
}

/**
 * Adds the target of `now` to a history and drops what the cool-down window no longer needs.
 *
 * The targets form a step function: each decision's target holds until the next decision, so
 * the previous last step is extended to `now`. Only steps that can still be the window's
 * highest are kept — the new target replaces the steps at its end that are not higher — so the
 * values fall along the list and its first step is the highest of the window. A step leaves the
 * window once it ended at or before `now - cooldownMs`; the last step never leaves.
 *
 * Without a history (the first decision) the current replicas stand for what came before, as a
 * step ending now: a scale-down then waits a full cool-down.
 */
function record(
  previous: ScalingHistory | undefined,
  from: number,
  target: number,
  now: number,
  cooldownMs: number,
): ScalingHistory {
  // A clock that went back (another controller took over) must not leave steps in the future.
  const steps: ReplicaSample[] = (previous ?? [])
    .filter((p) => Number.isFinite(p.until) && Number.isFinite(p.replicas))
    .map((p) => ({ replicas: p.replicas, until: Math.min(p.until, now) }));
  if (steps.length === 0) steps.push({ replicas: from, until: now });
  else steps[steps.length - 1] = { replicas: steps[steps.length - 1]!.replicas, until: now };
  while (steps.length > 0 && steps[steps.length - 1]!.replicas <= target) steps.pop();
  steps.push({ replicas: target, until: now });
  while (steps.length > 1 && steps[0]!.until <= now - cooldownMs) steps.shift();
  return Object.freeze(steps.map((p) => Object.freeze(p)));
}

/** A count read defensively: an integer ≥ 0 (negative, fractional or non-finite inputs clamped). */
function count(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;
}
