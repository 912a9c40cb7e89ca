import { EasError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'30s'`, `'250ms'`, `'2h'`, `'1d'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a {@link Duration} to milliseconds. Throws `CONFIG_INVALID` naming `where` for a
 * negative number or an unknown unit.
 */
export function parseDuration(value: Duration, where = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new EasError(
        'CONFIG_INVALID',
        `${where}: ${value} is not a duration (a number of ms ≥ 0).`,
        { where },
      );
    }
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) {
    throw new EasError(
      'CONFIG_INVALID',
      `${where}: "${value}" is not a duration. Write a number of milliseconds or e.g. "30s", "5m", "2h".`,
      { where },
    );
  }
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!);
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `4m05s`, `2h10m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000);
    return `${m}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  }
  const h = Math.floor(ms / 3_600_000);
  return `${h}h${String(Math.floor((ms % 3_600_000) / 60_000)).padStart(2, '0')}m`;
}
