/**
 * Shared plumbing of the science task handlers: reading an input light curve with the metadata
 * that travelled with it, writing an output light curve with its `fileMetadata` entry, reading
 * numeric parameters, and a seeded random generator.
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { EasError } from '../../core/index.js';
import type { TaskContext } from '../../sdk/index.js';
import {
  readLightCurveGz,
  writeLightCurveGz,
  type LightCurve,
  type LightCurveMetadata,
} from '../../science/index.js';

/** Throws a `USAGE` error naming the task type. */
export function usage(task: string, message: string): EasError {
  return new EasError('USAGE', `${task}: ${message}`);
}

/** Keeps the numbers (finite) and strings of a record: what light-curve metadata can hold. */
export function toLightCurveMetadata(
  record: Record<string, unknown> | undefined,
): LightCurveMetadata {
  const out: LightCurveMetadata = {};
  for (const [k, v] of Object.entries(record ?? {})) {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'boolean') out[k] = v ? 1 : 0;
  }
  return out;
}

/** A metadata number: non-finite values become `null` (JSON has no NaN). */
export function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * Reads the input light curve of semantic type `type`. Its metadata is the sidecar's (when a
 * `.metadata.cfg` sits beside the staged file) overlaid by the input version's metadata
 * (`input_metadata`, how light-curve metadata travels between tasks).
 * @throws Error naming the task, the semantic type and the file when it is missing or unreadable.
 */
export function readInput(ctx: TaskContext, task: string, type: string): LightCurve {
  const path = ctx.task.inputs[type];
  if (path === undefined) throw usage(task, `input "${type}" is required (declare inputs.${type})`);
  let lc: LightCurve;
  try {
    lc = readLightCurveGz(path);
  } catch (error) {
    // Named as the chain (or the standalone config) named it: the staged copy's directory is
    // the attempt's scratch, gone when the attempt ends; standalone stages as <type>__<name>.
    const name = basename(path).replace(new RegExp(`^${type}__`), '');
    const message = (error as Error).message.split(path).join(name);
    throw new Error(`${task}: cannot read input ${type} (${name}): ${message}`, { cause: error });
  }
  const metadata = { ...lc.metadata, ...toLightCurveMetadata(ctx.task.input_metadata[type]) };
  return { ...lc, metadata };
}

/** The declared path of output `type`, or a `USAGE` error when the chain did not declare it. */
export function outputPath(ctx: TaskContext, task: string, type: string): string {
  const path = ctx.task.outputs[type];
  if (path === undefined)
    throw usage(task, `output "${type}" is required (declare outputs.${type})`);
  return path;
}

/**
 * Writes `lc` (gzip text, 4 columns) to output `type` and returns the `fileMetadata` entry
 * that stores its metadata on the new version.
 */
export function writeOutput(
  ctx: TaskContext,
  task: string,
  type: string,
  lc: LightCurve,
): Record<string, Record<string, unknown>> {
  writeFileSync(outputPath(ctx, task, type), writeLightCurveGz(lc));
  return { [type]: { ...lc.metadata } };
}

/** The task's parameters: `description.specs` when it is an object, else the description. */
export function specsOf(ctx: TaskContext): Record<string, unknown> {
  const specs = ctx.task.description.specs;
  if (specs !== null && typeof specs === 'object' && !Array.isArray(specs)) {
    return specs as Record<string, unknown>;
  }
  return ctx.task.description;
}

/** A finite number parameter, `fallback` when absent; a `USAGE` error when not a number. */
export function numberParam(
  task: string,
  record: Record<string, unknown>,
  key: string,
  fallback?: number,
): number | undefined {
  const v = record[key];
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) throw usage(task, `${key} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** A required finite number parameter. */
export function requiredNumber(task: string, record: Record<string, unknown>, key: string): number {
  const n = numberParam(task, record, key);
  if (n === undefined) throw usage(task, `${key} is required`);
  return n;
}

/** FNV-1a, 32 bits, of a string: the seed of {@link gaussianRandom}. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A seeded standard-normal generator (mulberry32 + Box–Muller): same seed, same numbers. */
export function gaussianRandom(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
