import { describe, expect, it } from 'vitest';
import {
  listProcessGroup,
  parseProcStat,
  parseTimesOutput,
  readProcStat,
  signalName,
} from '../../../src/sdk/runners/cpu-times.js';

describe('parseTimesOutput', () => {
  it("reads the children's user + system time from dash output", () => {
    expect(parseTimesOutput('0m0.010000s 0m0.000000s\n0m1.234000s 0m0.010000s\n')).toBe(1244);
  });

  it('reads bash output and counts minutes', () => {
    expect(parseTimesOutput('0m0.001s 0m0.002s\n2m3.500s 0m1.000s\n')).toBe(124_500);
  });

  it('skips shell diagnostics before the two times lines', () => {
    expect(parseTimesOutput('Segmentation fault\n0m0.00s 0m0.00s\n0m0.50s 0m0.25s\n')).toBe(750);
  });

  it('returns undefined without two times lines', () => {
    expect(parseTimesOutput('')).toBeUndefined();
    expect(parseTimesOutput('0m0.000000s 0m0.000000s\n')).toBeUndefined();
  });
});

describe('parseProcStat', () => {
  it('counts fields from the last parenthesis, so a command name with spaces and ) is safe', () => {
    const fields = ['S', '10', '42', '42', '0', '-1', '0', '0', '0', '0', '0'];
    const times = ['150', '50', '300', '100', '20', '0', '1', '0', '98765', '0', '0'];
    const stat = parseProcStat(`4242 (my (odd) code) ${[...fields, ...times].join(' ')}\n`);
    expect(stat).toEqual({
      pid: 4242,
      ppid: 10,
      pgrp: 42,
      startTicks: 98765,
      state: 'S',
      selfMs: 2000,
      childrenMs: 4000,
    });
  });

  it('returns undefined for text that is not a stat line', () => {
    expect(parseProcStat('hello')).toBeUndefined();
  });

  it("reads this process's own stat and finds it in its process group", async () => {
    const own = await readProcStat(process.pid);
    expect(own?.pid).toBe(process.pid);
    expect(own?.ppid).toBe(process.ppid);
    const group = await listProcessGroup(own?.pgrp ?? -1);
    expect(group.map((s) => s.pid)).toContain(process.pid);
  });
});

describe('signalName', () => {
  it('maps signal numbers to their canonical names', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(11)).toBe('SIGSEGV');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(0)).toBeUndefined();
    expect(signalName(200)).toBeUndefined();
  });
});
