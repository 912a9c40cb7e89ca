/**
 * `npm run bench` (DESIGN §9): runs the bench scenarios, each in a fresh Node process, prints
 * one table with every figure beside its same-run baseline, and writes
 * `bench/results/<scenario>.json` and `bench/results/summary.json` (overwritten each run).
 *
 *   npm run bench                          all scenarios
 *   npm run bench -- claim-latency         only the named scenarios
 *   npm run bench -- --cpu-prof            also V8 CPU profiles, summarised into
 *                                          bench/results/profiles/ (figures there are skewed by
 *                                          the profiler; results/*.json are left alone)
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from './lib/child.js';
import { summarizeCpuProfile } from './lib/cpuprofile.js';
import { machineFacts } from './lib/machine.js';
import { formatTable, type ScenarioResult } from './lib/report.js';

const SCENARIOS = [
  'embedded-throughput',
  'claim-latency',
  'submit-expand',
  'bls-vs-astropy',
  'cluster-dag',
  'web-views',
] as const;

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const args = process.argv.slice(2);
const cpuProf = args.includes('--cpu-prof');
const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--cpu-prof');
const named = args.filter((a) => !a.startsWith('-'));
const unknown = named.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
if (unknown.length > 0 || unknownFlags.length > 0) {
  process.stderr.write(
    `unknown ${[...unknown, ...unknownFlags].join(', ')}; scenarios: ${SCENARIOS.join(', ')}; flag: --cpu-prof\n`,
  );
  process.exit(2);
}
const selected = named.length > 0 ? SCENARIOS.filter((s) => named.includes(s)) : [...SCENARIOS];

const profilesDir = join(resultsDir, 'profiles');
mkdirSync(resultsDir, { recursive: true });
if (cpuProf) {
  rmSync(profilesDir, { recursive: true, force: true });
  mkdirSync(profilesDir, { recursive: true });
  // Profiles are large and machine-specific: never committed.
  writeFileSync(join(profilesDir, '.gitignore'), '*\n');
}

const machine = machineFacts();
process.stderr.write(
  `plato-eas bench — node ${machine.node}, ${machine.cpuCount} × ${machine.cpuModel}, load ${machine.loadAverage1m}` +
    `${cpuProf ? ', under the CPU profiler' : ''}\n`,
);
const t0 = performance.now();
const results: ScenarioResult[] = [];
const failures: string[] = [];
for (const name of selected) {
  process.stderr.write(`▶ ${name}\n`);
  const started = performance.now();
  try {
    // One directory per scenario and Node's default file names: every thread (the module
    // loader runs on one of its own) and every child process writes its own profile.
    const profDir = join(profilesDir, name);
    const nodeFlags = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const r = await runChild<ScenarioResult>(name, null, { nodeFlags });
    if (cpuProf) {
      // Keep the profiles of threads that did work (not the loader thread, mostly idle).
      r.details.cpuProfiles = Object.fromEntries(
        readdirSync(profDir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => [f, summarizeCpuProfile(join(profDir, f))] as const)
          .filter(([, p]) => p.busyMs > 1_000),
      );
      r.notes.push('Measured under the V8 CPU profiler: figures are lower than in a normal run.');
    }
    writeFileSync(
      join(cpuProf ? profilesDir : resultsDir, `${name}.json`),
      `${JSON.stringify(r, null, 2)}\n`,
    );
    results.push(r);
    process.stderr.write(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    failures.push(`${name}: ${(e as Error).message}`);
    process.stderr.write(`  FAILED: ${(e as Error).message}\n`);
  }
}
const durationMs = Math.round(performance.now() - t0);

const out: string[] = ['', formatTable(results), ''];
for (const r of results) for (const n of r.notes.slice(0, 1)) out.push(`${r.scenario}: ${n}`);
// Other processes' CPU while a scenario ran (from /proc/stat): on a 2-core machine, a few
// tenths of a core taken by someone else already lowers wall-clock throughput visibly.
const busy = results.filter((r) => (r.machine.otherWork?.otherCores ?? 0) > 0.25);
if (busy.length > 0)
  out.push(
    `Machine busy with other work (${busy.map((r) => `${r.machine.otherWork!.otherCores} of ${r.machine.cpuCount} CPUs taken by other processes during ${r.scenario}`).join('; ')}): wall-clock figures understate what an idle machine gives; the rows per CPU-second do not depend on it.`,
  );
const warnings = results.flatMap((r) => r.warnings.map((w) => `${r.scenario}: ${w}`));
if (warnings.length > 0)
  out.push('', 'Warnings (engine behaviour to look at):', ...warnings.map((w) => `  - ${w}`));
const missed = results.flatMap((r) =>
  r.figures.filter((f) => f.pass === false).map((f) => `${r.scenario} / ${f.label}`),
);
out.push(
  '',
  missed.length === 0
    ? 'Every figure with a target meets it.'
    : `Targets missed: ${missed.join('; ')}. Details and where the time goes: bench/results/<scenario>.json.`,
);
if (failures.length > 0) out.push(`Scenarios that failed: ${failures.join('; ')}`);
out.push(
  `Total ${(durationMs / 1000).toFixed(1)} s. Results in ${cpuProf ? profilesDir : resultsDir}.`,
);
process.stdout.write(`${out.join('\n')}\n`);

if (!cpuProf) {
  const summary = {
    machine,
    startedAt: new Date(Date.now() - durationMs).toISOString(),
    durationMs,
    scenarios: results.map((r) => ({
      scenario: r.scenario,
      title: r.title,
      durationMs: r.durationMs,
      otherWork: r.machine.otherWork,
      figures: r.figures,
      warnings: r.warnings,
    })),
    targetsMissed: missed,
    failures,
  };
  writeFileSync(join(resultsDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
} else {
  process.stdout.write(`CPU profiles (open in Chrome DevTools): ${profilesDir}/<scenario>/\n`);
}
process.exit(failures.length > 0 ? 1 : 0);
