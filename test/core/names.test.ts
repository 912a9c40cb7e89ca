/** Typos of field names (src/core/names.ts): the one rule the chain and registry checks share. */
import { describe, expect, it } from 'vitest';
import { editDistance, misspellingsOf } from '../../src/core/index.js';

describe('misspellingsOf', () => {
  const fields = ['inputs', 'outputs', 'working_directory', 'requires_metadata_from', 'name'];

  it('finds names one slip away (two for long ones), closest first, and never the key itself', () => {
    expect(misspellingsOf('ouputs', fields)).toEqual(['outputs']);
    expect(misspellingsOf('inptus', fields)).toEqual(['inputs']); // a swap is one slip
    expect(misspellingsOf('working_directroy', fields)).toEqual(['working_directory']);
    expect(misspellingsOf('working_dir', fields)).toEqual([]); // 6 edits
    expect(misspellingsOf('outputs', fields)).toEqual([]);
    expect(misspellingsOf('nam', fields)).toEqual([]); // three characters: never a typo
    expect(misspellingsOf('abcdefghij', ['abcdefghij', 'abcdefghXY', 'abcdefghiX'])).toEqual([
      'abcdefghiX',
      'abcdefghXY',
    ]);
  });

  it('answers a repeated question the same, from any iterable, without sharing its array', () => {
    const first = misspellingsOf('ouputs', new Set(fields));
    first.push('mutated');
    expect(misspellingsOf('ouputs', fields)).toEqual(['outputs']);
    // Another list of names is another question.
    expect(misspellingsOf('ouputs', ['ouputx', 'outputs'])).toEqual(['ouputx', 'outputs']);
  });

  it('agrees with a brute-force reading of the rule over many keys', () => {
    const names = ['noise', 'period', 'duration', 'planet_radius', 'impact_parameter', 'seed'];
    const keys = [
      'nosie',
      'noise',
      'periode',
      'duraton',
      'planet_radiuss',
      'impact_paramter',
      'sed',
      'seeds',
      'xyz12',
    ];
    for (const key of keys) {
      const allowed = key.length > 8 ? 2 : 1;
      const brute =
        key.length <= 3
          ? []
          : names
              .map((n) => ({ n, d: editDistance(key, n, { swaps: true }) }))
              .filter((x) => x.n !== key && x.d <= allowed)
              .sort((a, b) => a.d - b.d)
              .map((x) => x.n);
      expect(misspellingsOf(key, names)).toEqual(brute);
    }
  });
});
