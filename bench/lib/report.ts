import type { MachineFacts } from './machine.js';

/** A target of DESIGN §9: the figure must be `>=` or `<=` `value`. */
export interface Target {
  op: '>=' | '<=';
  value: number;
}

/** A reference figure measured in the same run (DESIGN §9: every figure beside its baseline). */
export interface Baseline {
  /** What the baseline is, in a few words. */
  label: string;
  value: number;
  unit: string;
}

/** One measured figure. */
export interface Figure {
  /** Stable key, e.g. `flat-20k-c16`. */
  id: string;
  /** What was measured, in a few words. */
  label: string;
  value: number;
  unit: string;
  target?: Target;
  baseline?: Baseline;
  /** `value / baseline.value`. */
  ratio?: number;
  /** Whether `value` meets `target` (absent without a target). */
  pass?: boolean;
}

/** What one scenario reports; written to `bench/results/<scenario>.json`. */
export interface ScenarioResult {
  scenario: string;
  title: string;
  machine: MachineFacts;
  startedAt: string;
  durationMs: number;
  figures: Figure[];
  /** Everything else measured: raw samples' summaries, breakdowns, profiles. */
  details: Record<string, unknown>;
  /** What a reader must know to read the figures right. */
  notes: string[];
  /**
   * CPU ms that servers outside the bench's process tree (PostgreSQL, Redis) spent on this
   * scenario: counted as its own work, not as other work on the machine.
   */
  serverCpuMs?: number;
  /** Engine behaviour that looked wrong (tasks not ending done, duplicates, outliers…). */
  warnings: string[];
}

/** Builds a figure, computing `ratio` and `pass`. */
export function figure(f: Omit<Figure, 'ratio' | 'pass'>): Figure {
  const out: Figure = { ...f };
  if (f.baseline && f.baseline.value !== 0 && Number.isFinite(f.baseline.value))
    out.ratio = Number((f.value / f.baseline.value).toFixed(3));
  if (f.target)
    out.pass = f.target.op === '>=' ? f.value >= f.target.value : f.value <= f.target.value;
  return out;
}

function formatNumber(v: number, unit: string): string {
  if (!Number.isFinite(v)) return String(v);
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${unit}`;
}

/** The table `npm run bench` prints: one row per figure. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'figure', 'ours', 'baseline (same run)', 'ratio', 'target', 'ok'];
  const rows: string[][] = [];
  for (const r of results) {
    for (const f of r.figures) {
      rows.push([
        r.scenario,
        f.label,
        formatNumber(f.value, f.unit),
        f.baseline ? `${formatNumber(f.baseline.value, f.baseline.unit)} ${f.baseline.label}` : '—',
        f.ratio === undefined ? '—' : `${f.ratio.toFixed(f.ratio >= 10 ? 1 : 2)}×`,
        f.target ? `${f.target.op} ${formatNumber(f.target.value, f.unit)}` : '—',
        f.pass === undefined ? '' : f.pass ? 'yes' : 'NO',
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 2 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
