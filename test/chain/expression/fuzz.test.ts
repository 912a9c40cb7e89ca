import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isEasError, type TypedValue } from '../../../src/core/index.js';
import { ExpressionResolver } from '../../../src/chain/index.js';
import { ev, scope, WHERE } from './helpers.js';

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
const FUNCTION_PROTO_NAMES = Object.getOwnPropertyNames(Function.prototype).sort();
const ARRAY_PROTO_NAMES = Object.getOwnPropertyNames(Array.prototype).sort();
const STRING_PROTO_NAMES = Object.getOwnPropertyNames(String.prototype).sort();

/** Plain JSON data only: no functions, no class instances, no accessors. */
function isJsonData(v: unknown, depth = 0): boolean {
  if (depth > 200) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) {
    return Object.getPrototypeOf(v) === Array.prototype && v.every((x) => isJsonData(x, depth + 1));
  }
  if (typeof v === 'object') {
    if (Object.getPrototypeOf(v) !== Object.prototype) return false;
    return Object.getOwnPropertyNames(v).every((k) => {
      const d = Object.getOwnPropertyDescriptor(v, k);
      return d !== undefined && 'value' in d && isJsonData(d.value, depth + 1);
    });
  }
  return false;
}

function checkResult(v: TypedValue): void {
  switch (v.type) {
    case 'int':
      expect(Number.isSafeInteger(v.value)).toBe(true);
      break;
    case 'float':
      expect(typeof v.value).toBe('number');
      break;
    case 'str':
      expect(typeof v.value).toBe('string');
      expect(v.value.length).toBeLessThanOrEqual(1 << 20);
      break;
    case 'bool':
      expect(typeof v.value).toBe('boolean');
      break;
    case 'null':
      expect(v.value).toBeNull();
      break;
    case 'json':
      expect(isJsonData(v.value)).toBe(true);
      break;
    default:
      throw new Error(`unexpected type ${(v as { type: string }).type}`);
  }
}

const resolver = new ExpressionResolver();

/** Evaluates `expr`: a JSON-safe value or an EasError, never anything else, and fast. */
function evaluatesSafely(expr: string): boolean {
  const start = performance.now();
  let result: TypedValue | undefined;
  try {
    result = ev(expr);
  } catch (e) {
    if (!isEasError(e)) throw e;
    expect(e.code).toBe('CHAIN_INVALID');
    expect(e.where).toBe(WHERE);
    expect(e.message).toMatch(/at column \d+/);
  }
  if (result !== undefined) checkResult(result);
  expect(() => resolver.needsRequestedMetadata(expr)).not.toThrow();
  expect(performance.now() - start).toBeLessThan(1_000);
  return result !== undefined;
}

const TOKENS = [
  '0',
  '1',
  '2',
  '3.5',
  '-1',
  '1e308',
  '10',
  '9007199254740991',
  "'a'",
  "'abc'",
  "''",
  "'{}'",
  "'{0}'",
  "'{x}'",
  "'{:>99999}'",
  "'{0.__class__}'",
  "'{__proto__}'",
  "'%s'",
  "'%d'",
  "'%(a)s'",
  "'__proto__'",
  "'constructor'",
  'True',
  'False',
  'None',
  'metadata',
  'requested_metadata',
  'constants',
  'random',
  'len',
  'str',
  'int',
  'float',
  'round',
  'pow',
  'min',
  'max',
  'abs',
  'sqrt',
  'log',
  'exp',
  'format',
  'upper',
  'replace',
  'get',
  'Rearth',
  'day',
  '__proto__',
  'constructor',
  'prototype',
  '__class__',
  '__dict__',
  'globalThis',
  'process',
  'require',
  'this',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'x',
  '+',
  '-',
  '*',
  '/',
  '//',
  '%',
  '**',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'and',
  'or',
  'not',
  'in',
  'is',
  'if',
  'else',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
  '=',
];

/** Token soups: mostly nonsense, sometimes a valid expression. */
const tokenSoup = fc
  .array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 30 })
  .map((ts) => `(${ts.join(' ')})`);

/** Well-formed expressions built from the grammar. */
const { expr: grammarExpr } = fc.letrec((tie) => ({
  atom: fc.oneof(
    fc.integer({ min: -1000, max: 1000 }).map(String),
    fc
      .double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
      .map((d) => `${d}`.replace('e+', 'e')),
    fc.constantFrom("'a'", "'{}-{}'", "'%s'", "'%.2f'", "'x'", 'True', 'None'),
    fc.constantFrom(
      "metadata['size']",
      "metadata['size_index']",
      "metadata['tda']",
      'constants.Rearth',
      'constants.month',
      'random.random()',
      "requested_metadata['transit_detection']['outcome']",
      "metadata['__proto__']",
      'metadata.constructor',
      "'x'.__proto__",
      'constants.prototype',
    ),
  ),
  expr: fc.oneof(
    { depthSize: 'small' },
    tie('atom'),
    fc
      .tuple(
        tie('expr'),
        fc.constantFrom('+', '-', '*', '/', '//', '%', '**', '==', '<', 'and', 'or', 'in'),
        tie('expr'),
      )
      .map(([a, op, b]) => `(${a as string} ${op} ${b as string})`),
    fc
      .tuple(
        fc.constantFrom(
          'len',
          'str',
          'int',
          'float',
          'round',
          'abs',
          'sqrt',
          'log',
          'exp',
          'min',
          'max',
          'pow',
        ),
        fc.array(tie('expr'), { maxLength: 3 }),
      )
      .map(([f, args]) => `${f}(${(args as string[]).join(', ')})`),
    fc
      .tuple(tie('expr'), fc.array(tie('expr'), { maxLength: 3 }))
      .map(([t, args]) => `(${t as string}).format(${(args as string[]).join(', ')})`),
    tie('expr').map((e) => `(not ${e as string})`),
    tie('expr').map((e) => `(-${e as string})`),
  ),
}));

describe('fuzz: no input escapes the sandbox or runs away', () => {
  afterAll(() => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_NAMES);
    expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(FUNCTION_PROTO_NAMES);
    expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(ARRAY_PROTO_NAMES);
    expect(Object.getOwnPropertyNames(String.prototype).sort()).toEqual(STRING_PROTO_NAMES);
  });

  it('random strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => void evaluatesSafely(`(${s}`)),
      { numRuns: 1500 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 80 }),
        (s) => void evaluatesSafely(`'${s}`),
      ),
      { numRuns: 500 },
    );
  });

  it('token soups with prototype and host names', () => {
    fc.assert(
      fc.property(tokenSoup, (e) => void evaluatesSafely(e)),
      { numRuns: 3000 },
    );
  });

  it('well-formed expressions of the grammar', () => {
    let evaluated = 0;
    fc.assert(
      fc.property(grammarExpr, (e) => {
        if (evaluatesSafely(e as string)) evaluated++;
      }),
      { numRuns: 2000 },
    );
    // The generator reaches the interpreter, not only the error paths.
    expect(evaluated).toBeGreaterThan(200);
  });

  it('format templates with arbitrary fields and specs', () => {
    const template = fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s));
    fc.assert(
      fc.property(template, (t) => {
        evaluatesSafely(`${t}.format(1, 2.5, 'a', **metadata)`);
        evaluatesSafely(`${t} % (1, 2.5, 'a')`);
        evaluatesSafely(`${t} % metadata`);
      }),
      { numRuns: 1500 },
    );
  });

  it('leaves no pollution on plain objects', () => {
    const names = ['__proto__', 'constructor', 'prototype', 'polluted'];
    for (const n of names) {
      evaluatesSafely(`({'${n}': {'polluted': 1}})`);
      evaluatesSafely(`'{${n}}'.format(**{'${n}': 1})`);
    }
    const v = ev("({'__proto__': {'polluted': 1}})");
    expect(v.type).toBe('json');
    expect(Object.getPrototypeOf(v.value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(resolver.resolve("(metadata['size'])", scope, WHERE)).toEqual({
      type: 'float',
      value: 0.02,
    });
  });
});
