import { createWriteStream } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { EasError, formatDuration, parseDuration } from '../../core/index.js';
import { collectGarbage, DEFAULT_GARBAGE_AGE_MS } from '../../control/index.js';
import { checkLogicalPath } from '../../filestore/index.js';
import { jobOption, parseId, withReadingPipeline, type CommandContext } from '../context.js';
import { bytes, printJson, table, time } from '../format.js';

/** The least `--older-than` of `eas gc`. */
const GC_MIN_AGE_MS = 60_000;

/** `products`, `get`, `gc`. */
export function registerFiles(program: Command, ctx: CommandContext): void {
  program
    .command('products')
    .description('file products by working directory, with their versions and QC')
    .option('--job <id>', 'only this job')
    .option('--dir <working-directory>', 'only this working directory')
    .option('--json', 'print as JSON')
    .action(async (opts: { job?: string; dir?: string; json?: boolean }) => {
      await withReadingPipeline(ctx, async (p) => {
        const jobId = await jobOption(p, opts.job);
        const products = await p.db.products({ jobId, workingDirectory: opts.dir });
        if (opts.json) return printJson(ctx.output, products);
        if (products.length === 0) {
          ctx.output.out('No file products.');
          return;
        }
        const rows: (string | number)[][] = [];
        for (const pr of products) {
          const latest = pr.versions[pr.versions.length - 1];
          rows.push([
            pr.jobId,
            `${pr.workingDirectory ? `${pr.workingDirectory}/` : ''}${pr.filename}`,
            pr.semanticType,
            pr.versions.length,
            latest ? bytes(latest.size) : '-',
            latest ? (latest.passedQc ? 'passed' : 'failed') : 'not written',
            latest ? time(latest.createdAt) : '-',
          ]);
        }
        ctx.output.out(table(['job', 'path', 'type', 'versions', 'size', 'QC', 'written'], rows));
        ctx.output.out('\nDownload one: eas get <path> [--job N] [-o file]');
      });
    });

  program
    .command('get')
    .description('copy the newest QC-passed version of a file product out of the repository')
    .argument('<path>', 'working-directory/filename, as in eas products')
    .option('--job <id>', 'from this job (default: the newest job that has it)')
    .option('-o, --output <file>', 'where to write it (- for stdout; default: its filename here)')
    .action(async (path: string, opts: { job?: string; output?: string }) => {
      const jobId = opts.job === undefined ? undefined : parseId(opts.job, '--job');
      const slash = path.lastIndexOf('/');
      const logical = checkLogicalPath(
        slash < 0 ? '' : path.slice(0, slash),
        slash < 0 ? path : path.slice(slash + 1),
        'path',
      );
      await withReadingPipeline(ctx, async (p) => {
        let version = await p.db.findPassedVersion(
          logical.workingDirectory,
          logical.filename,
          jobId,
        );
        if (!version && slash >= 0) {
          // The filename itself may contain a directory part: try the whole path in the job's root.
          version = await p.db.findPassedVersion('', path, jobId);
        }
        if (!version) {
          throw new EasError(
            'NOT_FOUND',
            `No QC-passed version of "${path}"${jobId ? ` in job ${jobId}` : ''}. List files with: eas products`,
            {
              where: path,
            },
          );
        }
        const source = await p.files.createReadStream(version.sha256);
        if (opts.output === '-') {
          await streamPipeline(source, process.stdout);
          return;
        }
        const dest = resolve(ctx.cwd, opts.output ?? basename(logical.filename));
        // A destination that cannot be written (no such directory, no permission) is the
        // user's to fix: said plainly, exit 2, before a byte is copied.
        const out = createWriteStream(dest);
        try {
          await new Promise<void>((opened, failed) => {
            out.once('open', () => opened());
            out.once('error', failed);
          });
        } catch (e) {
          source.destroy();
          const code = (e as NodeJS.ErrnoException).code;
          throw new EasError(
            code === 'ENOENT' ? 'NOT_FOUND' : 'USAGE',
            `Cannot write ${dest}: ${code === 'ENOENT' ? 'no such directory' : (code ?? (e as Error).message)}`,
            { where: opts.output === undefined ? dest : '--output' },
          );
        }
        await streamPipeline(source, out);
        ctx.output.err(
          `wrote ${dest} (${bytes(version.size)}, sha256 ${version.sha256}) from job ${version.jobId}`,
        );
      });
    });

  program
    .command('gc')
    .description(
      'remove stored files no version refers to (outputs of attempts killed before their report, leftovers of an interrupted delete)',
    )
    .option(
      '--older-than <duration>',
      'only files no one stored for this long, e.g. 30m, 2h, 1d',
      `${DEFAULT_GARBAGE_AGE_MS / 3_600_000}h`,
    )
    .option('--dry-run', 'count what would be removed; remove nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { olderThan: string; dryRun?: boolean; json?: boolean }) => {
      let olderThanMs: number;
      try {
        olderThanMs = parseDuration(opts.olderThan, '--older-than');
      } catch (e) {
        throw new EasError('USAGE', (e as Error).message, { where: '--older-than', cause: e });
      }
      // A worker stores its outputs a moment before its report records them: younger files
      // may be about to be referenced (and a bare number is milliseconds).
      if (olderThanMs < GC_MIN_AGE_MS) {
        throw new EasError(
          'USAGE',
          `--older-than ${opts.olderThan} is less than a minute: files that young may be outputs whose report is still on its way. Give at least 1m.`,
          { where: '--older-than' },
        );
      }
      await withReadingPipeline(ctx, async (p) => {
        const r = await collectGarbage(
          { db: p.db, files: p.files, logger: p.logger },
          { olderThanMs, dryRun: Boolean(opts.dryRun) },
        );
        if (opts.json) return printJson(ctx.output, r);
        const gone = `${r.removed.keys.length} (${bytes(r.removed.bytes)})`;
        ctx.output.out(
          `${r.scanned} stored ${r.scanned === 1 ? 'file' : 'files'}: ${r.referenced} referenced by versions; ` +
            `${r.dryRun ? 'would remove' : 'removed'} ${gone} unreferenced` +
            (r.recent > 0
              ? `; kept ${r.recent} unreferenced stored within ${formatDuration(olderThanMs)}`
              : '') +
            '.',
        );
      });
    });
}
