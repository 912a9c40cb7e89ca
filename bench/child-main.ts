import { writeFileSync } from 'node:fs';
import { childrenCpuMs } from './lib/child.js';
import { cpuTimes, otherWork, type MachineFacts } from './lib/machine.js';
import { processCpuMs } from './lib/proc-cpu.js';

/**
 * Entry of a bench child process: `child-main.ts <job> <result file> <JSON argument>`. Runs one
 * job and writes `{ result, cpuMs }` to the file (stdout and stderr stay free for progress);
 * `cpuMs` is this process's CPU time and its descendants', and the servers' a scenario reports
 * (`serverCpuMs`), so the parent can tell its own work from other processes' on the machine.
 */
const JOBS: Record<string, (arg: unknown) => Promise<unknown>> = {
  'embedded-throughput': async () => (await import('./scenarios/embedded-throughput.js')).run(),
  'claim-latency': async () => (await import('./scenarios/claim-latency.js')).run(),
  'submit-expand': async () => (await import('./scenarios/submit-expand.js')).run(),
  'bls-vs-astropy': async () => (await import('./scenarios/bls-vs-astropy.js')).run(),
  'cluster-dag': async () =>
    (await import('./scenarios/cluster-dag.js')).run(
      process.env.EAS_BENCH_QUEUE === 'sql' ? 'sql' : 'redis',
    ),
  'web-views': async () => (await import('./scenarios/web-views.js')).run(),
  'submit-expand/ours': async (arg) =>
    (await import('./scenarios/submit-expand.js')).measureSubmit(
      arg as { tasks?: number; profile?: boolean },
    ),
  'submit-expand/raw-insert': async (arg) =>
    (await import('./scenarios/submit-expand.js')).measureRawInsert(arg as { rows: number }),
};

const [job, out, argText] = process.argv.slice(2);
const fn = job === undefined ? undefined : JOBS[job];
if (!fn || !out) {
  process.stderr.write(
    `usage: child-main.ts <${Object.keys(JOBS).join('|')}> <result file> [json]\n`,
  );
  process.exit(2);
}
const machine0 = cpuTimes();
const cpu0 = process.cpuUsage();
const tree0 = processCpuMs(process.pid, true);
const t0 = performance.now();
const result = await fn(argText ? (JSON.parse(argText) as unknown) : null);
const cpu = process.cpuUsage(cpu0);
const tree = processCpuMs(process.pid, true);
const scenario = result as { machine?: MachineFacts; serverCpuMs?: number } | null;
// From /proc, every process this one started and waited for counts (worker daemons, Python),
// not only the bench children that report their own.
const ownMs =
  tree0 !== undefined && tree !== undefined
    ? tree - tree0
    : (cpu.user + cpu.system) / 1000 + childrenCpuMs();
const cpuMs = ownMs + (scenario?.serverCpuMs ?? 0);
const facts = scenario?.machine;
if (facts) facts.otherWork = otherWork(machine0, cpuMs, performance.now() - t0);
writeFileSync(out, JSON.stringify({ result, cpuMs }));
process.exit(0);
