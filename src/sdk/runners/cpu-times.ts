import { constants } from 'node:os';
import { readdir, readFile } from 'node:fs/promises';

/**
 * Clock ticks per second in `/proc/<pid>/stat`. Linux reports these fields in USER_HZ, which
 * the kernel fixes at 100 for user space on every architecture we run on (x86-64, arm64),
 * whatever the kernel's internal HZ. Node cannot call `sysconf(_SC_CLK_TCK)`, so the value is
 * a constant; a tick is therefore 10 ms, the resolution of every CPU figure read from /proc.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** CPU times of one process, read from `/proc/<pid>/stat`, in milliseconds. */
export interface ProcStat {
  /** The process id. */
  pid: number;
  /** The parent's process id. */
  ppid: number;
  /** The process group id. */
  pgrp: number;
  /** Start time after boot, in clock ticks: with `pid`, identifies one process across pid reuse. */
  startTicks: number;
  /** Single-letter state (`R`, `S`, `Z` for a zombie…). */
  state: string;
  /** User + system CPU of the process itself. */
  selfMs: number;
  /** User + system CPU of the children it has waited for. */
  childrenMs: number;
}

/**
 * Parses the text of `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last `)`. Returns `undefined` for text that is not
 * a stat line.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close === -1 || !Number.isInteger(pid)) return undefined;
  // fields[0] is field 3 (state) of proc(5); field N is at index N - 3.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const num = (field: number): number => Number(fields[field - 3]);
  const [ppid, pgrp, utime, stime, cutime, cstime, start] = [4, 5, 14, 15, 16, 17, 22].map(num);
  const values = [ppid, pgrp, utime, stime, cutime, cstime, start] as number[];
  if (values.some((v) => !Number.isFinite(v))) return undefined;
  const msPerTick = 1000 / CLOCK_TICKS_PER_SECOND;
  return {
    pid,
    ppid: ppid as number,
    pgrp: pgrp as number,
    startTicks: start as number,
    state: fields[0] ?? '?',
    selfMs: ((utime as number) + (stime as number)) * msPerTick,
    childrenMs: ((cutime as number) + (cstime as number)) * msPerTick,
  };
}

/** Reads and parses `/proc/<pid>/stat`; `undefined` when the process is gone or /proc is absent. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The pids of the direct children of `pid`, from `/proc/<pid>/task/<pid>/children` (Linux ≥ 3.5
 * with CONFIG_PROC_CHILDREN, as on every mainstream distribution), falling back to a scan of
 * /proc when that file is missing. Empty when nothing can be read.
 */
export async function readChildPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number);
  } catch {
    return (await scanProcesses()).filter((s) => s.ppid === pid).map((s) => s.pid);
  }
}

/**
 * Every process of process group `pgrp`, by a scan of /proc. Rejects when /proc cannot be listed
 * (not Linux), so a caller can fall back to signalling the whole group.
 */
export async function listProcessGroup(pgrp: number): Promise<ProcStat[]> {
  await readdir('/proc');
  return (await scanProcesses()).filter((s) => s.pgrp === pgrp);
}

async function scanProcesses(): Promise<ProcStat[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const stats = await Promise.all(
    names.filter((n) => /^\d+$/.test(n)).map((n) => readProcStat(Number(n))),
  );
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/**
 * Parses the output of the POSIX `times` builtin, whose last two lines are the shell's own
 * user/system time and its children's (`0m1.234000s 0m0.010000s` in dash, `0m1.234s 0m0.010s`
 * in bash). Returns the children's user + system time in milliseconds, or `undefined` when the
 * text holds no such pair of lines. Lines before the pair (shell diagnostics) are ignored.
 */
export function parseTimesOutput(text: string): number | undefined {
  const pattern = /^(\d+)m(\d+(?:\.\d+)?)s\s+(\d+)m(\d+(?:\.\d+)?)s$/;
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => pattern.test(l));
  const children = lines.length >= 2 ? lines[lines.length - 1] : undefined;
  const m = children === undefined ? null : pattern.exec(children);
  if (m === null) return undefined;
  const toMs = (minutes: string | undefined, seconds: string | undefined): number =>
    Number(minutes) * 60_000 + Number(seconds) * 1000;
  return Math.round(toMs(m[1], m[2]) + toMs(m[3], m[4]));
}

/**
 * The name of signal number `n` (`11` → `'SIGSEGV'`) from `os.constants.signals`, or
 * `undefined` when the number is not a signal of this platform.
 */
export function signalName(n: number): string | undefined {
  for (const [name, value] of Object.entries(constants.signals)) {
    if (value === n) return name;
  }
  return undefined;
}
