import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** PostgreSQL of the machine (DESIGN §0): trust auth, database `test`. */
export const PG_BASE_URL = process.env.EAS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Redis of the machine. */
export const REDIS_URL = process.env.EAS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** With EAS_REQUIRE_SERVICES=1 (CI), a missing server fails the suite instead of skipping it. */
export const REQUIRE_SERVICES = process.env.EAS_REQUIRE_SERVICES === '1';

function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Whether PostgreSQL answers. When it does not: throws under EAS_REQUIRE_SERVICES=1, otherwise
 * prints why the suite is skipped and returns false.
 */
export async function postgresAvailable(): Promise<boolean> {
  const ok = await portOpen(5432);
  if (!ok) {
    const why = 'PostgreSQL does not answer on 127.0.0.1:5432';
    if (REQUIRE_SERVICES) throw new Error(`${why}, and EAS_REQUIRE_SERVICES=1 forbids skipping.`);
    console.warn(`skipping PostgreSQL suite: ${why}`);
  }
  return ok;
}

/** Same as {@link postgresAvailable} for Redis. */
export async function redisAvailable(): Promise<boolean> {
  const ok = await portOpen(6379);
  if (!ok) {
    const why = 'Redis does not answer on 127.0.0.1:6379';
    if (REQUIRE_SERVICES) throw new Error(`${why}, and EAS_REQUIRE_SERVICES=1 forbids skipping.`);
    console.warn(`skipping Redis suite: ${why}`);
  }
  return ok;
}

/**
 * A private PostgreSQL schema for one test: returns a URL whose connections use it as their
 * search_path, and a drop function. Tests never see each other's tables.
 */
export async function freshPostgresSchema(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { default: pg } = await import('pg');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const sep = PG_BASE_URL.includes('?') ? '&' : '?';
  const url = `${PG_BASE_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix = 'eas-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
