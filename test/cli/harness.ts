/**
 * Running the `eas` CLI from tests: in-process through `main()` (fast; for everything whose
 * point is not the process itself) or as the real binary `node bin/eas.js` in a child process
 * (exit codes of the binary, environment variables, SIGKILL). Both run with a clean
 * environment: the test process's own, without any `EAS_*` variable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/index.js';
import type { Output } from '../../src/cli/format.js';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The `eas` binary. */
export const EAS_BIN = join(REPO, 'bin', 'eas.js');
/** Chain fixtures. */
export const CHAINS = join(REPO, 'test', 'fixtures', 'chains');

/** What one CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `process.env` without `EAS_*`, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EAS_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Removes every `EAS_*` variable from this process's environment, for in-process runs of
 * `main()` (its configuration reads `process.env`). Call it in `beforeAll`.
 */
export function dropEasVariables(): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('EAS_')) delete process.env[k];
}

/** Runs `eas <argv>` in this process with `cwd`, collecting what it prints. */
export async function runMain(argv: string[], cwd: string): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = {
    out: (t) => out.push(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => err.push(t.endsWith('\n') ? t : `${t}\n`),
    isTTY: false,
  };
  const code = await main(argv, output, cwd);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** Runs the real binary `node bin/eas.js <argv>` with `cwd` and a clean environment. */
export function runEas(
  argv: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnEas(argv, cwd, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }),
    );
  });
}

/** Starts the real binary without waiting for it (to signal it). */
export function spawnEas(
  argv: string[],
  cwd: string,
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(process.execPath, [EAS_BIN, ...argv], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A long-running `eas` process (a daemon) with what it printed to stderr so far. */
export interface Daemon {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves to the exit code (128 when killed by a signal). */
  exited: Promise<number>;
}

/** Starts `eas <argv>` as a daemon, collecting its stderr. */
export function startDaemon(argv: string[], cwd: string, env: Record<string, string>): Daemon {
  const child = spawnEas(argv, cwd, env);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout!.resume();
  const exited = new Promise<number>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : -1))),
  );
  return { child, stderr: () => err, exited };
}

/** `stdout` of a successful `--json` command, parsed. */
export function json<T = unknown>(r: CliResult): T {
  if (r.code !== 0) throw new Error(`exit code ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A temporary directory, and a function removing it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `eas-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes `registry.yaml` declaring the external commands `produce` and `consume` (the shell
 * scripts in test/fixtures/chains/e2e, run with this Node).
 */
export function writeE2eRegistry(dir: string): void {
  const scripts = join(CHAINS, 'e2e');
  const node = JSON.stringify(process.execPath);
  writeFileSync(
    join(dir, 'registry.yaml'),
    [
      'taskTypes:',
      '  produce:',
      `    command: ["/bin/sh", ${JSON.stringify(join(scripts, 'produce.sh'))}]`,
      `    env: { NODE: ${node} }`,
      '    outputs: { required: [lightcurve] }',
      '  consume:',
      `    command: ["/bin/sh", ${JSON.stringify(join(scripts, 'consume.sh'))}]`,
      `    env: { NODE: ${node} }`,
      '',
    ].join('\n'),
  );
}

/** Writes `eas.yaml` (SQLite and files under .eas/, the registry of {@link writeE2eRegistry}). */
export function writeE2eConfig(dir: string): void {
  writeE2eRegistry(dir);
  writeFileSync(
    join(dir, 'eas.yaml'),
    [
      'database:',
      '  url: sqlite:.eas/eas.db',
      'filestore:',
      '  root: .eas/files',
      'registry: registry.yaml',
      'logLevel: warn',
      '',
    ].join('\n'),
  );
}

/** The SQLite file of a pipeline made by `writeE2eConfig` or `eas init` in `dir`. */
export function dbFile(dir: string): string {
  return join(dir, '.eas', 'eas.db');
}

/** Runs `fn` on the pipeline's SQLite file, opened read-only. */
export function withDb<T>(dir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(dbFile(dir), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

/** `count(*)` of every `eas_*` table, and the id counters: what "changes nothing" compares. */
export function tableSnapshot(dir: string): Record<string, number> {
  return withDb(dir, (db) => {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'eas%'")
      .pluck()
      .all() as string[];
    const snap: Record<string, number> = {};
    for (const t of tables.sort())
      snap[t] = db.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number;
    for (const row of db.prepare('SELECT name, value FROM eas_counters').all() as {
      name: string;
      value: number;
    }[])
      snap[`eas_counters.${row.name}`] = Number(row.value);
    return snap;
  });
}

/** The eight task states, in the order of DESIGN §4. */
export const STATES = [
  'waiting',
  'queued',
  'running',
  'stalled',
  'done',
  'failed',
  'blocked',
  'cancelled',
] as const;

/** State counts with every state 0 except those given. */
export function counts(nonZero: Partial<StateCounts>): StateCounts {
  return Object.fromEntries(STATES.map((s) => [s, nonZero[s] ?? 0])) as StateCounts;
}

/** Tasks per state. */
export type StateCounts = Record<(typeof STATES)[number], number>;

/** The `eas status --json` document. */
export interface StatusJson {
  jobs: {
    id: number;
    name: string;
    status: string;
    tasks: number;
    counts: StateCounts;
  }[];
  taskTypes: Record<string, StateCounts>;
  totals: StateCounts;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ with tsup when dist/cli/index.js is missing or older than a file of src/, so the
 * binary runs the code under test. Test files run in parallel processes: a lock directory makes
 * them build once, one after the other.
 */
export async function ensureBuilt(): Promise<void> {
  const entry = join(REPO, 'dist', 'cli', 'index.js');
  const stale = (): boolean => {
    try {
      return statSync(entry).mtimeMs < newestMtime(join(REPO, 'src'));
    } catch {
      return true;
    }
  };
  if (!stale()) return;
  const lock = join(tmpdir(), 'plato-eas-e2e-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock older than two minutes was left by a dead one.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`waited 2 minutes for the build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!stale()) return;
    const r = spawnSync(
      process.execPath,
      [join(REPO, 'node_modules', 'tsup', 'dist', 'cli-default.js')],
      {
        cwd: REPO,
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`npx tsup failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
