import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/index.js';
import { ExpressionResolver, CONSTANTS } from '../../../src/chain/index.js';
import { parseExpression } from '../../../src/chain/expression/index.js';
import { scope, WHERE } from './helpers.js';

const r = new ExpressionResolver();

describe('ExpressionResolver', () => {
  it('evaluates expressions, trims plain strings and types other JSON values', () => {
    expect(r.resolve("  'a_{tda_index}'.format(**metadata) ", scope, WHERE)).toEqual({
      type: 'str',
      value: 'a_1',
    });
    expect(r.resolve('  plain text  ', scope, WHERE)).toEqual({ type: 'str', value: 'plain text' });
    expect(r.resolve(3, scope, WHERE)).toEqual({ type: 'int', value: 3 });
    expect(r.resolve(2.5, scope, WHERE)).toEqual({ type: 'float', value: 2.5 });
    expect(r.resolve(true, scope, WHERE)).toEqual({ type: 'bool', value: true });
    expect(r.resolve(null, scope, WHERE)).toEqual({ type: 'null', value: null });
    expect(r.resolve([1, 'x'], scope, WHERE)).toEqual({ type: 'json', value: [1, 'x'] });
  });

  it('tells which values need requested_metadata', () => {
    expect(r.needsRequestedMetadata("(requested_metadata['t']['outcome'] == 'PASS')")).toBe(true);
    expect(r.needsRequestedMetadata("(metadata['requested_metadata'])")).toBe(false);
    expect(r.needsRequestedMetadata("'requested_metadata'")).toBe(false);
    expect(r.needsRequestedMetadata('requested_metadata')).toBe(false);
    expect(r.needsRequestedMetadata(42)).toBe(false);
    expect(r.needsRequestedMetadata('(requested_metadata[')).toBe(false);
  });

  it('reports a missing requested_metadata with the path and column', () => {
    const s = { ...scope, requestedMetadata: undefined };
    expect(() => r.resolve("(requested_metadata['t'])", s, WHERE)).toThrow(InvalidInputError);
    expect(() => r.resolve("(requested_metadata['t'])", s, WHERE)).toThrow(/at column 2/);
  });

  it('reads json metadata as dicts and lists', () => {
    const s = {
      ...scope,
      metadata: { ...scope.metadata, grid: { type: 'json', value: { sizes: [1, 2.5] } } as const },
    };
    expect(r.resolve("(metadata['grid']['sizes'][1])", s, WHERE)).toEqual({
      type: 'float',
      value: 2.5,
    });
    expect(r.resolve("(len(metadata['grid']['sizes']))", s, WHERE)).toEqual({
      type: 'int',
      value: 2,
    });
  });

  it('exposes the constants with their types', () => {
    expect(CONSTANTS.get('day')).toEqual({ kind: 'int', value: 1 });
    expect(CONSTANTS.get('phy_AU')).toEqual({ kind: 'float', value: 149597870700 });
  });

  it('parses with the documented precedence', () => {
    const n = parseExpression('-2 ** 2');
    expect(n.type).toBe('unary');
    const m = parseExpression('not 1 == 2 and 3 or 4');
    expect(m.type).toBe('logical');
  });
});
