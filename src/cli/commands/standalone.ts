import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { EasError, loadConfig } from '../../core/index.js';
import { readStandaloneTask, runStandalone, standaloneResultJson } from '../../sdk/index.js';
import { createPipeline } from '../../pipeline.js';
import { configOf, loggerOf, type CommandContext } from '../context.js';
import { metadataLine, ms } from '../format.js';

/** `eas standalone <cfg|json>`: one task, exactly as in a pipeline, in a throw-away one. */
export function registerStandalone(program: Command, ctx: CommandContext): void {
  program
    .command('standalone')
    .description(
      'run one task of one type against a temporary embedded pipeline, as a science team tests its module',
    )
    .argument(
      '<task>',
      "a task description: the original's .cfg, or .json; input paths relative to this directory",
    )
    .option('--out <dir>', 'where to copy the output files', '.')
    .option('--json', 'print the result as JSON')
    .option('--keep', 'keep the temporary pipeline and print where it is')
    .action(async (file: string, opts: { out: string; json?: boolean; keep?: boolean }) => {
      const base = configOf(ctx); // eas.yaml and --registry of this directory, if any
      const task = await readStandaloneTask(file, ctx.cwd);
      const outDir = resolve(ctx.cwd, opts.out);
      // Checked before the task runs: its outputs would be lost with the temporary pipeline.
      if (!statSync(outDir, { throwIfNoEntry: false })?.isDirectory()) {
        throw new EasError('NOT_FOUND', `--out ${opts.out}: no such directory (${outDir})`, {
          where: '--out',
        });
      }
      const dir = mkdtempSync(join(tmpdir(), 'eas-standalone-'));
      const removeDir = (): void => {
        if (!opts.keep) rmSync(dir, { recursive: true, force: true });
      };
      // Interrupted (Ctrl-C, a job runner's SIGTERM): the temporary pipeline goes too.
      const interrupted = (signal: NodeJS.Signals): void => {
        removeDir();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      let pipeline: Awaited<ReturnType<typeof createPipeline>> | undefined;
      try {
        const config = {
          ...loadConfig({ cwd: dir, env: {} }),
          registry: base.registry,
          logLevel: base.logLevel,
        };
        const p = await createPipeline({ config, logger: loggerOf(config) });
        pipeline = p;
        const result = await runStandalone(
          {
            db: p.db,
            queue: p.queue,
            files: p.files,
            registry: p.registry,
            worker: () => p.worker({ claimWaitMs: 20 }),
          },
          task,
          { outDir, source: file },
        );
        if (opts.json) ctx.output.out(standaloneResultJson(result));
        else {
          const a = result.attempt;
          ctx.output.out(
            `${result.taskType}: ${result.state}${result.reason ? ` (${result.reason})` : ''}`,
          );
          if (a)
            ctx.output.out(
              `attempt ${a.number}: ${a.state}, QC ${a.qc ?? '-'}, wall ${ms(a.wallMs)}, cpu ${ms(a.cpuMs)}, cpu+children ${ms(a.cpuChildrenMs)}`,
            );
          if (a?.error) ctx.output.out(`error: ${a.error}`);
          if (a?.traceback) ctx.output.out(`traceback:\n  ${a.traceback.split('\n').join('\n  ')}`);
          if (a && Object.keys(a.outputMetadata).length)
            ctx.output.out(`output metadata: ${metadataLine(a.outputMetadata)}`);
          for (const [sem, path] of Object.entries(result.outputs))
            ctx.output.out(`output ${sem}: ${path}`);
          if (opts.keep)
            ctx.output.out(`pipeline kept in ${dir} (cd there and use eas tree, eas logs)`);
        }
        ctx.exitCode = result.state === 'done' ? 0 : 1;
      } finally {
        process.removeListener('SIGINT', interrupted);
        process.removeListener('SIGTERM', interrupted);
        await pipeline?.close();
        removeDir();
      }
    });
}
