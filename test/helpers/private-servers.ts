/**
 * Private PostgreSQL and Redis servers for fault tests: each in a temporary directory on a free
 * port, so a test can kill and restart it without touching the shared servers. PostgreSQL
 * refuses to run as root, so under root the server runs as the `postgres` user (runuser).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (free when asked; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not open port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort() : [];
  const v = versions.at(-1);
  if (v === undefined) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return join(root, v, 'bin');
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as `postgres` when this process is root. */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  const path = join(pgBin(), bin);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

/** Whether a private PostgreSQL can be started here (initdb present). */
export function privatePostgresPossible(): boolean {
  try {
    pgBin();
    return true;
  } catch {
    return false;
  }
}

/** A PostgreSQL server of one's own. */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  url: string;
  port: number;
  /** Stops the server: `fast` (clients disconnected) or `immediate` (like a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/** initdb in a temporary directory and start the server on a free port. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'eas-pg-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const [initCmd, initArgs] = pgCommand('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'ignore' });
  const port = await freePort();
  const log = join(dir, 'server.log');
  const ctl = (args: string[]): void => {
    const [cmd, a] = pgCommand('pg_ctl', args);
    execFileSync(cmd, a, { stdio: 'ignore' });
  };
  const start = async (): Promise<void> => {
    ctl([
      '-D',
      data,
      '-l',
      log,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      '-w',
      'start',
    ]);
    await waitForPort(port, 30_000, 'PostgreSQL');
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    try {
      ctl(['-D', data, '-m', mode, '-w', 'stop']);
    } catch {
      // Already stopped.
    }
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    destroy: async () => {
      await stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis server of one's own, without persistence (a restart loses every key). */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`, with `:<password>@` when it has one. */
  url: string;
  port: number;
  /** Kills the server (SIGKILL): its data is gone. */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Starts `redis-server` on a free port with no persistence (and a password if given). */
export async function startPrivateRedis(
  options: { password?: string } = {},
): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'eas-redis-'));
  if (asRoot) chownSync(dir, 0, 0);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...(options.password ? ['--requirepass', options.password] : []),
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, 10_000, 'Redis');
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    url: `redis://${options.password ? `:${options.password}@` : ''}127.0.0.1:${port}`,
    port,
    kill,
    start,
    destroy: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
