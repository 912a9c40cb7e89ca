// A BullMQ worker process for bench/scenarios/cluster-dag.ts: no-op processors on the
// children's and the parents' queues, `concurrency` each, until SIGTERM.
// Usage: node bullmq-worker.mjs <redis-url> <prefix> <concurrency>
import { Worker } from 'bullmq';

const [url, prefix, concurrencyText] = process.argv.slice(2);
const { hostname, port, pathname } = new URL(url);
const connection = {
  host: hostname,
  port: Number(port || 6379),
  db: Number(pathname.slice(1) || 0),
};
const concurrency = Number(concurrencyText);
const noop = async () => undefined;
const workers = ['bench-children', 'bench-parents'].map(
  (name) => new Worker(name, noop, { connection, prefix, concurrency }),
);
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await Promise.all(workers.map((w) => w.close()));
  process.exit(0);
});
