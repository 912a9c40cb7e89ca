import { FloatValue } from './typed-value.js';

/**
 * JSON for messages between processes that keeps what plain JSON loses: a {@link FloatValue}
 * (an integral float from a chain, `3.0`) stays one, and NaN and ±Infinity (a float metadata
 * value such as the SDE of a flat spectrum) stay numbers. Each is written as a one-key object
 * whose key starts with a NUL character, which no chain, metadata or JSON file produces.
 */
const FLOAT = '\u0000float';
const NUMBER = '\u0000number';

/** Depth beyond which {@link plainJson} gives up and lets the replacer decide (or a cycle throw). */
const WALK_DEPTH = 64;

/**
 * Whether plain JSON writes `value` as {@link toWire} would: nothing in it is a
 * {@link FloatValue}, a non-finite number or an object with its own `toJSON`. Most messages
 * are so, and `JSON.stringify` without a replacer is several times faster (a replacer is a call
 * back into JavaScript for every key).
 */
function plainJson(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value !== 'object') return true;
  if (depth > WALK_DEPTH || value instanceof FloatValue) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (!plainJson(v, depth + 1)) return false;
    return true;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const k in value) {
    if (!plainJson((value as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

/** Writes `value` as wire JSON (see {@link fromWire}). */
export function toWire(value: unknown): string {
  if (plainJson(value, 0)) return JSON.stringify(value);
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof FloatValue) {
      return { [FLOAT]: Number.isFinite(raw.value) ? raw.value : String(raw.value) };
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { [NUMBER]: String(v) };
    return v;
  });
}

/**
 * Reads what {@link toWire} wrote. Text without an escaped NUL holds no marker, and is read as
 * plain JSON (the reviver, a call back for every value, is the slow part).
 *
 * @throws SyntaxError on text that is not JSON.
 */
export function fromWire(text: string): unknown {
  if (!text.includes('\\u0000')) return JSON.parse(text);
  return JSON.parse(text, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    if (keys.length !== 1) return v;
    const inner = (v as Record<string, unknown>)[keys[0]!];
    if (keys[0] === FLOAT) return new FloatValue(Number(inner));
    if (keys[0] === NUMBER) return Number(inner);
    return v;
  });
}
