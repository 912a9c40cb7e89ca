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
