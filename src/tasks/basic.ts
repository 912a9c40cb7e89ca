import { setTimeout as sleep } from 'node:timers/promises';
import { EasError } from '../core/index.js';
import type { HandlerDefinition, TaskContext } from '../sdk/index.js';

/** Longest `sleep` a `null` task accepts, seconds: a day, so a typo cannot park a worker for ever. */
const MAX_SLEEP_S = 86_400;

/** `null`: does nothing, or sleeps `sleep` seconds. The no-op of benchmarks and tests. */
export const nullTask: HandlerDefinition = {
  run: async (ctx: TaskContext) => {
    const s = ctx.task.description.sleep;
    if (s === undefined || s === null) return;
    const seconds = Number(s);
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_SLEEP_S) {
      throw new EasError(
        'USAGE',
        `null task: sleep must be a number of seconds between 0 and ${MAX_SLEEP_S}, got ${JSON.stringify(s)}`,
      );
    }
    await sleep(seconds * 1000, undefined, { signal: ctx.signal });
  },
};

/** The error a deliberately failing `error` task throws. */
export class DeliberateTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliberateTaskError';
  }
}

/** `error`: always fails, with a traceback (an optional `message` field sets its text). */
export const errorTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const message =
      typeof ctx.task.description.message === 'string'
        ? ctx.task.description.message
        : 'this task always fails';
    ctx.log('error', `error task ${ctx.task.path} failing on purpose`);
    throw new DeliberateTaskError(message);
  },
};

/** `set_metadata`: records its evaluated `values` object as output metadata. */
export const setMetadataTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const values = ctx.typedDescription.values;
    if (values === undefined) return { metadata: {} };
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      throw new EasError('USAGE', 'set_metadata: "values" must be an object of name → value');
    }
    return { metadata: values as Record<string, unknown> };
  },
};
