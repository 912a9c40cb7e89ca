import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatTyped, type TypedValue } from '../../../src/core/index.js';
import { ExpressionResolver, isExpression } from '../../../src/chain/index.js';
import { ev, scope, WHERE } from './helpers.js';

const CHAINS = new URL('../../../../shared/data/chains/', import.meta.url);

/** Every expression string of the original chains, with its value in {@link scope}. */
const EXPECTED: Record<string, TypedValue> = {
  '(constants.Rearth / 4)': { type: 'float', value: 0.08911486 / 4 },
  '(constants.Rearth * 4)': { type: 'float', value: 0.08911486 * 4 },
  '(constants.Rearth / 8)': { type: 'float', value: 0.08911486 / 8 },
  '(constants.Rearth * 8)': { type: 'float', value: 0.08911486 * 8 },
  "'synthesis_{synthesis_tool}'.format(**metadata)": { type: 'str', value: 'synthesis_psls' },
  "'transit_search_{tda}'.format(**metadata)": { type: 'str', value: 'transit_search_tls' },
  "'evsize_{synthesis_tool_index}_{tda_index}_{cadence_index}_{size_index}.gz'.format(**metadata)":
    { type: 'str', value: 'evsize_0_1_0_3.gz' },
  "'evsize_{synthesis_tool_index}_{tda_index}_{cadence_index}_{size_index}.tar.gz'.format(**metadata)":
    { type: 'str', value: 'evsize_0_1_0_3.tar.gz' },
  "'evsize_psls_{tda_index}_{cadence_index}_{size_index}.gz'.format(**metadata)": {
    type: 'str',
    value: 'evsize_psls_1_0_3.gz',
  },
  "'evsize_psls_{tda_index}_{cadence_index}_{size_index}.tar.gz'.format(**metadata)": {
    type: 'str',
    value: 'evsize_psls_1_0_3.tar.gz',
  },
  "'evsize_psls_{tda_index}_{cadence_index}_{size_index}_{my_while_loop_index}.tar.gz'.format(**metadata)":
    { type: 'str', value: 'evsize_psls_1_0_3_2.tar.gz' },
  "(metadata['size'])": { type: 'float', value: 0.02 },
  "(metadata['cadence'])": { type: 'int', value: 900 },
  "(requested_metadata['transit_detection']['outcome'] == 'PASS')": { type: 'bool', value: true },
  "(requested_metadata['transit_detection']['outcome'] == 'PASS') and (metadata['my_while_loop_index'] < 3)":
    { type: 'bool', value: true },
};

function expressionsIn(value: unknown, out: Set<string>): void {
  if (isExpression(value)) out.add(value);
  else if (Array.isArray(value)) for (const v of value) expressionsIn(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) expressionsIn(v, out);
  }
}

const found = new Set<string>();
for (const file of readdirSync(CHAINS).filter((f) => f.endsWith('.json'))) {
  expressionsIn(JSON.parse(readFileSync(new URL(file, CHAINS), 'utf8')), found);
}

describe('expressions of the original chains (data/chains)', () => {
  it('finds the expressions of the chains', () => {
    expect(found.size).toBeGreaterThanOrEqual(10);
  });

  it('has an expected value for every expression found', () => {
    expect([...found].filter((e) => !(e in EXPECTED))).toEqual([]);
  });

  it.each(Object.entries(EXPECTED))('%s', (expr, expected) => {
    const v = ev(expr);
    expect(v.type).toBe(expected.type);
    if (expected.type === 'float') expect(v.value).toBeCloseTo(expected.value as number, 15);
    else expect(v.value).toEqual(expected.value);
  });

  it('formats integer indexes without ".0"', () => {
    const v = ev(
      "'evsize_{synthesis_tool_index}_{tda_index}_{cadence_index}_{size_index}.gz'.format(**metadata)",
    );
    expect(formatTyped(v)).not.toContain('.0');
  });

  it('resolves every found expression through ExpressionResolver', () => {
    const r = new ExpressionResolver();
    for (const e of found) expect(() => r.resolve(e, scope, WHERE)).not.toThrow();
  });

  it('marks exactly the requested_metadata expressions as needing it', () => {
    const r = new ExpressionResolver();
    for (const e of found) {
      expect(r.needsRequestedMetadata(e)).toBe(e.includes('requested_metadata'));
    }
  });

  it('evaluates a do-while criterion to false once the loop index reaches 3', () => {
    const s = {
      ...scope,
      metadata: { ...scope.metadata, my_while_loop_index: { type: 'int', value: 3 } as const },
    };
    const v = ev(
      "(requested_metadata['transit_detection']['outcome'] == 'PASS') and (metadata['my_while_loop_index'] < 3)",
      s,
    );
    expect(v).toEqual({ type: 'bool', value: false });
  });
});
