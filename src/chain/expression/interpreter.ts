import type { TypedMetadata } from '../../core/index.js';
import {
  callDictMethod,
  callFunction,
  callStrMethod,
  BUILTIN_FUNCTIONS,
  DICT_METHODS,
  STR_METHODS,
} from './builtins.js';
import { ExpressionError, ValueProblem } from './errors.js';
import { MAX_LIST_LENGTH, MAX_TOTAL_ALLOCATION } from './limits.js';
import { binary, compare, unary } from './operators.js';
import type { Argument, Node } from './parser.js';
import {
  bool,
  dictOfMetadata,
  float,
  int,
  str,
  truthy,
  typeName,
  NONE,
  type PyValue,
} from './values.js';

/** The constants of DESIGN §3; `day` and `month` are ints, the others floats. */
export const CONSTANTS: ReadonlyMap<string, PyValue> = new Map<string, PyValue>([
  ['day', int(1)],
  ['month', int(28)],
  ['year', float(365.25)],
  ['sun_radius', float(695500e3)],
  ['earth_radius', float(6371e3)],
  ['jupiter_radius', float(71492e3)],
  ['phy_AU', float(149597870700)],
  ['Rearth', float(0.08911486)],
  ['plato_noise', float(0.000315)],
]);

/** What an evaluation sees. */
export interface InterpreterContext {
  metadata: TypedMetadata;
  /** Absent when the task names no `requires_metadata_from` providers. */
  requestedMetadata?: Record<string, TypedMetadata>;
  /** Uniform in [0, 1): `random.random()`. */
  random: () => number;
}

const CONSTANTS_MODULE: PyValue = {
  kind: 'module',
  name: 'constants',
  members: new Map(CONSTANTS),
};
const RANDOM_MODULE: PyValue = {
  kind: 'module',
  name: 'random',
  members: new Map<string, PyValue>([['random', { kind: 'builtin', name: 'random.random' }]]),
};
const BUILTINS: ReadonlyMap<string, PyValue> = new Map(
  BUILTIN_FUNCTIONS.map((name) => [name, { kind: 'builtin', name } as PyValue]),
);

/** Evaluates a parsed expression. @throws ExpressionError with the offending offset. */
export function interpret(root: Node, context: InterpreterContext): PyValue {
  return new Interpreter(context).evaluate(root);
}

class Interpreter {
  private readonly names = new Map<string, PyValue>();
  private allocated = 0;

  constructor(private readonly context: InterpreterContext) {
    this.names.set('constants', CONSTANTS_MODULE);
    this.names.set('random', RANDOM_MODULE);
    this.names.set('metadata', dictOfMetadata(context.metadata));
    if (context.requestedMetadata !== undefined) {
      this.names.set('requested_metadata', {
        kind: 'dict',
        entries: new Map(
          Object.entries(context.requestedMetadata).map(([k, m]) => [k, dictOfMetadata(m)]),
        ),
      });
    }
    for (const [k, v] of BUILTINS) this.names.set(k, v);
  }

  /** Runs `f`, turning a ValueProblem into an ExpressionError at `offset`. */
  private at<T>(offset: number, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof ValueProblem) throw new ExpressionError(e.message, offset);
      throw e;
    }
  }

  /** Counts what a step allocated, so many large steps cannot add up to seconds of work. */
  private charge(v: PyValue, offset: number): PyValue {
    const n =
      v.kind === 'str'
        ? v.value.length
        : v.kind === 'list' || v.kind === 'tuple'
          ? v.items.length
          : 0;
    this.allocated += n;
    if (this.allocated > MAX_TOTAL_ALLOCATION) {
      throw new ExpressionError(
        `expression does too much work (over ${MAX_TOTAL_ALLOCATION} characters or items)`,
        offset,
      );
    }
    return v;
  }

  evaluate(node: Node): PyValue {
    switch (node.type) {
      case 'int':
        return int(node.value);
      case 'float':
        return float(node.value);
      case 'str':
        return str(node.value);
      case 'bool':
        return bool(node.value);
      case 'none':
        return NONE;
      case 'name': {
        const v = this.names.get(node.name);
        if (v !== undefined) return v;
        if (node.name === 'requested_metadata') {
          throw new ExpressionError(
            'requested_metadata is not available here: name the providing tasks in requires_metadata_from',
            node.offset,
          );
        }
        throw new ExpressionError(`name '${node.name}' is not defined`, node.offset);
      }
      case 'unary': {
        const v = this.evaluate(node.operand);
        return this.at(node.offset, () => unary(node.op, v));
      }
      case 'not':
        return bool(!truthy(this.evaluate(node.operand)));
      case 'binary': {
        const a = this.evaluate(node.left);
        const b = this.evaluate(node.right);
        return this.charge(
          this.at(node.offset, () => binary(node.op, a, b)),
          node.offset,
        );
      }
      case 'logical': {
        // Python returns an operand, not a bool: 0 or 'x' == 'x'.
        const a = this.evaluate(node.left);
        if (node.op === 'and' ? !truthy(a) : truthy(a)) return a;
        return this.evaluate(node.right);
      }
      case 'compare': {
        let left = this.evaluate(node.first);
        let result: PyValue = bool(true);
        for (const { op, right, offset } of node.rest) {
          const r = this.evaluate(right);
          result = this.at(offset, () => compare(op, left, r));
          if (!truthy(result)) return result;
          left = r;
        }
        return result;
      }
      case 'conditional':
        return truthy(this.evaluate(node.test))
          ? this.evaluate(node.then)
          : this.evaluate(node.otherwise);
      case 'tuple':
      case 'list':
        return this.charge(
          { kind: node.type, items: node.items.map((i) => this.evaluate(i)) },
          node.offset,
        );
      case 'dict': {
        const entries = new Map<string, PyValue>();
        for (const e of node.entries) {
          const k = this.evaluate(e.key);
          if (k.kind !== 'str') {
            throw new ExpressionError(
              `dict keys must be strings, not ${typeName(k)}`,
              e.key.offset,
            );
          }
          entries.set(k.value, this.evaluate(e.value));
        }
        return { kind: 'dict', entries };
      }
      case 'subscript': {
        const obj = this.evaluate(node.object);
        const index = this.evaluate(node.index);
        return this.at(node.offset, () => subscript(obj, index));
      }
      case 'attribute':
        return this.attribute(this.evaluate(node.object), node.name, node.nameOffset);
      case 'call': {
        const callee = this.evaluate(node.callee);
        const { args, kwargs } = this.arguments(node.args);
        const offset =
          node.callee.type === 'attribute' ? node.callee.nameOffset : node.callee.offset;
        return this.charge(
          this.at(offset, () => this.call(callee, args, kwargs)),
          offset,
        );
      }
    }
  }

  private attribute(obj: PyValue, name: string, offset: number): PyValue {
    if (obj.kind === 'module') {
      const v = obj.members.get(name);
      if (v !== undefined) return v;
      throw new ExpressionError(`${obj.name} has no attribute '${name}'`, offset);
    }
    if (obj.kind === 'str' && STR_METHODS.includes(name)) {
      return { kind: 'builtin', name: `str.${name}`, self: obj };
    }
    if (obj.kind === 'dict' && DICT_METHODS.includes(name)) {
      return { kind: 'builtin', name: `dict.${name}`, self: obj };
    }
    throw new ExpressionError(`attribute '${name}' of ${typeName(obj)} is not allowed`, offset);
  }

  private arguments(list: readonly Argument[]): {
    args: PyValue[];
    kwargs: Map<string, PyValue>;
  } {
    const args: PyValue[] = [];
    const kwargs = new Map<string, PyValue>();
    const setKeyword = (name: string, v: PyValue, offset: number): void => {
      if (kwargs.has(name)) {
        throw new ExpressionError(`got multiple values for keyword argument '${name}'`, offset);
      }
      kwargs.set(name, v);
    };
    for (const a of list) {
      const v = this.evaluate(a.value);
      switch (a.kind) {
        case 'positional':
          args.push(v);
          break;
        case 'keyword':
          setKeyword(a.name ?? '', v, a.offset);
          break;
        case 'star':
          if (v.kind === 'list' || v.kind === 'tuple') args.push(...v.items);
          else if (v.kind === 'str') args.push(...[...v.value].map(str));
          else
            throw new ExpressionError(
              `argument after * must be an iterable, not ${typeName(v)}`,
              a.offset,
            );
          if (args.length > MAX_LIST_LENGTH) {
            throw new ExpressionError(`more than ${MAX_LIST_LENGTH} arguments`, a.offset);
          }
          break;
        case 'doublestar':
          if (v.kind !== 'dict') {
            throw new ExpressionError(
              `argument after ** must be a mapping, not ${typeName(v)}`,
              a.offset,
            );
          }
          for (const [k, x] of v.entries) setKeyword(k, x, a.offset);
          break;
      }
    }
    return { args, kwargs };
  }

  private call(callee: PyValue, args: PyValue[], kwargs: Map<string, PyValue>): PyValue {
    if (callee.kind !== 'builtin')
      throw new ValueProblem(`'${typeName(callee)}' object is not callable`);
    if (callee.name === 'random.random') {
      if (args.length > 0 || kwargs.size > 0) throw new ValueProblem('random() takes no arguments');
      return float(this.context.random());
    }
    const self = callee.self;
    if (self?.kind === 'str') return callStrMethod(self.value, callee.name.slice(4), args, kwargs);
    if (self?.kind === 'dict')
      return callDictMethod(self.entries, callee.name.slice(5), args, kwargs);
    return callFunction(callee.name, args, kwargs);
  }
}

function subscript(obj: PyValue, index: PyValue): PyValue {
  if (obj.kind === 'dict') {
    if (index.kind !== 'str') {
      throw new ValueProblem(`KeyError: dict keys are strings, not ${typeName(index)}`);
    }
    const v = obj.entries.get(index.value);
    if (v === undefined) {
      const known = [...obj.entries.keys()]
        .slice(0, 20)
        .map((k) => `'${k}'`)
        .join(', ');
      throw new ValueProblem(`KeyError: '${index.value}' (known keys: ${known || 'none'})`);
    }
    return v;
  }
  if (obj.kind === 'list' || obj.kind === 'tuple' || obj.kind === 'str') {
    if (index.kind !== 'int' && index.kind !== 'bool') {
      throw new ValueProblem(`${typeName(obj)} indices must be integers, not ${typeName(index)}`);
    }
    const items = obj.kind === 'str' ? [...obj.value] : obj.items;
    let i = index.kind === 'bool' ? Number(index.value) : index.value;
    if (i < 0) i += items.length;
    const v = items[i];
    if (v === undefined || i < 0)
      throw new ValueProblem(`IndexError: ${typeName(obj)} index out of range`);
    return typeof v === 'string' ? str(v) : v;
  }
  throw new ValueProblem(`'${typeName(obj)}' object is not subscriptable`);
}
