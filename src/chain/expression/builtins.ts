import { ValueProblem } from './errors.js';
import { formatTemplate } from './format.js';
import { MAX_STRING_LENGTH } from './limits.js';
import {
  float,
  int,
  isNumber,
  numberOf,
  repr,
  str,
  toStr,
  truthy,
  bool,
  typeName,
  NONE,
  type PyValue,
} from './values.js';
import { fixedDigits } from './format.js';
import { compareLess, power } from './operators.js';

/*
 * The whitelisted functions and methods (DESIGN §3). Each checks its arguments and throws a
 * ValueProblem, which the interpreter reports at the call's column.
 */

function problem(message: string): never {
  throw new ValueProblem(message);
}

/** Functions callable by name. */
export const BUILTIN_FUNCTIONS: readonly string[] = [
  'pow',
  'abs',
  'min',
  'max',
  'round',
  'int',
  'float',
  'str',
  'bool',
  'len',
  'sqrt',
  'log',
  'log10',
  'exp',
];

/** Methods of `str` values. */
export const STR_METHODS: readonly string[] = [
  'format',
  'upper',
  'lower',
  'strip',
  'lstrip',
  'rstrip',
  'replace',
  'startswith',
  'endswith',
];

/** Methods of `dict` values. */
export const DICT_METHODS: readonly string[] = ['get'];

function arity(name: string, args: readonly PyValue[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    problem(`${name}() takes ${want} argument${max === 1 ? '' : 's'} (${args.length} given)`);
  }
}

function noKeywords(name: string, kwargs: ReadonlyMap<string, PyValue>): void {
  if (kwargs.size > 0) problem(`${name}() takes no keyword arguments`);
}

function num(name: string, v: PyValue | undefined): number {
  if (v === undefined || !isNumber(v)) {
    return problem(`${name}() needs a number, not ${v === undefined ? 'nothing' : typeName(v)}`);
  }
  return numberOf(v);
}

function checkInt(n: number): PyValue {
  if (!Number.isSafeInteger(n)) problem('integer too large (beyond 2**53 - 1)');
  return int(n === 0 ? 0 : n);
}

/** Python's `round(x)` / `round(x, n)`: ties to even on the exact binary value. */
export function pyRound(v: PyValue, ndigits: PyValue | undefined): PyValue {
  if (!isNumber(v)) problem(`type ${typeName(v)} doesn't define __round__ method`);
  const x = numberOf(v);
  if (ndigits === undefined || ndigits.kind === 'none') {
    if (v.kind !== 'float') return int(x);
    if (Number.isNaN(x)) problem('cannot convert float NaN to integer');
    if (!Number.isFinite(x)) problem('cannot convert float infinity to integer');
    const s = fixedDigits(Math.abs(x), 0);
    return checkInt((x < 0 ? -1 : 1) * Number(s));
  }
  if (ndigits.kind !== 'int' && ndigits.kind !== 'bool') {
    problem(`'${typeName(ndigits)}' object cannot be interpreted as an integer`);
  }
  const n = numberOf(ndigits);
  if (v.kind !== 'float') {
    if (n >= 0) return int(x);
    // round(1250, -2) == 1200: exact on integers via BigInt, ties to even.
    if (-n > 20) return int(0);
    const m = 10n ** BigInt(-n);
    const b = BigInt(x);
    let q = b / m;
    const r = b - q * m;
    const twice = 2n * (r < 0n ? -r : r);
    if (twice > m || (twice === m && q % 2n !== 0n)) q += b < 0n ? -1n : 1n;
    return checkInt(Number(q * m));
  }
  if (!Number.isFinite(x) || n > 300) return float(x);
  if (n >= 0) {
    if (n > 100) return float(x);
    const s = fixedDigits(Math.abs(x), n);
    return float((x < 0 || Object.is(x, -0) ? -1 : 1) * Number(s));
  }
  const m = 10 ** -n;
  if (!Number.isFinite(m)) return float(x < 0 ? -0 : 0);
  const q = Number(fixedDigits(Math.abs(x) / m, 0)) * m;
  return float(x < 0 ? -q : q);
}

function pyInt(v: PyValue): PyValue {
  switch (v.kind) {
    case 'int':
      return v;
    case 'bool':
      return int(v.value ? 1 : 0);
    case 'float':
      if (Number.isNaN(v.value)) problem('cannot convert float NaN to integer');
      if (!Number.isFinite(v.value)) problem('cannot convert float infinity to integer');
      return checkInt(Math.trunc(v.value));
    case 'str': {
      const t = v.value.trim();
      if (!/^[+-]?\d+(?:_\d+)*$/u.test(t)) {
        problem(`invalid literal for int() with base 10: ${repr(v)}`);
      }
      return checkInt(Number(t.replace(/_/g, '')));
    }
    default:
      return problem(`int() argument must be a string or a number, not '${typeName(v)}'`);
  }
}

function pyFloat(v: PyValue): PyValue {
  switch (v.kind) {
    case 'int':
    case 'float':
    case 'bool':
      return float(numberOf(v));
    case 'str': {
      const t = v.value.trim().toLowerCase();
      const m = /^([+-]?)(inf|infinity|nan)$/u.exec(t);
      if (m) return float(m[2] === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity);
      if (
        !/^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:e[+-]?\d+(?:_\d+)*)?$/u.test(
          t,
        )
      ) {
        problem(`could not convert string to float: ${repr(v)}`);
      }
      return float(Number(t.replace(/_/g, '')));
    }
    default:
      return problem(`float() argument must be a string or a real number, not '${typeName(v)}'`);
  }
}

function iterate(name: string, v: PyValue): PyValue[] {
  switch (v.kind) {
    case 'list':
    case 'tuple':
      return v.items;
    case 'str':
      return [...v.value].map(str);
    case 'dict':
      return [...v.entries.keys()].map(str);
    default:
      return problem(`'${typeName(v)}' object is not iterable (in ${name}())`);
  }
}

function minMax(name: 'min' | 'max', args: readonly PyValue[]): PyValue {
  if (args.length === 0) problem(`${name} expected at least 1 argument, got 0`);
  const items = args.length === 1 ? iterate(name, args[0] as PyValue) : args;
  if (items.length === 0) problem(`${name}() arg is an empty sequence`);
  let best = items[0] as PyValue;
  for (const x of items.slice(1)) {
    if (name === 'min' ? compareLess(x, best) : compareLess(best, x)) best = x;
  }
  return best;
}

function mathFloat(name: string, x: number, result: number): PyValue {
  if (Number.isNaN(result) && !Number.isNaN(x)) problem(`math domain error (in ${name}())`);
  if (!Number.isFinite(result) && Number.isFinite(x)) problem(`math range error (in ${name}())`);
  return float(result);
}

/** Calls the built-in function `name`. */
export function callFunction(
  name: string,
  args: readonly PyValue[],
  kwargs: ReadonlyMap<string, PyValue>,
): PyValue {
  if (name !== 'round') noKeywords(name, kwargs);
  switch (name) {
    case 'pow': {
      arity(name, args, 2, 3);
      const [a, b, m] = args as [PyValue, PyValue, PyValue | undefined];
      if (m === undefined || m.kind === 'none') return power(a, b);
      if (a.kind !== 'int' || b.kind !== 'int' || m.kind !== 'int') {
        problem('pow() 3rd argument not allowed unless all arguments are integers');
      }
      if (m.value === 0) problem('pow() 3rd argument cannot be 0');
      if (b.value < 0) problem('pow() with a negative exponent and a modulus is not supported');
      let result = 1n;
      let base = BigInt(a.value);
      const mod = BigInt(m.value);
      for (let e = BigInt(b.value); e > 0n; e >>= 1n) {
        if (e & 1n) result = (result * base) % mod;
        base = (base * base) % mod;
      }
      result = ((result % mod) + mod) % mod;
      if (mod < 0n && result !== 0n) result += mod;
      return int(Number(result));
    }
    case 'abs': {
      arity(name, args, 1, 1);
      const v = args[0] as PyValue;
      if (!isNumber(v)) problem(`bad operand type for abs(): '${typeName(v)}'`);
      return v.kind === 'float' ? float(Math.abs(v.value)) : int(Math.abs(numberOf(v)));
    }
    case 'min':
    case 'max':
      return minMax(name, args);
    case 'round': {
      for (const k of kwargs.keys())
        if (k !== 'ndigits') problem(`round() got an unexpected keyword argument '${k}'`);
      const nd = kwargs.get('ndigits');
      arity(name, args, 1, nd === undefined ? 2 : 1);
      return pyRound(args[0] as PyValue, nd ?? args[1]);
    }
    case 'int':
      arity(name, args, 0, 1);
      return args[0] === undefined ? int(0) : pyInt(args[0]);
    case 'float':
      arity(name, args, 0, 1);
      return args[0] === undefined ? float(0) : pyFloat(args[0]);
    case 'str':
      arity(name, args, 0, 1);
      return str(args[0] === undefined ? '' : toStr(args[0]));
    case 'bool':
      arity(name, args, 0, 1);
      return bool(args[0] !== undefined && truthy(args[0]));
    case 'len': {
      arity(name, args, 1, 1);
      const v = args[0] as PyValue;
      if (v.kind === 'str') return int([...v.value].length);
      if (v.kind === 'list' || v.kind === 'tuple') return int(v.items.length);
      if (v.kind === 'dict') return int(v.entries.size);
      return problem(`object of type '${typeName(v)}' has no len()`);
    }
    case 'sqrt': {
      arity(name, args, 1, 1);
      const x = num(name, args[0]);
      return mathFloat(name, x, Math.sqrt(x));
    }
    case 'exp': {
      arity(name, args, 1, 1);
      const x = num(name, args[0]);
      return mathFloat(name, x, Math.exp(x));
    }
    case 'log10': {
      arity(name, args, 1, 1);
      const x = num(name, args[0]);
      if (x <= 0) problem('math domain error (in log10())');
      return float(Math.log10(x));
    }
    case 'log': {
      arity(name, args, 1, 2);
      const x = num(name, args[0]);
      if (x <= 0) problem('math domain error (in log())');
      if (args[1] === undefined) return float(Math.log(x));
      const b = num(name, args[1]);
      if (b <= 0) problem('math domain error (in log())');
      if (b === 1) problem('float division by zero (in log())');
      return float(Math.log(x) / Math.log(b));
    }
    default:
      return problem(`${name}() is not a permitted function`);
  }
}

function strArg(method: string, v: PyValue | undefined): string {
  if (v === undefined || v.kind !== 'str') {
    return problem(
      `str.${method}() needs a string argument, not ${v === undefined ? 'nothing' : typeName(v)}`,
    );
  }
  return v.value;
}

function stripChars(s: string, chars: string | undefined, left: boolean, right: boolean): string {
  const set = chars === undefined ? undefined : new Set(chars);
  const strip = (c: string): boolean => (set === undefined ? /\s/u.test(c) : set.has(c));
  const cs = [...s];
  let a = 0;
  let b = cs.length;
  if (left) while (a < b && strip(cs[a] as string)) a++;
  if (right) while (b > a && strip(cs[b - 1] as string)) b--;
  return cs.slice(a, b).join('');
}

/** Calls a method of a `str` value. */
export function callStrMethod(
  self: string,
  name: string,
  args: readonly PyValue[],
  kwargs: ReadonlyMap<string, PyValue>,
): PyValue {
  if (name === 'format') return str(formatTemplate(self, args, kwargs));
  noKeywords(`str.${name}`, kwargs);
  switch (name) {
    case 'upper':
    case 'lower': {
      arity(`str.${name}`, args, 0, 0);
      const r = name === 'upper' ? self.toUpperCase() : self.toLowerCase();
      if (r.length > MAX_STRING_LENGTH)
        problem(`string longer than ${MAX_STRING_LENGTH} characters`);
      return str(r);
    }
    case 'strip':
    case 'lstrip':
    case 'rstrip': {
      arity(`str.${name}`, args, 0, 1);
      const a = args[0];
      const chars = a === undefined || a.kind === 'none' ? undefined : strArg(name, a);
      return str(stripChars(self, chars, name !== 'rstrip', name !== 'lstrip'));
    }
    case 'replace': {
      arity('str.replace', args, 2, 3);
      const old = strArg(name, args[0]);
      const repl = strArg(name, args[1]);
      const countArg = args[2];
      if (countArg !== undefined && countArg.kind !== 'int') {
        problem(`str.replace() count must be an int, not ${typeName(countArg)}`);
      }
      const limit = countArg === undefined ? -1 : countArg.value;
      const pieces = old === '' ? ['', ...[...self], ''] : self.split(old);
      const joins = pieces.length - 1;
      const used = limit < 0 ? joins : Math.min(limit, joins);
      const length = self.length + used * (repl.length - old.length);
      if (length > MAX_STRING_LENGTH) problem(`string longer than ${MAX_STRING_LENGTH} characters`);
      if (old === '') {
        const head = pieces.slice(0, used + 1).join(repl);
        return str(head + pieces.slice(used + 1).join(''));
      }
      return str(
        pieces.slice(0, used + 1).join(repl) +
          (used < joins ? old + pieces.slice(used + 1).join(old) : ''),
      );
    }
    case 'startswith':
    case 'endswith': {
      arity(`str.${name}`, args, 1, 1);
      const a = args[0] as PyValue;
      const options = a.kind === 'tuple' ? a.items.map((x) => strArg(name, x)) : [strArg(name, a)];
      return bool(
        options.some((o) => (name === 'startswith' ? self.startsWith(o) : self.endsWith(o))),
      );
    }
    default:
      return problem(`str has no permitted method '${name}'`);
  }
}

/** Calls a method of a `dict` value. */
export function callDictMethod(
  self: ReadonlyMap<string, PyValue>,
  name: string,
  args: readonly PyValue[],
  kwargs: ReadonlyMap<string, PyValue>,
): PyValue {
  noKeywords(`dict.${name}`, kwargs);
  if (name !== 'get') return problem(`dict has no permitted method '${name}'`);
  arity('dict.get', args, 1, 2);
  const key = args[0] as PyValue;
  const found = key.kind === 'str' ? self.get(key.value) : undefined;
  return found ?? args[1] ?? NONE;
}
