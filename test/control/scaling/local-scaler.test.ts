/**
 * LocalProcessScaler with real child processes (test/fixtures/autoscale/worker-process.mjs,
 * a stand-in that drains on SIGTERM, crashes at start, or ignores SIGTERM): scale-up starts
 * processes, scale-in drains idle ones only and never more than asked, unexpected exits are
 * reported, a crash loop stops, a hung worker is killed after the stop timeout.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  LocalProcessScaler,
  localProcessScalerSettingsSchema,
  type LocalProcessScalerEvents,
  type LocalProcessScalerSettings,
  type WorkerRef,
} from '../../../src/control/index.js';
import { isEasError, processAlive } from '../../../src/core/index.js';

const WORKER = fileURLToPath(
  new URL('../../fixtures/autoscale/worker-process.mjs', import.meta.url),
);

const open: LocalProcessScaler[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

type Mode = 'drain' | 'crash' | 'ignore';

function scaler(
  mode: Mode | ((container: string) => Mode) = 'drain',
  extra: Partial<ConstructorParameters<typeof LocalProcessScaler>[0]> = {},
): { scaler: LocalProcessScaler; lines: string[] } {
  const lines: string[] = [];
  const s = new LocalProcessScaler({
    command: process.execPath,
    args: (c) => [WORKER, typeof mode === 'function' ? mode(c) : mode, c],
    env: { PATH: '/usr/bin:/bin', EAS_TEST_VALUE: 'from-env' },
    onOutput: (line, w, stream) => lines.push(`${w.container} ${w.pid} ${stream}: ${line}`),
    ...extra,
  });
  open.push(s);
  return { scaler: s, lines };
}

async function until<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until each started process printed its "ready" line. */
function ready(lines: string[], n: number): Promise<true | undefined> {
  return until(`${n} ready lines`, () =>
    lines.filter((l) => l.includes('stdout: ready')).length >= n ? true : undefined,
  );
}

/** The worker id an `eas worker` of this pid records on its attempts. */
function ref(pid: number): WorkerRef {
  return { workerId: `${hostname()}:${pid}:abc123`, host: hostname() };
}

function exits(s: LocalProcessScaler): LocalProcessScalerEvents['worker:exited'][0][] {
  const seen: LocalProcessScalerEvents['worker:exited'][0][] = [];
  s.on('worker:exited', (e) => seen.push(e));
  return seen;
}

describe('LocalProcessScaler', () => {
  it('starts one process per replica, configured through its environment', async () => {
    const { scaler: s, lines } = scaler();
    expect(await s.scale({ container: 'a', replicas: 3, busy: [] })).toEqual({
      container: 'a',
      from: 0,
      to: 3,
    });
    expect(await s.replicas('a')).toBe(3);
    expect(await s.replicas('b')).toBe(0);
    await ready(lines, 3);
    const pids = s.workers().map((w) => w.pid);
    expect(new Set(pids).size).toBe(3);
    for (const pid of pids) expect(lines).toContain(`a ${pid} stdout: ready ${pid} a from-env`);
    // Asking again for what runs changes nothing.
    expect(await s.scale({ container: 'a', replicas: 3, busy: [] })).toEqual({
      container: 'a',
      from: 3,
      to: 3,
    });
    expect(s.workers()).toHaveLength(3);
  });

  it('scale-in drains idle processes only, newest first, and never more than asked', async () => {
    const { scaler: s, lines } = scaler();
    const seen = exits(s);
    await s.scale({ container: 'a', replicas: 3, busy: [] });
    await ready(lines, 3);
    await s.scale({ container: 'a', replicas: 4, busy: [] });
    await ready(lines, 4);
    const [oldest, middle, newest, fourth] = s.workers().map((w) => w.pid);
    // One fewer: the newest goes.
    expect(await s.scale({ container: 'a', replicas: 3, busy: [] })).toEqual({
      container: 'a',
      from: 4,
      to: 3,
    });
    expect(s.workers().find((w) => w.state === 'draining')?.pid).toBe(fourth);
    await s.whenDrained();
    // Two fewer with the newest busy: the two others go.
    const r = await s.scale({ container: 'a', replicas: 1, busy: [ref(newest!)] });
    expect(r).toEqual({ container: 'a', from: 3, to: 1 });
    expect(await s.replicas('a')).toBe(1);
    expect(
      s
        .workers()
        .filter((w) => w.state === 'draining')
        .map((w) => w.pid)
        .sort(),
    ).toEqual([oldest, middle].sort());
    await s.whenDrained();
    expect(seen.map((e) => [e.worker.pid, e.code, e.expected]).sort()).toEqual(
      [
        [fourth, 0, true],
        [oldest, 0, true],
        [middle, 0, true],
      ].sort(),
    );
    expect(s.workers().map((w) => w.pid)).toEqual([newest]);
    expect(processAlive(newest!)).toBe(true);
    expect(lines.filter((l) => l.endsWith('stdout: draining'))).toHaveLength(3);
  });

  it('keeps every busy process even when asked for zero', async () => {
    const { scaler: s, lines } = scaler();
    await s.scale({ container: 'a', replicas: 3, busy: [] });
    await ready(lines, 3);
    const pids = s.workers().map((w) => w.pid);
    const busy = [ref(pids[0]!), ref(pids[2]!)];
    expect(await s.scale({ container: 'a', replicas: 0, busy })).toEqual({
      container: 'a',
      from: 3,
      to: 2,
    });
    await s.whenDrained();
    expect(
      s
        .workers()
        .map((w) => w.pid)
        .sort(),
    ).toEqual([pids[0], pids[2]].sort());
    // Busy workers of another host, or ids without a pid, protect nothing here.
    const r = await s.scale({
      container: 'a',
      replicas: 0,
      busy: [{ workerId: `elsewhere:${pids[0]}:x`, host: 'elsewhere' }, ref(NaN)],
    });
    expect(r).toEqual({ container: 'a', from: 2, to: 0 });
    await s.whenDrained();
    expect(s.workers()).toEqual([]);
  });

  it('scales containers independently', async () => {
    const { scaler: s, lines } = scaler();
    await s.scale({ container: 'a', replicas: 2, busy: [] });
    await s.scale({ container: 'b', replicas: 1, busy: [] });
    await ready(lines, 3);
    await s.scale({ container: 'a', replicas: 0, busy: [] });
    await s.whenDrained();
    expect(await s.replicas('a')).toBe(0);
    expect(await s.replicas('b')).toBe(1);
    expect(s.workers().map((w) => w.container)).toEqual(['b']);
  });

  it('reports a process that dies unasked and no longer counts it', async () => {
    const { scaler: s, lines } = scaler();
    const seen = exits(s);
    await s.scale({ container: 'a', replicas: 2, busy: [] });
    await ready(lines, 2);
    const victim = s.workers()[0]!.pid;
    process.kill(victim, 'SIGKILL');
    const e = await until('the exit event', () => seen[0]);
    expect(e).toMatchObject({ worker: { pid: victim }, signal: 'SIGKILL', expected: false });
    expect(await s.replicas('a')).toBe(1);
    // The next decision replaces it.
    expect(await s.scale({ container: 'a', replicas: 2, busy: [] })).toEqual({
      container: 'a',
      from: 1,
      to: 2,
    });
  });

  it('stops starting workers of a container that keep dying at start, quoting their stderr', async () => {
    const { scaler: s } = scaler((c) => (c === 'bad' ? 'crash' : 'drain'), {
      maxStartFailures: 2,
    });
    const seen = exits(s);
    await s.scale({ container: 'bad', replicas: 1, busy: [] });
    await until('first crash', () => seen.length >= 1 || undefined);
    await s.scale({ container: 'bad', replicas: 1, busy: [] });
    await until('second crash', () => seen.length >= 2 || undefined);
    expect(seen.every((e) => e.code === 3 && !e.expected)).toBe(true);
    let error: unknown;
    try {
      await s.scale({ container: 'bad', replicas: 1, busy: [] });
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('INTERNAL');
    expect((error as Error).message).toContain('container "bad"');
    expect((error as Error).message).toContain('boom in bad');
    expect(isEasError(error) && error.details).toMatchObject({ startFailures: 2 });
    // Other containers still start.
    expect(await s.scale({ container: 'good', replicas: 1, busy: [] })).toMatchObject({ to: 1 });
  });

  it('fails with INTERNAL when the program cannot be started', async () => {
    const s = new LocalProcessScaler({ command: '/nonexistent/eas', args: () => [] });
    open.push(s);
    let error: unknown;
    try {
      await s.scale({ container: 'a', replicas: 1, busy: [] });
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('INTERNAL');
    expect((error as Error).message).toContain('/nonexistent/eas');
    expect(await s.replicas('a')).toBe(0);
  });

  it('kills a worker that ignores SIGTERM once the stop timeout is over', async () => {
    const { scaler: s, lines } = scaler('ignore', { stopTimeout: '200ms' });
    const seen = exits(s);
    await s.scale({ container: 'a', replicas: 1, busy: [] });
    await ready(lines, 1);
    await s.scale({ container: 'a', replicas: 0, busy: [] });
    await s.whenDrained();
    expect(seen[0]).toMatchObject({ signal: 'SIGKILL', expected: true });
    expect(lines.some((l) => l.endsWith('stderr: got SIGTERM, ignoring it'))).toBe(true);
  });

  it('close() drains every worker, waits for them, and refuses later scaling', async () => {
    const { scaler: s, lines } = scaler();
    await s.scale({ container: 'a', replicas: 2, busy: [] });
    await s.scale({ container: 'b', replicas: 1, busy: [] });
    await ready(lines, 3);
    const pids = s.workers().map((w) => w.pid);
    await s.close();
    expect(s.workers()).toEqual([]);
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    let error: unknown;
    try {
      await s.scale({ container: 'a', replicas: 1, busy: [] });
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('CLOSED');
    await s.close();
  });

  it('refuses bad settings, naming them', () => {
    let error: unknown;
    try {
      new LocalProcessScaler({ command: 'x', args: () => [], stopTimeout: '5 parsecs' });
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('USAGE');
    expect((error as Error).message).toContain('LocalProcessScalerOptions.stopTimeout');
  });

  it('LocalProcessScalerSettings matches what its zod schema accepts', () => {
    expectTypeOf<LocalProcessScalerSettings>().toEqualTypeOf<
      z.input<typeof localProcessScalerSettingsSchema>
    >();
  });
});
