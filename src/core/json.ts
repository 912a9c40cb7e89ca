import { EasError } from './errors.js';

/** Options of {@link parseJson}. */
export interface ParseJsonOptions {
  /** Names the text in error messages: a file name, `EAS_RESULT_FILE`, `stdin`. */
  source?: string;
  /**
   * Decides the value of each number literal. It receives the literal's text (`"3"`, `"3.0"`,
   * `"1e-3"`) and its parsed value. Used to keep integers and floats apart, which plain
   * `JSON.parse` cannot (it reads `3.0` as `3`).
   */
  reviveNumber?: (raw: string, value: number) => unknown;
}

/** Deepest nesting accepted, so a hostile document cannot exhaust the stack. */
const MAX_DEPTH = 512;

/**
 * Parses JSON text. Unlike `JSON.parse`, a syntax error names the line and column
 * (`chain.json:12:5: expected ',' or '}' after a property value`), and number literals can be
 * revived by their text to keep integers and floats apart. Keys `__proto__` are stored as plain
 * own properties, never as prototypes.
 *
 * @throws EasError `JSON_SYNTAX` with `where` = `source:line:column`.
 */
export function parseJson(text: string, options: ParseJsonOptions = {}): unknown {
  // A byte-order mark some editors write is no part of the document.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const source = options.source ?? 'JSON';
  let pos = 0;
  let depth = 0;

  const fail = (message: string, at = pos): never => {
    let line = 1;
    let col = 1;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    const where = `${source}:${line}:${col}`;
    throw new EasError('JSON_SYNTAX', `${where}: ${message}`, {
      where,
      details: { line, column: col },
    });
  };

  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) pos++;
      else break;
    }
  };

  const describe = (): string => (pos >= text.length ? 'end of input' : `'${text[pos]}'`);

  const str = (): string => {
    pos++; // opening quote
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 34) {
        out += text.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 32) fail('control character in string (escape it, e.g. \\n)');
      if (c === 92) {
        out += text.slice(start, pos);
        const e = text[pos + 1];
        pos += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = text.slice(pos, pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape', pos);
            out += String.fromCharCode(parseInt(hex, 16));
            pos += 4;
            break;
          }
          default:
            fail(`bad escape '\\${e ?? ''}'`, pos - 1);
        }
        start = pos;
      } else pos++;
    }
  };

  const num = (): unknown => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (!m) fail(`unexpected ${describe()}`);
    const raw = m![0];
    pos += raw.length;
    const value = Number(raw);
    return options.reviveNumber ? options.reviveNumber(raw, value) : value;
  };

  const literal = (word: string, value: unknown): unknown => {
    if (text.startsWith(word, pos)) {
      pos += word.length;
      return value;
    }
    return fail(`unexpected ${describe()}`);
  };

  const value = (): unknown => {
    ws();
    const c = text[pos];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return str();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num();
    return fail(pos >= text.length ? 'unexpected end of input' : `unexpected ${describe()}`);
  };

  const object = (): Record<string, unknown> => {
    if (++depth > MAX_DEPTH) fail('nesting too deep');
    pos++;
    const out: Record<string, unknown> = {};
    ws();
    if (text[pos] === '}') {
      pos++;
      depth--;
      return out;
    }
    for (;;) {
      ws();
      if (text[pos] !== '"') fail(`expected a property name in double quotes, found ${describe()}`);
      const key = str();
      ws();
      if (text[pos] !== ':') fail(`expected ':' after property name "${key}", found ${describe()}`);
      pos++;
      const v = value();
      Object.defineProperty(out, key, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      ws();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        depth--;
        return out;
      }
      fail(`expected ',' or '}' after a property value, found ${describe()}`);
    }
  };

  const array = (): unknown[] => {
    if (++depth > MAX_DEPTH) fail('nesting too deep');
    pos++;
    const out: unknown[] = [];
    ws();
    if (text[pos] === ']') {
      pos++;
      depth--;
      return out;
    }
    for (;;) {
      out.push(value());
      ws();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        depth--;
        return out;
      }
      fail(`expected ',' or ']' after an array element, found ${describe()}`);
    }
  };

  const result = value();
  ws();
  if (pos < text.length) fail(`unexpected ${describe()} after the end of the document`);
  return result;
}
