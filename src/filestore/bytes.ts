import type { FileHandle } from 'node:fs/promises';
import { FileStoreError } from './errors.js';

/**
 * The bytes of one stream chunk, as a Buffer sharing memory with it. Strings (a stream with an
 * encoding set, `Readable.from(['text'])`) are taken as UTF-8; anything else is a `USAGE` error
 * naming `where`.
 */
export function chunkBytes(chunk: unknown, where: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new FileStoreError(
    'USAGE',
    `${where}: the stream yielded a ${typeof chunk}, not bytes. Pass a stream of Buffers or ` +
      'strings (an object-mode stream of other values cannot be stored).',
    { where },
  );
}

/** Writes all of `chunk` at the handle's current position (one `write` may take fewer bytes). */
export async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}
