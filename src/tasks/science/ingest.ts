/**
 * `ingest_lightcurves` (alias `ingest_external_lcs`): reads the files matching `pattern`
 * (a glob of `*` and `?`, default `*`, matched against file names, not recursive) in the
 * directory `directory` (absolute, or relative to the worker's current directory). Each file
 * is gzip or plain text — the 4-column PLATO format (with its `.metadata.cfg` sidecar) or the
 * comma-separated `time,flux,flag` format (time in days) with `# #key=value` headers.
 *
 * Outputs are declared per semantic type, so the matches (in name order) go to the declared
 * outputs in the order the chain declares them: as many matches as outputs (one to
 * `lightcurve` by default). Any other count is an error naming the files (none is dropped
 * without a word, no output left unwritten): narrow the pattern, declare one output per file,
 * or ingest one file per task in a loop. The
 * metadata reports how many files matched and their names (`n_files`, `files`,
 * comma-separated); every file is parsed, so a bad one fails the task.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { HandlerDefinition, TaskContext } from '../../sdk/index.js';
import { readCsvLightCurve, readLightCurveGz, type LightCurve } from '../../science/index.js';
import { usage, writeOutput } from './common.js';

const TASK = 'ingest_lightcurves';

/** A glob of `*` (any run of characters) and `?` (one character) as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** True when the text looks like the comma-separated format. */
function looksLikeCsv(name: string, text: string): boolean {
  if (/\.csv(\.gz)?$/i.test(name)) return true;
  for (const line of text.split('\n', 50)) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    return l.includes(',');
  }
  return false;
}

/** Reads one external light-curve file in either format. */
export function readExternalLightCurve(path: string): LightCurve {
  const bytes = readFileSync(path);
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  const text = (gz ? gunzipSync(bytes) : bytes).toString('utf8');
  if (looksLikeCsv(path, text)) return readCsvLightCurve(text, { source: path });
  return readLightCurveGz(path);
}

export const ingestLightcurvesTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const dirField = ctx.task.description.directory;
    if (typeof dirField !== 'string' || dirField.trim() === '') {
      throw usage(TASK, 'directory (a path) is required');
    }
    const patternField = ctx.task.description.pattern ?? '*';
    if (typeof patternField !== 'string') throw usage(TASK, 'pattern must be a glob string');
    const dir = isAbsolute(dirField) ? dirField : resolve(dirField);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      throw usage(TASK, `cannot list directory ${dir}: ${(error as Error).message}`);
    }
    const re = globToRegExp(patternField);
    const matches = names
      .filter((n) => re.test(n) && !n.endsWith('.metadata.cfg'))
      .filter((n) => statSync(join(dir, n)).isFile())
      .sort();
    if (matches.length === 0) {
      throw usage(TASK, `no file in ${dir} matches ${JSON.stringify(patternField)}`);
    }
    const curves = matches.map((n) => {
      try {
        return readExternalLightCurve(join(dir, n));
      } catch (error) {
        throw new Error(`${TASK}: cannot read ${join(dir, n)}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    });
    const declared = Object.keys(ctx.task.outputs);
    const slots = declared.length > 0 ? declared : ['lightcurve'];
    if (matches.length !== slots.length) {
      const shown = matches.slice(0, 5).join(', ') + (matches.length > 5 ? ', …' : '');
      throw usage(
        TASK,
        `${matches.length} files in ${dir} match ${JSON.stringify(patternField)} (${shown}), but the task declares ${slots.length} output${slots.length === 1 ? '' : 's'} (${slots.join(', ')}). ` +
          'Declare one output per file, narrow the pattern, or ingest one file per task (an execution_for_loop over the file names, pattern set to each).',
      );
    }
    const fileMetadata: Record<string, Record<string, unknown>> = {};
    matches.forEach((name, i) => {
      Object.assign(
        fileMetadata,
        writeOutput(ctx, TASK, slots[i]!, {
          ...curves[i]!,
          metadata: { ...curves[i]!.metadata, source_file: name },
        }),
      );
    });
    return {
      metadata: {
        n_files: matches.length,
        files: matches.join(','),
        written: matches.join(','),
        n_samples: curves[0]!.time.length,
      },
      fileMetadata,
    };
  },
};
