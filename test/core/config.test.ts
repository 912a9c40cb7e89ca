import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import { loadConfig, InvalidInputError, DEFAULT_LEASE_MS } from '../../src/core/index.js';
import { tempDir } from '../helpers/services.js';

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
function dir(): string {
  const t = tempDir();
  dirs.push(t);
  return t.dir;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error('no error');
}

describe('loadConfig', () => {
  it('defaults to an embedded pipeline under .eas/', () => {
    const d = dir();
    const c = loadConfig({ cwd: d, env: {} });
    expect(c.databaseUrl).toBe(`sqlite:${join(d, '.eas/eas.db')}`);
    expect(c.filestoreRoot).toBe(join(d, '.eas/files'));
    expect(c.redisUrl).toBeUndefined();
    expect(c.leaseMs).toBe(DEFAULT_LEASE_MS);
  });

  it('layers eas.yaml < EAS_* < flags, with paths relative to eas.yaml', () => {
    const d = dir();
    writeFileSync(
      join(d, 'eas.yaml'),
      'database: { url: sqlite:db/file.db }\nlogLevel: error\nworker: { concurrency: 8 }\n',
    );
    const fromFile = loadConfig({ cwd: d, env: {} });
    expect(fromFile.databaseUrl).toBe(`sqlite:${join(d, 'db/file.db')}`);
    expect(fromFile.logLevel).toBe('error');
    expect(fromFile.workerConcurrency).toBe(8);
    const fromEnv = loadConfig({
      cwd: d,
      env: { EAS_LOG_LEVEL: 'debug', EAS_DATABASE_URL: 'postgres://u:secret@h/db' },
    });
    expect(fromEnv.logLevel).toBe('debug');
    expect(fromEnv.databaseUrl).toBe('postgres://u:secret@h/db');
    const fromFlags = loadConfig({
      cwd: d,
      env: { EAS_LOG_LEVEL: 'debug' },
      overrides: { logLevel: 'silent', workerConcurrency: 2 },
    });
    expect(fromFlags.logLevel).toBe('silent');
    expect(fromFlags.workerConcurrency).toBe(2);
  });

  it('reads a secret from a *_FILE variable', () => {
    const d = dir();
    writeFileSync(join(d, 'url'), 'postgres://u:pw@db/eas\n');
    expect(loadConfig({ cwd: d, env: { EAS_DATABASE_URL_FILE: join(d, 'url') } }).databaseUrl).toBe(
      'postgres://u:pw@db/eas',
    );
  });

  it('reports every bad value at once with its place, and never prints a password', () => {
    const d = dir();
    writeFileSync(
      join(d, 'eas.yaml'),
      'worker: { concurrency: -1 }\nqueue: { leaseMs: soon }\ncolour: blue\n',
    );
    const p = problems(() =>
      loadConfig({
        cwd: d,
        env: { EAS_LOG_LEVEL: 'loud', EAS_DATABASE_URL: 'mysql://root:hunter2@x/db' },
      }),
    );
    const text = p.join('\n');
    expect(text).toContain('worker.concurrency');
    expect(text).toContain('queue.leaseMs');
    expect(text).toContain('colour');
    expect(text).toContain('EAS_LOG_LEVEL');
    expect(text).toContain('EAS_DATABASE_URL');
    expect(text).not.toContain('hunter2');
  });

  it('names the line and column of a YAML syntax error', () => {
    const d = dir();
    writeFileSync(join(d, 'eas.yaml'), 'database:\n  url: [unclosed\n');
    expect(problems(() => loadConfig({ cwd: d, env: {} }))[0]).toMatch(/eas\.yaml:\d+:\d+/);
  });

  it('fails clearly when EAS_CONFIG names a missing file', () => {
    expect(problems(() => loadConfig({ cwd: dir(), env: { EAS_CONFIG: 'nope.yaml' } }))[0]).toMatch(
      /^EAS_CONFIG: no file/,
    );
  });
});
