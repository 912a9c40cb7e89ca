import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEasError } from '../../../src/core/index.js';
import {
  LINE_CUT_MARKER,
  MAX_LINE_BYTES,
  runCommand,
  type CommandResult,
  type CommandRunOptions,
} from '../../../src/sdk/runners/command.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/harness/', import.meta.url));
const fixture = (name: string): string => path.join(FIXTURES, name);
const ENV = { PATH: '/usr/bin:/bin' };

interface Run {
  result: CommandResult;
  stdout: string[];
  stderr: string[];
}

/** Runs a command collecting its lines; `onLine` extras see each line after it is recorded. */
async function run(
  argv: string[],
  options: Partial<CommandRunOptions> = {},
): Promise<Run & { options: CommandRunOptions }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const full: CommandRunOptions = {
    argv,
    cwd: workDir,
    env: ENV,
    ...options,
    onLine: (stream, line) => {
      (stream === 'stdout' ? stdout : stderr).push(line);
      options.onLine?.(stream, line);
    },
  };
  const result = await runCommand(full);
  return { result, stdout, stderr, options: full };
}

/**
 * True once `pid` no longer runs. A process whose parent died before reaping it is reparented
 * to PID 1; a container's PID 1 may never reap it, so a zombie (state Z) counts as gone.
 */
async function waitUntilGone(pid: number, withinMs = 3000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (/\) Z /.test(stat)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'eas-command-test-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('runCommand: exit and output', () => {
  it('reports exit 0 and delivers every line in order per stream, flushing a final unterminated line', async () => {
    const { result, stdout, stderr } = await run([fixture('ok.sh')]);
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false, aborted: false });
    expect(result.spawnError).toBeUndefined();
    expect(stdout).toEqual([
      'out 1',
      'out 2',
      'out 3',
      'out 4',
      'out 5',
      'last line without newline',
    ]);
    expect(stderr).toEqual(['err 1', 'err 2', 'err 3', 'err 4', 'err 5']);
    expect(result.stderrTail).toBe('err 1\nerr 2\nerr 3\nerr 4\nerr 5');
  });

  it('reports a non-zero exit code as it is', async () => {
    const { result } = await run(['/bin/sh', '-c', 'exit 3']);
    expect(result).toMatchObject({ exitCode: 3, signal: null });
  });

  it('keeps the traceback of a failed command as the stderr tail', async () => {
    const { result, stdout } = await run([fixture('fail.sh')]);
    expect(result.exitCode).toBe(1);
    expect(stdout).toEqual(['starting analysis']);
    const tail = result.stderrTail.split('\n');
    expect(tail[0]).toBe('Traceback (most recent call last):');
    expect(tail.at(-1)).toBe('ValueError: light curve has no valid points');
    expect(tail).toHaveLength(6);
  });

  it('keeps only the last tailLines stderr lines', async () => {
    const { result, stderr } = await run([fixture('fail.sh')], { tailLines: 2 });
    expect(stderr).toHaveLength(6);
    expect(result.stderrTail).toBe(
      '    raise ValueError("light curve has no valid points")\n' +
        'ValueError: light curve has no valid points',
    );
  });

  it('reports the signal of a crashed command, with a null exit code and no wrapper noise', async () => {
    const { result, stderr } = await run([fixture('crash.sh')]);
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGSEGV', timedOut: false });
    expect(stderr).toEqual(['about to crash']);
  });

  it('cuts a line longer than 64 KiB on a character boundary and keeps the following lines', async () => {
    const script = 'import sys; sys.stdout.write("é" * 40000 + "\\nnext\\r\\nlast")';
    const { result, stdout } = await run(['python3', '-c', script]);
    expect(result.exitCode).toBe(0);
    expect(stdout).toHaveLength(3);
    const [cut, next, last] = stdout as [string, string, string];
    expect(cut.endsWith(LINE_CUT_MARKER)).toBe(true);
    const kept = cut.slice(0, -LINE_CUT_MARKER.length);
    expect(kept).toBe('é'.repeat(MAX_LINE_BYTES / 2));
    expect(kept).not.toContain('\uFFFD');
    expect([next, last]).toEqual(['next', 'last']);
  });

  it('gives the command /dev/null as stdin', async () => {
    const { result, stdout } = await run(['readlink', '/proc/self/fd/0']);
    expect(result.exitCode).toBe(0);
    expect(stdout).toEqual(['/dev/null']);
  });

  it('passes exactly the given environment (plus the PWD any shell sets) and runs in cwd', async () => {
    const { result, stdout } = await run(['env'], { env: { ...ENV, EAS_TEST_VALUE: 'a b "c"' } });
    expect(result.exitCode).toBe(0);
    const names = stdout.map((l) => l.slice(0, l.indexOf('='))).sort();
    expect(names).toEqual(['EAS_TEST_VALUE', 'PATH', 'PWD']);
    expect(stdout).toContain('EAS_TEST_VALUE=a b "c"');
    expect(stdout).toContain(`PWD=${workDir}`);
  });

  it('runs a science code that reads EAS_TASK_FILE and writes its output and EAS_RESULT_FILE', async () => {
    const taskFile = path.join(workDir, 'task.json');
    const resultFile = path.join(workDir, 'result.json');
    const lightcurve = path.join(workDir, 'lc.csv');
    await writeFile(taskFile, JSON.stringify({ task_id: 't1', outputs: { lightcurve } }));
    const env = { ...ENV, EAS_TASK_FILE: taskFile, EAS_RESULT_FILE: resultFile };
    const { result, stdout, stderr } = await run([fixture('writes-output.py')], { env });
    expect(result.exitCode).toBe(0);
    expect(stdout).toEqual(['task t1 starting']);
    expect(stderr).toEqual(['done']);
    expect(await readFile(lightcurve, 'utf8')).toMatch(/^time,flux\n/);
    expect(await readFile(resultFile, 'utf8')).toBe(
      '{"answer": 42, "ratio": 0.5, "whole_float": 3.0}',
    );
  });

  it('reports exit 1 and the Python traceback when the science code raises', async () => {
    const taskFile = path.join(workDir, 'task-fail.json');
    await writeFile(taskFile, JSON.stringify({ task_id: 't2', fail: true }));
    const env = { ...ENV, EAS_TASK_FILE: taskFile, EAS_RESULT_FILE: path.join(workDir, 'r2.json') };
    const { result } = await run([fixture('writes-output.py')], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderrTail).toMatch(/^Traceback \(most recent call last\):/);
    expect(result.stderrTail).toMatch(/RuntimeError: task asked to fail$/);
  });

  it('kills what the command left running in its process group when it exits', async () => {
    const started = Date.now();
    const { result, stdout } = await run(['/bin/sh', '-c', 'sleep 30 & echo $!']);
    expect(result.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await waitUntilGone(Number(stdout[0]))).toBe(true);
  });
});

describe('runCommand: timeout and abort', () => {
  it('on timeout, SIGTERMs the whole process group: the command and its grandchild are gone', async () => {
    const { result, stdout } = await run([fixture('spawns-child.sh'), '30'], {
      timeoutMs: 1000,
      killGraceMs: 5000,
    });
    expect(result).toMatchObject({
      timedOut: true,
      aborted: false,
      exitCode: null,
      signal: 'SIGTERM',
    });
    expect(result.wallMs).toBeGreaterThanOrEqual(1000);
    expect(result.wallMs).toBeLessThan(5000);
    const [, script, grandchild] = (stdout[0] ?? '').split(' ').map(Number);
    expect(script).toBeGreaterThan(0);
    expect(grandchild).toBeGreaterThan(0);
    expect(await waitUntilGone(script as number)).toBe(true);
    expect(await waitUntilGone(grandchild as number)).toBe(true);
  });

  it('SIGKILLs a command that ignores SIGTERM once the grace has passed', async () => {
    // Stopped only once it says its trap is set, so a slow start cannot make SIGTERM work.
    const controller = new AbortController();
    const { result, stdout, stderr } = await run([fixture('ignores-sigterm.sh')], {
      signal: controller.signal,
      killGraceMs: 700,
      onLine: (_stream, line) => {
        if (line.startsWith('ready')) controller.abort();
      },
    });
    expect(result).toMatchObject({ aborted: true, exitCode: null, signal: 'SIGKILL' });
    expect(stderr).toContain('got SIGTERM, ignoring it');
    expect(result.wallMs).toBeGreaterThanOrEqual(700);
    expect(await waitUntilGone(Number((stdout[0] ?? '').split(' ')[1]))).toBe(true);
  });

  it('on abort, stops the command with SIGTERM and reports aborted, not timed out', async () => {
    const controller = new AbortController();
    const { result, stdout } = await run([fixture('slow.sh'), '30'], {
      signal: controller.signal,
      onLine: () => controller.abort(),
    });
    expect(stdout).toEqual(['sleeping 30s']);
    expect(result).toMatchObject({
      aborted: true,
      timedOut: false,
      exitCode: null,
      signal: 'SIGTERM',
    });
    expect(result.wallMs).toBeLessThan(5000);
  });

  it('starts nothing when the signal is already aborted', async () => {
    const marker = path.join(workDir, 'should-not-exist');
    const { result } = await run(['touch', marker], { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ aborted: true, exitCode: null, signal: null });
    await expect(readFile(marker)).rejects.toThrow();
  });
});

describe('runCommand: failure to start', () => {
  it('reports a program missing from PATH as ENOENT naming the program', async () => {
    const { result } = await run(['no-such-science-code', '--x']);
    expect(result).toMatchObject({ exitCode: null, signal: null, timedOut: false });
    expect(result.spawnError).toMatch(/^ENOENT: command not found: "no-such-science-code"/);
    expect(result.spawnError).toContain('/usr/bin:/bin');
  });

  it('reports a missing program path as ENOENT naming the program', async () => {
    const { result } = await run(['./bin/missing.sh']);
    expect(result.spawnError).toMatch(/^ENOENT: command not found: "\.\/bin\/missing\.sh"/);
  });

  it('reports a file without execute permission as EACCES', async () => {
    const file = path.join(workDir, 'not-executable.sh');
    await writeFile(file, '#!/bin/sh\necho hi\n');
    await chmod(file, 0o644);
    const { result } = await run([file]);
    expect(result.exitCode).toBeNull();
    expect(result.spawnError).toMatch(/^EACCES: .*not-executable\.sh/);
  });

  it('reports a script whose interpreter is missing as ENOENT from the exec', async () => {
    const file = path.join(workDir, 'bad-shebang.sh');
    await writeFile(file, '#!/nonexistent/interpreter\n');
    await chmod(file, 0o755);
    const { result } = await run([file]);
    expect(result.exitCode).toBeNull();
    expect(result.spawnError).toMatch(/^ENOENT: cannot start ".*bad-shebang\.sh": .*not found/);
  });

  it('reports a missing working directory as such, not as a missing program', async () => {
    const { result } = await run(['true'], { cwd: path.join(workDir, 'nope') });
    expect(result.spawnError).toMatch(/^ENOENT: working directory ".*nope" cannot be used/);
  });

  it('rejects an empty argv with a USAGE error', async () => {
    const error: unknown = await run([]).catch((e: unknown) => e);
    expect(isEasError(error) && error.code === 'USAGE').toBe(true);
  });

  it('rejects with the error onLine threw, after the command has ended', async () => {
    const boom = new Error('log sink failed');
    const marker = path.join(workDir, 'ran-to-end');
    const promise = run(['/bin/sh', '-c', `echo one; echo two; touch ${marker}`], {
      onLine: () => {
        throw boom;
      },
    });
    await expect(promise).rejects.toBe(boom);
    expect(await readFile(marker, 'utf8')).toBe('');
  });
});

describe('runCommand: CPU and event loop', () => {
  it('measures a 1-second CPU burn in cpuChildrenMs and samples it in cpuMs', async () => {
    const { result } = await run([fixture('burn-cpu.py'), '1']);
    expect(result.exitCode).toBe(0);
    expect(result.cpuChildrenMs).toBeGreaterThanOrEqual(700);
    expect(result.wallMs).toBeGreaterThanOrEqual(1000);
    expect(result.cpuMs).toBeGreaterThanOrEqual(500);
    expect(result.cpuMs).toBeLessThanOrEqual(result.cpuChildrenMs);
  });

  it('counts the CPU of a waited-for grandchild in cpuChildrenMs but not in cpuMs', async () => {
    const { result, stdout } = await run([fixture('spawns-child.sh'), '0.8']);
    expect(result.exitCode).toBe(0);
    expect(stdout.at(-1)).toBe('child done');
    expect(result.cpuChildrenMs).toBeGreaterThanOrEqual(700);
    expect(result.cpuMs).toBeLessThan(300);
  });

  it('keeps the exact CPU of a command it had to stop', async () => {
    const controller = new AbortController();
    const { result, stdout } = await run([fixture('burn-cpu.py'), '30', '0.8'], {
      signal: controller.signal,
      onLine: () => controller.abort(),
    });
    expect(stdout[0]).toMatch(/^cpu 0\.8/);
    expect(result).toMatchObject({ aborted: true, signal: 'SIGTERM' });
    expect(result.cpuChildrenMs).toBeGreaterThanOrEqual(780);
  });

  it('never blocks the event loop while a CPU-bound command runs', async () => {
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(Date.now()), 50);
    try {
      const { result } = await run([fixture('burn-cpu.py'), '1']);
      expect(result.exitCode).toBe(0);
    } finally {
      clearInterval(timer);
    }
    const gaps = ticks.slice(1).map((t, i) => t - (ticks[i] as number));
    expect(ticks.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...gaps)).toBeLessThan(500);
  });
});
