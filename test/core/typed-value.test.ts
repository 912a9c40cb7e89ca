import { describe, it, expect } from 'vitest';
import {
  float,
  formatTyped,
  parseTypedMetadataJson,
  toTyped,
  serializeTypedMetadata,
  deserializeTypedMetadata,
  encodeTypedValue,
  decodeTypedValue,
  parseDuration,
} from '../../src/core/index.js';

describe('typed metadata', () => {
  it('keeps ints and floats apart, so a loop index prints 3 and a float 3.0', () => {
    expect(formatTyped(toTyped(3))).toBe('3');
    expect(formatTyped(toTyped(float(3)))).toBe('3.0');
    expect(formatTyped(toTyped(2.5))).toBe('2.5');
    expect(formatTyped(toTyped(true))).toBe('True');
  });

  it("reads an external code's result JSON by literal form", () => {
    const m = parseTypedMetadataJson(
      '{"n": 50, "p": 50.0, "e": 5e1, "s": "x", "l": [1, 2.0]}',
      'EAS_RESULT_FILE',
    );
    expect(m).toEqual({
      n: { type: 'int', value: 50 },
      p: { type: 'float', value: 50 },
      e: { type: 'float', value: 50 },
      s: { type: 'str', value: 'x' },
      l: { type: 'json', value: [1, 2] },
    });
    expect(() => parseTypedMetadataJson('[1]', 'EAS_RESULT_FILE')).toThrow(/must be a JSON object/);
  });

  it('round-trips through the column and JSON encodings with types intact', () => {
    const m = {
      a: toTyped(1),
      b: toTyped(float(2)),
      c: toTyped('t'),
      d: toTyped(null),
      e: toTyped({ x: [1] }),
      f: toTyped(Infinity),
    };
    expect(deserializeTypedMetadata(serializeTypedMetadata(m))).toEqual(m);
    for (const v of Object.values(m)) {
      const enc = encodeTypedValue(v);
      expect(decodeTypedValue(enc.type, enc.value)).toEqual(v);
    }
  });

  it('parses durations and rejects nonsense with the place', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration(250)).toBe(250);
    expect(() => parseDuration('soon', 'retry.backoff')).toThrow(
      /retry\.backoff: "soon" is not a duration/,
    );
  });
});
