import { spawn, type ChildProcess } from 'node:child_process';
import { access, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { EasError, silentLogger, type Logger } from '../../core/index.js';
import {
  listProcessGroup,
  parseTimesOutput,
  readChildPids,
  readProcStat,
  signalName,
} from './cpu-times.js';

/** Options of {@link runCommand}. */
export interface CommandRunOptions {
  /**
   * The program and its arguments. Run directly (`exec`), never through a shell command line
   * built from text, so arguments need no quoting. A program without a `/` is looked up on the
   * `PATH` of {@link CommandRunOptions.env}; one with a `/` is resolved against `cwd`.
   */
  argv: string[];
  /** Working directory of the command. Must exist. */
  cwd: string;
  /**
   * The complete environment of the command: nothing of the worker's own environment leaks in.
   * The caller adds what the command needs (`PATH`, `EAS_TASK_FILE`, `EAS_RESULT_FILE`…).
   * As in any POSIX shell, `PWD` is set to `cwd` when absent.
   */
  env: Record<string, string>;
  /**
   * Wall-clock limit. When it passes, the command's whole process group gets SIGTERM, then
   * SIGKILL after {@link CommandRunOptions.killGraceMs}, and the result has `timedOut: true`.
   * @defaultValue no limit
   */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when the command is stopped. @defaultValue 5000 */
  killGraceMs?: number;
  /**
   * Aborting stops the command as a timeout does (SIGTERM, then SIGKILL after the grace), and
   * the result has `aborted: true`. Used for a graceful stop of the worker or a cancelled job.
   * An already-aborted signal starts nothing.
   */
  signal?: AbortSignal;
  /**
   * Called with every line the command writes, as it arrives, in order within each stream.
   * Lines are split on `\n` (a trailing `\r` is dropped) and decoded as UTF-8; a final line
   * without a newline is delivered at the end; a line longer than {@link MAX_LINE_BYTES} is cut
   * at that size (on a character boundary) and ends with {@link LINE_CUT_MARKER}. If it throws,
   * the command still runs to its end and `runCommand` then rejects with the first such error.
   */
  onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  /** How many of the last stderr lines {@link CommandResult.stderrTail} keeps. @defaultValue 50 */
  tailLines?: number;
  /** Receives debug events (start, stop, escalation to SIGKILL). @defaultValue silentLogger() */
  logger?: Logger;
}

/** How a command ended, with its timings. */
export interface CommandResult {
  /**
   * The exit status, or `null` when the command died of a signal or could not start. A status
   * above 128 whose low part is a known signal number is reported as that signal (as POSIX
   * shells report it), so a program that itself calls `exit(137)` is reported as SIGKILL.
   */
  exitCode: number | null;
  /** The signal that ended the command (`'SIGSEGV'`, `'SIGTERM'`, `'SIGKILL'`…), else `null`. */
  signal: string | null;
  /** True when {@link CommandRunOptions.timeoutMs} passed and the command was stopped. */
  timedOut: boolean;
  /** True when {@link CommandRunOptions.signal} aborted and the command was stopped. */
  aborted: boolean;
  /** Wall-clock time from start to the end of the command and of its output. */
  wallMs: number;
  /**
   * CPU (user + system) of the command's own process, not its children: the last of the
   * samples of `/proc/<pid>/stat` taken every {@link CPU_SAMPLE_INTERVAL_MS} while it runs. It
   * therefore misses up to one interval of CPU at the end (all of it for a command shorter
   * than one interval), and is capped at `cpuChildrenMs`.
   */
  cpuMs: number;
  /**
   * CPU (user + system) of the command and every descendant it (transitively) waited for,
   * exact to the 10 ms clock tick: what the POSIX `times` builtin of the wrapper shell reports
   * after the command ends (see {@link runCommand}). A descendant left running when its parent
   * dies is not counted. Falls back to the last `/proc` sample (command + its waited-for
   * children) in the rare case where the wrapper itself had to be killed.
   */
  cpuChildrenMs: number;
  /** The last `tailLines` stderr lines joined with `\n`: the traceback of a crash. */
  stderrTail: string;
  /**
   * Why the command could not start, naming the program: `ENOENT: command not found: "tda"
   * (PATH=…)`, `EACCES: …`. When set, `exitCode` and `signal` are `null`.
   */
  spawnError?: string;
}

/** Default time between SIGTERM and SIGKILL when a command is stopped. */
export const DEFAULT_KILL_GRACE_MS = 5000;

/** Default number of stderr lines kept for {@link CommandResult.stderrTail}. */
export const DEFAULT_TAIL_LINES = 50;

/**
 * Longest line delivered whole to `onLine`. A code that writes megabytes without a newline
 * (a progress bar with `\r`, a binary dump) must not grow memory without bound or flood the
 * task database with one log record; 64 KiB keeps any genuine log line intact.
 */
export const MAX_LINE_BYTES = 64 * 1024;

/** Appended to a line cut at {@link MAX_LINE_BYTES}. */
export const LINE_CUT_MARKER = ' … [line cut: longer than 64 KiB]';

/**
 * How often the command's own CPU is sampled from /proc. Each sample is two small async file
 * reads; 200 ms keeps the cost negligible next to a science code while bounding what
 * {@link CommandResult.cpuMs} misses at the end.
 */
export const CPU_SAMPLE_INTERVAL_MS = 200;

/**
 * After the command itself has been SIGKILLed, how long the wrapper shell may take to report
 * its CPU times and exit before it is SIGKILLed too (it normally exits within milliseconds).
 */
const WRAPPER_EXIT_GRACE_MS = 2000;

/**
 * After the wrapper exits, how long to wait for the stdout/stderr pipes to reach end-of-file.
 * Everything left in the process group is SIGKILLed at exit, so only a process that escaped the
 * group (setsid) and kept the pipes open can hold them longer; then they are closed by force.
 */
const STDIO_DRAIN_MS = 2000;

/** `$0` of the wrapper shell, so its own diagnostics are recognisable. */
const WRAPPER_NAME = 'eas-command-wrapper';

/** The subshell's message when `exec` of the command failed, e.g. `…: 3: exec: tda: not found`. */
const EXEC_FAILURE = new RegExp(`^${WRAPPER_NAME}: \\d+: exec: (.*)$`);

/**
 * The wrapper shell script, run as `/bin/sh -c WRAPPER_SCRIPT eas-command-wrapper <argv…>`.
 *
 * - `trap : HUP INT TERM`: the wrapper survives the SIGTERM sent to the whole group on timeout
 *   or abort, so it can still report CPU times; a trap with an action (unlike an ignored signal)
 *   is reset to the default in the subshell and across exec, so the command is not affected.
 * - `exec 4>&2 2>&3`: the wrapper's own diagnostics ("Segmentation fault", "Terminated") go to
 *   fd 3 instead of the command's stderr; fd 4 keeps the real stderr for the command.
 * - `( exec … && exec "$@" )`: a subshell gives the command the real stderr, closes fds 3 and 4,
 *   and execs the program, so the command is the wrapper's only child and its pid is found in
 *   /proc. `exec` never runs a shell builtin or function of the same name. If exec fails, the
 *   subshell prints `eas-command-wrapper: 3: exec: <prog>: not found` and exits 127 (126 when
 *   not executable).
 * - `rc=$?`: the command's status; 128+N when it died of signal N.
 * - `times >&3`: the wrapper's user/system time, then its children's — the CPU of the command
 *   and everything it waited for, as the kernel accounted it (getrusage RUSAGE_CHILDREN).
 */
const WRAPPER_SCRIPT = [
  'trap : HUP INT TERM',
  'exec 4>&2 2>&3',
  '( exec 2>&4 4>&- 3>&- && exec "$@" )',
  'rc=$?',
  'times >&3',
  'exit $rc',
].join('\n');

/**
 * dash's default search path, used by the wrapper when the environment has no `PATH`, and so
 * by the pre-start lookup too.
 */
const SHELL_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Runs an external command — a science code in any language — and resolves when it and its
 * output have ended. Never rejects because of the command itself: non-zero exit, signal,
 * timeout, abort and failure to start are all described by the {@link CommandResult}. Rejects
 * with an `EasError` (`USAGE`) when `argv` is empty, or with the error `onLine` threw.
 *
 * How it runs: `/bin/sh -c <wrapper> eas-command-wrapper <argv…>` is spawned detached, in a
 * process group of its own, with stdin on /dev/null, stdout and stderr on pipes, and fd 3 on a
 * pipe for the wrapper's report. The wrapper execs the command in a subshell, waits for it and
 * writes the output of `times` to fd 3, which gives the exact CPU of the command and all its
 * waited-for descendants ({@link CommandResult.cpuChildrenMs}). Everything is asynchronous: the
 * event loop keeps running (heartbeats flow) however much CPU the command burns.
 *
 * Stopping (timeout or abort): SIGTERM to the whole process group — the command, its children
 * and grandchildren; the wrapper traps it. After `killGraceMs`, SIGKILL to every member of the
 * group except the wrapper (found in /proc), so the wrapper still reports CPU times; if it
 * does not exit soon after, the whole group is SIGKILLed. When the command ends by itself,
 * whatever it left running in its process group is SIGKILLed: a finished command leaves
 * nothing behind.
 *
 * Before spawning, the program is looked up (on `env.PATH`, or against `cwd` when it holds a
 * `/`) and `cwd` is checked, so a missing program or directory gives a clear `spawnError`.
 *
 * Limits: Linux (POSIX `/bin/sh` and /proc). If the worker process itself is SIGKILLed, the
 * detached command keeps running (Node cannot set PR_SET_PDEATHSIG); the lease expiry makes
 * the attempt stalled and it is re-run elsewhere.
 *
 * @example
 * ```ts
 * const result = await runCommand({
 *   argv: ['python3', 'tda_wrapper.py'],
 *   cwd: workDir,
 *   env: { PATH: '/usr/bin:/bin', EAS_TASK_FILE: taskFile, EAS_RESULT_FILE: resultFile },
 *   timeoutMs: 2 * 3600_000,
 *   signal: stopController.signal,
 *   onLine: (stream, line) => log[stream === 'stderr' ? 'warn' : 'info']({ stream }, line),
 * });
 * if (result.exitCode !== 0) fail(result.stderrTail);
 * ```
 */
export async function runCommand(options: CommandRunOptions): Promise<CommandResult> {
  const program = options.argv[0];
  if (program === undefined || program === '') {
    throw new EasError('USAGE', 'runCommand: argv is empty. Give at least the program to run.');
  }
  const startedAt = performance.now();
  const notRun = (why: { spawnError: string } | { aborted: true }): CommandResult => ({
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted: false,
    wallMs: Math.round(performance.now() - startedAt),
    cpuMs: 0,
    cpuChildrenMs: 0,
    stderrTail: '',
    ...why,
  });
  if (options.signal?.aborted) return notRun({ aborted: true });

  const problem =
    (await checkWorkingDirectory(options.cwd)) ??
    (await checkProgram(program, options.cwd, options.env));
  if (problem !== undefined) return notRun({ spawnError: problem });
  if (options.signal?.aborted) return notRun({ aborted: true });

  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', WRAPPER_SCRIPT, WRAPPER_NAME, ...options.argv], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    return notRun({ spawnError: describeSpawnError(error, program) });
  }
  return supervise(child, program, options, startedAt);
}

/** Watches a spawned wrapper to its end: output, CPU samples, timeout, abort, clean-up. */
function supervise(
  child: ChildProcess,
  program: string,
  options: CommandRunOptions,
  startedAt: number,
): Promise<CommandResult> {
  const log = (options.logger ?? silentLogger()).child({ component: 'command-runner' });
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const tailLines = Math.max(0, options.tailLines ?? DEFAULT_TAIL_LINES);

  return new Promise<CommandResult>((resolve, reject) => {
    const pgid = child.pid;
    let callbackError: { error: unknown } | undefined;
    const deliver = (stream: 'stdout' | 'stderr', line: string): void => {
      try {
        options.onLine(stream, line);
      } catch (error) {
        callbackError ??= { error };
      }
    };
    const tail: string[] = [];
    const stdout = new LineSplitter((line) => deliver('stdout', line));
    const stderr = new LineSplitter((line) => {
      if (tailLines > 0) {
        tail.push(line);
        if (tail.length > tailLines) tail.shift();
      }
      deliver('stderr', line);
    });
    let report = '';
    // All three are pipes (stdio: ['ignore', 'pipe', 'pipe', 'pipe']), so never null.
    const out = child.stdout as Readable;
    const err = child.stderr as Readable;
    const fd3 = child.stdio[3] as Readable;
    out.on('data', (chunk: Buffer) => stdout.push(chunk));
    err.on('data', (chunk: Buffer) => stderr.push(chunk));
    fd3.setEncoding('utf8');
    fd3.on('data', (chunk: string) => (report += chunk));
    for (const stream of [out, err, fd3]) stream.on('error', () => undefined);

    let spawnFailure: string | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let timedOut = false;
    let aborted = false;
    let stopping = false;
    let settled = false;
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, fn: () => void): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    };

    const sampler = pgid === undefined ? undefined : new CpuSampler(pgid);
    const sampling =
      sampler === undefined
        ? undefined
        : setInterval(() => void sampler.sample(), CPU_SAMPLE_INTERVAL_MS);
    void sampler?.sample();

    const stop = (reason: 'timeout' | 'aborted'): void => {
      if (stopping || exit !== undefined || pgid === undefined) return;
      stopping = true;
      if (reason === 'timeout') timedOut = true;
      else aborted = true;
      log.debug(
        { pid: pgid, reason, killGraceMs },
        'stopping command: SIGTERM to its process group',
      );
      void sampler?.sample();
      signalGroup(pgid, 'SIGTERM');
      later(killGraceMs, () => void escalate(pgid));
    };
    const escalate = async (group: number): Promise<void> => {
      if (exit !== undefined) return;
      log.warn({ pid: group }, 'command still running after SIGTERM grace: sending SIGKILL');
      try {
        for (const member of await listProcessGroup(group)) {
          if (member.pid !== group) signalProcess(member.pid, 'SIGKILL');
        }
      } catch {
        signalGroup(group, 'SIGKILL');
        return;
      }
      later(WRAPPER_EXIT_GRACE_MS, () => {
        if (exit === undefined) signalGroup(group, 'SIGKILL');
      });
    };

    if (options.timeoutMs !== undefined) later(options.timeoutMs, () => stop('timeout'));
    const onAbort = (): void => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (error) => {
      // 'error' without 'exit' means the wrapper never started; after a start it only reports
      // a failed kill(), which signalGroup already tolerates.
      if (exit === undefined && child.pid === undefined) {
        spawnFailure = describeSpawnError(error, program);
        finish();
      }
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
      later(STDIO_DRAIN_MS, () => {
        for (const stream of [out, err, fd3]) stream.destroy();
        finish();
      });
    });
    child.on('close', () => finish());

    function finish(): void {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      if (sampling !== undefined) clearInterval(sampling);
      options.signal?.removeEventListener('abort', onAbort);
      stdout.end();
      stderr.end();
      if (callbackError !== undefined) {
        reject(callbackError.error);
        return;
      }
      resolve(
        buildResult({
          exit,
          report,
          spawnFailure,
          lastStderrLine: tail[tail.length - 1],
          program,
          sampler,
          timedOut,
          aborted,
          wallMs: Math.round(performance.now() - startedAt),
          stderrTail: tail.join('\n'),
        }),
      );
    }
  });
}

interface ResultParts {
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  report: string;
  spawnFailure: string | undefined;
  lastStderrLine: string | undefined;
  program: string;
  sampler: CpuSampler | undefined;
  timedOut: boolean;
  aborted: boolean;
  wallMs: number;
  stderrTail: string;
}

/** Turns the wrapper's exit and report into the command's result. */
function buildResult(parts: ResultParts): CommandResult {
  const { exit, sampler } = parts;
  let exitCode = exit?.code ?? null;
  let signal: string | null = exit?.signal ?? null;
  let spawnError = parts.spawnFailure;
  const exact = parts.report === '' ? undefined : parseTimesOutput(parts.report);
  if (exitCode !== null && exitCode > 128) {
    const name = signalName(exitCode - 128);
    if (name !== undefined) {
      signal = name;
      exitCode = null;
    }
  }
  // The subshell's own message when exec failed (a script's interpreter missing, a race with a
  // file removed after the pre-start check); a command's own status 126/127 has no such line.
  const execFailure = EXEC_FAILURE.exec(parts.lastStderrLine ?? '');
  if ((exitCode === 126 || exitCode === 127) && execFailure !== null) {
    const code = exitCode === 127 ? 'ENOENT' : 'EACCES';
    const why = execFailure[1] ?? '';
    spawnError = `${code}: cannot start ${JSON.stringify(parts.program)}: ${why}`;
    exitCode = null;
  }
  const cpuChildrenMs = exact ?? sampler?.treeMs ?? 0;
  return {
    exitCode,
    signal,
    timedOut: parts.timedOut,
    aborted: parts.aborted,
    wallMs: parts.wallMs,
    cpuMs: Math.min(sampler?.selfMs ?? 0, cpuChildrenMs),
    cpuChildrenMs,
    stderrTail: parts.stderrTail,
    ...(spawnError === undefined ? {} : { spawnError }),
  };
}

/**
 * Samples the CPU of the command (the wrapper's only child) from /proc. Samples never overlap,
 * and a sample of another process that reused the pid is discarded (parent and start time must
 * match the first sample).
 */
class CpuSampler {
  /** User + system CPU of the command itself at the last sample. */
  selfMs = 0;
  /** Same, plus its waited-for children, at the last sample. */
  treeMs = 0;
  private commandPid: number | undefined;
  private startTicks: number | undefined;
  private busy = false;

  constructor(private readonly wrapperPid: number) {}

  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.commandPid ??= (await readChildPids(this.wrapperPid))[0];
      if (this.commandPid === undefined) return;
      const stat = await readProcStat(this.commandPid);
      if (stat === undefined || stat.ppid !== this.wrapperPid) return;
      if (this.startTicks !== undefined && stat.startTicks !== this.startTicks) return;
      this.startTicks = stat.startTicks;
      this.selfMs = stat.selfMs;
      this.treeMs = stat.selfMs + stat.childrenMs;
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Splits a byte stream into lines on `\n` (dropping a trailing `\r`), decoding each as UTF-8,
 * and cuts lines longer than {@link MAX_LINE_BYTES}: the first part is emitted with
 * {@link LINE_CUT_MARKER} and the rest of that line is skipped. Splitting on the byte 0x0A is
 * safe in UTF-8, which never uses it inside a multi-byte character.
 */
class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      this.append(chunk.subarray(start, newline === -1 ? chunk.length : newline));
      if (newline === -1) return;
      this.endLine();
      start = newline + 1;
    }
  }

  /** Emits a final line that had no newline. */
  end(): void {
    if (this.size > 0) this.endLine();
    this.skipping = false;
  }

  private append(piece: Buffer): void {
    if (this.skipping || piece.length === 0) return;
    this.parts.push(piece);
    this.size += piece.length;
    if (this.size <= MAX_LINE_BYTES) return;
    const whole = Buffer.concat(this.parts, this.size);
    let cut = MAX_LINE_BYTES;
    // Back off to the first byte of a character: continuation bytes look like 0b10xxxxxx.
    while (cut > 0 && ((whole[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
    this.emit(whole.subarray(0, cut).toString('utf8') + LINE_CUT_MARKER);
    this.parts = [];
    this.size = 0;
    this.skipping = true;
  }

  private endLine(): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    let line = Buffer.concat(this.parts, this.size).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    this.parts = [];
    this.size = 0;
    this.emit(line);
  }
}

/** Sends `signal` to process group `pgid`, ignoring a group that is already gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  signalProcess(-pgid, signal);
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone. EPERM cannot happen for our own children.
  }
}

/** `undefined` when `cwd` is a directory, else a spawn error saying what is wrong with it. */
async function checkWorkingDirectory(cwd: string): Promise<string | undefined> {
  try {
    if ((await stat(cwd)).isDirectory()) return undefined;
    return `ENOTDIR: working directory ${JSON.stringify(cwd)} is not a directory`;
  } catch (error) {
    return `${errorCode(error)}: working directory ${JSON.stringify(cwd)} cannot be used (${errorMessage(error)})`;
  }
}

/**
 * `undefined` when `program` can be executed, else a spawn error naming it: looked up on the
 * `PATH` of `env` (as the wrapper shell will), or resolved against `cwd` when it holds a `/`.
 */
async function checkProgram(
  program: string,
  cwd: string,
  env: Record<string, string>,
): Promise<string | undefined> {
  const name = JSON.stringify(program);
  if (program.includes('/')) {
    const file = path.resolve(cwd, program);
    const verdict = await executable(file);
    if (verdict === 'ok') return undefined;
    if (verdict === 'missing') {
      return `ENOENT: command not found: ${name} (no such file: ${JSON.stringify(file)})`;
    }
    return `EACCES: command ${name} (${JSON.stringify(file)}) is not an executable file; check its permissions (chmod +x)`;
  }
  const searchPath = env.PATH ?? SHELL_DEFAULT_PATH;
  let foundNotExecutable: string | undefined;
  for (const dir of searchPath.split(':')) {
    const file = path.resolve(cwd, dir === '' ? '.' : dir, program);
    const verdict = await executable(file);
    if (verdict === 'ok') return undefined;
    if (verdict === 'not-executable') foundNotExecutable ??= file;
  }
  if (foundNotExecutable !== undefined) {
    return `EACCES: command ${name} was found at ${JSON.stringify(foundNotExecutable)} but is not executable; check its permissions (chmod +x)`;
  }
  return `ENOENT: command not found: ${name} is in no directory of the command's PATH (${searchPath}); install it or give its full path`;
}

async function executable(file: string): Promise<'ok' | 'missing' | 'not-executable'> {
  try {
    if (!(await stat(file)).isFile()) return 'not-executable';
  } catch {
    return 'missing';
  }
  try {
    await access(file, fsConstants.X_OK);
    return 'ok';
  } catch {
    return 'not-executable';
  }
}

function describeSpawnError(error: unknown, program: string): string {
  return `${errorCode(error)}: cannot start ${JSON.stringify(program)}: ${errorMessage(error)}`;
}

function errorCode(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' ? code : 'ESPAWN';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
