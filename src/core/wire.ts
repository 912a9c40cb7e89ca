import { FloatValue } from './typed-value.js';

/**
 * JSON for messages between processes that keeps what plain JSON loses: a {@link FloatValue}
 * (an integral float from a chain, `3.0`) stays one, and NaN and ±Infinity (a float metadata
 * value such as the SDE of a flat spectrum) stay numbers. Each is written as a one-key object
 * whose key starts with a NUL character, which no chain, metadata or JSON file produces.
 */
const FLOAT = '\u0000float';
const NUMBER = '\u0000number';

/** Writes `value` as wire JSON (see {@link fromWire}). */
export function toWire(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof FloatValue) {
      return { [FLOAT]: Number.isFinite(raw.value) ? raw.value : String(raw.value) };
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { [NUMBER]: String(v) };
    return v;
  });
}

/** Reads what {@link toWire} wrote. @throws SyntaxError on text that is not JSON. */
export function fromWire(text: string): unknown {
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
