import { Command, CommanderError } from 'commander';
import {
  EXIT_CODES,
  exitCodeFor,
  isEasError,
  isTransientBackendError,
  InvalidInputError,
} from '../core/index.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { processOutput, type Output } from './format.js';
import { registerDaemons } from './commands/daemons.js';
import { registerDb } from './commands/db.js';
import { registerDemo } from './commands/demo.js';
import { registerFiles } from './commands/files.js';
import { registerInit } from './commands/init.js';
import { registerInspect } from './commands/inspect.js';
import { registerJobs } from './commands/jobs.js';
import { registerQueue } from './commands/queue.js';
import { registerRegistry } from './commands/registry.js';
import { registerRun } from './commands/run.js';
import { registerSubmit } from './commands/submit.js';
import { registerStandalone } from './commands/standalone.js';
import { registerReports } from './commands/reports.js';
import { registerWeb } from './commands/web.js';
import { registerK8s } from './commands/k8s.js';

/** Version printed by `eas --version`. */
const VERSION = '0.1.0';

/** Builds the `eas` program. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('eas')
    .description(
      'plato-eas: run the PLATO exoplanet-analysis pipeline (tasks, queue, files, workers)',
    )
    .version(VERSION)
    .option(
      '--database <url>',
      'task database: sqlite:<file> or postgres://… (overrides EAS_DATABASE_URL and eas.yaml)',
    )
    .option('--filestore <dir>', 'file repository directory (overrides EAS_FILESTORE)')
    .option('--registry <file>', 'task-type registry file (overrides eas.yaml)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .showHelpAfterError('(run eas --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.output.out(s.replace(/\n$/, '')),
      writeErr: (s) => ctx.output.err(s.replace(/\n$/, '')),
    })
    .exitOverride();
  ctx.globals = () => program.opts<GlobalOptions>();
  registerInit(program, ctx);
  registerSubmit(program, ctx);
  registerRun(program, ctx);
  registerInspect(program, ctx);
  registerJobs(program, ctx);
  registerFiles(program, ctx);
  registerQueue(program, ctx);
  registerRegistry(program, ctx);
  registerReports(program, ctx);
  registerStandalone(program, ctx);
  registerDb(program, ctx);
  registerDaemons(program, ctx);
  registerDemo(program, ctx);
  registerWeb(program, ctx);
  registerK8s(program, ctx);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * Runs the CLI with `argv` (without `node eas`) and returns the exit code: 0 ok, 1 task
 * failures reported, 2 usage or input error, 3 infrastructure unreachable (DESIGN §7).
 */
export async function main(
  argv: string[],
  output: Output = processOutput(),
  cwd = process.cwd(),
): Promise<number> {
  const ctx: CommandContext = { output, cwd, globals: () => ({}), exitCode: 0 };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    reportError(output, e);
    return !isEasError(e) && isTransientBackendError(e) ? EXIT_CODES.unreachable : exitCodeFor(e);
  }
}

function reportError(o: Output, e: unknown): void {
  if (e instanceof InvalidInputError) {
    o.err(`eas: ${e.message}`);
    return;
  }
  if (isEasError(e)) {
    o.err(`eas: ${e.message}`);
    return;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  if (isTransientBackendError(err)) {
    // A server that went away mid-command, or a transaction the database aborted for another's
    // sake (deadlock, serialization): an infrastructure condition, not a bug.
    o.err(
      `eas: the command was broken off by a database or queue server (${err.message}). ` +
        'Each step is a transaction: the one broken off changed nothing, the ones before it are kept. ' +
        'See where it stopped (eas status) before running it again.',
    );
    return;
  }
  o.err(`eas: unexpected error: ${err.message}\n${err.stack ?? ''}`);
}
