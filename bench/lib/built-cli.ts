import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'dist', 'cli', 'index.js');

/** Newest modification time (ms) of the files under `dir`. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/**
 * The `eas` command as an operator runs it (`bin/eas.js` over the built `dist/`), with the
 * Node flags to start it: the profiler's when the scenario runs under `--cpu-prof`, never the
 * TypeScript loader's. `dist/` is built first when it is missing or older than a file of
 * `src/` (the Lua generator, then tsup: about 15 s), so the figures are those of the code in
 * the tree.
 *
 * Daemons in a bench run from the build because the loader changes what is measured: it wraps
 * every function the code creates in a naming helper, and that cost the no-op workers of
 * `cluster-dag` 2–9 % of their throughput.
 */
export function builtCli(): { argv: string[] } {
  if (!existsSync(ENTRY) || statSync(ENTRY).mtimeMs < newestUnder(join(ROOT, 'src'))) {
    process.stderr.write('  building dist/ for the daemons (src/ is newer)…\n');
    // As `npm run build` does: the Redis scripts are bundled from the generated module.
    for (const step of [
      [join(ROOT, 'scripts', 'generate-lua.mjs')],
      [join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')],
    ]) {
      execFileSync(process.execPath, step, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  }
  const profDir = process.execArgv.find((a) => a.startsWith('--cpu-prof-dir='));
  return { argv: [...(profDir ? ['--cpu-prof', profDir] : []), join(ROOT, 'bin', 'eas.js')] };
}
