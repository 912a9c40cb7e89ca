/**
 * `eas web` as a process (the real binary): outside a pipeline it says so and creates nothing,
 * like the read commands.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEas, startDaemon, tempDir, type Daemon } from './harness.js';

/** The exit code, or 'still running' after `ms` (then it is stopped). */
async function exitWithin(d: Daemon, ms: number): Promise<number | 'still running'> {
  const code = await Promise.race([
    d.exited,
    new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms)),
  ]);
  if (code === 'still running') {
    d.child.kill('SIGTERM');
    await d.exited;
  }
  return code;
}

describe('eas web', () => {
  let dir: string;
  let remove: () => void;
  beforeAll(() => ({ dir, remove } = tempDir('web-command')));
  afterAll(() => remove?.());

  it('outside a pipeline exits 2 like eas status and creates nothing', async () => {
    const here = join(dir, 'not-a-pipeline');
    mkdirSync(here);
    const status = await runEas(['status'], here);
    expect(status.code).toBe(2);
    const web = startDaemon(['web', '--port', '0'], here, {});
    expect(await exitWithin(web, 20_000), web.stderr()).toBe(2);
    expect(web.stderr()).toMatch(/No pipeline here/);
    expect(readdirSync(here)).toEqual([]);
  });
});
