import type { TypedValue } from '../core/index.js';
import { linspace, logspace } from './ranges.js';
import type { ChildGroup, ControlExpander, ExpanderTools, TaskDescriptor } from './types.js';

/**
 * Most values one `execution_for_loop` may take: a guard against a typo such as
 * `[1, 100, 1e9]` expanding a billion tasks. Nested loops multiply, and the whole chain is
 * further bounded by `ExpandOptions.maxTasks`.
 */
export const MAX_LOOP_VALUES = 100_000;

const RANGE_KEYS = ['values', 'linear_range', 'log_range'] as const;

/** The control-flow types, by name: how each expands (DESIGN §3). */
export const CONTROL_EXPANDERS: Record<string, ControlExpander> = {
  execution_chain: (d) => [{ field: 'task_list', descriptors: d.task_list ?? [] }],
  execution_for_loop: expandForLoop,
  // Their shape depends on another task's output metadata: expanded at run time. Their
  // expressions are parsed now, so a syntax error refuses the chain before anything runs.
  execution_conditional: (d, node, tools) => {
    if (d.criterion === undefined)
      tools.report({ path: `${node.path}.criterion`, message: 'is required' });
    else tools.check(d.criterion, `${node.path}.criterion`);
    return 'deferred';
  },
  execution_do_while_loop: (d, node, tools) => {
    for (const f of ['iteration_name', 'repeat_criterion'] as const) {
      if (d[f] === undefined) tools.report({ path: `${node.path}.${f}`, message: 'is required' });
      else tools.check(d[f], `${node.path}.${f}`);
    }
    return 'deferred';
  },
};

/**
 * `execution_for_loop`: one iteration per value of exactly one of `values` [list],
 * `linear_range` [start, end, n] or `log_range` [start, end, n] (n points, both ends
 * included). Each iteration is an `execution_chain` holding the loop's `task_list`, with task
 * metadata `<parameter> = value` and `<parameter>_index = i` (an int).
 */
function expandForLoop(
  d: TaskDescriptor,
  node: { path: string },
  tools: ExpanderTools,
): ChildGroup[] {
  const at = node.path;
  const parameter = typeof d.parameter === 'string' ? d.parameter.trim() : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(parameter)) {
    tools.report({
      path: `${at}.parameter`,
      message:
        d.parameter === undefined
          ? 'is required: the name of the loop variable'
          : 'must be a name (letters, digits, _)',
    });
    return [];
  }
  const given = RANGE_KEYS.filter((k) => d[k] !== undefined);
  if (given.length !== 1) {
    tools.report({
      path: at,
      message:
        given.length === 0
          ? 'needs one of "values", "linear_range" or "log_range"'
          : `has both ${given.map((g) => `"${g}"`).join(' and ')}; give exactly one`,
    });
    return [];
  }
  const values = loopValues(given[0]!, d[given[0]!], `${at}.${given[0]}`, tools);
  if (!values) return [];
  return values.map((value, i) => ({
    field: 'task_list',
    descriptors: d.task_list ?? [],
    metadata: { [parameter]: value, [`${parameter}_index`]: { type: 'int', value: i } },
    node: { path: `${at}@${i}`, position: i },
  }));
}

function loopValues(
  kind: (typeof RANGE_KEYS)[number],
  raw: unknown,
  where: string,
  tools: ExpanderTools,
): TypedValue[] | undefined {
  if (!Array.isArray(raw)) {
    tools.report({
      path: where,
      message: kind === 'values' ? 'must be a list of values' : 'must be [start, end, n]',
    });
    return undefined;
  }
  if (kind === 'values') {
    if (raw.length > MAX_LOOP_VALUES) {
      tools.report({
        path: where,
        message: `has ${raw.length} values; at most ${MAX_LOOP_VALUES} per loop`,
      });
      return undefined;
    }
    const out: TypedValue[] = [];
    raw.forEach((v, i) => {
      const t = tools.evaluate(v, `${where}[${i}]`);
      if (t) out.push(t);
    });
    return out.length === raw.length ? out : undefined;
  }
  if (raw.length !== 3) {
    tools.report({ path: where, message: `must be [start, end, n], got ${raw.length} items` });
    return undefined;
  }
  const [start, end, n] = raw.map((v, i) => tools.evaluate(v, `${where}[${i}]`));
  if (!start || !end || !n) return undefined;
  const num = (t: TypedValue, i: number): number | undefined => {
    if ((t.type === 'int' || t.type === 'float') && Number.isFinite(t.value)) return t.value;
    tools.report({ path: `${where}[${i}]`, message: `must be a number, got ${t.type}` });
    return undefined;
  };
  const a = num(start, 0);
  const b = num(end, 1);
  if (a === undefined || b === undefined) return undefined;
  if (n.type !== 'int' || n.value < 1 || n.value > MAX_LOOP_VALUES) {
    tools.report({
      path: `${where}[2]`,
      message: `n must be an integer from 1 to ${MAX_LOOP_VALUES}`,
    });
    return undefined;
  }
  const count = n.value;
  if (kind === 'log_range' && (a <= 0 || b <= 0)) {
    tools.report({ path: where, message: 'a log_range needs start and end above 0' });
    return undefined;
  }
  // The original's np.linspace / np.logspace, bit for bit (see ranges.ts).
  const points = kind === 'linear_range' ? linspace(a, b, count) : logspace(a, b, count);
  return points.map((value) => ({ type: 'float', value }));
}
