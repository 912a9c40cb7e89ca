import { defineConfig } from 'tsup';
import { ENTRY_POINTS } from './entry-points.js';

// One list of entry points feeds tsup, package.json "exports" and typedoc (checked by
// test/package/entry-points.test.ts), so the three can never drift apart.
export default defineConfig({
  entry: {
    ...ENTRY_POINTS,
    'cli/index': 'src/cli/index.ts',
    // A worker thread starts from a file: the BLS thread is built as one (science/bls-threads.ts).
    'science/bls-thread': 'src/science/bls-thread.ts',
  },
  format: ['esm'],
  target: 'node20',
  dts: { entry: ENTRY_POINTS },
  sourcemap: true,
  clean: true,
  splitting: true,
  shims: false,
  external: ['pg', 'ioredis', '@kubernetes/client-node', 'better-sqlite3', 'knex'],
});
