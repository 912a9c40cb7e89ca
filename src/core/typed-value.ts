import { EasError } from './errors.js';
import { parseJson } from './json.js';

/**
 * The type of a metadata value. Integers and floats are kept apart (DESIGN §3: "integers stay
 * integers"), so a loop index formats as `3`, never `3.0`.
 */
export type MetadataType = 'int' | 'float' | 'str' | 'bool' | 'null' | 'json';

/** A metadata value with its type. `json` holds arrays and objects. */
export type TypedValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'str'; value: string }
  | { type: 'bool'; value: boolean }
  | { type: 'null'; value: null }
  | { type: 'json'; value: unknown };

/** A metadata map with types: what the task database stores per task, attempt or version. */
export type TypedMetadata = Record<string, TypedValue>;

/** Marks a number as a float even when it is integral: `float(3)` is stored as `3.0`. */
export class FloatValue {
  constructor(readonly value: number) {}
  /** In JSON it is the plain number. */
  toJSON(): number {
    return this.value;
  }
}

/** Wraps `n` so it is stored as a float even when integral (`float(50)` → `50.0`). */
export function float(n: number): FloatValue {
  return new FloatValue(n);
}

/**
 * Types a plain JS value: integral numbers are `int`, others `float`, a {@link FloatValue} is
 * always `float`; arrays and objects are `json`.
 */
export function toTyped(value: unknown, where = 'value'): TypedValue {
  if (value === null || value === undefined) return { type: 'null', value: null };
  if (value instanceof FloatValue) return { type: 'float', value: value.value };
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) return { type: 'float', value };
      return Number.isInteger(value) ? { type: 'int', value } : { type: 'float', value };
    case 'bigint':
      return { type: 'int', value: Number(value) };
    case 'string':
      return { type: 'str', value };
    case 'boolean':
      return { type: 'bool', value };
    case 'object':
      return { type: 'json', value: JSON.parse(JSON.stringify(value, floatReplacer)) };
    default:
      throw new EasError('USAGE', `${where}: a ${typeof value} cannot be metadata.`, { where });
  }
}

function floatReplacer(_key: string, v: unknown): unknown {
  return v instanceof FloatValue ? v.value : v;
}

/**
 * Types every entry of a plain object: integral numbers become `int`, other numbers `float`, a
 * number wrapped by {@link float} always `float`, arrays and objects `json`.
 */
export function toTypedMetadata(plain: Record<string, unknown>, where = 'metadata'): TypedMetadata {
  const out: TypedMetadata = {};
  for (const [k, v] of Object.entries(plain)) out[k] = toTyped(v, `${where}.${k}`);
  return out;
}

/** The plain JS values of a typed map (floats become numbers). */
export function toPlainMetadata(typed: TypedMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(typed)) out[k] = v.value;
  return out;
}

/** Text of a value as Python would print it: floats keep a `.0`, booleans are `True`/`False`. */
export function formatTyped(v: TypedValue): string {
  switch (v.type) {
    case 'float': {
      if (Number.isInteger(v.value) && Math.abs(v.value) < 1e16) return `${v.value}.0`;
      if (!Number.isFinite(v.value))
        return Number.isNaN(v.value) ? 'nan' : v.value > 0 ? 'inf' : '-inf';
      return String(v.value);
    }
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'null':
      return 'None';
    case 'json':
      return JSON.stringify(v.value);
    default:
      return String(v.value);
  }
}

/** Encodes one value for a text column: `value` as text, `type` beside it. */
export function encodeTypedValue(v: TypedValue): { type: MetadataType; value: string } {
  if (v.type === 'str') return { type: 'str', value: v.value };
  if (v.type === 'float' && !Number.isFinite(v.value))
    return { type: 'float', value: String(v.value) };
  return { type: v.type, value: JSON.stringify(v.value) };
}

/** Decodes what {@link encodeTypedValue} wrote. */
export function decodeTypedValue(type: string, text: string | null): TypedValue {
  switch (type) {
    case 'str':
      return { type: 'str', value: text ?? '' };
    case 'int':
      return { type: 'int', value: Number(text) };
    case 'float':
      return { type: 'float', value: Number(text) };
    case 'bool':
      return { type: 'bool', value: text === 'true' };
    case 'null':
      return { type: 'null', value: null };
    default:
      return { type: 'json', value: text === null ? null : JSON.parse(text) };
  }
}

/** Compact JSON of a typed map, `{"k":["int",3]}`, for a single column. */
export function serializeTypedMetadata(m: TypedMetadata): string {
  const out: Record<string, [MetadataType, unknown]> = {};
  for (const [k, v] of Object.entries(m)) {
    out[k] = [v.type, v.type === 'float' && !Number.isFinite(v.value) ? String(v.value) : v.value];
  }
  return JSON.stringify(out);
}

/** Reads what {@link serializeTypedMetadata} wrote. */
export function deserializeTypedMetadata(text: string | null | undefined): TypedMetadata {
  if (!text) return {};
  const raw = JSON.parse(text) as Record<string, [MetadataType, unknown]>;
  const out: TypedMetadata = {};
  for (const [k, [type, value]] of Object.entries(raw)) {
    out[k] = (type === 'float' ? { type, value: Number(value) } : { type, value }) as TypedValue;
  }
  return out;
}

/** A marker the typed JSON reader puts on number literals written with `.` or an exponent. */
class FloatLiteral {
  constructor(readonly value: number) {}
}

/**
 * Parses JSON metadata written by a science code (`EAS_RESULT_FILE`), keeping types by the
 * literal's form: `50` is an int, `50.0` and `5e1` are floats. The top level must be an object.
 *
 * @throws EasError `JSON_SYNTAX` with line and column, or `USAGE` when not an object.
 */
export function parseTypedMetadataJson(text: string, source: string): TypedMetadata {
  const parsed = parseJson(text, {
    source,
    reviveNumber: (raw, value) => (/[.eE]/.test(raw) ? new FloatLiteral(value) : value),
  });
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EasError(
      'USAGE',
      `${source}: output metadata must be a JSON object of name → value.`,
      { where: source },
    );
  }
  const out: TypedMetadata = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v instanceof FloatLiteral) out[k] = { type: 'float', value: v.value };
    else out[k] = toTyped(stripFloatLiterals(v), `${source}.${k}`);
  }
  return out;
}

function stripFloatLiterals(v: unknown): unknown {
  if (v instanceof FloatLiteral) return v.value;
  if (Array.isArray(v)) return v.map(stripFloatLiterals);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = stripFloatLiterals(x);
    return out;
  }
  return v;
}

/**
 * JSON text in which a {@link FloatValue} is written as a float literal (`50.0`), so a reader
 * that keeps literals apart (Python's `json`, {@link parseJsonKeepingFloats}) sees a float.
 * Everything else is as `JSON.stringify` writes it.
 */
export function stringifyKeepingFloats(value: unknown, indent?: number): string {
  const marks: string[] = [];
  const text = JSON.stringify(
    value,
    function (this: unknown, key: string, v: unknown) {
      const raw = (this as Record<string, unknown>)[key];
      if (raw instanceof FloatValue && Number.isFinite(raw.value)) {
        marks.push(Number.isInteger(raw.value) ? `${raw.value}.0` : String(raw.value));
        return `\u0000float${marks.length - 1}\u0000`;
      }
      return v;
    },
    indent,
  );
  return text === undefined
    ? text
    : text.replace(/"\\u0000float(\d+)\\u0000"/g, (_, i: string) => marks[Number(i)]!);
}

/** Parses JSON, reading an integral float literal (`50.0`) as a {@link FloatValue}. */
export function parseJsonKeepingFloats(text: string, source = 'JSON'): unknown {
  return parseJson(text, {
    source,
    reviveNumber: (raw, value) =>
      Number.isInteger(value) && /[.eE]/.test(raw) ? new FloatValue(value) : value,
  });
}

/** A copy of `value` with every {@link FloatValue} replaced by its number (for plain JS code). */
export function unwrapFloats(value: unknown): unknown {
  if (value instanceof FloatValue) return value.value;
  if (Array.isArray(value)) return value.map(unwrapFloats);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = unwrapFloats(v);
    return out;
  }
  return value;
}
