import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of `/proc/<pid>/stat`'s CPU times, 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/**
 * The fields of `/proc/<pid>/stat` after the command name (which, in parentheses, may hold
 * spaces), so field N of the line is index N − 3; undefined once the process has exited.
 */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime (fields 14–15), with cutime + cstime (16–17) when `reaped`, in ms. */
function cpuOf(fields: readonly string[], reaped: boolean): number | undefined {
  const own = Number(fields[11]) + Number(fields[12]);
  const ticks = reaped ? own + Number(fields[13]) + Number(fields[14]) : own;
  return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
}

/**
 * CPU time (user + system) of one process so far, ms; undefined once it has exited. With
 * `reaped`, that of its children it has waited for too: PostgreSQL's postmaster reaps every
 * backend, so a connection closed meanwhile still counts.
 */
export function processCpuMs(pid: number, reaped = false): number | undefined {
  const fields = statFields(pid);
  return fields && cpuOf(fields, reaped);
}

/** Processes whose command name (`/proc/<pid>/comm`) is `name`, e.g. every PostgreSQL backend. */
export function pidsNamed(name: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === name) pids.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Groups of processes whose CPU a run window counts: workers, one group per server. */
export type CpuGroups = Record<string, () => number[]>;

/** A snapshot of each group's processes' CPU times, by pid and start time (see {@link cpuWindow}). */
type Snapshot = Record<string, Map<string, number>>;

function snapshot(groups: CpuGroups, reaped: boolean): Snapshot {
  const out: Snapshot = {};
  for (const [group, pids] of Object.entries(groups)) {
    const m = new Map<string, number>();
    for (const pid of pids()) {
      const fields = statFields(pid);
      const ms = fields && cpuOf(fields, reaped);
      // With its start time (field 22), a pid names one process for good.
      if (fields && ms !== undefined) m.set(`${pid}@${fields[19]}`, ms);
    }
    out[group] = m;
  }
  return out;
}

/** What {@link cpuWindow} measured. */
export interface CpuWindowResult {
  /** CPU ms by group. */
  ms: Record<string, number>;
  /** Groups of which no process was seen, at the window's start or end: their 0 means nothing. */
  unseen: string[];
}

/**
 * Measures the CPU each group of processes spends between the call and the returned
 * `close()`, ms. A process that appeared meanwhile (a server backend forked for a new
 * connection) counts whole; one that exited meanwhile is lost, unless `reaped` and its parent
 * is in the group (see {@link processCpuMs}; a child that existed before the window and exited
 * in it then counts whole, its CPU before the window too). A server is shared with other users
 * of the machine, so this is the server's whole work in the window, this bench's and anyone
 * else's.
 */
export function cpuWindow(groups: CpuGroups, reaped = false): { close(): CpuWindowResult } {
  const before = snapshot(groups, reaped);
  return {
    close() {
      const after = snapshot(groups, reaped);
      const ms: Record<string, number> = {};
      const unseen: string[] = [];
      for (const [group, m] of Object.entries(after)) {
        let sum = 0;
        for (const [key, cpu] of m) sum += cpu - (before[group]?.get(key) ?? 0);
        ms[group] = sum;
        if (m.size === 0 || before[group]?.size === 0) unseen.push(group);
      }
      return { ms, unseen };
    },
  };
}
