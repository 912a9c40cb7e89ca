import { misspellingsOf, unwrapFloats, type Problem } from '../core/index.js';
import { closeNames } from './errors.js';

/** What one parameter of a built-in task type accepts. */
type Param =
  | {
      kind: 'number';
      /** Smallest value allowed. */
      min?: number;
      /** The value must be greater than this. */
      above?: number;
      /** Largest value allowed. */
      max?: number;
      integer?: boolean;
      required?: boolean;
    }
  | { kind: 'numbers'; above?: number }
  | { kind: 'string'; required?: boolean }
  | { kind: 'object' };

/** The fields a built-in task type reads from its description (after expansion). */
interface BuiltinParams {
  /** Top-level fields. */
  fields: Record<string, Param>;
  /**
   * Object-valued fields and their keys. `strict`: every other key is an error; otherwise only
   * a key that looks like a misspelt known one is (other keys may be another tool's, as the
   * original's chains share one `specs` between `synthesis_batman` and `synthesis_psls`).
   */
  sections?: Record<string, { keys: Record<string, Param>; strict: boolean }>;
  /** The keys of this section may also be written at the top level (`synthesis_*`'s specs). */
  flatSection?: string;
}

const positive = { kind: 'number', above: 0 } as const;

const SYNTHESIS_SPECS: Record<string, Param> = {
  duration: { kind: 'number', above: 0, required: true },
  sampling_cadence: positive,
  t0: { kind: 'number' },
  planet_radius: { kind: 'number', min: 0 },
  star_radius: positive,
  orbital_period: positive,
  semi_major_axis: positive,
  orbital_angle: { kind: 'number', min: -90, max: 90 },
  impact_parameter: { kind: 'number', min: 0 },
  u1: { kind: 'number' },
  u2: { kind: 'number' },
  noise: { kind: 'number', min: 0 },
  supersample: { kind: 'number', min: 1, integer: true },
  seed: { kind: 'number', integer: true },
};

const SYNTHESIS: BuiltinParams = {
  fields: {},
  sections: { specs: { keys: SYNTHESIS_SPECS, strict: false } },
  flatSection: 'specs',
};

const INGEST: BuiltinParams = {
  fields: { directory: { kind: 'string', required: true }, pattern: { kind: 'string' } },
};

/**
 * The parameters of the built-in task types (DESIGN §6), as their handlers in `src/tasks/`
 * read them. A type not listed reads none.
 */
export const BUILTIN_PARAMS: Readonly<Record<string, BuiltinParams>> = {
  null: { fields: { sleep: { kind: 'number', min: 0, max: 86_400 } } },
  // Any message will do: the handler falls back to its own for one that is not a text.
  error: { fields: {} },
  set_metadata: { fields: { values: { kind: 'object' } } },
  verify: { fields: {} },
  multiply: { fields: {} },
  binning: { fields: { cadence: positive } },
  ingest_lightcurves: INGEST,
  ingest_external_lcs: INGEST,
  synthesis_transit: SYNTHESIS,
  synthesis_batman: SYNTHESIS,
  transit_search_bls: {
    fields: { lc_duration: positive },
    sections: {
      search_settings: {
        keys: {
          durations: { kind: 'numbers', above: 0 },
          minimum_period: positive,
          maximum_period: positive,
          frequency_factor: positive,
          threads: { kind: 'number', min: 1, integer: true },
        },
        strict: true,
      },
    },
  },
};

/** A number as the handlers read one: a finite number, or a string that is one. */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function checkParam(param: Param, value: unknown, path: string, problems: Problem[]): void {
  const got = JSON.stringify(value) ?? String(value);
  switch (param.kind) {
    case 'number': {
      const n = asNumber(value);
      const range = [
        param.min !== undefined ? `≥ ${param.min}` : undefined,
        param.above !== undefined ? `> ${param.above}` : undefined,
        param.max !== undefined ? `≤ ${param.max}` : undefined,
      ].filter(Boolean);
      const wanted = `${param.integer ? 'an integer' : 'a number'}${range.length ? ` ${range.join(' and ')}` : ''}`;
      if (
        n === undefined ||
        (param.integer && !Number.isInteger(n)) ||
        (param.min !== undefined && n < param.min) ||
        (param.above !== undefined && n <= param.above) ||
        (param.max !== undefined && n > param.max)
      )
        problems.push({ path, message: `must be ${wanted}, got ${got}` });
      return;
    }
    case 'numbers': {
      const list = Array.isArray(value) ? value.map(asNumber) : undefined;
      if (
        list === undefined ||
        list.length === 0 ||
        list.some((n) => n === undefined || (param.above !== undefined && n <= param.above))
      ) {
        problems.push({
          path,
          message: `must be a non-empty list of numbers${param.above !== undefined ? ` > ${param.above}` : ''}, got ${got}`,
        });
      }
      return;
    }
    case 'string':
      if (typeof value !== 'string' || value.trim() === '')
        problems.push({ path, message: `must be a non-empty text, got ${got}` });
      return;
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        problems.push({ path, message: `must be an object of names and values, got ${got}` });
      return;
  }
}

/** Checks the keys of `record` against `params`; unknown keys per `strict` (see {@link BuiltinParams}). */
function checkRecord(
  type: string,
  record: Record<string, unknown>,
  params: Record<string, Param>,
  strict: boolean,
  otherNames: readonly string[],
  path: (key: string) => string,
  what: string,
  problems: Problem[],
  skipped: ReadonlySet<string> = new Set(),
): void {
  const known = Object.keys(params);
  for (const [key, value] of Object.entries(record)) {
    const param = params[key];
    if (param) {
      // Absent as the handlers read it: missing, null, or an empty INI value (`noise =`).
      if (value !== undefined && value !== null && value !== '')
        checkParam(param, value, path(key), problems);
      continue;
    }
    if (otherNames.includes(key)) continue;
    const names = [...known, ...otherNames];
    const slips = misspellingsOf(key, names);
    if (!strict && slips.length === 0) continue;
    const close = slips.length > 0 ? slips : closeNames(key, names);
    problems.push({
      path: path(key),
      message:
        `${type} reads no ${what} "${key}".` +
        (close.length > 0 ? ` Did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '') +
        (known.length > 0 ? ` It reads: ${known.join(', ')}.` : ''),
    });
  }
  for (const [key, param] of Object.entries(params)) {
    if (
      'required' in param &&
      param.required &&
      !skipped.has(key) &&
      (record[key] === undefined || record[key] === null || record[key] === '')
    )
      problems.push({ path: path(key), message: `is required by ${type}` });
  }
}

/**
 * What is wrong with the evaluated description of a task of built-in type `type` (its fields
 * other than the chain's structure): a parameter of the wrong type or out of range, a required
 * one missing, a key of a settings section the type does not read, or a field whose name looks
 * like a misspelt one (`nosie`, `input`). Fields that other code may read are left alone.
 * `structural` are the chain's own field names (`inputs`, `outputs`, …); `skip` fields are
 * evaluated only when the task starts.
 */
export function checkBuiltinDescription(
  type: string,
  description: Record<string, unknown>,
  at: string,
  structural: readonly string[],
  skip: ReadonlySet<string> = new Set(),
): Problem[] {
  const spec = BUILTIN_PARAMS[type];
  if (!spec) return checkFieldSlips(type, description, at, structural);
  const problems: Problem[] = [];
  const plain = unwrapFloats(description) as Record<string, unknown>;
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plain)) if (!skip.has(k) && !k.startsWith('$')) top[k] = v;
  const sections = spec.sections ?? {};
  // Whether the section's keys sit at the top level is decided on the whole description: a
  // section evaluated at start (it reads requested_metadata) is still there.
  const flat = spec.flatSection !== undefined && !(spec.flatSection in plain);
  const topParams: Record<string, Param> = {
    ...spec.fields,
    ...(flat ? sections[spec.flatSection!]!.keys : {}),
  };
  const sectionNames = Object.keys(sections);
  const topRecord = Object.fromEntries(Object.entries(top).filter(([k]) => !(k in sections)));
  checkRecord(
    type,
    topRecord,
    topParams,
    false,
    [...structural, ...sectionNames],
    (k) => `${at}.${k}`,
    'field',
    problems,
    skip,
  );
  for (const [name, section] of Object.entries(sections)) {
    const value = top[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({
        path: `${at}.${name}`,
        message: `must be an object of settings, got ${JSON.stringify(value)}`,
      });
      continue;
    }
    checkRecord(
      type,
      value as Record<string, unknown>,
      section.keys,
      section.strict,
      [],
      (k) => `${at}.${name}.${k}`,
      `${name} key`,
      problems,
    );
  }
  return problems;
}

/**
 * What is wrong with the evaluated description of a task whose type declares no parameters (a
 * registry type, which accepts any): a field one slip from a field of the chain language
 * (`input`, `ouputs`, `working_directroy`), which would otherwise reach the task as a parameter
 * while the chain silently lacks the input, output or directory meant. Other fields pass.
 * `structural` are the chain's field names. A field evaluated only when the task starts is
 * checked too: its name is known now.
 */
export function checkFieldSlips(
  type: string,
  description: Record<string, unknown>,
  at: string,
  structural: readonly string[],
): Problem[] {
  const problems: Problem[] = [];
  for (const key of Object.keys(description)) {
    if (key.startsWith('$') || structural.includes(key)) continue;
    const slips = misspellingsOf(key, structural);
    if (slips.length === 0) continue;
    problems.push({
      path: `${at}.${key}`,
      message:
        `"${key}" is not a field of a task descriptor, and ${type} declares no parameter of that name. ` +
        `Did you mean ${slips.map((c) => `"${c}"`).join(' or ')}?`,
    });
  }
  return problems;
}
