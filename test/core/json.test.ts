import { describe, it, expect } from 'vitest';
import { parseJson, isEasError } from '../../src/core/index.js';

function syntaxError(text: string): { message: string; line: number; column: number } {
  try {
    parseJson(text, { source: 'chain.json' });
  } catch (e) {
    if (!isEasError(e)) throw e;
    expect(e.code).toBe('JSON_SYNTAX');
    return {
      message: e.message,
      line: e.details!.line as number,
      column: e.details!.column as number,
    };
  }
  throw new Error('no error');
}

describe('parseJson', () => {
  it('parses what JSON.parse parses', () => {
    const text = '{"a": [1, 2.5, -3e2, true, false, null, "x\\n\\u00e9"], "b": {}}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });

  it('reports a missing comma with line and column', () => {
    const e = syntaxError('{\n  "a": 1\n  "b": 2\n}');
    expect([e.line, e.column]).toEqual([3, 3]);
    expect(e.message).toMatch(/^chain\.json:3:3: expected ',' or '}'/);
  });

  it('reports a trailing comma, an unterminated string and trailing garbage at their place', () => {
    expect(syntaxError('[1, 2,]')).toMatchObject({ line: 1, column: 7 });
    expect(syntaxError('{"a": "b')).toMatchObject({ line: 1, column: 9 });
    expect(syntaxError('{} x')).toMatchObject({ line: 1, column: 4 });
  });

  it('keeps __proto__ as a plain key, never a prototype', () => {
    const v = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });

  it('revives numbers by their literal so 3 and 3.0 can be told apart', () => {
    const v = parseJson('[3, 3.0, 1e2]', { reviveNumber: (raw) => raw }) as string[];
    expect(v).toEqual(['3', '3.0', '1e2']);
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    expect(syntaxError('['.repeat(10_000)).message).toMatch(/nesting too deep/);
  });
});

describe('a byte-order mark at the start (some editors write one)', () => {
  it('is skipped by the JSON, INI and chain readers, with lines and columns unchanged', async () => {
    const { parseIni } = await import('../../src/core/index.js');
    const { parseChain } = await import('../../src/chain/index.js');
    expect(parseJson('\uFEFF{"a": 1}')).toEqual({ a: 1 });
    expect(parseIni('\uFEFF[task]\ntask = null\n')).toEqual({ task: { task: 'null' } });
    expect(parseChain('\uFEFF{"task_list": [{"task": "null"}]}', 'bom.json').task_list).toEqual([
      { task: 'null' },
    ]);
    expect(parseChain('\uFEFFtask_list:\n  - task: "null"\n', 'bom.yaml').task_list).toEqual([
      { task: 'null' },
    ]);
    let error: unknown;
    try {
      parseJson('\uFEFF{\n  "a": x}', { source: 'c.json' });
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(/^c\.json:2:8:/);
  });
});
