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
