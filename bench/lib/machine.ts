import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, freemem, hostname, loadavg, platform, release, totalmem } from 'node:os';
import Database from 'better-sqlite3';

/** Facts about the machine and runtime a bench figure was measured on. */
export interface MachineFacts {
  date: string;
  node: string;
  v8: string;
  platform: string;
  arch: string;
  osRelease: string;
  host: string;
  cpuCount: number;
  cpuModel: string;
  totalMemoryMb: number;
  freeMemoryMb: number;
  /** 1-minute load average when the facts were taken (another job on the box skews figures). */
  loadAverage1m: number;
  betterSqlite3: string;
  sqlite: string;
  /** Set by the bench runner: what other processes took while the scenario ran. */
  otherWork?: OtherWork;
}

const require = createRequire(import.meta.url);

/** Reads the facts now (cheap: no benchmark work). */
export function machineFacts(): MachineFacts {
  const list = cpus();
  const db = new Database(':memory:');
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  const pkg = require('better-sqlite3/package.json') as { version: string };
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: platform(),
    arch: arch(),
    osRelease: release(),
    host: hostname(),
    cpuCount: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    freeMemoryMb: Math.round(freemem() / 2 ** 20),
    loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
    betterSqlite3: pkg.version,
    sqlite,
  };
}

/** Machine-wide CPU time so far (Linux `/proc/stat`), ms; undefined elsewhere. */
export interface CpuTimes {
  /** Time any CPU spent running anything (not idle, not waiting for I/O). */
  busyMs: number;
  /** Time the hypervisor gave our virtual CPUs to someone else. */
  stealMs: number;
}

/** USER_HZ: the unit of `/proc/stat`, 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/** Reads machine-wide CPU time (see {@link CpuTimes}). */
export function cpuTimes(): CpuTimes | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const ms = (ticks: number | undefined) => ((ticks ?? 0) * 1000) / TICKS_PER_SECOND;
  return {
    busyMs: ms(user) + ms(nice) + ms(system) + ms(irq) + ms(softirq),
    stealMs: ms(steal),
  };
}

/** What else the machine did while a bench job ran. */
export interface OtherWork {
  /** Mean CPUs busy with processes other than the bench's own (1 = a whole core taken). */
  otherCores: number;
  /** Mean CPUs stolen by the hypervisor. */
  stealCores: number;
}

/**
 * Compares machine-wide CPU time between `before` and now with the bench's own CPU time
 * (`ownCpuMs`, its children included) over `elapsedMs`.
 */
export function otherWork(
  before: CpuTimes | undefined,
  ownCpuMs: number,
  elapsedMs: number,
): OtherWork | undefined {
  const after = cpuTimes();
  if (!before || !after || elapsedMs <= 0) return undefined;
  const round2 = (v: number) => Math.round(v * 100) / 100;
  return {
    otherCores: round2(Math.max(0, after.busyMs - before.busyMs - ownCpuMs) / elapsedMs),
    stealCores: round2((after.stealMs - before.stealMs) / elapsedMs),
  };
}
