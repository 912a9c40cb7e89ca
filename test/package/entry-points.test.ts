/**
 * The public entry points are one list (`entry-points.ts`): tsup builds them, and package.json
 * "exports" and typedoc's entry points must name the same ones, or a subpath would be built but
 * not importable, or importable but undocumented.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENTRY_POINTS } from '../../entry-points.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const json = (file: string) =>
  JSON.parse(readFileSync(root + file, 'utf8')) as Record<string, unknown>;

describe('entry points', () => {
  it('package.json exports and typedoc document exactly the built entry points', () => {
    const exported = Object.entries(json('package.json').exports as Record<string, unknown>)
      .filter(([k]) => k !== './package.json')
      .map(([k, v]) => [k, (v as { import: string }).import]);
    const expected = Object.keys(ENTRY_POINTS).map((name) => [
      name === 'index' ? '.' : `./${name.replace(/\/index$/, '')}`,
      `./dist/${name}.js`,
    ]);
    expect(exported.sort()).toEqual(expected.sort());
    expect([...(json('typedoc.json').entryPoints as string[])].sort()).toEqual(
      Object.values(ENTRY_POINTS).sort(),
    );
  });
});
