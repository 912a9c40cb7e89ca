import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  LightCurveFormatError,
  createLightCurve,
  findGaps,
  flagsAreMeaningful,
  formatNumpyExp,
  medianCadence,
  parseLightCurveText,
  readCsvLightCurve,
  readLightCurveGz,
  readMetadataCfg,
  saveLightCurveGz,
  writeLightCurveGz,
  writeMetadataCfg,
} from '../../src/science/index.js';

const DEMO = new URL(
  '../../../shared/data/test_task_configs/test_data/demo_superearth.gz',
  import.meta.url,
);
const DEMO_CFG = new URL(`${DEMO.href}.metadata.cfg`);

describe('the real demo light curve', () => {
  const lc = readLightCurveGz(DEMO);

  it('has 240 d at 900 s: 23,040 samples, no gaps', () => {
    expect(lc.time.length).toBe(23_040);
    expect(lc.time[0]).toBe(0);
    expect(lc.time[23_039]).toBe(20_735_100);
    expect(medianCadence(lc.time)).toBeCloseTo(900, 6);
    const report = findGaps(lc.time);
    expect(report.gaps).toEqual([]);
    expect(report.irregularSteps).toBe(0);
    expect(report.expectedSamples).toBe(23_040);
  });

  it('carries the original writer quirks: flag column = flux, uncertainty 0', () => {
    expect(lc.flag).toEqual(lc.flux);
    expect(lc.uncertainty.every((u) => u === 0)).toBe(true);
    expect(flagsAreMeaningful(lc)).toBe(false);
    expect(Math.min(...lc.flux)).toBeGreaterThan(0.998);
  });

  it('reads its metadata from the sidecar', () => {
    expect(lc.metadata.orbital_period).toBe(50);
    expect(lc.metadata.planet_radius).toBe(0.35645944000000007);
    expect(lc.metadata.sampling_cadence).toBe(900);
    expect(lc.metadata.t0).toBe(1);
    expect(lc.metadata.mode).toBe('main_sequence');
    expect(Object.keys(lc.metadata)).toHaveLength(23);
  });

  it('writes back byte-identical text and sidecar (numpy %.18e, Python repr)', () => {
    const original = gunzipSync(readFileSync(DEMO)).toString('utf8');
    expect(gunzipSync(writeLightCurveGz(lc)).toString('utf8')).toBe(original);
    expect(writeMetadataCfg(lc.metadata)).toBe(readFileSync(DEMO_CFG, 'utf8'));
  });

  it('round-trips exactly through bytes in both number formats', () => {
    for (const numbers of ['numpy', 'shortest'] as const) {
      const back = readLightCurveGz(writeLightCurveGz(lc, { numbers }));
      expect(back.time).toEqual(lc.time);
      expect(back.flux).toEqual(lc.flux);
      expect(back.flag).toEqual(lc.flag);
      expect(back.uncertainty).toEqual(lc.uncertainty);
    }
  });

  it('parses fast', () => {
    const bytes = readFileSync(DEMO);
    const t0 = performance.now();
    readLightCurveGz(bytes);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('gzip text format', () => {
  it('round-trips awkward doubles, NaN, ±Infinity, -0 through a file and its sidecar', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-'));
    try {
      const lc = createLightCurve({
        time: [0.1, 1e-300, 5e-324, 1.7976931348623157e308],
        flux: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
        flag: [0, 1, 2, 3],
        uncertainty: [1 / 3, 2 / 3, Math.PI, Math.E],
        metadata: { name: 'x y', period: 50, small: 1e-7, big: 1e300 },
      });
      const path = join(dir, 'a.gz');
      saveLightCurveGz(path, lc, { comments: ['synthetic'] });
      const back = readLightCurveGz(path);
      expect(back.time).toEqual(lc.time);
      expect(back.flux).toEqual(lc.flux);
      expect(Object.is(back.flux[3], -0)).toBe(true);
      expect(back.flag).toEqual(lc.flag);
      expect(back.uncertainty).toEqual(lc.uncertainty);
      expect(back.metadata).toEqual(lc.metadata);
      expect(readFileSync(`${path}.metadata.cfg`, 'utf8')).toContain('small = 1e-07');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('formats like numpy %.18e', () => {
    expect(formatNumpyExp(900)).toBe('9.000000000000000000e+02');
    expect(formatNumpyExp(1e-300)).toBe('1.000000000000000025e-300');
    expect(formatNumpyExp(Number.NaN)).toBe('nan');
  });

  it('tolerates 2 and 3 columns, comments, blank lines, CRLF and plain text', () => {
    const text = '# header\n\n0 1.5\r\n900\t2.5 1\n  # indented comment\n1800 3.5 0 0.1\n';
    const lc = readLightCurveGz(Buffer.from(text));
    expect(Array.from(lc.time)).toEqual([0, 900, 1800]);
    expect(Array.from(lc.flux)).toEqual([1.5, 2.5, 3.5]);
    expect(Array.from(lc.flag)).toEqual([0, 1, 0]);
    expect(Array.from(lc.uncertainty)).toEqual([0, 0, 0.1]);
    expect(readLightCurveGz(gzipSync(text)).time).toEqual(lc.time);
  });

  it('reports malformed rows with source and line number', () => {
    const bad = (text: string): LightCurveFormatError => {
      try {
        parseLightCurveText(text, { source: 'x.gz' });
      } catch (error) {
        expect(error).toBeInstanceOf(LightCurveFormatError);
        return error as LightCurveFormatError;
      }
      throw new Error('no error');
    };
    expect(bad('0 1\n# c\n900 abc\n').line).toBe(3);
    expect(bad('0 1\n# c\n900 abc\n').message).toBe("x.gz:3: column 2 is not a number: 'abc'");
    expect(bad('0 1\n5\n').message).toMatch(/^x\.gz:2: expected 2 to 4 columns, found 1/);
    expect(bad('0 1 0 0 7\n').line).toBe(1);
    expect(bad('0x10 1\n').line).toBe(1);
    expect(() => readLightCurveGz(Buffer.from([0x1f, 0x8b, 1, 2]), { source: 'z.gz' })).toThrow(
      /^z\.gz: cannot decompress/,
    );
  });
});

describe('metadata.cfg', () => {
  it('reads numbers and strings from [metadata] only', () => {
    const md = readMetadataCfg(
      '[other]\na = 1\n[metadata]\n; c\n# c\nperiod = 50.0\nname = HD 1\nratio: 1e-3\nurl = http://x\nflag = nan\n',
    );
    expect(md).toEqual({
      period: 50,
      name: 'HD 1',
      ratio: 0.001,
      url: 'http://x',
      flag: Number.NaN,
    });
    expect(readMetadataCfg('')).toEqual({});
  });

  it('reports malformed lines', () => {
    expect(() => readMetadataCfg('[metadata]\nok = 1\nnot a pair\n', { source: 's.cfg' })).toThrow(
      /^s\.cfg:3: expected 'key = value'/,
    );
    expect(() => writeMetadataCfg({ 'a=b': 1 })).toThrow(RangeError);
  });
});

describe('CSV time,flux,flag format', () => {
  const csv = [
    '# #star_id=plato_bright_0001',
    '# #magnitude = 9.5',
    '# time,flux,flag',
    '0.0,1.0,0',
    '0.5,0.999,1',
    '',
    '1.0, 1.001 ,0',
  ].join('\n');

  it('reads metadata headers and converts days to seconds', () => {
    const lc = readCsvLightCurve(csv);
    expect(Array.from(lc.time)).toEqual([0, 43200, 86400]);
    expect(Array.from(lc.flux)).toEqual([1, 0.999, 1.001]);
    expect(Array.from(lc.flag)).toEqual([0, 1, 0]);
    expect(Array.from(lc.uncertainty)).toEqual([0, 0, 0]);
    expect(lc.metadata).toEqual({ star_id: 'plato_bright_0001', magnitude: 9.5 });
    expect(Array.from(readCsvLightCurve(csv, { timeUnit: 's' }).time)).toEqual([0, 0.5, 1]);
  });

  it('reports malformed rows with line numbers', () => {
    expect(() => readCsvLightCurve('0,1,0\n1,,0\n', { source: 'a.csv' })).toThrow(
      "a.csv:2: column 2 is not a number: ''",
    );
    expect(() => readCsvLightCurve('0 1 0\n', { source: 'a.csv' })).toThrow(/^a\.csv:1: expected/);
  });
});
