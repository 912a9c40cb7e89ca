import { ValueProblem } from './errors.js';
import { MAX_FORMAT_PRECISION, MAX_STRING_LENGTH } from './limits.js';
import { floatRepr, isNumber, numberOf, repr, toStr, typeName, type PyValue } from './values.js';

/*
 * Python's string formatting: `str.format` with its format-spec mini-language, and printf-style
 * `'%.3f' % x`. Rounding is Python's: correctly rounded, ties to even on the exact binary value
 * (`'%.2f' % 0.125 == '0.12'`, `'{:.0f}'.format(2.5) == '2'`).
 */

function problem(message: string): never {
  throw new ValueProblem(message);
}

function checkLength(n: number): void {
  if (n > MAX_STRING_LENGTH) problem(`string longer than ${MAX_STRING_LENGTH} characters`);
}

const TIE_GUARD_DIGITS = 26;

/**
 * `|x|` with `p` digits after the point, ties to even. `toFixed` rounds the exact binary value
 * but sends ties away from zero; a tie is exact only when the longer expansion is `…5000…`.
 */
export function fixedDigits(ax: number, p: number): string {
  if (ax >= 1e21) {
    // Integral already; toFixed would switch to exponent form.
    return BigInt(ax).toString() + (p > 0 ? '.' + '0'.repeat(p) : '');
  }
  const s = ax.toFixed(p);
  const extra = Math.min(100, p + TIE_GUARD_DIGITS);
  if (extra <= p) return s;
  const long = ax.toFixed(extra);
  const dot = long.indexOf('.');
  const tail = long.slice(dot + 1 + p);
  if (!/^50*$/.test(tail)) return s;
  const kept = p === 0 ? long.slice(0, dot) : long.slice(0, dot + 1 + p);
  const last = Number(kept[kept.length - 1]);
  return last % 2 === 0 ? kept : s;
}

/** `|x|` in exponent form with `p` digits after the point, ties to even: mantissa and exponent. */
export function exponentDigits(ax: number, p: number): { mantissa: string; exponent: number } {
  let s = ax.toExponential(p);
  const extra = Math.min(100, p + TIE_GUARD_DIGITS);
  if (extra > p && ax !== 0) {
    const long = ax.toExponential(extra);
    const [m = '', e = '0'] = long.split('e');
    const keptLen = p === 0 ? 1 : 2 + p;
    const tail = m.slice(p === 0 ? 2 : 2 + p);
    if (/^50*$/.test(tail)) {
      const kept = m.slice(0, keptLen);
      if (Number(kept[kept.length - 1]) % 2 === 0) s = `${kept}e${e}`;
    }
  }
  const [mantissa = '', e = '0'] = s.split('e');
  return { mantissa, exponent: Number(e) };
}

function expText(mantissa: string, exponent: number, upper: boolean): string {
  const e = `${upper ? 'E' : 'e'}${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return mantissa + e;
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * The digits of `|x|` for a float presentation type (`e E f F g G %`, or `''`/`r` for repr),
 * without sign, grouping or padding.
 */
export function floatBody(
  x: number,
  type: string,
  precision: number | undefined,
  alternate: boolean,
): string {
  const upper = type === 'E' || type === 'F' || type === 'G';
  const ax = Math.abs(x);
  if (!Number.isFinite(x)) {
    const t = Number.isNaN(x) ? 'nan' : 'inf';
    return (upper ? t.toUpperCase() : t) + (type === '%' ? '%' : '');
  }
  switch (type) {
    case 'f':
    case 'F': {
      const s = fixedDigits(ax, precision ?? 6);
      return alternate && !s.includes('.') ? s + '.' : s;
    }
    case '%':
      return fixedDigits(ax * 100, precision ?? 6) + '%';
    case 'e':
    case 'E': {
      const { mantissa, exponent } = exponentDigits(ax, precision ?? 6);
      return expText(
        alternate && !mantissa.includes('.') ? mantissa + '.' : mantissa,
        exponent,
        upper,
      );
    }
    case 'g':
    case 'G':
    case 'n':
    case '': {
      if (type === '' && precision === undefined) return floatRepr(ax);
      const p = precision === undefined ? 6 : Math.max(precision, 1);
      const exponent = ax === 0 ? 0 : exponentDigits(ax, p - 1).exponent;
      // Python's '' type with a precision switches to exponent form already at p digits.
      if (exponent >= -4 && exponent < p) {
        let s = fixedDigits(ax, p - 1 - exponent);
        if (!alternate) s = stripZeros(s);
        if (type === '' && !s.includes('.')) s += '.0';
        return s;
      }
      const { mantissa } = exponentDigits(ax, p - 1);
      return expText(alternate ? mantissa : stripZeros(mantissa), exponent, upper);
    }
    default:
      return problem(`Unknown format code '${type}' for object of type 'float'`);
  }
}

function group(intDigits: string, sep: string, every: number): string {
  let out = '';
  for (let i = intDigits.length; i > 0; i -= every) {
    const chunk = intDigits.slice(Math.max(0, i - every), i);
    out = out === '' ? chunk : chunk + sep + out;
  }
  return out;
}

function pad(
  body: string,
  signAndPrefix: string,
  width: number,
  fill: string,
  align: string,
): string {
  const len = [...signAndPrefix].length + [...body].length;
  if (width <= len) return signAndPrefix + body;
  const n = width - len;
  switch (align) {
    case '<':
      return signAndPrefix + body + fill.repeat(n);
    case '^':
      return (
        fill.repeat(Math.floor(n / 2)) + signAndPrefix + body + fill.repeat(n - Math.floor(n / 2))
      );
    case '=':
      return signAndPrefix + fill.repeat(n) + body;
    default:
      return fill.repeat(n) + signAndPrefix + body;
  }
}

interface Spec {
  fill: string;
  align: string | undefined;
  sign: string;
  alternate: boolean;
  zero: boolean;
  width: number;
  grouping: string;
  precision: number | undefined;
  type: string;
}

const SPEC_RE =
  /^(?:([\s\S])?([<>=^]))?([+\- ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/u;

function parseSpec(text: string): Spec {
  const m = SPEC_RE.exec(text);
  if (m === null) return problem(`Invalid format specifier '${text}'`);
  const width = m[7] === undefined ? 0 : Number(m[7]);
  const precision = m[9] === undefined ? undefined : Number(m[9]);
  if (width > MAX_STRING_LENGTH) problem(`format width ${m[7]} is too large`);
  if (precision !== undefined && precision > MAX_FORMAT_PRECISION) {
    problem(`format precision ${m[9]} is too large (at most ${MAX_FORMAT_PRECISION})`);
  }
  return {
    fill: m[1] ?? (m[6] && m[2] === undefined ? '0' : ' '),
    align: m[2] ?? (m[6] ? '=' : undefined),
    sign: m[3] ?? '-',
    alternate: m[5] !== undefined,
    zero: m[6] !== undefined,
    width,
    grouping: m[8] ?? '',
    precision,
    type: m[10] ?? '',
  };
}

function signOf(negative: boolean, sign: string): string {
  if (negative) return '-';
  return sign === '+' ? '+' : sign === ' ' ? ' ' : '';
}

function formatNumberWith(v: PyValue & { kind: 'int' | 'float' | 'bool' }, spec: Spec): string {
  const x = numberOf(v);
  const isInt = v.kind !== 'float';
  let type = spec.type;
  if (isInt && 'bcdoxXn'.includes(type) && type !== '') {
    if (spec.precision !== undefined) problem('Precision not allowed in integer format specifier');
    if (type === 'c') {
      if (x < 0 || x > 0x10ffff) problem('%c arg not in range(0x110000)');
      return pad(String.fromCodePoint(x), '', spec.width, spec.fill, spec.align ?? '<');
    }
    const radix = type === 'b' ? 2 : type === 'o' ? 8 : type === 'x' || type === 'X' ? 16 : 10;
    let digits = Math.abs(x).toString(radix);
    if (type === 'X') digits = digits.toUpperCase();
    const prefix =
      spec.alternate && radix !== 10 ? `0${type === 'X' ? 'X' : type === 'x' ? 'x' : type}` : '';
    if (spec.grouping) digits = group(digits, spec.grouping, radix === 10 ? 3 : 4);
    return pad(digits, signOf(x < 0, spec.sign) + prefix, spec.width, spec.fill, spec.align ?? '>');
  }
  if (isInt && type === '') {
    if (spec.precision !== undefined) problem('Precision not allowed in integer format specifier');
    let digits = String(Math.abs(x));
    if (spec.grouping) digits = group(digits, spec.grouping, 3);
    return pad(digits, signOf(x < 0, spec.sign), spec.width, spec.fill, spec.align ?? '>');
  }
  if (!isInt && type !== '' && 'bcdoxX'.includes(type)) {
    problem(`Unknown format code '${type}' for object of type 'float'`);
  }
  if (type === 'n') type = 'g';
  let body = floatBody(x, type, spec.precision, spec.alternate);
  if (spec.grouping && Number.isFinite(x)) {
    const m = /^(\d+)(.*)$/su.exec(body);
    if (m) body = group(m[1] ?? '', spec.grouping, 3) + (m[2] ?? '');
  }
  const negative = x < 0 || Object.is(x, -0);
  return pad(
    body,
    signOf(negative && !Number.isNaN(x), spec.sign),
    spec.width,
    spec.fill,
    spec.align ?? '>',
  );
}

/** Python's `format(v, spec)`. */
export function formatValue(v: PyValue, specText: string): string {
  if (specText === '') return toStr(v);
  const spec = parseSpec(specText);
  if (v.kind === 'str') {
    if (spec.type !== '' && spec.type !== 's') {
      problem(`Unknown format code '${spec.type}' for object of type 'str'`);
    }
    if (spec.sign !== '-' || spec.alternate) problem('Sign not allowed in string format specifier');
    if (spec.align === '=') problem("'=' alignment not allowed in string format specifier");
    const body =
      spec.precision === undefined ? v.value : [...v.value].slice(0, spec.precision).join('');
    return pad(body, '', spec.width, spec.fill, spec.align ?? '<');
  }
  if (isNumber(v)) return formatNumberWith(v, spec);
  return problem(`unsupported format string passed to ${typeName(v)}.__format__`);
}

/** The value a format field names: `0`, `name`, `name[key]`, `0[1]`. */
function fieldValue(
  field: string,
  args: readonly PyValue[],
  kwargs: ReadonlyMap<string, PyValue>,
  auto: { next: number; mode: 'auto' | 'manual' | undefined },
): PyValue {
  const m = /^([^.[]*)((?:\[[^\]]*\])*)$/u.exec(field);
  if (m === null) return problem(`attribute access in format field '{${field}}' is not allowed`);
  const head = m[1] ?? '';
  let value: PyValue | undefined;
  if (head === '' || /^\d+$/u.test(head)) {
    let index: number;
    if (head === '') {
      if (auto.mode === 'manual') {
        problem('cannot switch from manual field specification to automatic field numbering');
      }
      auto.mode = 'auto';
      index = auto.next++;
    } else {
      if (auto.mode === 'auto') {
        problem('cannot switch from automatic field numbering to manual field specification');
      }
      auto.mode = 'manual';
      index = Number(head);
    }
    value = args[index];
    if (value === undefined) {
      problem(`Replacement index ${index} out of range for positional args tuple`);
    }
  } else {
    value = kwargs.get(head);
    if (value === undefined)
      problem(`format field '{${head}}' names no argument (KeyError: '${head}')`);
  }
  for (const [, key] of (m[2] ?? '').matchAll(/\[([^\]]*)\]/gu)) {
    value = indexForFormat(value, key ?? '');
  }
  return value;
}

function indexForFormat(v: PyValue, key: string): PyValue {
  if (v.kind === 'dict') {
    const x = v.entries.get(key);
    return x ?? problem(`KeyError: '${key}'`);
  }
  if ((v.kind === 'list' || v.kind === 'tuple') && /^\d+$/u.test(key)) {
    return v.items[Number(key)] ?? problem('IndexError: index out of range');
  }
  return problem(`${typeName(v)} cannot be indexed by '${key}' in a format field`);
}

/** Python's `template.format(*args, **kwargs)`. */
export function formatTemplate(
  template: string,
  args: readonly PyValue[],
  kwargs: ReadonlyMap<string, PyValue>,
  auto: { next: number; mode: 'auto' | 'manual' | undefined } = { next: 0, mode: undefined },
  recursion = 2,
): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i] as string;
    if (c === '{' && template[i + 1] === '{') {
      out += '{';
      i += 2;
    } else if (c === '}' && template[i + 1] === '}') {
      out += '}';
      i += 2;
    } else if (c === '}') {
      problem("Single '}' encountered in format string");
    } else if (c === '{') {
      // Find the matching brace (a spec may hold nested fields: {x:{width}}).
      let depth = 1;
      let j = i + 1;
      while (j < template.length && depth > 0) {
        if (template[j] === '{') depth++;
        else if (template[j] === '}') depth--;
        if (depth > 0) j++;
      }
      if (depth > 0) problem("Single '{' encountered in format string");
      const inner = template.slice(i + 1, j);
      i = j + 1;
      const m = /^([^!:]*)(?:!([^:]*))?(?::([\s\S]*))?$/u.exec(inner);
      const field = m?.[1] ?? '';
      const conversion = m?.[2];
      let spec = m?.[3] ?? '';
      if (spec.includes('{')) {
        if (recursion <= 0) problem('Max string recursion exceeded');
        spec = formatTemplate(spec, args, kwargs, auto, recursion - 1);
      }
      let value = fieldValue(field, args, kwargs, auto);
      if (conversion !== undefined) {
        if (conversion === 's') value = { kind: 'str', value: toStr(value) };
        else if (conversion === 'r' || conversion === 'a')
          value = { kind: 'str', value: repr(value) };
        else problem(`Unknown conversion specifier ${conversion}`);
      }
      out += formatValue(value, spec);
    } else {
      const next = template.slice(i).search(/[{}]/u);
      const end = next < 0 ? template.length : i + next;
      out += template.slice(i, end);
      i = end;
    }
    checkLength(out.length);
  }
  return out;
}

const PRINTF_RE =
  /%(?:\(([^)]*)\))?([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])?/gu;

/** Python's printf-style `format % values`. */
export function printfFormat(format: string, values: PyValue): string {
  const args = values.kind === 'tuple' ? values.items : [values];
  const mapping = values.kind === 'dict' ? values : undefined;
  let argIndex = 0;
  let usedMapping = false;
  const nextArg = (): PyValue => {
    const a = args[argIndex++];
    return a ?? problem('not enough arguments for format string');
  };
  let out = '';
  let last = 0;
  for (const m of format.matchAll(PRINTF_RE)) {
    out += format.slice(last, m.index);
    last = m.index + m[0].length;
    const [, key, flags = '', widthText, precisionText, type] = m;
    if (type === undefined) problem('incomplete format');
    if (type === '%') {
      out += '%';
      continue;
    }
    let value: PyValue;
    const width = widthText === '*' ? intArg(nextArg()) : Number(widthText ?? 0);
    const precision =
      precisionText === undefined
        ? undefined
        : precisionText === '*'
          ? intArg(nextArg())
          : Number(precisionText);
    if (Math.abs(width) > MAX_STRING_LENGTH) problem(`format width ${width} is too large`);
    if (precision !== undefined && precision > MAX_FORMAT_PRECISION) {
      problem(`format precision ${precision} is too large (at most ${MAX_FORMAT_PRECISION})`);
    }
    if (key !== undefined) {
      if (mapping === undefined) problem('format requires a mapping');
      usedMapping = true;
      value = mapping.entries.get(key) ?? problem(`KeyError: '${key}'`);
    } else {
      value = nextArg();
    }
    const left = flags.includes('-') || width < 0;
    const zero = flags.includes('0') && !left;
    const sign = flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '-';
    const alternate = flags.includes('#');
    const w = Math.abs(width);
    const align = left ? '<' : '>';
    if (type === 's' || type === 'r' || type === 'a') {
      let s = type === 's' ? toStr(value) : repr(value);
      if (precision !== undefined) s = [...s].slice(0, precision).join('');
      out += pad(s, '', w, ' ', align);
    } else if (type === 'c') {
      let s: string;
      if (value.kind === 'str' && [...value.value].length === 1) s = value.value;
      else if (value.kind === 'int' && value.value >= 0 && value.value <= 0x10ffff) {
        s = String.fromCodePoint(value.value);
      } else s = problem('%c requires int or char');
      out += pad(s, '', w, ' ', align);
    } else {
      if (!isNumber(value)) {
        problem(`%${type} format: a real number is required, not ${typeName(value)}`);
      }
      let x = numberOf(value);
      let body: string;
      if ('diu'.includes(type)) {
        if (!Number.isFinite(x)) problem(`cannot convert float ${floatRepr(x)} to integer`);
        x = Math.trunc(x);
        body = String(Math.abs(x));
      } else if ('oxX'.includes(type)) {
        if (value.kind === 'float') problem(`%${type} format: an integer is required, not float`);
        body = Math.abs(x).toString(type === 'o' ? 8 : 16);
        if (type === 'X') body = body.toUpperCase();
        if (alternate) body = `0${type}${body}`;
      } else {
        body = floatBody(x, type, precision, alternate);
      }
      if (precision !== undefined && 'diuoxX'.includes(type)) body = body.padStart(precision, '0');
      const negative = x < 0 || (Object.is(x, -0) && !'diu'.includes(type));
      out += pad(body, signOf(negative, sign), w, zero ? '0' : ' ', zero ? '=' : align);
    }
    checkLength(out.length);
  }
  out += format.slice(last);
  checkLength(out.length);
  if (argIndex < args.length && !(mapping !== undefined || usedMapping)) {
    problem('not all arguments converted during string formatting');
  }
  return out;
}

function intArg(v: PyValue): number {
  if (v.kind !== 'int') problem('* wants int');
  return v.value;
}
