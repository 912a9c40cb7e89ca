import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  readdir,
  readFile,
  stat,
  truncate,
  utimes,
  writeFile,
  chmod,
  mkdir,
} from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalStorageDriver, type LocalStorageDriver } from '../../src/filestore/index.js';
import { tempDir } from '../helpers/services.js';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('LocalStorageDriver', () => {
  let dir: string;
  let remove: () => void;
  let driver: LocalStorageDriver;

  beforeEach(async () => {
    ({ dir, remove } = tempDir('eas-filestore-'));
    driver = await createLocalStorageDriver({ root: join(dir, 'files') });
  });

  afterEach(async () => {
    await driver.close();
    remove();
  });

  it('creates objects/ and tmp/ under the root', () => {
    expect(existsSync(join(dir, 'files', 'objects'))).toBe(true);
    expect(existsSync(join(dir, 'files', 'tmp'))).toBe(true);
    expect(driver.root).toBe(join(dir, 'files'));
  });

  it('stores an object at objects/<first 2 hex>/<other 62>, read-only', async () => {
    const key = sha('hello');
    await driver.put(key, Buffer.from('hello'));
    const path = join(dir, 'files', 'objects', key.slice(0, 2), key.slice(2));
    expect(driver.localPath(key)).toBe(path);
    expect(await readFile(path, 'utf8')).toBe('hello');
    expect((await stat(path)).mode & 0o777).toBe(0o444);
    expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
  });

  it('stores from a Buffer, a file path and a stream, and reads back by get and stream', async () => {
    const a = Buffer.from('from a buffer');
    const b = join(dir, 'b.txt');
    await writeFile(b, 'from a file');
    const c = 'from a stream';
    await driver.put(sha(a), a);
    await driver.put(sha('from a file'), b);
    await driver.put(sha(c), Readable.from([Buffer.from('from a '), Buffer.from('stream')]));

    expect((await driver.get(sha(a))).toString()).toBe('from a buffer');
    expect((await driver.get(sha('from a file'))).toString()).toBe('from a file');
    expect((await readAll(await driver.createReadStream(sha(c)))).toString()).toBe(c);
    expect(await driver.stat(sha(c))).toEqual({ size: c.length, storedAt: expect.any(Number) });
    expect((await stat(driver.localPath(sha('from a file')))).mode & 0o777).toBe(0o444);
  });

  it('answers NOT_FOUND, undefined and false for a key that is not stored', async () => {
    const key = sha('absent');
    await expect(driver.get(key)).rejects.toMatchObject({ code: 'NOT_FOUND', details: { key } });
    await expect(driver.createReadStream(key)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await driver.stat(key)).toBeUndefined();
    expect(await driver.delete(key)).toBe(false);
  });

  it('deletes an object', async () => {
    const key = sha('gone');
    await driver.put(key, Buffer.from('gone'));
    expect(await driver.delete(key)).toBe(true);
    expect(await driver.stat(key)).toBeUndefined();
    expect(await collect(driver.list())).toEqual([]);
  });

  it.each([
    ['uppercase hex', sha('x').toUpperCase()],
    ['63 characters', sha('x').slice(1)],
    ['a traversal', '../../../etc/passwd'],
    ['a key with a slash', `${sha('x').slice(0, 2)}/${sha('x').slice(3)}`],
    ['an empty key', ''],
  ])('rejects %s with PATH_INVALID on every operation', async (_what, key) => {
    await expect(driver.put(key, Buffer.from('x'))).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(driver.get(key)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(driver.createReadStream(key)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(driver.stat(key)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(driver.delete(key)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    expect(() => driver.localPath(key)).toThrow(/not a sha256 digest/);
    expect(await readdir(join(dir, 'files', 'objects'))).toEqual([]);
  });

  it('lists every key once, in ascending order, skipping files that are not objects', async () => {
    const keys = ['one', 'two', 'three', 'four', 'five'].map((s) => sha(s));
    for (const [i, key] of keys.entries())
      await driver.put(key, Buffer.from(['one', 'two', 'three', 'four', 'five'][i]!));
    await writeFile(join(dir, 'files', 'objects', 'README'), 'not an object');
    await mkdir(join(dir, 'files', 'objects', 'zz'));
    await writeFile(join(dir, 'files', 'objects', keys[0]!.slice(0, 2), 'junk'), 'not an object');
    expect(await collect(driver.list())).toEqual([...keys].sort());
  });

  it('leaves no object and no temporary file when a stream fails midway', async () => {
    const key = sha('never');
    const tmp = join(dir, 'files', 'tmp');
    let sawTemp: string[] = [];
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(256 * 1024, 1);
      // The bytes so far are in a temporary file, and nothing is visible under any key.
      sawTemp = await readdir(tmp);
      expect(await collect(driver.list())).toEqual([]);
      throw new Error('disk pulled');
    }
    await expect(driver.put(key, Readable.from(failing()))).rejects.toThrow('disk pulled');
    expect(sawTemp).toHaveLength(1);
    expect(await readdir(tmp)).toEqual([]);
    expect(await driver.stat(key)).toBeUndefined();
    expect(await readdir(join(dir, 'files', 'objects'))).toEqual([]);
  });

  it('leaves no temporary file when an object writer is aborted', async () => {
    const writer = await driver.openWriter();
    await writer.write(Buffer.from('half'));
    expect(await readdir(join(dir, 'files', 'tmp'))).toHaveLength(1);
    await writer.abort();
    await writer.abort();
    expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
    await expect(writer.write(Buffer.from('more'))).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('rejects a missing source file with NOT_FOUND and leaves nothing behind', async () => {
    await expect(driver.put(sha('x'), join(dir, 'missing.txt'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
    expect(await readdir(join(dir, 'files', 'objects'))).toEqual([]);
  });

  it('keeps the stored file when the same key is put again', async () => {
    const key = sha('same');
    await driver.put(key, Buffer.from('same'));
    const before = await stat(driver.localPath(key));
    await driver.put(key, Buffer.from('same'));
    await driver.put(key, Readable.from([Buffer.from('same')]));
    expect((await stat(driver.localPath(key))).ino).toBe(before.ino);
    expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
  });

  it('marks an object stored now when its key is put again, from a buffer, a path or a stream', async () => {
    const key = sha('again');
    await driver.put(key, Buffer.from('again'));
    const path = driver.localPath(key);
    const source = join(dir, 'again.txt');
    await writeFile(source, 'again');
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const putAgain of [
      () => driver.put(key, Buffer.from('again')),
      () => driver.put(key, source),
      () => driver.put(key, Readable.from([Buffer.from('again')])),
    ]) {
      await utimes(path, hourAgo, hourAgo);
      const t0 = Date.now();
      await putAgain();
      const stored = await driver.stat(key);
      expect(stored!.storedAt).toBeGreaterThanOrEqual(t0 - 1000);
      expect(stored!.size).toBe(5);
    }
  });

  describe('deleteIfIdle', () => {
    it('removes an object stored before `since`, leaving nothing in tmp/', async () => {
      const key = sha('idle');
      await driver.put(key, Buffer.from('idle'));
      const hourAgo = new Date(Date.now() - 3600_000);
      await utimes(driver.localPath(key), hourAgo, hourAgo);
      expect(await driver.deleteIfIdle(key, Date.now() - 60_000)).toBe('deleted');
      expect(await driver.stat(key)).toBeUndefined();
      expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
      expect(await driver.deleteIfIdle(key, Date.now())).toBe('missing');
    });

    it('keeps an object put again after `since`, though it was written before', async () => {
      const key = sha('wanted');
      await driver.put(key, Buffer.from('wanted'));
      const hourAgo = new Date(Date.now() - 3600_000);
      await utimes(driver.localPath(key), hourAgo, hourAgo);
      const since = Date.now() - 60_000;
      // Another writer stores the same bytes (its version not yet recorded).
      await driver.put(key, Buffer.from('wanted'));
      expect(await driver.deleteIfIdle(key, since)).toBe('kept');
      expect((await driver.get(key)).toString()).toBe('wanted');
      expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
    });

    it('loses no object when puts of its key race with it', async () => {
      const content = Buffer.alloc(64 * 1024, 3);
      const key = sha(content);
      const ticks = async (n: number) => {
        for (let t = 0; t < n; t++) await new Promise((resolve) => setImmediate(resolve));
      };
      for (let i = 0; i < 60; i++) {
        await driver.put(key, content);
        const old = new Date(Date.now() - 3600_000);
        await utimes(driver.localPath(key), old, old);
        const since = Date.now() - 60_000;
        // A put racing the removal, started a few turns of the event loop apart so that it
        // lands before, inside and after the removal's look: whatever the order, once both are
        // done the key is stored whole (a put after the look writes a new copy; one before it
        // keeps the object).
        const [outcome] = await Promise.all([
          driver.deleteIfIdle(key, since),
          ticks(i % 6).then(() =>
            driver.put(key, i % 2 === 0 ? content : Readable.from([content])),
          ),
        ]);
        expect(['deleted', 'kept']).toContain(outcome);
        expect(sha(await driver.get(key))).toBe(key);
      }
      expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
    });
  });

  it('replaces a stored file of the wrong size (a truncated object) when its key is put again', async () => {
    const key = sha('complete content');
    await driver.put(key, Buffer.from('complete content'));
    await chmod(driver.localPath(key), 0o644);
    await truncate(driver.localPath(key), 3);
    await driver.put(key, Buffer.from('complete content'));
    expect((await driver.get(key)).toString()).toBe('complete content');
    expect((await stat(driver.localPath(key))).mode & 0o777).toBe(0o444);
  });

  it('stores one whole object when several puts of one key race', async () => {
    const content = Buffer.alloc(1024 * 1024, 7);
    const key = sha(content);
    await Promise.all(Array.from({ length: 8 }, () => driver.put(key, Readable.from([content]))));
    expect(await collect(driver.list())).toEqual([key]);
    expect(sha(await driver.get(key))).toBe(key);
    expect(await readdir(join(dir, 'files', 'tmp'))).toEqual([]);
  });

  it('removes stale temporary files left by a killed writer when created, and keeps fresh ones', async () => {
    const tmp = join(dir, 'files', 'tmp');
    await writeFile(join(tmp, 'old.part'), 'left by a crash');
    await writeFile(join(tmp, 'fresh.part'), 'being written');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(join(tmp, 'old.part'), twoDaysAgo, twoDaysAgo);
    const again = await createLocalStorageDriver({
      root: join(dir, 'files'),
      staleTempAfter: '1d',
    });
    expect(await readdir(tmp)).toEqual(['fresh.part']);
    await again.close();
  });

  it('rejects every call after close with CLOSED', async () => {
    await driver.close();
    await driver.close();
    await expect(driver.put(sha('x'), Buffer.from('x'))).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(driver.get(sha('x'))).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(collect(driver.list())).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => driver.localPath(sha('x'))).toThrow(/closed/);
  });

  it('rejects bad options with CONFIG_INVALID', async () => {
    await expect(createLocalStorageDriver({ root: '  ' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(
      createLocalStorageDriver({ root: dir, staleTempAfter: 'soon' }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(
      createLocalStorageDriver({ root: dir, bucket: 'x' } as unknown as { root: string }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('bucket') });
  });
});
