import type { TypedMetadata } from '../core/index.js';
import type { PlotRow } from '../taskdb/index.js';

/**
 * A field of a result plot, by where it comes from: `param:<key>` (the task's metadata: loop
 * parameters), `output:<key>` (its current attempt's output metadata), `desc:<key>` (a scalar
 * field of its description, e.g. `lc_duration`), `timing:wall_ms` / `timing:cpu_ms` / `timing:cpu_children_ms` (CPU with child processes, where
 * an external code's work is), or `state`.
 */
export type PlotField = string;

/** The fields a task type offers to the plot menus, sampled from its first tasks. */
export interface PlotFields {
  parameters: PlotField[];
  outputs: PlotField[];
  descriptions: PlotField[];
  timings: PlotField[];
}

/** Most raw points a one-parameter plot sends besides its per-x aggregate. */
const MAX_POINTS = 20_000;

/** Lists the plot fields of rows (parameters first, `_index` companions last). */
export function fieldsOf(rows: readonly PlotRow[]): PlotFields {
  const params = new Set<string>();
  const outputs = new Set<string>();
  const descs = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r.metadata)) params.add(k);
    for (const k of Object.keys(r.output)) outputs.add(k);
    for (const [k, v] of Object.entries(r.description))
      if (typeof v === 'number' || typeof v === 'boolean') descs.add(k);
  }
  const ordered = [...params].sort(
    (a, b) => Number(a.endsWith('_index')) - Number(b.endsWith('_index')),
  );
  return {
    parameters: ordered.map((k) => `param:${k}`),
    outputs: [...outputs].sort().map((k) => `output:${k}`),
    descriptions: [...descs].sort().map((k) => `desc:${k}`),
    timings: ['timing:wall_ms', 'timing:cpu_ms', 'timing:cpu_children_ms', 'state'],
  };
}

/** The output metadata keys the fields need (so a plot reads only those). */
export function outputKeysOf(fields: readonly (PlotField | undefined)[]): string[] {
  return fields
    .filter((f): f is string => f !== undefined && f.startsWith('output:'))
    .map((f) => f.slice('output:'.length));
}

function typedValue(m: TypedMetadata, key: string): string | number | null {
  const v = m[key];
  if (v === undefined || v.value === null) return null;
  if (v.type === 'int' || v.type === 'float') return v.value;
  if (v.type === 'bool') return v.value ? 'true' : 'false';
  if (v.type === 'str') return v.value;
  return JSON.stringify(v.value);
}

/** The value of `field` for one row, or null when the row has none. */
export function valueOf(row: PlotRow, field: PlotField): string | number | null {
  const i = field.indexOf(':');
  const source = i < 0 ? field : field.slice(0, i);
  const key = i < 0 ? '' : field.slice(i + 1);
  switch (source) {
    case 'param':
      return typedValue(row.metadata, key);
    case 'output':
      return typedValue(row.output, key);
    case 'desc': {
      const v = row.description[key];
      return typeof v === 'number' || typeof v === 'string'
        ? v
        : v === undefined
          ? null
          : String(v);
    }
    case 'timing':
      return key === 'cpu_ms'
        ? row.cpuMs
        : key === 'cpu_children_ms'
          ? row.cpuChildrenMs
          : row.wallMs;
    case 'state':
      return row.state;
    default:
      return null;
  }
}

/** What a result plot shows, computed on the server so the browser never holds 100,000 rows. */
export interface PlotData {
  kind: 'heatmap' | 'xy';
  taskType: string;
  x: PlotField;
  y: PlotField | null;
  value: PlotField;
  /** Distinct x values, sorted (numbers numerically). */
  xs: (string | number)[];
  /** Distinct y values (heat map). */
  ys: (string | number)[];
  /**
   * Categorical values (`PASS`, `FAIL`…) when the value is not numeric; the plot shows the
   * fraction of `level` among them.
   */
  categories: string[];
  level: string | null;
  /** Heat map: `z[yi][xi]` (mean, or fraction of `level`), null for an empty cell. */
  z: (number | null)[][];
  /** Heat map: tasks with a value per cell. */
  counts: number[][];
  /** x–y plot: per distinct x, the mean (or fraction of `level`) and the count. */
  series: { x: string | number; value: number | null; count: number }[];
  /** x–y plot of a numeric value: raw points (at most 20,000). */
  points: { x: (string | number)[]; v: number[] };
  /** Tasks read, and of those with x (and y) and a value. */
  rows: number;
  used: number;
}

function sortValues(values: Iterable<string | number>): (string | number)[] {
  const list = [...values];
  const numeric = list.every((v) => typeof v === 'number');
  return numeric
    ? (list as number[]).sort((a, b) => a - b)
    : list.map(String).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * Aggregates rows into a heat map (two parameters: mean of a numeric value, or fraction of one
 * category of a categorical value per cell) or an x–y plot (one parameter: per-x mean or
 * fraction, plus the raw points of a numeric value).
 */
export function aggregatePlot(
  rows: readonly PlotRow[],
  spec: { taskType: string; x: PlotField; y?: PlotField; value: PlotField; level?: string },
): PlotData {
  const triples: { x: string | number; y: string | number | null; v: string | number }[] = [];
  for (const r of rows) {
    const x = valueOf(r, spec.x);
    const y = spec.y ? valueOf(r, spec.y) : null;
    const v = valueOf(r, spec.value);
    if (x === null || v === null || (spec.y && y === null)) continue;
    triples.push({ x, y, v });
  }
  const numeric = triples.length > 0 && triples.every((t) => typeof t.v === 'number');
  const categories = numeric ? [] : sortValues(new Set(triples.map((t) => String(t.v))));
  const level = numeric
    ? null
    : spec.level !== undefined && categories.includes(spec.level)
      ? spec.level
      : categories.includes('PASS')
        ? 'PASS'
        : categories.includes('true')
          ? 'true'
          : ((categories[0] as string | undefined) ?? null);
  const score = (v: string | number): number =>
    numeric ? (v as number) : String(v) === level ? 1 : 0;
  const xs = sortValues(new Set(triples.map((t) => t.x)));
  const base: Omit<PlotData, 'kind' | 'ys' | 'z' | 'counts' | 'series' | 'points'> = {
    taskType: spec.taskType,
    x: spec.x,
    y: spec.y ?? null,
    value: spec.value,
    xs,
    categories: categories.map(String),
    level,
    rows: rows.length,
    used: triples.length,
  };
  if (spec.y) {
    const ys = sortValues(new Set(triples.map((t) => t.y as string | number)));
    const xi = new Map(xs.map((v, i) => [String(v), i]));
    const yi = new Map(ys.map((v, i) => [String(v), i]));
    const sum = ys.map(() => xs.map(() => 0));
    const counts = ys.map(() => xs.map(() => 0));
    for (const t of triples) {
      const i = yi.get(String(t.y))!;
      const j = xi.get(String(t.x))!;
      sum[i]![j]! += score(t.v);
      counts[i]![j]!++;
    }
    const z = sum.map((row, i) => row.map((s, j) => (counts[i]![j]! ? s / counts[i]![j]! : null)));
    return { ...base, kind: 'heatmap', ys, z, counts, series: [], points: { x: [], v: [] } };
  }
  const agg = new Map<string, { sum: number; count: number }>();
  for (const t of triples) {
    const a = agg.get(String(t.x)) ?? { sum: 0, count: 0 };
    a.sum += score(t.v);
    a.count++;
    agg.set(String(t.x), a);
  }
  const series = xs.map((x) => {
    const a = agg.get(String(x))!;
    return { x, value: a.count ? a.sum / a.count : null, count: a.count };
  });
  const points = { x: [] as (string | number)[], v: [] as number[] };
  if (numeric) {
    const step = Math.max(1, Math.ceil(triples.length / MAX_POINTS));
    for (let i = 0; i < triples.length; i += step) {
      points.x.push(triples[i]!.x);
      points.v.push(triples[i]!.v as number);
    }
  }
  return { ...base, kind: 'xy', ys: [], z: [], counts: [], series, points };
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // A leading =, +, - or @ would be a formula in a spreadsheet: quote it with a tick.
  const safe = /^[=+\-@]/.test(s) && Number.isNaN(Number(s)) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function fieldName(f: PlotField): string {
  return f.replace(/^[a-z]+:/, '');
}

/** The plot's data as CSV: one line per cell (heat map) or per x value. */
export function plotCsv(p: PlotData): string {
  const measure = p.level ? `fraction_${p.level}` : `mean_${fieldName(p.value)}`;
  const lines: string[][] = [];
  if (p.kind === 'heatmap') {
    lines.push([fieldName(p.x), fieldName(p.y ?? ''), 'tasks', measure]);
    p.ys.forEach((y, i) =>
      p.xs.forEach((x, j) => {
        if (p.counts[i]![j])
          lines.push([String(x), String(y), String(p.counts[i]![j]), String(p.z[i]![j])]);
      }),
    );
  } else {
    lines.push([fieldName(p.x), 'tasks', measure]);
    for (const s of p.series) lines.push([String(s.x), String(s.count), String(s.value ?? '')]);
  }
  return `${lines.map((l) => l.map(csvField).join(',')).join('\n')}\n`;
}
