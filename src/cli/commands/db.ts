import { existsSync, realpathSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EasError, redactUrl, type Logger } from '../../core/index.js';
import {
  copyDatabase,
  differingTables,
  openCopySource,
  openCopyTarget,
  tableChecksums,
  type CopyResult,
  type TableChecksum,
} from '../../taskdb/index.js';
import { configOf, loggerOf, type CommandContext } from '../context.js';
import { printJson, table, type Output } from '../format.js';

/**
 * A database named on the command line as a full URL: `sqlite:<file>` or a plain file path
 * (SQLite, relative to `cwd`), or `postgres://…`.
 *
 * @throws EasError `USAGE` for an empty argument or another scheme (`mysql://…`).
 */
export function databaseArgument(arg: string, cwd: string): string {
  const value = arg.trim();
  if (/^postgres(ql)?:\/\//.test(value)) return value;
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') {
      throw new EasError('USAGE', 'sqlite: needs a file path, e.g. sqlite:laptop.db', {
        where: arg,
      });
    }
    return `sqlite:${resolve(cwd, path)}`;
  }
  // A scheme of two letters or more is a URL; a drive letter (C:) or a plain name is a path.
  if (value === '' || /^[a-z][a-z0-9+.-]+:/i.test(value)) {
    throw new EasError(
      'USAGE',
      `"${redactUrl(value)}" is neither sqlite:<file>, a file path nor postgres://…`,
      { where: redactUrl(arg) },
    );
  }
  return `sqlite:${resolve(cwd, value)}`;
}

/** The file of a `sqlite:` URL, with symbolic links resolved when it exists. */
function sqlitePath(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length);
  return existsSync(file) ? realpathSync(file) : file;
}

function sameDatabase(a: string, b: string): boolean {
  const fa = sqlitePath(a);
  const fb = sqlitePath(b);
  return fa !== undefined || fb !== undefined ? fa === fb : a === b;
}

/** One table of the report: what was read from the source and what the target holds now. */
interface TableReport {
  source: TableChecksum;
  target: TableChecksum;
  identical: boolean;
}

/**
 * Copies `sourceUrl` into `targetUrl`, reads the target back and prints the comparison. A
 * SQLite target file this command created is removed again when the copy fails, so a failure
 * leaves nothing behind.
 */
async function copyAndVerify(
  ctx: CommandContext,
  sourceUrl: string,
  targetUrl: string,
  options: { logger: Logger; json: boolean },
): Promise<void> {
  if (sameDatabase(sourceUrl, targetUrl)) {
    throw new EasError(
      'USAGE',
      `Source and target are the same database (${redactUrl(sourceUrl)}).`,
      { where: redactUrl(targetUrl) },
    );
  }
  const { logger } = options;
  const source = await openCopySource(sourceUrl, { logger });
  try {
    const targetFile = sqlitePath(targetUrl);
    const created = targetFile !== undefined && !existsSync(targetFile);
    const target = await openCopyTarget(targetUrl, { logger });
    let failed = false;
    try {
      const progress = new CopyProgress(ctx.output);
      let copied: CopyResult;
      try {
        copied = await copyDatabase(source, target, {
          logger,
          onProgress: (p) => progress.tick(p),
        });
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        progress.clear();
      }
      const written = await tableChecksums(target);
      const names = { source: source.displayUrl, target: target.displayUrl };
      report(ctx, names, copied, written, options.json);
    } finally {
      await target.close();
      if (failed && created) {
        for (const f of ['', '-wal', '-shm']) rmSync(targetFile + f, { force: true });
      }
    }
  } finally {
    await source.close();
  }
}

function report(
  ctx: CommandContext,
  names: { source: string; target: string },
  copied: CopyResult,
  written: Record<string, TableChecksum>,
  json: boolean,
): void {
  const differ = differingTables(copied.tables, written);
  const tables: Record<string, TableReport> = {};
  for (const name of Object.keys(copied.tables)) {
    tables[name] = {
      source: copied.tables[name]!,
      target: written[name] ?? { rows: 0, sha256: '' },
      identical: !differ.includes(name),
    };
  }
  ctx.exitCode = differ.length > 0 ? 1 : 0;
  if (json) {
    printJson(ctx.output, {
      source: names.source,
      target: names.target,
      identical: differ.length === 0,
      tables,
      countersRaised: copied.countersRaised,
      sequencesReset: copied.sequencesReset,
    });
    return;
  }
  const o = ctx.output;
  o.out(`Copied ${names.source}`);
  o.out(`  into ${names.target}`);
  o.out('');
  const short = (s: string): string => s.slice(0, 16);
  o.out(
    table(
      ['table', 'source rows', 'source sha256', 'target rows', 'target sha256', ''],
      Object.entries(tables).map(([name, t]) => [
        name,
        t.source.rows,
        short(t.source.sha256),
        t.target.rows,
        short(t.target.sha256),
        t.identical ? '' : 'DIFFERENT',
      ]),
    ),
  );
  o.out('');
  if (copied.countersRaised.length > 0) {
    o.out(
      `Id counters raised to the largest copied id: ${copied.countersRaised.join(', ')} (they were behind in the source).`,
    );
  }
  o.out(
    'The job queue is not copied: the next eas run (or controller) on the target queues every queued attempt again.',
  );
  const rows = Object.values(tables).reduce((n, t) => n + t.target.rows, 0);
  if (differ.length > 0) {
    o.out(`DIFFERENT: ${differ.join(', ')} differ between source and target.`);
    return;
  }
  o.out(`identical: ${Object.keys(tables).length} tables, ${rows} rows, same sha256 on both sides`);
}

/** A one-line progress display on a terminal; nothing otherwise (the copy is one transaction). */
class CopyProgress {
  private last = 0;
  private shown = false;
  constructor(private readonly o: Output) {}

  tick(p: { table: string; rows: number }): void {
    if (!this.o.isTTY) return;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    process.stderr.write(`\r\x1b[Kcopying ${p.table}: ${p.rows} rows`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}

/** `db dump <target>`, `db restore <source>`. */
export function registerDb(program: Command, ctx: CommandContext): void {
  const db = program
    .command('db')
    .description('the task database: copy it whole between SQLite and PostgreSQL');

  db.command('dump')
    .description(
      'copy the configured task database into <target> (a new or empty database), then compare every table',
    )
    .argument('<target>', 'sqlite:<file>, a file path (SQLite) or postgres://…')
    .option('--json', 'print the per-table comparison as JSON')
    .action(async (target: string, opts: { json?: boolean }) => {
      const config = configOf(ctx);
      await copyAndVerify(ctx, config.databaseUrl, databaseArgument(target, ctx.cwd), {
        logger: loggerOf(config),
        json: opts.json === true,
      });
    });

  db.command('restore')
    .description(
      'copy <source> into the configured task database, which must be empty, then compare every table',
    )
    .argument('<source>', 'sqlite:<file>, a file path (SQLite) or postgres://…')
    .option('--json', 'print the per-table comparison as JSON')
    .action(async (source: string, opts: { json?: boolean }) => {
      const config = configOf(ctx);
      await copyAndVerify(ctx, databaseArgument(source, ctx.cwd), config.databaseUrl, {
        logger: loggerOf(config),
        json: opts.json === true,
      });
    });
}
