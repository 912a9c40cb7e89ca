/**
 * DESIGN §7: exit code 3 when infrastructure is unreachable, with a clear message — and no
 * credentials in it (DESIGN §8). Port 1 of 127.0.0.1 is closed, so PostgreSQL there refuses at
 * once: the real binary, a real connection attempt, no server needed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runEas, tempDir } from '../cli/harness.js';

let dir: string;
let remove: () => void;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, remove } = tempDir('unreachable'));
});

afterAll(() => remove?.());

describe('EAS_DATABASE_URL=postgres://127.0.0.1:1/x', () => {
  it('eas status exits 3 naming the server and saying it is unreachable', async () => {
    const r = await runEas(['status'], dir, { EAS_DATABASE_URL: 'postgres://127.0.0.1:1/x' });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(
      'eas: PostgreSQL at postgres://127.0.0.1:1/x is unreachable: connect ECONNREFUSED 127.0.0.1:1',
    );
  });

  it('the password of the URL never appears in the output', async () => {
    const r = await runEas(['status', '--json'], dir, {
      EAS_DATABASE_URL: 'postgres://eas:s3cret-pw@127.0.0.1:1/x',
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('postgres://eas:***@127.0.0.1:1/x is unreachable');
    expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
  });

  it('eas status --json prints nothing on stdout, and only eas’s one-line message on stderr', async () => {
    const r = await runEas(['status', '--json'], dir, {
      EAS_DATABASE_URL: 'postgres://127.0.0.1:1/x',
    });
    expect(r.code).toBe(3);
    expect(r.stdout, 'stdout of a --json command that failed').toBe('');
    expect(r.stdout + r.stderr, 'no library stack trace').not.toMatch(/^\s+at /m);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('EAS_REDIS_URL=redis://127.0.0.1:1 (the queue away, the task database here)', () => {
  const env = { EAS_REDIS_URL: 'redis://127.0.0.1:1/0' };

  it('commands that read the task database answer (the queue is a cache of it)', async () => {
    // A pipeline directory (eas.yaml): reads outside one refuse before opening anything.
    writeFileSync(join(dir, 'eas.yaml'), 'worker: { concurrency: 2 }\n');
    for (const args of [['status', '--json'], ['errors'], ['logs'], ['timings'], ['products']]) {
      const r = await runEas(args, dir, env);
      expect([args.join(' '), r.code, r.stderr]).toEqual([args.join(' '), 0, '']);
    }
  });

  it('a command that queues work exits 3 naming Redis', async () => {
    const r = await runEas(['run', '--until-idle'], dir, env);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('eas: Redis at redis://127.0.0.1:1/0 is unreachable');
  });
});
