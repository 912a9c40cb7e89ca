/**
 * The attempts a dispatched worker holds for its slots (src/sdk/held-attempts.ts): taken in turn
 * across task types, as the queue's claims are, with dependents released by a commit first in
 * their type's line.
 */
import { describe, expect, it } from 'vitest';
import { HeldAttempts } from '../../src/sdk/held-attempts.js';
import type { AttemptPayload } from '../../src/taskdb/index.js';

function payload(attemptId: number, taskType: string): AttemptPayload {
  return { attemptId, taskType } as AttemptPayload;
}

function drain(h: HeldAttempts): number[] {
  const out: number[] = [];
  for (let p = h.next(); p; p = h.next()) out.push(p.attemptId);
  return out;
}

describe('HeldAttempts', () => {
  it('gives a rare type its turn instead of leaving it behind a long line of a common one', () => {
    const h = new HeldAttempts();
    h.add([1, 2, 3, 4, 5, 6].map((id) => payload(id, 'child')));
    h.add([payload(100, 'parent')]);
    expect(h.size).toBe(7);
    // The parent runs second, not seventh.
    expect(drain(h)).toEqual([1, 100, 2, 3, 4, 5, 6]);
    expect(h.size).toBe(0);
    expect(h.next()).toBeUndefined();
  });

  it('puts attempts delivered first at the front of their own type', () => {
    const h = new HeldAttempts();
    h.add([payload(1, 'a'), payload(2, 'a'), payload(3, 'b')]);
    h.add([payload(10, 'a'), payload(11, 'a')], true);
    expect(drain(h)).toEqual([10, 3, 11, 1, 2]);
  });

  it('keeps each type in arrival order, and a type that empties joins the turns again at the back', () => {
    const h = new HeldAttempts();
    h.add([payload(1, 'a'), payload(2, 'b'), payload(3, 'a')]);
    expect(h.next()!.attemptId).toBe(1);
    expect(h.next()!.attemptId).toBe(2); // b is empty now
    h.add([payload(4, 'b'), payload(5, 'c')]);
    expect(drain(h)).toEqual([3, 4, 5]);
  });

  it('gives up its newest attempts first, from the longest line, keeping the turns of the rest', () => {
    const h = new HeldAttempts();
    h.add([1, 2, 3, 4, 5].map((id) => payload(id, 'slow')));
    h.add([payload(10, 'parent')]);
    h.add([payload(0, 'slow')], true);
    expect(h.takeNewest(3).map((p) => p.attemptId)).toEqual([5, 4, 3]);
    expect(h.size).toBe(4);
    expect(drain(h)).toEqual([0, 10, 1, 2]);
    h.add([payload(7, 'a')]);
    expect(h.takeNewest(5).map((p) => p.attemptId)).toEqual([7]);
    expect(h.size).toBe(0);
    expect(h.next()).toBeUndefined();
  });

  it('lists and hands over everything it holds', () => {
    const h = new HeldAttempts();
    h.add([payload(1, 'a'), payload(2, 'b'), payload(3, 'a')]);
    expect(h.ids().sort()).toEqual([1, 2, 3]);
    expect(
      h
        .takeAll()
        .map((p) => p.attemptId)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(h.size).toBe(0);
    expect(h.ids()).toEqual([]);
    expect(h.next()).toBeUndefined();
    h.add([]);
    expect(h.size).toBe(0);
  });
});
