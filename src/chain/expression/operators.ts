import { ValueProblem } from './errors.js';
import { printfFormat } from './format.js';
import { MAX_LIST_LENGTH, MAX_STRING_LENGTH } from './limits.js';
import { bool, float, int, isNumber, numberOf, str, typeName, type PyValue } from './values.js';
import type { BinaryOp } from './parser.js';

/*
 * Python's operators on the value model: ints stay ints (exact, or an error beyond 2**53 - 1),
 * `/` is always float, `//` floors, `%` takes the divisor's sign, `**` with a negative
 * exponent is float.
 */

function problem(message: string): never {
  throw new ValueProblem(message);
}

function checkInt(n: number): PyValue {
  if (!Number.isSafeInteger(n)) problem('integer too large (beyond 2**53 - 1)');
  return int(n === 0 ? 0 : n);
}

function unsupported(op: string, a: PyValue, b: PyValue): never {
  return problem(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

/** `a ** b`. */
export function power(a: PyValue, b: PyValue): PyValue {
  if (!isNumber(a) || !isNumber(b)) return unsupported('** or pow()', a, b);
  const x = numberOf(a);
  const y = numberOf(b);
  if (a.kind !== 'float' && b.kind !== 'float' && y >= 0) {
    const ax = Math.abs(x);
    if (ax > 1 && y * Math.log2(ax) > 54) problem('integer too large (beyond 2**53 - 1)');
    return checkInt(Number(BigInt(x) ** BigInt(y)));
  }
  if (x === 0 && y < 0) problem('0.0 cannot be raised to a negative power');
  if (x < 0 && !Number.isInteger(y) && Number.isFinite(y)) {
    problem('a negative number cannot be raised to a fractional power (the result is complex)');
  }
  const r = x ** y;
  if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y)) {
    problem('numerical result out of range (in **)');
  }
  return float(r);
}

function repeatString(s: string, n: number): PyValue {
  if (n <= 0 || s.length === 0) return str('');
  // Checked before allocating: 'a' * 10**9 never builds anything.
  if (s.length * n > MAX_STRING_LENGTH)
    problem(`string longer than ${MAX_STRING_LENGTH} characters`);
  return str(s.repeat(n));
}

function repeatList(v: PyValue & { kind: 'list' | 'tuple' }, n: number): PyValue {
  if (n <= 0 || v.items.length === 0) return { kind: v.kind, items: [] };
  if (v.items.length * n > MAX_LIST_LENGTH) problem(`list longer than ${MAX_LIST_LENGTH} items`);
  const items: PyValue[] = [];
  for (let i = 0; i < n; i++) items.push(...v.items);
  return { kind: v.kind, items };
}

function floorDivInt(x: number, y: number): PyValue {
  const a = BigInt(x);
  const b = BigInt(y);
  let q = a / b;
  if (a % b !== 0n && a < 0n !== b < 0n) q -= 1n;
  return checkInt(Number(q));
}

function modInt(x: number, y: number): PyValue {
  const a = BigInt(x);
  const b = BigInt(y);
  let r = a % b;
  if (r !== 0n && r < 0n !== b < 0n) r += b;
  return int(Number(r));
}

function modFloat(x: number, y: number): number {
  let r = x % y;
  if (r !== 0 && r < 0 !== y < 0) r += y;
  else if (r === 0) r = y < 0 ? -0 : 0;
  return r;
}

/** `a op b` for the arithmetic operators. */
export function binary(op: BinaryOp, a: PyValue, b: PyValue): PyValue {
  if (op === '**') return power(a, b);
  if (op === '%' && a.kind === 'str') return str(printfFormat(a.value, b));
  if (isNumber(a) && isNumber(b)) {
    const x = numberOf(a);
    const y = numberOf(b);
    const ints = a.kind !== 'float' && b.kind !== 'float';
    switch (op) {
      case '+':
        return ints ? checkInt(x + y) : float(x + y);
      case '-':
        return ints ? checkInt(x - y) : float(x - y);
      case '*':
        return ints ? checkInt(x * y) : float(x * y);
      case '/':
        if (y === 0) problem('division by zero');
        return float(x / y);
      case '//':
        if (y === 0) problem('integer division or modulo by zero');
        return ints ? floorDivInt(x, y) : float(Math.floor(x / y));
      case '%':
        if (y === 0) problem('integer division or modulo by zero');
        return ints ? modInt(x, y) : float(modFloat(x, y));
    }
  }
  if (op === '+') {
    if (a.kind === 'str' && b.kind === 'str') {
      if (a.value.length + b.value.length > MAX_STRING_LENGTH) {
        problem(`string longer than ${MAX_STRING_LENGTH} characters`);
      }
      return str(a.value + b.value);
    }
    if ((a.kind === 'list' && b.kind === 'list') || (a.kind === 'tuple' && b.kind === 'tuple')) {
      if (a.items.length + b.items.length > MAX_LIST_LENGTH) {
        problem(`list longer than ${MAX_LIST_LENGTH} items`);
      }
      return { kind: a.kind, items: [...a.items, ...b.items] };
    }
  }
  if (op === '*') {
    const [seq, n] = isNumber(a) ? [b, a] : [a, b];
    if (n.kind === 'int' || n.kind === 'bool') {
      if (seq.kind === 'str') return repeatString(seq.value, numberOf(n));
      if (seq.kind === 'list' || seq.kind === 'tuple') return repeatList(seq, numberOf(n));
    }
  }
  return unsupported(op, a, b);
}

/** `-a`, `+a`. */
export function unary(op: '-' | '+', a: PyValue): PyValue {
  if (!isNumber(a)) problem(`bad operand type for unary ${op}: '${typeName(a)}'`);
  const x = numberOf(a);
  if (a.kind === 'float') return float(op === '-' ? -x : x);
  return int(op === '-' ? (x === 0 ? 0 : -x) : x);
}

/** `a == b`. */
export function equals(a: PyValue, b: PyValue): boolean {
  if (isNumber(a) && isNumber(b)) return numberOf(a) === numberOf(b);
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'str':
      return a.value === (b as typeof a).value;
    case 'none':
      return true;
    case 'list':
    case 'tuple': {
      const other = (b as typeof a).items;
      return (
        a.items.length === other.length && a.items.every((x, i) => equals(x, other[i] as PyValue))
      );
    }
    case 'dict': {
      const other = (b as typeof a).entries;
      if (a.entries.size !== other.size) return false;
      for (const [k, v] of a.entries) {
        const w = other.get(k);
        if (w === undefined || !equals(v, w)) return false;
      }
      return true;
    }
    default:
      return a === b;
  }
}

/** `a < b`, or a TypeError for unordered kinds. */
export function compareLess(a: PyValue, b: PyValue): boolean {
  if (isNumber(a) && isNumber(b)) return numberOf(a) < numberOf(b);
  if (a.kind === 'str' && b.kind === 'str') return a.value < b.value;
  if ((a.kind === 'list' && b.kind === 'list') || (a.kind === 'tuple' && b.kind === 'tuple')) {
    const n = Math.min(a.items.length, b.items.length);
    for (let i = 0; i < n; i++) {
      const x = a.items[i] as PyValue;
      const y = b.items[i] as PyValue;
      if (!equals(x, y)) return compareLess(x, y);
    }
    return a.items.length < b.items.length;
  }
  return problem(`'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

/** `a in b`. */
export function contains(b: PyValue, a: PyValue): boolean {
  switch (b.kind) {
    case 'str':
      if (a.kind !== 'str')
        problem(`'in <string>' requires string as left operand, not ${typeName(a)}`);
      return b.value.includes(a.value);
    case 'list':
    case 'tuple':
      return b.items.some((x) => equals(x, a));
    case 'dict':
      return a.kind === 'str' && b.entries.has(a.value);
    default:
      return problem(`argument of type '${typeName(b)}' is not iterable`);
  }
}

/** One comparison of a chain. */
export function compare(op: string, a: PyValue, b: PyValue): PyValue {
  switch (op) {
    case '==':
      return bool(equals(a, b));
    case '!=':
      return bool(!equals(a, b));
    case '<':
      return bool(compareLess(a, b));
    case '>':
      return bool(compareLess(b, a));
    case '<=':
      return bool(compareLess(a, b) || (!compareLess(b, a) && equals(a, b)));
    case '>=':
      return bool(compareLess(b, a) || (!compareLess(a, b) && equals(a, b)));
    case 'in':
      return bool(contains(b, a));
    case 'not in':
      return bool(!contains(b, a));
    case 'is':
      return bool(
        a === b ||
          (a.kind === 'none' && b.kind === 'none') ||
          (a.kind === 'bool' && b.kind === 'bool' && a.value === b.value),
      );
    case 'is not':
      return bool(
        !(
          a === b ||
          (a.kind === 'none' && b.kind === 'none') ||
          (a.kind === 'bool' && b.kind === 'bool' && a.value === b.value)
        ),
      );
    default:
      return problem(`unknown comparison ${op}`);
  }
}
