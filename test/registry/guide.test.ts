import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registryFromObject } from '../../src/registry/index.js';
import { BUILTINS } from './builtins.fixture.js';
import { BUILTIN_TASK_TYPES } from '../../src/tasks/index.js';

const GUIDE = readFileSync(new URL('../../docs/guides/registry.md', import.meta.url), 'utf8');

/** The YAML and JSON registry examples of the guide (eas.yaml snippets excluded). */
const examples = [...GUIDE.matchAll(/```(yaml|json)\n([\s\S]*?)```/g)]
  .map((m) => ({ lang: m[1]!, text: m[2]! }))
  .filter((e) => !e.text.startsWith('# eas.yaml'));

describe('docs/guides/registry.md', () => {
  it('has registry examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples.map((e, i) => [i, e] as const))('example %i loads', (_, example) => {
    const obj: unknown = example.lang === 'json' ? JSON.parse(example.text) : parse(example.text);
    const builtins = {
      ...BUILTINS,
      ...BUILTIN_TASK_TYPES,
      transit_search_bls: { description: 'BLS.', runner: 'in-process' as const },
    };
    expect(() => registryFromObject(obj, { builtins, baseDir: '/work/lab' })).not.toThrow();
  });
});
