import type { Command } from 'commander';
import { formatTyped, type TypedMetadata } from '../../core/index.js';
import type { TimingRow } from '../../taskdb/index.js';
import { jobOption, withReadingPipeline, type CommandContext } from '../context.js';
import { ms, printJson, table } from '../format.js';

/** Rows read per page, so a 100,000-attempt job streams in bounded memory. */
const PAGE = 5000;

/** One CSV field: quoted when it holds a comma, quote or line break. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function metaValue(m: TypedMetadata, key: string): string {
  const v = m[key];
  return v === undefined ? '' : v.type === 'str' ? v.value : formatTyped(v);
}

async function* pages<T extends { attemptId: number }>(
  read: (afterId: number | undefined) => Promise<T[]>,
): AsyncGenerator<T[]> {
  let after: number | undefined;
  for (;;) {
    const rows = await read(after);
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1]!.attemptId;
    if (rows.length < PAGE) return;
  }
}

const TIMING_COLUMNS = [
  'job',
  'task',
  'path',
  'name',
  'type',
  'attempt',
  'state',
  'qc',
  'host',
  'queued',
  'started',
  'ended',
  'wait_ms',
  'wall_ms',
  'cpu_ms',
  'cpu_children_ms',
];

function timingCells(r: TimingRow): unknown[] {
  const iso = (t: number | null): string => (t === null ? '' : new Date(t).toISOString());
  const round = (v: number | null): string =>
    v === null ? '' : String(Math.round(v * 1000) / 1000);
  return [
    r.jobId,
    r.taskId,
    r.path,
    r.name ?? '',
    r.taskType,
    r.attempt,
    r.state,
    r.qc ?? '',
    r.host ?? '',
    iso(r.queuedAt),
    iso(r.startedAt),
    iso(r.endedAt),
    round(r.waitMs),
    round(r.wallMs),
    round(r.cpuMs),
    round(r.cpuChildrenMs),
  ];
}

/** Loop parameters of the rows: every task metadata key, in first-seen order. */
function parameterColumns(rows: { metadata: TypedMetadata }[]): string[] {
  const keys: string[] = [];
  for (const r of rows)
    for (const k of Object.keys(r.metadata)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** `eas timings [--csv]` and `eas pass-fail [--csv]`. */
export function registerReports(program: Command, ctx: CommandContext): void {
  program
    .command('timings')
    .description(
      'timings of every finished attempt: queued, started, ended, wait, wall, CPU (--csv: one row per attempt, loop parameters as columns)',
    )
    .option('--job <id>', 'only this job')
    .option('--csv', 'CSV on stdout')
    .option('--json', 'print as JSON')
    .action(async (opts: { job?: string; csv?: boolean; json?: boolean }) => {
      await withReadingPipeline(ctx, async (p) => {
        const jobId = await jobOption(p, opts.job);
        const read = (afterId: number | undefined) => p.db.timings({ jobId, afterId, limit: PAGE });
        if (opts.csv) return writeCsv(ctx, read, TIMING_COLUMNS, timingCells);
        const rows: TimingRow[] = [];
        for await (const page of pages(read)) rows.push(...page);
        if (opts.json) return printJson(ctx.output, rows);
        if (rows.length === 0) return ctx.output.out('No finished attempts.');
        const byType = new Map<string, TimingRow[]>();
        for (const r of rows) byType.set(r.taskType, [...(byType.get(r.taskType) ?? []), r]);
        const stat = (xs: (number | null)[], f: (v: number[]) => number): string => {
          const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
          return v.length ? ms(f(v)) : '-';
        };
        const median = (v: number[]): number => v[Math.floor(v.length / 2)]!;
        const max = (v: number[]): number => v[v.length - 1]!;
        ctx.output.out(
          table(
            ['task type', 'attempts', 'wall median', 'wall max', 'cpu median', 'wait median'],
            [...byType].map(([t, rs]) => [
              t,
              rs.length,
              stat(
                rs.map((r) => r.wallMs),
                median,
              ),
              stat(
                rs.map((r) => r.wallMs),
                max,
              ),
              stat(
                rs.map((r) => r.cpuChildrenMs),
                median,
              ),
              stat(
                rs.map((r) => r.waitMs),
                median,
              ),
            ]),
          ),
        );
        ctx.output.out('\nEvery attempt: eas timings --csv > timings.csv');
      });
    });

  program
    .command('pass-fail')
    .description(
      'the outcome (PASS/FAIL/UNDEFINED) of every attempt that passed QC and reported one, with its loop parameters (--csv for a table)',
    )
    .option('--job <id>', 'only this job')
    .option('--csv', 'CSV on stdout')
    .option('--json', 'print as JSON')
    .action(async (opts: { job?: string; csv?: boolean; json?: boolean }) => {
      await withReadingPipeline(ctx, async (p) => {
        const jobId = await jobOption(p, opts.job);
        const rows = [];
        for await (const page of pages((afterId) => p.db.outcomes({ jobId, afterId, limit: PAGE })))
          rows.push(...page);
        if (opts.json) return printJson(ctx.output, rows);
        const params = parameterColumns(rows);
        const outputs: string[] = [];
        for (const r of rows)
          for (const k of Object.keys(r.output)) if (!outputs.includes(k)) outputs.push(k);
        // An output named like a loop parameter or a fixed column keeps its own, told apart.
        const fixed = ['job', 'task', 'path', 'type', 'attempt', 'outcome'];
        const header = [
          ...fixed,
          ...params,
          ...outputs.map((k) => (params.includes(k) || fixed.includes(k) ? `${k} (output)` : k)),
        ];
        const cells = rows.map((r) => [
          r.jobId,
          r.taskId,
          r.path,
          r.taskType,
          r.attempt,
          r.outcome,
          ...params.map((k) => metaValue(r.metadata, k)),
          ...outputs.map((k) => metaValue(r.output, k)),
        ]);
        if (opts.csv) {
          ctx.output.out([header, ...cells].map((row) => row.map(csvField).join(',')).join('\n'));
          return;
        }
        if (rows.length === 0) return ctx.output.out('No attempt reported an outcome yet.');
        const counts = { PASS: 0, FAIL: 0, UNDEFINED: 0 } as Record<string, number>;
        for (const r of rows) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
        const shown = ['task', 'type', 'outcome', ...params.filter((k) => !k.endsWith('_index'))];
        ctx.output.out(
          table(
            shown,
            rows.map((r) => [
              r.taskId,
              r.taskType,
              r.outcome,
              ...params.filter((k) => !k.endsWith('_index')).map((k) => metaValue(r.metadata, k)),
            ]),
          ),
        );
        ctx.output.out(
          `\nPASS ${counts.PASS ?? 0}, FAIL ${counts.FAIL ?? 0}, UNDEFINED ${counts.UNDEFINED ?? 0}. All columns: eas pass-fail --csv`,
        );
      });
    });
}

async function writeCsv<T extends { attemptId: number; metadata: TypedMetadata }>(
  ctx: CommandContext,
  read: (afterId: number | undefined) => Promise<T[]>,
  columns: string[],
  cells: (r: T) => unknown[],
): Promise<void> {
  // Loop parameters become columns; they are known from the first page (one grid shares them).
  let params: string[] | undefined;
  for await (const page of pages(read)) {
    if (!params) {
      params = parameterColumns(page);
      ctx.output.out([...columns, ...params].map(csvField).join(','));
    }
    ctx.output.out(
      page
        .map((r) =>
          [...cells(r), ...params!.map((k) => metaValue(r.metadata, k))].map(csvField).join(','),
        )
        .join('\n'),
    );
  }
  if (!params) ctx.output.out(columns.map(csvField).join(','));
}
