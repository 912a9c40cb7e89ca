import { formatDuration, formatTyped, type TypedMetadata } from '../core/index.js';
import type { StateCounts, TaskState } from '../taskdb/index.js';

/** Where command output goes (stdout and stderr of the process, or buffers in tests). */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stdout is a terminal (progress bars, colour). */
  isTTY: boolean;
}

/** The process's stdout/stderr. */
export function processOutput(): Output {
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    isTTY: Boolean(process.stdout.isTTY),
  };
}

/** `1 worker`, `2 workers`: a count and its word, with an `s` unless the count is 1. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Prints a value as indented JSON. */
export function printJson(o: Output, value: unknown): void {
  o.out(JSON.stringify(value, null, 2));
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A short mark per task state for trees and lists. */
export const STATE_MARK: Record<TaskState, string> = {
  waiting: '…',
  queued: '○',
  running: '▶',
  stalled: '⧖',
  done: '✔',
  failed: '✘',
  blocked: '⊘',
  cancelled: '−',
};

/** `done 6, failed 1, blocked 1` — the non-zero counts. */
export function countsLine(c: StateCounts): string {
  const parts = Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`);
  return parts.length ? parts.join(', ') : 'no tasks';
}

/** The task counts of the given jobs of a status, added up (a run reports the jobs it ran). */
export function countsOfJobs(
  jobs: readonly { id: number; counts: StateCounts }[],
  ids: ReadonlySet<number>,
): StateCounts {
  const sum: Record<string, number> = {};
  for (const j of jobs) {
    if (!ids.has(j.id)) continue;
    for (const [state, n] of Object.entries(j.counts)) sum[state] = (sum[state] ?? 0) + n;
  }
  return sum as StateCounts;
}

/** `size=1.5, size_index=3`. */
export function metadataLine(m: TypedMetadata): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${formatTyped(v)}`)
    .join(', ');
}

/** Milliseconds or a dash. */
export function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : formatDuration(v);
}

/** A timestamp as local ISO-like text. */
export function time(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  const d = new Date(v);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Bytes for people. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Task label: `task_list[3] produce "prod"`. */
export function taskLabel(t: { path: string; type: string; name: string | null }): string {
  return `${t.path || '(root)'} ${t.type}${t.name ? ` "${t.name}"` : ''}`;
}
