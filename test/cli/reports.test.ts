/** `eas timings` and `eas pass-fail`: one CSV row per attempt, loop parameters as columns. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain, tempDir } from './harness.js';

let dir: string;
let remove: () => void;
beforeAll(async () => {
  ({ dir, remove } = tempDir('reports'));
  const chain = {
    job_name: 'grid',
    task_list: [
      {
        task: 'execution_for_loop',
        parameter: 'size',
        values: [0.5, 1.0, 2.0],
        task_list: [
          {
            task: 'set_metadata',
            name: 'search',
            values: {
              outcome: "('PASS' if metadata['size'] > 0.75 else 'FAIL')",
              found_period: 50.0,
              // An output named like the loop parameter: a column of its own.
              size: "(metadata['size'] * 2)",
            },
          },
        ],
      },
    ],
  };
  writeFileSync(
    join(dir, 'chain.json'),
    JSON.stringify(chain)
      .replace('"found_period":50', '"found_period":50.0')
      .replace('[0.5,1,2]', '[0.5,1.0,2.0]'),
  );
  expect((await runMain(['init', '.'], dir)).code).toBe(0);
  expect((await runMain(['submit', 'chain.json'], dir)).code).toBe(0);
  expect((await runMain(['run', '--until-idle'], dir)).code).toBe(0);
});
afterAll(() => remove?.());

describe('reports', () => {
  it('eas pass-fail --csv: one row per attempt with the outcome, loop parameters and output metadata as columns', async () => {
    const r = await runMain(['pass-fail', '--csv'], dir);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      'job,task,path,type,attempt,outcome,size,size_index,found_period,size (output)',
    );
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((c) => [c[5], c[6], c[7], c[8], c[9]])).toEqual([
      ['FAIL', '0.5', '0', '50.0', '1.0'],
      ['PASS', '1.0', '1', '50.0', '2.0'],
      ['PASS', '2.0', '2', '50.0', '4.0'],
    ]);
  });

  it('eas timings --csv: one row per finished attempt with wall and CPU times', async () => {
    const r = await runMain(['timings', '--csv'], dir);
    expect(r.code, r.stderr).toBe(0);
    const [header, ...rows] = r.stdout.trim().split('\n');
    expect(header).toBe(
      'job,task,path,name,type,attempt,state,qc,host,queued,started,ended,wait_ms,wall_ms,cpu_ms,cpu_children_ms,size,size_index',
    );
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const c = row.split(',');
      expect(c[6]).toBe('succeeded');
      expect(Number(c[13])).toBeGreaterThanOrEqual(0);
    }
  });
});
