import type { Command } from 'commander';
import { EasError, loadWebTokens } from '../../core/index.js';
import { createPipeline, openPipelineQueue } from '../../pipeline.js';
import type { JobQueue } from '../../queue/index.js';
import { assertBindAllowed, createWebServer } from '../../web/index.js';
import { assertPipelineHere, configOf, loggerOf, type CommandContext } from '../context.js';

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value.trim()) || n > 65535) {
    throw new EasError('USAGE', `--port must be a port number (0-65535), got "${value}"`, {
      where: '--port',
    });
  }
  return n;
}

/** `eas web`: the dashboard (DESIGN §7). */
export function registerWeb(program: Command, ctx: CommandContext): void {
  program
    .command('web')
    .description(
      'serve the web dashboard: progress, jobs, task tree, task detail, files, logs, timings, pass/fail, ' +
        'worker activity and result plots, updated live (127.0.0.1 unless a token is set, see docs/guides/web-dashboard.md)',
    )
    .option(
      '--host <address>',
      'interface to bind (default: web.host, EAS_WEB_HOST, else 127.0.0.1)',
    )
    .option(
      '--port <n>',
      'port to listen on, 0 for any free one (default: web.port, EAS_WEB_PORT, else 8080)',
    )
    .action(async (opts: { host?: string; port?: string }) => {
      const port = parsePort(opts.port);
      const config = configOf(ctx);
      const web = { host: opts.host ?? config.web.host, port: port ?? config.web.port };
      // Tokens come from the environment or files only, never from flags (DESIGN §8).
      const tokens = loadWebTokens();
      // Refuse an open bind before touching the database.
      assertBindAllowed(web.host, tokens);
      // Like the read commands: outside a pipeline, say so and create nothing.
      assertPipelineHere(config);
      const log = loggerOf(config);
      // Reads need only the database: the queue is opened at the first write action, and only
      // with the write token, so the dashboard starts and reads while Redis is down.
      const p = await createPipeline({ config, logger: log, queue: false });
      let queue: Promise<JobQueue> | undefined;
      const openQueue = (): Promise<JobQueue> =>
        (queue = openPipelineQueue(config, p.db, log)).catch((e: unknown) => {
          queue = undefined;
          throw e;
        });
      try {
        const server = await createWebServer({
          db: p.db,
          files: p.files,
          queue: tokens.writeToken ? openQueue : undefined,
          host: web.host,
          port: web.port,
          tokens,
          logger: log,
        });
        const mode = tokens.writeToken
          ? 'bearer token required; the write token enables cancel, rerun and reschedule'
          : tokens.readToken
            ? 'bearer token required; read-only'
            : 'loopback only, no token; read-only';
        ctx.output.err(`eas web: dashboard on ${server.url} (${mode})`);
        ctx.output.err(`eas web: task database ${p.db.sql.displayUrl}; stop with Ctrl-C`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await server.close();
      } finally {
        await (await queue?.catch(() => undefined))?.close();
        await p.close();
      }
    });
}
