/**
 * `eas web` as a process (the real binary): outside a pipeline it says so and creates nothing,
 * like the read commands; with Redis down it still starts and serves reads, and a write action
 * that needs the queue answers 503 instead.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAINS, runEas, startDaemon, tempDir, writeE2eConfig, type Daemon } from './harness.js';

const WRITE_TOKEN = 'web-command-write-token-0123456789';
/** A Redis URL nothing listens on (port 1 is reserved and refused at once on loopback). */
const NO_REDIS = 'redis://127.0.0.1:1';

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

/** Waits for the dashboard's address on stderr (or fails when it exits first). */
async function dashboardUrl(d: Daemon, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  let exited: number | undefined;
  void d.exited.then((c) => (exited = c));
  for (;;) {
    const m = /dashboard on (http:\/\/\S+\/)/.exec(d.stderr());
    if (m) return m[1]!;
    if (exited !== undefined || Date.now() > deadline)
      throw new Error(`eas web did not start (exit ${exited}): ${d.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

  it('starts and reads with Redis down; a write action answers 503 and changes nothing', async () => {
    const here = join(dir, 'pipeline');
    mkdirSync(here);
    writeE2eConfig(here);
    const submit = await runEas(['submit', join(CHAINS, 'e2e', 'three-nulls-and-pair.json')], here);
    expect(submit.code, submit.stderr).toBe(0);
    const web = startDaemon(['web', '--port', '0'], here, {
      EAS_REDIS_URL: NO_REDIS,
      EAS_WEB_WRITE_TOKEN: WRITE_TOKEN,
    });
    try {
      const url = await dashboardUrl(web);
      const headers = { authorization: `Bearer ${WRITE_TOKEN}` };
      const progress = await fetch(`${url}api/progress`, { headers });
      expect(progress.status).toBe(200);
      const { jobs } = (await progress.json()) as { jobs: { id: number; status: string }[] };
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.status).toBe('running');
      const session = (await (await fetch(`${url}api/session`, { headers })).json()) as {
        writeActions: boolean;
      };
      expect(session.writeActions).toBe(true);
      const cancel = await fetch(`${url}api/jobs/${jobs[0]!.id}/cancel`, {
        method: 'POST',
        headers,
      });
      expect(cancel.status).toBe(503);
      expect(((await cancel.json()) as { error: string }).error).toMatch(
        /job queue is unreachable/,
      );
      // Nothing changed, and reads go on.
      const after = await fetch(`${url}api/progress`, { headers });
      expect(after.status).toBe(200);
      expect(((await after.json()) as { jobs: { status: string }[] }).jobs[0]!.status).toBe(
        'running',
      );
    } finally {
      web.child.kill('SIGTERM');
      expect(await web.exited).toBe(0);
    }
    expect(existsSync(join(here, '.eas', 'eas.db'))).toBe(true);
  });
});
