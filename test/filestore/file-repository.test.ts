import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  createFileRepository,
  createLocalStorageDriver,
  FileRepository,
  isObjectKey,
  type FileRepositoryOptions,
  type LocalStorageDriver,
  type StorageDriver,
} from '../../src/filestore/index.js';
import { fileRepositoryOptionsSchema } from '../../src/filestore/options.js';
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

/**
 * A local driver with its files hidden (no `localPath`, no `openWriter`): stands in for a
 * driver that keeps objects elsewhere, such as an object store, so the repository's paths for
 * such drivers run against real files.
 */
function withoutLocalFiles(inner: LocalStorageDriver): StorageDriver {
  return {
    name: 'hidden-local',
    put: (key, source) => inner.put(key, source),
    get: (key) => inner.get(key),
    createReadStream: (key) => inner.createReadStream(key),
    stat: (key) => inner.stat(key),
    delete: (key) => inner.delete(key),
    list: () => inner.list(),
    close: () => inner.close(),
  };
}

describe('FileRepository', () => {
  let dir: string;
  let remove: () => void;
  let root: string;
  let files: FileRepository;

  beforeEach(async () => {
    ({ dir, remove } = tempDir('eas-filestore-'));
    root = join(dir, 'files');
    files = await createFileRepository({ root });
  });

  afterEach(async () => {
    await files.close();
    remove();
  });

  it('round-trips a buffer, a file and a stream', async () => {
    const a = await files.putBuffer(Buffer.from('time flux flag\n'));
    const path = join(dir, 'lc.txt');
    await writeFile(path, '0 1.0 0 0.01\n900 0.999 0 0.01\n');
    const b = await files.putFile(path);
    const c = await files.putStream(
      Readable.from([Buffer.from('part one, '), Buffer.from('part two')]),
    );

    expect((await files.get(a.key)).toString()).toBe('time flux flag\n');
    expect(await files.get(b.key)).toEqual(await readFile(path));
    expect((await readAll(await files.createReadStream(c.key))).toString()).toBe(
      'part one, part two',
    );
    expect(await files.stat(c.key)).toEqual({
      size: 'part one, part two'.length,
      storedAt: expect.any(Number),
    });
  });

  it('returns sha256 and size equal to crypto.createHash of the content, with key = sha256', async () => {
    const content = randomBytes(300_000);
    const path = join(dir, 'random.bin');
    await writeFile(path, content);
    for (const stored of [
      await files.putBuffer(content),
      await files.putFile(path),
      await files.putStream(Readable.from([content.subarray(0, 1000), content.subarray(1000)])),
    ]) {
      expect(stored).toEqual({ key: sha(content), sha256: sha(content), size: content.length });
      expect(isObjectKey(stored.key)).toBe(true);
    }
  });

  it('stores empty content', async () => {
    const stored = await files.putStream(Readable.from([]));
    expect(stored).toEqual({ key: sha(''), sha256: sha(''), size: 0 });
    expect(await files.get(stored.key)).toEqual(Buffer.alloc(0));
  });

  it('takes strings from a stream as UTF-8', async () => {
    const stored = await files.putStream(Readable.from(['δ flux ', 'line']));
    expect(stored.sha256).toBe(sha(Buffer.from('δ flux line', 'utf8')));
  });

  it('stores the same content once, however it is put', async () => {
    const path = join(dir, 'same.txt');
    await writeFile(path, 'same content');
    const first = await files.putBuffer(Buffer.from('same content'));
    const inode = (await stat(files.localPath(first.key))).ino;
    const again = [
      await files.putFile(path),
      await files.putStream(Readable.from([Buffer.from('same '), Buffer.from('content')])),
      await files.putBuffer(Buffer.from('same content')),
    ];
    expect(again.map((s) => s.key)).toEqual([first.key, first.key, first.key]);
    expect(await collect(files.list())).toEqual([first.key]);
    expect((await stat(files.localPath(first.key))).ino).toBe(inode);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('lists every stored key once', async () => {
    const keys = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        files.putBuffer(Buffer.from(`object ${i}`)).then((s) => s.key),
      ),
    );
    expect(await collect(files.list())).toEqual([...keys].sort());
  });

  it('leaves no object and no temporary file when the stream fails midway, and rethrows its error', async () => {
    let visibleMidway: string[] | undefined;
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(512 * 1024);
      yield randomBytes(512 * 1024);
      visibleMidway = await collect(files.list());
      throw new Error('instrument link dropped');
    }
    await expect(files.putStream(Readable.from(failing()))).rejects.toThrow(
      'instrument link dropped',
    );
    expect(visibleMidway).toEqual([]);
    expect(await collect(files.list())).toEqual([]);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    expect(await readdir(join(root, 'objects'))).toEqual([]);
  });

  it('rejects a stream of values that are not bytes with USAGE, leaving nothing', async () => {
    const objects = Readable.from([{ flux: 1 }]);
    await expect(files.putStream(objects as unknown as Readable)).rejects.toMatchObject({
      code: 'USAGE',
    });
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('streams a 50 MB input through to the store', async () => {
    const chunk = 1024 * 1024;
    const expected = createHash('sha256');
    let produced = 0;
    async function* fiftyMegabytes(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 50; i += 1) {
        const bytes = randomBytes(chunk);
        expected.update(bytes);
        produced += bytes.length;
        yield bytes;
      }
    }
    const stored = await files.putStream(Readable.from(fiftyMegabytes()));
    expect(produced).toBe(50 * chunk);
    expect(stored).toEqual({ key: expected.digest('hex'), sha256: stored.key, size: 50 * chunk });
    expect(await files.stat(stored.key)).toEqual({
      size: 50 * chunk,
      storedAt: expect.any(Number),
    });
    expect(await files.verify(stored.key)).toBe(true);
  });

  it('putFile rejects a missing file with NOT_FOUND', async () => {
    await expect(files.putFile(join(dir, 'nope.gz'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('nope.gz'),
    });
  });

  it('putBuffer rejects a value that is not bytes with USAGE', async () => {
    await expect(files.putBuffer('text' as unknown as Buffer)).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('verify is true for an intact object and false once a byte of it changes', async () => {
    const { key } = await files.putBuffer(Buffer.from('0 1.0 0 0.01\n'));
    expect(await files.verify(key)).toBe(true);
    const path = files.localPath(key);
    await chmod(path, 0o644);
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from('9'), 0, 1, 0);
    await handle.close();
    expect(await files.verify(key)).toBe(false);
  });

  it('verify rejects with NOT_FOUND for a key that is not stored', async () => {
    await expect(files.verify(sha('absent'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('deletes an object', async () => {
    const { key } = await files.putBuffer(Buffer.from('temporary'));
    expect(await files.delete(key)).toBe(true);
    expect(await files.delete(key)).toBe(false);
    expect(await files.stat(key)).toBeUndefined();
    await expect(files.get(key)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it.each(['get', 'createReadStream', 'stat', 'verify', 'delete', 'materialize'] as const)(
    '%s rejects a key that is not a sha256 digest with PATH_INVALID',
    async (method) => {
      const call = (files[method] as (key: string, dest?: string) => Promise<unknown>).bind(files);
      await expect(call('../../etc/passwd', join(dir, 'x'))).rejects.toMatchObject({
        code: 'PATH_INVALID',
        where: `FileRepository.${method}`,
      });
    },
  );

  it('localPath gives the stored file under <root>/objects', async () => {
    const { key } = await files.putBuffer(Buffer.from('x'));
    expect(files.localPath(key)).toBe(join(root, 'objects', key.slice(0, 2), key.slice(2)));
    expect(() => files.localPath('nope')).toThrow(
      expect.objectContaining({ code: 'PATH_INVALID' }),
    );
  });

  describe('materialize', () => {
    it('hard-links the stored file into a new directory, read-only', async () => {
      const { key } = await files.putBuffer(Buffer.from('input light curve'));
      const dest = join(dir, 'work', 'task-12', 'grid', 'lc.txt');
      expect(await files.materialize(key, dest)).toBe('link');
      const [placed, stored] = await Promise.all([stat(dest), stat(files.localPath(key))]);
      expect(placed.ino).toBe(stored.ino);
      expect(placed.mode & 0o777).toBe(0o444);
      expect(await readFile(dest, 'utf8')).toBe('input light curve');
    });

    it('replaces an existing file, and leaves no temporary file when materialized twice', async () => {
      const { key } = await files.putBuffer(Buffer.from('new'));
      const work = join(dir, 'work');
      const dest = join(work, 'lc.txt');
      await files.materialize((await files.putBuffer(Buffer.from('old'))).key, dest);
      expect(await files.materialize(key, dest)).toBe('link');
      expect(await files.materialize(key, dest)).toBe('link');
      expect(await readFile(dest, 'utf8')).toBe('new');
      expect(await readdir(work)).toEqual(['lc.txt']);
    });

    it('rejects with NOT_FOUND for a key that is not stored, placing nothing', async () => {
      const work = join(dir, 'work');
      await expect(files.materialize(sha('absent'), join(work, 'x'))).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      expect(await readdir(work)).toEqual([]);
    });

    it('copies when the destination is on another filesystem (/dev/shm)', async (context) => {
      const rootDevice = (await stat(root)).dev;
      const shm = existsSync('/dev/shm') ? (await stat('/dev/shm')).dev : rootDevice;
      if (shm === rootDevice) {
        context.skip('no second filesystem here: /dev/shm is missing or on the same device');
      }
      const other = await mkdtemp('/dev/shm/eas-filestore-');
      try {
        const { key } = await files.putBuffer(Buffer.from('crosses devices'));
        const dest = join(other, 'lc.txt');
        expect(await files.materialize(key, dest)).toBe('copy');
        const placed = await stat(dest);
        expect(placed.ino).not.toBe((await stat(files.localPath(key))).ino);
        expect(placed.mode & 0o777).toBe(0o444);
        expect(await readFile(dest, 'utf8')).toBe('crosses devices');
        expect(await readdir(other)).toEqual(['lc.txt']);
      } finally {
        await rm(other, { recursive: true, force: true });
      }
    });
  });

  it('rejects every call after close with CLOSED; close is idempotent', async () => {
    const { key } = await files.putBuffer(Buffer.from('x'));
    await files.close();
    await files.close();
    await expect(files.putBuffer(Buffer.from('y'))).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(files.get(key)).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(collect(files.list())).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => files.localPath(key)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('closes itself and its driver at the end of an `await using` block', async () => {
    let escaped: FileRepository | undefined;
    {
      await using scoped = await createFileRepository({ root: join(dir, 'scoped') });
      await scoped.putBuffer(Buffer.from('x'));
      escaped = scoped;
    }
    await expect(escaped.putBuffer(Buffer.from('y'))).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(escaped.driver.stat(sha('x'))).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('FileRepository with a driver that keeps no local files', () => {
  let dir: string;
  let remove: () => void;
  let files: FileRepository;
  let inner: LocalStorageDriver;

  beforeEach(async () => {
    ({ dir, remove } = tempDir('eas-filestore-'));
    inner = await createLocalStorageDriver({ root: join(dir, 'store') });
    files = await createFileRepository({
      root: join(dir, 'repo'),
      driver: withoutLocalFiles(inner),
    });
  });

  afterEach(async () => {
    await files.close();
    remove();
  });

  it('stores files, buffers and streams through put, hashing first', async () => {
    const path = join(dir, 'a.txt');
    await writeFile(path, 'file content');
    const a = await files.putFile(path);
    const b = await files.putStream(
      Readable.from([Buffer.from('stream '), Buffer.from('content')]),
    );
    const c = await files.putBuffer(Buffer.from('stream content'));
    expect(a).toEqual({ key: sha('file content'), sha256: sha('file content'), size: 12 });
    expect(b.key).toBe(sha('stream content'));
    expect(c.key).toBe(b.key);
    expect((await files.get(b.key)).toString()).toBe('stream content');
    expect(await collect(files.list())).toEqual([a.key, b.key].sort());
    expect(await readdir(join(dir, 'repo', 'staging'))).toEqual([]);
  });

  it('leaves nothing staged or stored when the stream fails', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1024, 1);
      throw new Error('stream broke');
    }
    await expect(files.putStream(Readable.from(failing()))).rejects.toThrow('stream broke');
    expect(await readdir(join(dir, 'repo', 'staging'))).toEqual([]);
    expect(await collect(files.list())).toEqual([]);
  });

  it('localPath throws USAGE, naming the alternatives', async () => {
    const { key } = await files.putBuffer(Buffer.from('x'));
    expect(() => files.localPath(key)).toThrow(
      expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('materialize') }),
    );
  });

  it('materialize copies, read-only', async () => {
    const { key } = await files.putBuffer(Buffer.from('copied input'));
    const dest = join(dir, 'work', 'in.txt');
    expect(await files.materialize(key, dest)).toBe('copy');
    expect(await readFile(dest, 'utf8')).toBe('copied input');
    expect((await stat(dest)).mode & 0o777).toBe(0o444);
    await expect(files.materialize(sha('absent'), join(dir, 'work', 'x'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await readdir(join(dir, 'work'))).toEqual(['in.txt']);
  });

  it('closes the driver it was given', async () => {
    await files.close();
    await expect(inner.stat(sha('x'))).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('createFileRepository options', () => {
  it('rejects a missing root, an unknown option and a driver that is not one, all at once', async () => {
    const error = await createFileRepository({
      root: '',
      driver: { name: 'half' },
      bucket: 'x',
    } as unknown as FileRepositoryOptions).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    const message = (error as Error).message;
    expect(message).toContain('FileRepository options: 3 problems');
    expect(message).toContain('root');
    expect(message).toContain('driver');
    expect(message).toContain('bucket');
  });

  it('keeps FileRepositoryOptions and its zod schema in step', () => {
    expectTypeOf<
      z.input<typeof fileRepositoryOptionsSchema>
    >().toEqualTypeOf<FileRepositoryOptions>();
  });
});
