import { describe, expect, it } from 'vitest';
import { AttemptAbort, raceAbort } from '../../src/sdk/attempt-abort.js';

describe('AttemptAbort', () => {
  it('aborts once, keeps the first reason and runs each listener once', () => {
    const a = new AttemptAbort();
    const calls: string[] = [];
    a.onAbort(() => calls.push('first'));
    const off = a.onAbort(() => calls.push('removed'));
    off();
    expect(a.aborted).toBe(false);
    a.abort(new Error('timeout'));
    a.abort(new Error('later'));
    expect(a.aborted).toBe(true);
    expect((a.reason as Error).message).toBe('timeout');
    expect(calls).toEqual(['first']);
    a.onAbort(() => calls.push('after'));
    expect(calls).toEqual(['first', 'after']);
  });

  it('gives a signal that follows it, whether asked for before or after the abort', () => {
    const before = new AttemptAbort();
    const signal = before.signal;
    expect(signal.aborted).toBe(false);
    before.abort('stop');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('stop');
    expect(before.signal).toBe(signal);

    const after = new AttemptAbort();
    after.abort('gone');
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe('gone');
  });
});

describe('raceAbort', () => {
  it('settles as the promise does when nothing aborts', async () => {
    const a = new AttemptAbort();
    await expect(raceAbort(Promise.resolve(7), a)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('boom')), a)).rejects.toThrow('boom');
    expect(a.aborted).toBe(false);
  });

  it('rejects with the reason as soon as the switch aborts, even if the promise never settles', async () => {
    const a = new AttemptAbort();
    const raced = raceAbort(new Promise<never>(() => undefined), a);
    a.abort(new Error('lease lost'));
    await expect(raced).rejects.toThrow('lease lost');
    await expect(raceAbort(Promise.resolve(1), a)).rejects.toThrow('lease lost');
  });
});
