import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD_MAIN = fileURLToPath(new URL('../child-main.ts', import.meta.url));

let childCpuMs = 0;

/** CPU time of the children {@link runChild} ran so far (and of theirs), ms. */
export function childrenCpuMs(): number {
  return childCpuMs;
}

/** Options of {@link runChild}. */
export interface ChildOptions {
  /** Extra Node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
}

/**
 * Runs one bench job (a name known to `bench/child-main.ts`) in a fresh Node process and
 * returns what it wrote. A fresh process per scenario keeps one scenario's heap, JIT state and
 * open databases from skewing the next, and makes `maxRSS` the scenario's own peak.
 *
 * The child gets this process's loader flags (tsx); under `--cpu-prof` it writes its own profile
 * beside this process's.
 */
export async function runChild<T>(
  job: string,
  arg: unknown,
  options: ChildOptions = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'eas-bench-child-'));
  const out = join(dir, 'result.json');
  const inherited = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
  // Under `--cpu-prof`, a scenario's own children are profiled too, into the same directory.
  const profDir = process.execArgv.find((a) => a.startsWith('--cpu-prof-dir='));
  const profFlags = profDir ? ['--cpu-prof', profDir] : [];
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          ...inherited,
          ...profFlags,
          ...(options.nodeFlags ?? []),
          CHILD_MAIN,
          job,
          out,
          JSON.stringify(arg ?? null),
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(signal ? 128 : c));
    });
    if (code !== 0) throw new Error(`bench job ${job} exited with code ${code}`);
    const envelope = JSON.parse(readFileSync(out, 'utf8')) as { result: T; cpuMs: number };
    childCpuMs += envelope.cpuMs;
    return envelope.result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
