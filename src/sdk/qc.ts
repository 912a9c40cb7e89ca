import { open, readFile } from 'node:fs/promises';
import type { QcInput, QcVerdict } from './types.js';

/** gzip files start with these two bytes. */
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * The default QC (DESIGN §4): every required output exists and is non-empty, and files of
 * known formats parse (`.json` is valid JSON, `.gz` has a gzip header).
 */
export async function defaultQc(input: QcInput): Promise<QcVerdict> {
  for (const sem of input.required) {
    const w = input.written[sem];
    const declared = input.task.outputs[sem];
    if (!w)
      return {
        passed: false,
        reason: `required output ${sem} (${declared ?? '?'}) was not written`,
      };
    if (w.size === 0) return { passed: false, reason: `output ${sem} is empty` };
  }
  for (const [sem, w] of Object.entries(input.written)) {
    if (w.size === 0) continue;
    if (w.path.endsWith('.json')) {
      try {
        JSON.parse(await readFile(w.path, 'utf8'));
      } catch {
        return { passed: false, reason: `output ${sem} is not valid JSON` };
      }
    } else if (w.path.endsWith('.gz')) {
      const fh = await open(w.path, 'r');
      try {
        const head = Buffer.alloc(2);
        await fh.read(head, 0, 2, 0);
        if (head[0] !== GZIP_MAGIC[0] || head[1] !== GZIP_MAGIC[1]) {
          return { passed: false, reason: `output ${sem} ends in .gz but is not gzip data` };
        }
      } finally {
        await fh.close();
      }
    }
  }
  return { passed: true };
}
