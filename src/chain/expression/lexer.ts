import { ExpressionError } from './errors.js';
import { MAX_EXPRESSION_LENGTH } from './limits.js';

/** The kinds of token of the expression language. */
export type TokenKind = 'int' | 'float' | 'str' | 'name' | 'keyword' | 'op' | 'eof';

/** One token; `offset` is its 0-based position in the expression text. */
export interface Token {
  kind: TokenKind;
  /** The operator or keyword, the name, the decoded string, or the number's source text. */
  text: string;
  /** The numeric value of an `int` or `float` token. */
  num?: number;
  offset: number;
}

/** Words that are not names. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'and',
  'or',
  'not',
  'in',
  'is',
  'if',
  'else',
  'True',
  'False',
  'None',
]);

/** Longest operators first, so `**` wins over `*`. */
const OPERATORS = [
  '**',
  '//',
  '==',
  '!=',
  '<=',
  '>=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '=',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
];

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isNameStart(c: string | undefined): boolean {
  return c !== undefined && /^[A-Za-z_]$/.test(c);
}

function isNameChar(c: string | undefined): boolean {
  return c !== undefined && /^[A-Za-z0-9_]$/.test(c);
}

/**
 * Splits an expression into tokens.
 * @throws ExpressionError naming the offset of the first character it cannot read.
 */
export function tokenize(text: string): Token[] {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(
      `expression is longer than ${MAX_EXPRESSION_LENGTH} characters`,
      MAX_EXPRESSION_LENGTH,
    );
  }
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === '.' && isDigit(text[i + 1]))) {
      i = readNumber(text, i, tokens);
      continue;
    }
    if (c === "'" || c === '"') {
      i = readString(text, i, tokens);
      continue;
    }
    if (isNameStart(c)) {
      while (isNameChar(text[i])) i++;
      const word = text.slice(start, i);
      tokens.push({ kind: KEYWORDS.has(word) ? 'keyword' : 'name', text: word, offset: start });
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op === undefined) {
      throw new ExpressionError(`unexpected character ${JSON.stringify(c)}`, i);
    }
    tokens.push({ kind: 'op', text: op, offset: start });
    i += op.length;
  }
  tokens.push({ kind: 'eof', text: '', offset: text.length });
  return tokens;
}

function readDigits(text: string, i: number): number {
  while (isDigit(text[i]) || (text[i] === '_' && isDigit(text[i - 1]) && isDigit(text[i + 1]))) {
    i++;
  }
  return i;
}

function readNumber(text: string, start: number, tokens: Token[]): number {
  let i = readDigits(text, start);
  let isFloat = false;
  if (text[i] === '.') {
    isFloat = true;
    i = readDigits(text, i + 1);
  }
  if (text[i] === 'e' || text[i] === 'E') {
    let j = i + 1;
    if (text[j] === '+' || text[j] === '-') j++;
    if (!isDigit(text[j])) throw new ExpressionError('invalid number exponent', i);
    i = readDigits(text, j);
    isFloat = true;
  }
  if (isNameChar(text[i])) throw new ExpressionError('invalid number literal', start);
  const raw = text.slice(start, i);
  const digits = raw.replace(/_/g, '');
  if (!isFloat && digits.length > 1 && digits.startsWith('0') && /[1-9]/.test(digits)) {
    throw new ExpressionError('leading zeros in an integer literal are not allowed', start);
  }
  const num = Number(digits);
  if (!isFloat && !Number.isSafeInteger(num)) {
    throw new ExpressionError('integer too large (beyond 2**53 - 1)', start);
  }
  tokens.push({ kind: isFloat ? 'float' : 'int', text: raw, num, offset: start });
  return i;
}

function readString(text: string, start: number, tokens: Token[]): number {
  const quote = text[start] as string;
  const triple = text.startsWith(quote.repeat(3), start);
  let i = start + (triple ? 3 : 1);
  let out = '';
  for (;;) {
    if (i >= text.length) throw new ExpressionError('unterminated string literal', start);
    const c = text[i] as string;
    if (triple ? text.startsWith(quote.repeat(3), i) : c === quote) {
      i += triple ? 3 : 1;
      break;
    }
    if (!triple && c === '\n') throw new ExpressionError('unterminated string literal', start);
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) throw new ExpressionError('unterminated string literal', start);
    const simple = SIMPLE_ESCAPES[e];
    if (Object.hasOwn(SIMPLE_ESCAPES, e) && simple !== undefined) {
      out += simple;
      i += 2;
    } else if (e === '\n') {
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = text.slice(i + 2, i + 2 + n);
      const code = /^[0-9A-Fa-f]+$/.test(hex) && hex.length === n ? parseInt(hex, 16) : NaN;
      if (!(code <= 0x10ffff)) throw new ExpressionError(`invalid \\${e} escape`, i);
      out += String.fromCodePoint(code);
      i += 2 + n;
    } else {
      // Python keeps unknown escapes as written.
      out += '\\' + e;
      i += 2;
    }
  }
  tokens.push({ kind: 'str', text: out, offset: start });
  return i;
}
