import { EasError } from './errors.js';
import { FloatValue } from './typed-value.js';

/** An INI document: section → key → value. Numbers are numbers (a `1.0` is a {@link FloatValue}). */
export type IniDocument = Record<string, Record<string, string | number | FloatValue>>;

/**
 * Parses the INI files of the original prototype (standalone task configs, light-curve
 * `.metadata.cfg` sidecars): `[section]` headers, `key = value` or `key: value`, `#` and `;`
 * comments. A value that reads as a number becomes one, keeping a float literal a float.
 *
 * @throws EasError `CONFIG_INVALID` naming the source and line of a malformed line.
 */
export function parseIni(text: string, source = 'INI'): IniDocument {
  // A byte-order mark some editors write is no part of the file.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const doc: IniDocument = {};
  let section: Record<string, string | number | FloatValue> | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      section = doc[name] ??= {};
      return;
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!m || !section) {
      throw new EasError(
        'CONFIG_INVALID',
        `${source}:${i + 1}: ${section ? 'expected key = value' : 'a value before any [section]'}: ${JSON.stringify(raw)}`,
        { where: `${source}:${i + 1}` },
      );
    }
    section[m[1]!.trim()] = iniValue(m[2]!.trim());
  });
  return doc;
}

function iniValue(v: string): string | number | FloatValue {
  if (/^[+-]?\d+$/.test(v) && Math.abs(Number(v)) <= Number.MAX_SAFE_INTEGER) return Number(v);
  if (/^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$/.test(v)) return new FloatValue(Number(v));
  return v;
}
