#!/usr/bin/env node
// The `eas` command. It runs the built CLI from dist/; in a git checkout where dist/ has not
// been built yet it builds it first, so `npm install && npx eas demo` works on a fresh clone.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'index.js');
if (!existsSync(entry) && existsSync(join(root, 'tsup.config.ts'))) {
  process.stderr.write('eas: first run in a source checkout, building dist/ (a few seconds)…\n');
  execFileSync(process.execPath, [join(root, 'node_modules', 'tsup', 'dist', 'cli-default.js')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
// A daemon (eas controller, eas worker) stops gracefully on SIGTERM from its first moment: a
// pod stopped while starting must exit 0, not die of the signal. One that comes while the CLI
// loads is kept here for the daemon to act on once it runs (see cli/commands/daemons.ts).
const EARLY_STOP = Symbol.for('plato-eas.early-stop-signal');
const GLOBAL_VALUE_OPTIONS = new Set(['--database', '--filestore', '--registry', '--log-level']);
const args = process.argv.slice(2);
const first = args.findIndex(
  (a, i) => !a.startsWith('-') && !(i > 0 && GLOBAL_VALUE_OPTIONS.has(args[i - 1])),
);
if (args[first] === 'controller' || args[first] === 'worker') {
  const early = { signal: undefined, handler: (signal) => (early.signal ??= signal) };
  globalThis[EARLY_STOP] = early;
  process.on('SIGTERM', early.handler);
  process.on('SIGINT', early.handler);
}

// A reader that stops early (`eas tree | head`) closes the pipe: stop quietly, as Unix tools do,
// instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
