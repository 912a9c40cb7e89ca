// Starts a TypeScript worker-thread module from the sources (tests, `tsx`), never from the
// build: Node 20 does not apply `--import tsx` to a worker's entry module, so the thread
// registers tsx (a development dependency) itself, then imports the module it was given.
import { workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
await import(workerData.entry);
