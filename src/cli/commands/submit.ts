import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { EasError, fileErrorWords, type ResolvedConfig } from '../../core/index.js';
import { configOf, runHint, withPipeline, type CommandContext } from '../context.js';
import { printJson, table } from '../format.js';

/** `eas submit <chain> [--dry-run] [--json] [--priority N]`. */
export function registerSubmit(program: Command, ctx: CommandContext): void {
  program
    .command('submit')
    .description('validate a task chain (JSON or YAML) and submit it as a job')
    .argument('<chain>', 'chain file, or - for standard input')
    .option('--dry-run', 'validate and count tasks without writing anything')
    .option('--json', 'print the result as JSON')
    .option('--priority <n>', 'job priority: higher runs first', '0')
    .action(async (file: string, opts: { dryRun?: boolean; json?: boolean; priority: string }) => {
      const priority = Number(opts.priority);
      if (!Number.isInteger(priority))
        throw new EasError('USAGE', `--priority must be an integer, got "${opts.priority}"`, {
          where: '--priority',
        });
      let text: string;
      try {
        // Relative to the command's directory (`main(argv, output, cwd)`), not the process's.
        text = file === '-' ? await readStdin() : await readFile(resolve(ctx.cwd, file), 'utf8');
      } catch (e) {
        throw new EasError('NOT_FOUND', `Cannot read chain file ${file}: ${fileErrorWords(e)}`, {
          where: file,
        });
      }
      const { config, discard } = await pipelineConfig(ctx, Boolean(opts.dryRun));
      try {
        await withPipeline(
          ctx,
          async (p) => {
            const summary = await p.controller().submit({
              chain: text,
              source: file === '-' ? 'stdin' : file,
              dryRun: opts.dryRun,
              priority,
            });
            if (opts.json) {
              printJson(
                ctx.output,
                opts.dryRun
                  ? { tasks: summary.tasks, byType: summary.byType, deferred: summary.deferred }
                  : {
                      jobId: summary.jobId,
                      jobName: summary.jobName,
                      tasks: summary.tasks,
                      byType: summary.byType,
                      deferred: summary.deferred,
                      ready: summary.ready,
                    },
              );
              return;
            }
            const rows = Object.entries(summary.byType).map(([t, n]) => [t, n]);
            ctx.output.out(table(['task type', 'tasks'], rows));
            if (opts.dryRun) {
              ctx.output.out(
                `\nValid: ${summary.tasks} tasks (${summary.deferred} expand at run time). Nothing was written (--dry-run).`,
              );
            } else {
              ctx.output.out(
                `\nSubmitted job ${summary.jobId} "${summary.jobName}": ${summary.tasks} tasks, ${summary.ready} ready now.\n${await runHint(p, Object.keys(summary.byType))}`,
              );
            }
          },
          config,
        );
      } finally {
        await discard();
      }
    });
}

/**
 * The configuration to submit with. A dry run where no embedded database exists yet validates
 * against a throw-away one (no earlier job can provide an input then anyway), so that "nothing
 * was written" holds for the directory too: no `.eas/` appears.
 */
async function pipelineConfig(
  ctx: CommandContext,
  dryRun: boolean,
): Promise<{ config: ResolvedConfig; discard: () => Promise<void> }> {
  const config = configOf(ctx);
  const sqliteFile = config.databaseUrl.startsWith('sqlite:')
    ? config.databaseUrl.slice('sqlite:'.length)
    : undefined;
  if (!dryRun || sqliteFile === undefined || existsSync(sqliteFile))
    return { config, discard: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), 'eas-dry-run-'));
  return {
    config: {
      ...config,
      databaseUrl: `sqlite:${join(dir, 'eas.db')}`,
      filestoreRoot: join(dir, 'files'),
    },
    discard: () => rm(dir, { recursive: true, force: true }),
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
