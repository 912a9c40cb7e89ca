import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import {
  EasError,
  fileErrorWords,
  FloatValue,
  InvalidInputError,
  parseJson,
  type Problem,
} from '../core/index.js';
import { chainDocumentSchema } from './schema.js';
import type { ChainDocument } from './types.js';

/**
 * Parses chain text (JSON or YAML; YAML when the source ends in `.yaml`/`.yml`, or when the
 * text does not start with `{`) and validates its structure.
 *
 * @throws EasError `JSON_SYNTAX` with line and column; InvalidInputError `CHAIN_INVALID`
 *   listing every structural problem with its chain path.
 */
export function parseChain(text: string, source = 'chain'): ChainDocument {
  const ext = extname(source).toLowerCase();
  const yaml =
    ext === '.yaml' || ext === '.yml' || (ext !== '.json' && !text.trimStart().startsWith('{'));
  let raw: unknown;
  if (yaml) {
    try {
      raw = parseYaml(text);
    } catch (e) {
      if (e instanceof YAMLParseError) {
        const pos = e.linePos?.[0];
        const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
        throw new EasError('JSON_SYNTAX', `${where}: ${e.message.split('\n')[0]}`, { where });
      }
      throw e;
    }
  } else {
    // A literal written as a float (`1.0`, `5e2`) stays a float: loop values and parameters
    // format as Python would (`1.0`), while integers stay integers.
    raw = parseJson(text, {
      source,
      reviveNumber: (literal, value) => (/[.eE]/.test(literal) ? new FloatValue(value) : value),
    });
  }
  return validateChain(raw, source);
}

/** Validates an already parsed chain document. */
export function validateChain(raw: unknown, source = 'chain'): ChainDocument {
  const parsed = chainDocumentSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const problems: Problem[] = parsed.error.issues.map((i) => ({
      path: formatPath(i.path) || '(document)',
      message: i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message,
    }));
    throw new InvalidInputError('CHAIN_INVALID', `Chain ${source} invalid`, dedupe(problems));
  }
  return parsed.data as ChainDocument;
}

/** Reads and parses a chain file. */
export async function loadChainFile(file: string): Promise<ChainDocument> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new EasError('NOT_FOUND', `Cannot read chain file ${file}: ${fileErrorWords(e)}`, {
      where: file,
      cause: e,
    });
  }
  return parseChain(text, file);
}

/** The job name a chain gets when it names none: its file name without extension. */
export function defaultJobName(source: string): string {
  return basename(source).replace(/\.(json|ya?ml)$/i, '') || 'job';
}

/** `task_list[0].inputs.lightcurve` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
