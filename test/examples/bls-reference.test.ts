/**
 * examples/bls-reference: astropy's BoxLeastSquares wrapped as an external command
 * (`transit_search_bls_reference`), run by the real CLI in this process with the example's
 * registry: `eas --registry examples/bls-reference/registry.yaml standalone
 * test_task_configs/test_bls_reference.cfg` from ../shared/data, as a science team would.
 * Needs Debian's python3-astropy for /usr/bin/python3: skipped without it, unless
 * EAS_REQUIRE_SERVICES=1, where its absence fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropEasVariables, REPO, runMain, tempDir } from '../cli/harness.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const REGISTRY = join(REPO, 'examples', 'bls-reference', 'registry.yaml');
const PYTHON = '/usr/bin/python3';

/** Why the example cannot run here, or null when it can. */
function missing(): string | null {
  if (!existsSync(join(DATA, 'test_task_configs', 'test_bls_reference.cfg')))
    return `no test_bls_reference.cfg under ${DATA}`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy, astropy.timeseries'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} cannot be started (${r.error.message})`;
  if (r.status !== 0)
    return `${PYTHON} cannot import astropy.timeseries (install python3-astropy): ${r.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

const reason = missing();
const required = process.env.EAS_REQUIRE_SERVICES === '1';
if (reason && !required) console.warn(`skipping examples/bls-reference: ${reason}`);

describe.skipIf(reason !== null && !required)('examples/bls-reference', () => {
  let out: string;
  let remove: () => void;
  beforeAll(() => {
    dropEasVariables();
    ({ dir: out, remove } = tempDir('bls-reference'));
  });
  afterAll(() => remove?.());

  it('runs test_bls_reference.cfg with the example registry and finds the 50-day planet', async () => {
    expect(reason, 'EAS_REQUIRE_SERVICES=1 but the example cannot run').toBeNull();
    const r = await runMain(
      [
        '--registry',
        REGISTRY,
        'standalone',
        'test_task_configs/test_bls_reference.cfg',
        '--out',
        out,
        '--json',
      ],
      DATA,
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const result = JSON.parse(r.stdout) as {
      state: string;
      outputMetadata: Record<string, unknown>;
    };
    expect(result.state, r.stdout).toBe('done');
    const m = result.outputMetadata;
    expect(Math.abs((m.period as number) / 50 - 1)).toBeLessThan(1e-3);
    expect(m.outcome).toBe('PASS');
    expect(m.sde as number).toBeGreaterThan(10);
    expect(m.depth as number).toBeGreaterThan(5e-4);
    expect(m.duration).toBe(0.2);
  }, 60_000);
});
