/**
 * Text tools for migrations that derive a server-side function from an earlier migration's
 * (migrations are append-only: a later one restates a function, and deriving it keeps the
 * statements it does not change word for word those of the earlier one).
 */

/** `text` with each `[from, to]` replaced once; throws when `from` is not there. */
export function edited(text: string, edits: readonly (readonly [string, string])[]): string {
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`migration text: "${from}" not found`);
    text = text.replace(from, to);
  }
  return text;
}

/**
 * The part of `text` from the first `from` up to (not including) the next `to`; throws when
 * either is missing.
 */
export function between(text: string, from: string, to: string): string {
  const start = text.indexOf(from);
  const end = start < 0 ? -1 : text.indexOf(to, start + from.length);
  if (start < 0 || end < 0) throw new Error(`migration text: "${start < 0 ? from : to}" not found`);
  return text.slice(start, end);
}
