import type { TypedValue } from '../../core/index.js';

/**
 * A value of the expression language, modelled on Python's: `int` and `float` are kept apart
 * (both are JS numbers; an `int` is always a safe integer), dicts are `Map`s (so no key can
 * reach a prototype), and the only callables are named built-ins, never host functions.
 */
export type PyValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' }
  | { kind: 'list'; items: PyValue[] }
  | { kind: 'tuple'; items: PyValue[] }
  | { kind: 'dict'; entries: Map<string, PyValue> }
  /** A namespace of the scope: `constants` or `random`. */
  | { kind: 'module'; name: 'constants' | 'random'; members: Map<string, PyValue> }
  /** A whitelisted function, or a method bound to `self` (`'{}'.format`). */
  | { kind: 'builtin'; name: string; self?: PyValue };

export const NONE: PyValue = { kind: 'none' };
export const TRUE: PyValue = { kind: 'bool', value: true };
export const FALSE: PyValue = { kind: 'bool', value: false };

export function int(value: number): PyValue {
  return { kind: 'int', value };
}
export function float(value: number): PyValue {
  return { kind: 'float', value };
}
export function str(value: string): PyValue {
  return { kind: 'str', value };
}
export function bool(value: boolean): PyValue {
  return value ? TRUE : FALSE;
}

/** Python's name of a value's type, for messages. */
export function typeName(v: PyValue): string {
  switch (v.kind) {
    case 'none':
      return 'NoneType';
    case 'module':
      return 'module';
    case 'builtin':
      return v.self === undefined ? 'builtin_function' : 'method';
    default:
      return v.kind;
  }
}

/** Whether a value is a number (bool counts, as in Python). */
export function isNumber(v: PyValue): v is Extract<PyValue, { kind: 'int' | 'float' | 'bool' }> {
  return v.kind === 'int' || v.kind === 'float' || v.kind === 'bool';
}

/** The number of an int, float or bool. */
export function numberOf(v: Extract<PyValue, { kind: 'int' | 'float' | 'bool' }>): number {
  return v.kind === 'bool' ? (v.value ? 1 : 0) : v.value;
}

/** Python truthiness: `0`, `0.0`, `''`, `None`, `False` and empty containers are false. */
export function truthy(v: PyValue): boolean {
  switch (v.kind) {
    case 'int':
    case 'float':
      return v.value !== 0; // NaN is true, as in Python
    case 'bool':
      return v.value;
    case 'str':
      return v.value.length > 0;
    case 'none':
      return false;
    case 'list':
    case 'tuple':
      return v.items.length > 0;
    case 'dict':
      return v.entries.size > 0;
    default:
      return true;
  }
}

/** Python's `repr` of a float: shortest round-trip digits, exponent form outside 1e-4..1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa = '', expText = '0'] = x.toExponential().split('e');
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp >= -4 && exp < 16) {
    let body: string;
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      body = `${intPart}.${frac === '' ? '0' : frac}`;
    } else {
      body = `0.${'0'.repeat(-exp - 1)}${digits}`;
    }
    return sign + body;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** Python's `repr` of a string: single quotes unless the text holds `'` and no `"`. */
export function stringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const c of s) {
    if (c === quote || c === '\\') out += '\\' + c;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c < ' ' || c === '\x7f') out += '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0');
    else out += c;
  }
  return out + quote;
}

/** Python's `str(v)`. */
export function toStr(v: PyValue): string {
  return v.kind === 'str' ? v.value : repr(v);
}

/** Python's `repr(v)`. */
export function repr(v: PyValue): string {
  switch (v.kind) {
    case 'int':
      return String(v.value);
    case 'float':
      return floatRepr(v.value);
    case 'str':
      return stringRepr(v.value);
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'list':
      return `[${v.items.map(repr).join(', ')}]`;
    case 'tuple':
      return v.items.length === 1
        ? `(${repr(v.items[0] as PyValue)},)`
        : `(${v.items.map(repr).join(', ')})`;
    case 'dict':
      return `{${[...v.entries].map(([k, x]) => `${stringRepr(k)}: ${repr(x)}`).join(', ')}}`;
    case 'module':
      return `<module '${v.name}'>`;
    case 'builtin':
      return `<built-in function ${v.name}>`;
  }
}

/** A value read from JSON metadata: objects become dicts, arrays lists, integral numbers ints. */
export function fromJson(value: unknown): PyValue {
  if (value === null || value === undefined) return NONE;
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? int(value) : float(value);
    case 'string':
      return str(value);
    case 'boolean':
      return bool(value);
    case 'object':
      if (Array.isArray(value)) return { kind: 'list', items: value.map(fromJson) };
      // Own enumerable keys only: nothing inherited is visible.
      return {
        kind: 'dict',
        entries: new Map(Object.entries(value).map(([k, x]) => [k, fromJson(x)])),
      };
    default:
      return NONE;
  }
}

/** The language value of a typed metadata value. */
export function fromTyped(v: TypedValue): PyValue {
  switch (v.type) {
    case 'int':
      return Number.isSafeInteger(v.value) ? int(v.value) : float(v.value);
    case 'float':
      return float(v.value);
    case 'str':
      return str(v.value);
    case 'bool':
      return bool(v.value);
    case 'null':
      return NONE;
    case 'json':
      return fromJson(v.value);
  }
}

/** A dict of typed metadata (own keys only). */
export function dictOfMetadata(m: Readonly<Record<string, TypedValue>>): PyValue {
  // Expressions never mutate a dict, and the tasks of one loop iteration share one metadata
  // object, so its conversion is made once per object.
  let d = metadataDicts.get(m);
  if (!d) {
    d = { kind: 'dict', entries: new Map(Object.entries(m).map(([k, v]) => [k, fromTyped(v)])) };
    metadataDicts.set(m, d);
  }
  return d;
}

const metadataDicts = new WeakMap<object, PyValue>();

/** Plain JSON of a container value; `undefined` when it holds something that is not data. */
export function toJson(v: PyValue): unknown {
  switch (v.kind) {
    case 'int':
    case 'float':
      return Number.isFinite(v.value) ? v.value : null;
    case 'str':
    case 'bool':
      return v.value;
    case 'none':
      return null;
    case 'list':
    case 'tuple': {
      const out: unknown[] = [];
      for (const item of v.items) {
        const j = toJson(item);
        if (j === undefined) return undefined;
        out.push(j);
      }
      return out;
    }
    case 'dict': {
      const entries: [string, unknown][] = [];
      for (const [k, x] of v.entries) {
        const j = toJson(x);
        if (j === undefined) return undefined;
        entries.push([k, j]);
      }
      // fromEntries defines own properties, so a "__proto__" key stays a plain key.
      return Object.fromEntries(entries);
    }
    default:
      return undefined;
  }
}

/** The typed value of a result; `undefined` for a module or function. */
export function toTypedValue(v: PyValue): TypedValue | undefined {
  switch (v.kind) {
    case 'int':
      return { type: 'int', value: v.value };
    case 'float':
      return { type: 'float', value: v.value };
    case 'str':
      return { type: 'str', value: v.value };
    case 'bool':
      return { type: 'bool', value: v.value };
    case 'none':
      return { type: 'null', value: null };
    case 'list':
    case 'tuple':
    case 'dict': {
      const j = toJson(v);
      return j === undefined ? undefined : { type: 'json', value: j };
    }
    default:
      return undefined;
  }
}
