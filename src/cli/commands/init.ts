import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAME, EasError, makeDirectory } from '../../core/index.js';
import { createPipeline } from '../../pipeline.js';
import { configOf, type CommandContext } from '../context.js';

/** The `eas.yaml` that `eas init` writes. */
export const INIT_CONFIG = `# plato-eas configuration. Environment variables EAS_* override these values, and flags
# override both. Paths are relative to this file.

database:
  # sqlite:<file> on one machine, or postgres://user@host/db on a cluster
  url: sqlite:.eas/eas.db
filestore:
  root: .eas/files
# registry: registry.yaml    # your task types (external commands or JS modules)
# redis:
#   url: redis://127.0.0.1:6379
logLevel: warn
worker:
  concurrency: 4
queue:
  leaseMs: 30s
`;

/** `eas init [dir]`: writes eas.yaml and creates the database. */
export function registerInit(program: Command, ctx: CommandContext): void {
  program
    .command('init')
    .description('create eas.yaml and an empty embedded pipeline in a directory')
    .argument('[dir]', 'directory', '.')
    .option('--force', 'overwrite an existing eas.yaml')
    .action(async (dir: string, opts: { force?: boolean }) => {
      const root = resolve(ctx.cwd, dir);
      await makeDirectory(root);
      const file = join(root, CONFIG_FILE_NAME);
      if (existsSync(file) && !opts.force) {
        throw new EasError('CONFLICT', `${file} exists already. Use --force to overwrite it.`, {
          where: file,
        });
      }
      await writeFile(file, INIT_CONFIG);
      const pipeline = await createPipeline({ config: configOf({ ...ctx, cwd: root }) });
      await pipeline.close();
      ctx.output.out(
        `Created ${file} and an empty pipeline in ${join(root, '.eas')}.\nNext: eas submit <chain.json> && eas run --until-idle`,
      );
    });
}
