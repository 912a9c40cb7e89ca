import type { Command } from 'commander';
import { withPipeline, type CommandContext } from '../context.js';
import { printJson, table } from '../format.js';

/** `queue`, `queue empty`. */
export function registerQueue(program: Command, ctx: CommandContext): void {
  const queue = program
    .command('queue')
    .description('what the job queue holds, per task type')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withPipeline(ctx, async (p) => {
        const counts = await p.queue.counts();
        if (opts.json)
          return printJson(ctx.output, { backend: p.queue.backendName, types: counts });
        const rows = Object.entries(counts).map(([t, c]) => [
          t,
          c.ready - c.delayed,
          c.delayed,
          c.leased,
        ]);
        ctx.output.out(`queue backend: ${p.queue.backendName}`);
        ctx.output.out(
          rows.length
            ? table(['task type', 'ready', 'delayed', 'leased'], rows)
            : 'The queue is empty.',
        );
      });
    });
  queue
    .command('empty')
    .description(
      'remove every item from the queue (the task database keeps them; eas run re-queues them)',
    )
    .action(async () => {
      await withPipeline(ctx, async (p) => {
        await p.queue.clear();
        ctx.output.out(
          'Queue emptied. Queued attempts stay in the task database; the next eas run or controller re-queues them.',
        );
      });
    });
}
