/**
 * The scaling decision (DESIGN §5): a table of single decisions, a table of sequences in time
 * (bursts, flapping demand, cool-down boundaries, busy workers), and properties checked by
 * fast-check over random policies and demand.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideContainer,
  decideReplicas,
  scalingPolicies,
  type ContainerScalingPolicy,
  type ScaleDecision,
  type ScalingHistory,
} from '../../../src/control/index.js';
import { isEasError } from '../../../src/core/index.js';
import { loadRegistry } from '../../../src/registry/index.js';

const P: ContainerScalingPolicy = { concurrency: 4, min: 0, max: 10, cooldownMs: 60_000 };

interface Demand {
  queued?: number;
  running?: number;
  busy?: number;
}

function once(
  policy: Partial<ContainerScalingPolicy>,
  demand: Demand & { replicas: number },
): ScaleDecision {
  return decideContainer(
    {
      container: 'c',
      queued: demand.queued ?? 0,
      running: demand.running ?? 0,
      busy: demand.busy ?? 0,
      replicas: demand.replicas,
    },
    { ...P, ...policy },
    1_000_000,
  );
}

describe('decideContainer: one decision, no history', () => {
  it.each<[string, Partial<ContainerScalingPolicy>, Demand & { replicas: number }, number, string]>(
    [
      ['idle at zero stays at zero', {}, { replicas: 0 }, 0, 'hold'],
      ['a burst of 9 at concurrency 4 needs 3', {}, { queued: 9, replicas: 0 }, 3, 'up'],
      ['an exact multiple: 8 need 2', {}, { queued: 8, replicas: 0 }, 2, 'up'],
      ['one queued attempt needs one replica', {}, { queued: 1, replicas: 0 }, 1, 'up'],
      ['running attempts count as demand', {}, { running: 5, busy: 2, replicas: 2 }, 2, 'hold'],
      [
        'queued + running: ceil(5 / 4) = 2',
        {},
        { queued: 3, running: 2, busy: 1, replicas: 1 },
        2,
        'up',
      ],
      ['a huge burst is capped at max', {}, { queued: 10_000, replicas: 0 }, 10, 'up'],
      ['at max with more demand holds at max', {}, { queued: 500, replicas: 10 }, 10, 'hold'],
      ['scale up adds to what runs', {}, { queued: 20, running: 4, busy: 1, replicas: 1 }, 6, 'up'],
      [
        'busy workers above the demand are kept',
        {},
        { running: 3, busy: 3, replicas: 3 },
        3,
        'hold',
      ],
      [
        'busy workers above max are kept',
        { max: 2 },
        { running: 5, busy: 5, replicas: 5 },
        5,
        'hold',
      ],
      [
        'busy above the replicas scales up to them',
        {},
        { running: 3, busy: 3, replicas: 1 },
        3,
        'up',
      ],
      ['min > 0 starts workers with no demand', { min: 2 }, { replicas: 0 }, 2, 'up'],
      ['min > 0 keeps them when idle', { min: 2, cooldownMs: 0 }, { replicas: 2 }, 2, 'hold'],
      [
        'min > 0 is the floor of a scale-down',
        { min: 2, cooldownMs: 0 },
        { replicas: 7 },
        2,
        'down',
      ],
      ['demand gone: the first decision waits the cool-down', {}, { replicas: 5 }, 5, 'hold'],
      ['cool-down 0 scales down at once', { cooldownMs: 0 }, { replicas: 5 }, 0, 'down'],
      [
        'cool-down 0 never goes below busy',
        { cooldownMs: 0 },
        { running: 2, busy: 2, replicas: 5 },
        2,
        'down',
      ],
      ['above max goes down to max at once', {}, { queued: 100, replicas: 15 }, 10, 'down'],
      ['above max keeps busy workers', {}, { running: 12, busy: 12, replicas: 15 }, 12, 'down'],
      [
        'concurrency 1: one replica per attempt',
        { concurrency: 1 },
        { queued: 7, replicas: 0 },
        7,
        'up',
      ],
      [
        'concurrency 0 (refused by the schema) counts as 1',
        { concurrency: 0 },
        { queued: 3, replicas: 0 },
        3,
        'up',
      ],
      [
        'max below min (refused by the schema) counts as min',
        { min: 3, max: 1 },
        { replicas: 0 },
        3,
        'up',
      ],
      [
        'negative counts read as 0',
        {},
        { queued: -5, running: -1, busy: -2, replicas: -3 },
        0,
        'hold',
      ],
      ['NaN counts read as 0', {}, { queued: NaN, replicas: NaN }, 0, 'hold'],
      ['fractional counts are floored', {}, { queued: 4.9, replicas: 0.5 }, 1, 'up'],
      ['a container with no task types stays at min 0', {}, { replicas: 0 }, 0, 'hold'],
      ['a container with no task types keeps min 1', { min: 1 }, { replicas: 0 }, 1, 'up'],
      [
        'max 1 serialises a burst into one worker',
        { max: 1 },
        { queued: 50, replicas: 0 },
        1,
        'up',
      ],
    ],
  )('%s', (_name, policy, demand, to, change) => {
    const d = once(policy, demand);
    expect({ to: d.to, change: d.change }).toEqual({ to, change });
    expect(d.reason).toMatch(/^(scale up|scale down|steady|cool-down): /);
  });

  it('explains itself: the numbers, the cap, the busy workers, the wait left', () => {
    expect(once({}, { queued: 100, replicas: 0 }).reason).toBe(
      'scale up: 100 queued + 0 running at concurrency 4 need 25, capped at max 10',
    );
    expect(once({}, { running: 3, busy: 3, replicas: 1 }).reason).toContain(
      'raised to 3 busy workers',
    );
    expect(once({ min: 2 }, { replicas: 0 }).reason).toContain('raised to min 2');
    expect(once({}, { replicas: 5 }).reason).toMatch(/^cool-down: .*holding 5 for 1m00s more$/);
    expect(once({ cooldownMs: 0 }, { replicas: 5 }).reason).toMatch(/^scale down: idle/);
  });
});

/** One step of a sequence: the time (ms), the demand, and optionally the replicas seen. */
interface Step extends Demand {
  t: number;
  /** Replicas the platform reports; by default the previous decision's `to` (a perfect scaler). */
  replicas?: number;
}

/** Runs a sequence of decisions, carrying the history; returns each decision's `to`. */
function run(policy: Partial<ContainerScalingPolicy>, steps: Step[], start = 0): number[] {
  let history: ScalingHistory | undefined;
  let replicas = start;
  const out: number[] = [];
  for (const s of steps) {
    const d = decideContainer(
      {
        container: 'c',
        queued: s.queued ?? 0,
        running: s.running ?? 0,
        busy: s.busy ?? 0,
        replicas: s.replicas ?? replicas,
        history,
      },
      { ...P, ...policy },
      s.t,
    );
    history = d.history;
    replicas = d.to;
    out.push(d.to);
  }
  return out;
}

const S = 1000;

describe('decideContainer: sequences in time', () => {
  it.each<[string, Partial<ContainerScalingPolicy>, Step[], number[], number?]>([
    [
      'a burst scales up at once, holds through the cool-down, then goes to zero',
      {},
      [
        { t: 0, queued: 40 },
        { t: 1 * S, queued: 30, running: 10, busy: 10 },
        { t: 2 * S },
        { t: 30 * S },
        { t: 61.999 * S },
        { t: 62 * S },
        { t: 63 * S },
      ],
      [10, 10, 10, 10, 10, 0, 0],
    ],
    [
      'cool-down boundary: one ms before holds, at the boundary scales down',
      { cooldownMs: 500 },
      [{ t: 0, queued: 8 }, { t: 100 }, { t: 599 }, { t: 600 }],
      [2, 2, 2, 0],
    ],
    [
      'a tick interval longer than the cool-down scales down at the next tick',
      { cooldownMs: 500 },
      [{ t: 0, queued: 8 }, { t: 2 * S }, { t: 4 * S }],
      [2, 2, 0],
    ],
    [
      'flapping demand never scales down while peaks recur within the cool-down',
      {},
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120].map((s, i) => ({
        t: s * S,
        queued: i % 2 === 0 ? 8 : 0,
      })),
      [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
    ],
    [
      'after the flapping stops it scales down one cool-down after the last peak',
      {},
      [
        { t: 0, queued: 8 },
        { t: 10 * S },
        { t: 20 * S, queued: 8 },
        { t: 30 * S },
        { t: 89 * S },
        { t: 90 * S },
      ],
      [2, 2, 2, 2, 2, 0],
    ],
    [
      'stepping down: each level waits for the cool-down since the higher one ended',
      {},
      [
        { t: 0, queued: 40 },
        { t: 10 * S, queued: 20 },
        { t: 20 * S },
        { t: 69 * S },
        { t: 70 * S },
        { t: 79 * S },
        { t: 80 * S },
      ],
      [10, 10, 10, 10, 5, 5, 0],
    ],
    [
      // The burst's target is known to hold until the next decision (at 60 s), so the
      // cool-down runs from there.
      'a new burst during the cool-down scales up at once and restarts the cool-down',
      {},
      [
        { t: 0, queued: 8 },
        { t: 10 * S },
        { t: 50 * S, queued: 20 },
        { t: 60 * S },
        { t: 70 * S },
        { t: 119 * S },
        { t: 120 * S },
      ],
      [2, 2, 5, 5, 5, 5, 0],
    ],
    [
      'busy workers hold a scale-down after the cool-down, and release it when they finish',
      {},
      [
        { t: 0, queued: 12 },
        { t: 1 * S, running: 2, busy: 2 },
        { t: 61 * S, running: 2, busy: 2 },
        { t: 62 * S },
        { t: 122 * S },
      ],
      [3, 3, 2, 2, 0],
    ],
    [
      'with min 1 an idle container goes down to 1, never 0',
      { min: 1, cooldownMs: 5 * S },
      [{ t: 0, queued: 12 }, { t: 1 * S }, { t: 6 * S }, { t: 60 * S }],
      [3, 3, 1, 1],
    ],
    [
      'a controller that starts with replicas running waits a full cool-down',
      { cooldownMs: 10 * S },
      [{ t: 100 * S }, { t: 109 * S }, { t: 110 * S }],
      [4, 4, 0],
      4,
    ],
    [
      'replicas lost on the platform are replaced at once',
      {},
      [
        { t: 0, queued: 12 },
        { t: 1 * S, queued: 12, replicas: 1 },
      ],
      [3, 3],
    ],
    [
      // The cool-down holds the targets of the demand, not whatever the platform runs.
      'replicas added by hand above every recent target are removed at once',
      { cooldownMs: 10 * S },
      [
        { t: 0, queued: 4 },
        { t: 1 * S, queued: 4, replicas: 6 },
      ],
      [1, 1],
    ],
    [
      'replicas added by hand within a recent target are kept for the cool-down',
      { cooldownMs: 10 * S },
      [
        { t: 0, queued: 24 },
        { t: 1 * S, queued: 4 },
        { t: 2 * S, queued: 4, replicas: 6 },
        { t: 10 * S, queued: 4 },
        { t: 11 * S, queued: 4 },
      ],
      [6, 6, 6, 6, 1],
    ],
    [
      'max lowered between ticks: down to the new max at once',
      { max: 3 },
      [{ t: 0, queued: 40, replicas: 10 }],
      [3],
    ],
    [
      'no task types: nothing ever changes',
      {},
      [{ t: 0 }, { t: 100 * S }, { t: 200 * S }],
      [0, 0, 0],
    ],
  ])('%s', (_name, policy, steps, expected, start) => {
    expect(run(policy, steps, start)).toEqual(expected);
  });

  it('keeps a history of at most one step per replica count however many ticks pass', () => {
    let history: ScalingHistory | undefined;
    let replicas = 0;
    let longest = 0;
    for (let t = 0; t < 5000; t++) {
      const d = decideContainer(
        { container: 'c', queued: (t * 7919) % 41, running: 0, busy: 0, replicas, history },
        P,
        t * 100,
      );
      history = d.history;
      replicas = d.to;
      longest = Math.max(longest, history.length);
    }
    expect(longest).toBeLessThanOrEqual(P.max + 1);
  });

  it('does not mutate the history it is given (it is frozen)', () => {
    const first = decideContainer(
      { container: 'c', queued: 8, running: 0, busy: 0, replicas: 0 },
      P,
      0,
    );
    const copy = JSON.stringify(first.history);
    decideContainer(
      { container: 'c', queued: 0, running: 0, busy: 0, replicas: 2, history: first.history },
      P,
      100,
    );
    expect(JSON.stringify(first.history)).toBe(copy);
    expect(Object.isFrozen(first.history)).toBe(true);
  });
});

describe('decideReplicas', () => {
  it('decides each container with its own policy', () => {
    const decisions = decideReplicas(
      {
        containers: [
          { container: 'a', queued: 9, running: 0, busy: 0, replicas: 0 },
          { container: 'b', queued: 9, running: 0, busy: 0, replicas: 0 },
        ],
      },
      { a: P, b: { ...P, concurrency: 1, max: 4 } },
      0,
    );
    expect(decisions.map((d) => [d.container, d.to])).toEqual([
      ['a', 3],
      ['b', 4],
    ]);
  });

  it('refuses a container without a policy, naming it', () => {
    let error: unknown;
    try {
      decideReplicas(
        { containers: [{ container: 'ghost', queued: 1, running: 0, busy: 0, replicas: 0 }] },
        { a: P },
        0,
      );
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('NOT_FOUND');
    expect((error as Error).message).toContain('"ghost"');
  });

  it('reads the policies of a registry: concurrency, min, max, cool-down', async () => {
    const registry = await loadRegistry(
      {
        containers: { tda: { concurrency: 2, scaling: { min: 1, max: 3, cooldown: '500ms' } } },
        taskTypes: { t: { container: 'tda', command: ['/bin/true'] } },
      },
      { builtins: {} },
    );
    expect(scalingPolicies(registry)).toMatchObject({
      tda: { concurrency: 2, min: 1, max: 3, cooldownMs: 500 },
      'eas-base': { concurrency: 4, min: 0, max: 20, cooldownMs: 300_000 },
    });
  });

  it('the registry refuses concurrency 0 and min above max, so decide never sees them', async () => {
    for (const containers of [
      { tda: { concurrency: 0 } },
      { tda: { scaling: { min: 4, max: 2 } } },
      { tda: { scaling: { cooldown: '-1s' } } },
    ]) {
      let error: unknown;
      try {
        await loadRegistry({ containers }, { builtins: {} });
      } catch (e) {
        error = e;
      }
      expect(isEasError(error) && error.code).toBe('REGISTRY_INVALID');
    }
  });
});

describe('decideContainer: properties', () => {
  const policyArb = fc
    .record({
      concurrency: fc.integer({ min: 1, max: 8 }),
      min: fc.integer({ min: 0, max: 5 }),
      extra: fc.integer({ min: 0, max: 15 }),
      cooldownMs: fc.integer({ min: 0, max: 10_000 }),
    })
    .map(({ extra, ...p }) => ({ ...p, max: Math.max(1, p.min + extra) }));
  const stepArb = fc.record({
    dt: fc.integer({ min: 0, max: 4000 }),
    queued: fc.integer({ min: 0, max: 200 }),
    running: fc.integer({ min: 0, max: 40 }),
    busyShare: fc.double({ min: 0, max: 1, noNaN: true }),
    replicas: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
  });

  interface StepArb {
    dt: number;
    queued: number;
    running: number;
    busyShare: number;
    replicas: number | undefined;
  }

  interface Seen {
    t: number;
    d: ScaleDecision;
    busy: number;
    from: number;
  }

  function simulate(policy: ContainerScalingPolicy, steps: StepArb[], perfect: boolean): Seen[] {
    let history: ScalingHistory | undefined;
    let replicas = 0;
    let t = 1_000_000;
    const seen: Seen[] = [];
    for (const s of steps) {
      t += s.dt;
      // Busy workers: at most one per running attempt, at least one when attempts run.
      const busy = s.running === 0 ? 0 : Math.max(1, Math.round(s.running * s.busyShare));
      const from = perfect ? replicas : (s.replicas ?? replicas);
      const d = decideContainer(
        { container: 'c', queued: s.queued, running: s.running, busy, replicas: from, history },
        policy,
        t,
      );
      history = d.history;
      replicas = d.to;
      seen.push({ t, d, busy, from });
    }
    return seen;
  }

  it('desired is always within [max(min, busy), max(max, busy)] and never below the target', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        (policy, steps) => {
          for (const { d, busy } of simulate(policy, steps, false)) {
            expect(d.to).toBeGreaterThanOrEqual(Math.max(policy.min, busy));
            expect(d.to).toBeLessThanOrEqual(Math.max(policy.max, busy));
            expect(d.to).toBeGreaterThanOrEqual(d.target);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a scale-up goes straight to the target; a change says which way it went', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        (policy, steps) => {
          for (const { d, from } of simulate(policy, steps, false)) {
            expect(d.from).toBe(from);
            if (d.target > from) expect(d.to).toBe(d.target);
            expect(d.change).toBe(d.to > from ? 'up' : d.to < from ? 'down' : 'hold');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a scale-down within max never goes below a target of the last cool-down', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        (policy, steps) => {
          const seen = simulate(policy, steps, true);
          for (const [i, { t, d }] of seen.entries()) {
            if (d.change !== 'down' || d.from > Math.max(policy.max, seen[i]!.busy)) continue;
            // The targets that held during (t - cooldown, t]: each held from its decision until
            // the next one.
            const start = t - policy.cooldownMs;
            const held = seen
              .slice(0, i)
              .filter((s, j) => s.t > start || seen[j + 1]!.t > start)
              .map((s) => s.d.target);
            // Until the first decision the replicas of the first snapshot stood for the target.
            if (seen[0]!.t > start) held.push(seen[0]!.from);
            for (const target of held) expect(d.to).toBeGreaterThanOrEqual(target);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with no demand and min 0 it reaches zero one cool-down after the last work, and stays', () => {
    fc.assert(
      fc.property(
        policyArb.map((p) => ({ ...p, min: 0 })),
        fc.array(stepArb, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 2000 }),
        (policy, steps, tick) => {
          const seen = simulate(policy, steps, true);
          let t = seen[seen.length - 1]!.t;
          let history = seen[seen.length - 1]!.d.history;
          let replicas = seen[seen.length - 1]!.d.to;
          const idleFrom = t + tick;
          for (let n = 0; n < 200 && t <= idleFrom + policy.cooldownMs + 2 * tick; n++) {
            t += tick;
            const d = decideContainer(
              { container: 'c', queued: 0, running: 0, busy: 0, replicas, history },
              policy,
              t,
            );
            if (t >= idleFrom + policy.cooldownMs) expect(d.to).toBe(0);
            history = d.history;
            replicas = d.to;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is pure: the same inputs give the same decision', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(stepArb, { minLength: 1, maxLength: 20 }),
        (policy, steps) => {
          expect(JSON.stringify(simulate(policy, steps, false))).toBe(
            JSON.stringify(simulate(policy, steps, false)),
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});
