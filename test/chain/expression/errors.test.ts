import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/index.js';
import { ExpressionResolver } from '../../../src/chain/index.js';
import { ev, scope, WHERE } from './helpers.js';

function rejection(expr: string, s = scope): { message: string; column: number } {
  try {
    ev(expr, s);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    const err = e as InvalidInputError;
    expect(err.code).toBe('CHAIN_INVALID');
    expect(err.problems).toHaveLength(1);
    const p = err.problems[0];
    expect(p?.path).toBe(WHERE);
    expect(p?.message).toContain(`in expression ${JSON.stringify(expr)}`);
    const m = /at column (\d+)$/.exec(p?.message ?? '');
    expect(m).not.toBeNull();
    return { message: p?.message ?? '', column: Number(m?.[1]) };
  }
  throw new Error(`expected ${expr} to be rejected`);
}

/** [expression, 1-based column, a fragment of the message]. */
const REJECTED: [string, number, string][] = [
  // syntax
  ['(1 +)', 5, 'unexpected ")"'],
  ['(1 2)', 4, 'expected ")"'],
  ["'abc", 1, 'unterminated string'],
  ['(1 $ 2)', 4, 'unexpected character'],
  ['(01)', 2, 'leading zeros'],
  ['(1e)', 3, 'exponent'],
  ['(12abc)', 2, 'invalid number'],
  ['(a = 1)', 4, 'expected ")", found "="'],
  ['(99999999999999999999)', 2, 'integer too large'],
  ["'x'[1:2]", 6, 'slices'],
  ['(1 if 2)', 8, 'expected "else"'],
  ['(f(x=1, 2))', 9, 'positional argument follows keyword'],
  // names and attributes
  ['(foo)', 2, "name 'foo' is not defined"],
  ['(eval)', 2, "name 'eval' is not defined"],
  ['(constants.nope)', 12, "constants has no attribute 'nope'"],
  ['(constants.__proto__)', 12, "constants has no attribute '__proto__'"],
  ['(metadata.__proto__)', 11, "attribute '__proto__' of dict is not allowed"],
  ["'a'.constructor", 5, "attribute 'constructor' of str is not allowed"],
  ["'a'.__class__", 5, 'not allowed'],
  ['(random.seed(1))', 9, "random has no attribute 'seed'"],
  ['(metadata.keys())', 11, 'not allowed'],
  // lookups
  ["(metadata['nope'])", 10, "KeyError: 'nope'"],
  ["(metadata['__proto__'])", 10, "KeyError: '__proto__'"],
  ["(metadata['constructor'])", 10, "KeyError: 'constructor'"],
  ["('abc'[5])", 7, 'index out of range'],
  ['(1[0])', 3, 'not subscriptable'],
  // operations
  ['(1 / 0)', 4, 'division by zero'],
  ['(1 // 0)', 4, 'modulo by zero'],
  ['(5 % 0)', 4, 'modulo by zero'],
  ["('a' + 1)", 6, "unsupported operand type(s) for +: 'str' and 'int'"],
  ["('a' < 1)", 6, "'<' not supported"],
  ['(-"a")', 2, 'bad operand type for unary -'],
  ['(2 ** 100)', 4, 'integer too large'],
  ['(9007199254740991 + 1)', 19, 'integer too large'],
  ['((-8) ** 0.5)', 7, 'fractional power'],
  ['(10.0 ** 400)', 7, 'out of range'],
  ["'a' * 10**9", 5, 'string longer than'],
  // calls
  ['(open(1))', 2, "name 'open' is not defined"],
  ['(len(1))', 2, 'has no len()'],
  ["(int('x'))", 2, 'invalid literal for int()'],
  ["(float('x'))", 2, 'could not convert string to float'],
  ['(sqrt(-1))', 2, 'math domain error'],
  ['(log(0))', 2, 'math domain error'],
  ['(exp(1000))', 2, 'math range error'],
  ['(min())', 2, 'at least 1 argument'],
  ['(abs(1, 2))', 2, 'takes 1 argument'],
  ['(round(1.5, 1.5))', 2, 'cannot be interpreted as an integer'],
  ['(3(1))', 2, 'not callable'],
  ['(random.random(1))', 9, 'takes no arguments'],
  ["'{missing}'.format(**metadata)", 13, "format field '{missing}' names no argument"],
  ["'{} {}'.format(1)", 9, 'Replacement index 1 out of range'],
  ["'{:d}'.format(1.5)", 8, "Unknown format code 'd' for object of type 'float'"],
  ["'{:.2f}'.format('x')", 10, "Unknown format code 'f' for object of type 'str'"],
  ["'{'.format()", 5, "Single '{'"],
  ["'}'.format()", 5, "Single '}'"],
  ["'{0.__class__}'.format(1)", 17, 'attribute access in format field'],
  ["'%d' % 'x'", 6, 'a real number is required'],
  ["'%s %s' % ('a',)", 9, 'not enough arguments'],
  ["'%s' % ('a', 'b')", 6, 'not all arguments converted'],
  ["'%.200f' % 1", 10, 'precision'],
  ["'{:2000000}'.format(1)", 14, 'format width'],
  ['(requested_metadata)', 2, 'requested_metadata is not available'],
  // results that are not values
  ['(len)', 2, 'not a value'],
  ['(constants)', 2, 'not a value'],
];

describe('rejected expressions name the path, the expression and the column', () => {
  it.each(REJECTED)('%s → column %i', (expr, column, fragment) => {
    const { message, column: got } = rejection(
      expr,
      expr === '(requested_metadata)' ? { ...scope, requestedMetadata: undefined } : scope,
    );
    expect(message).toContain(fragment);
    expect(got).toBe(column);
  });

  it('counts the column from the raw value, leading blanks included', () => {
    expect(rejection('   (nope)').column).toBe(5);
  });

  it('rejects an expression longer than 10 000 characters', () => {
    const expr = `(${'1+'.repeat(5000)}1)`;
    expect(rejection(expr).message).toContain('longer than 10000');
  });

  it('rejects 10 000 levels of parentheses quickly', () => {
    const t = Date.now();
    const tenThousand = `${'('.repeat(10_000)}1${')'.repeat(10_000)}`;
    expect(rejection(tenThousand).message).toContain('longer than 10000');
    expect(rejection(tenThousand.slice(0, 10_000)).message).toContain('nested too deeply');
    expect(rejection(`${'('.repeat(4_000)}1${')'.repeat(4_000)}`).message).toContain(
      'nested too deeply',
    );
    expect(rejection(`(${'-'.repeat(5_000)}1)`).message).toContain('nested too deeply');
    expect(rejection(`(${'not '.repeat(2_000)}1)`).message).toContain('nested too deeply');
    expect(rejection(`(${'2**'.repeat(3_000)}1)`).message).toContain('nested too deeply');
    expect(rejection(`(${'['.repeat(4_000)}${']'.repeat(4_000)})`).message).toContain(
      'nested too deeply',
    );
    expect(rejection(`(${'abs('.repeat(1_500)}1${')'.repeat(1_500)})`).message).toContain(
      'nested too deeply',
    );
    expect(Date.now() - t).toBeLessThan(1_000);
  });

  it('accepts nesting within the bound and long flat chains', () => {
    expect(ev(`${'('.repeat(50)}1${')'.repeat(50)}`)).toEqual({ type: 'int', value: 1 });
    expect(ev(`(${'1+'.repeat(300)}1)`)).toEqual({ type: 'int', value: 301 });
  });

  it('rejects runaway string work quickly', () => {
    const t = Date.now();
    expect(rejection("'a' * 10**9").message).toContain('string longer than');
    expect(rejection("'ab' * 600000").message).toContain('string longer than');
    expect(rejection("('a' * 1000000 + 'b' * 1000000)").message).toContain('string longer than');
    expect(rejection("'{:>999999}'.format(1) * 2").message).toContain('string longer than');
    expect(rejection('([0] * 10**6)').message).toContain('list longer than');
    const many = `(${Array.from({ length: 20 }, () => "len('a' * 1000000)").join(' + ')})`;
    expect(rejection(many).message).toContain('too much work');
    expect(Date.now() - t).toBeLessThan(2_000);
  });

  it('reports a syntax error at resolve time, not from needsRequestedMetadata', () => {
    const r = new ExpressionResolver();
    expect(r.needsRequestedMetadata("(requested_metadata['a'] ==)")).toBe(false);
    expect(() => r.resolve("(requested_metadata['a'] ==)", scope, WHERE)).toThrow(
      InvalidInputError,
    );
  });
});
