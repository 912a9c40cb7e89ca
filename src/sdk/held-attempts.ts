import type { AttemptPayload } from '../taskdb/index.js';

/**
 * The attempts a dispatched worker holds until a slot frees, one line per task type, taken in
 * turn across the types as the queue's claims are: the hold is the queue's tail moved into the
 * worker, and it keeps the queue's fairness. Without it, an attempt of a rare type (a parent
 * released by its children) would wait behind every attempt of a common type held before it,
 * which with a deep hold is hundreds.
 */
export class HeldAttempts {
  private readonly lines = new Map<string, AttemptPayload[]>();
  /** Types with held attempts, in the order of their turns (the next at the front). */
  private turns: string[] = [];
  private count = 0;

  /** Attempts held. */
  get size(): number {
    return this.count;
  }

  /**
   * Holds `payloads`, after those of their type already held, or before them with `first`
   * (dependents released by attempts just recorded: a chain moves on at its type's next turn).
   */
  add(payloads: readonly AttemptPayload[], first = false): void {
    if (payloads.length === 0) return;
    const byType = new Map<string, AttemptPayload[]>();
    for (const p of payloads) {
      const list = byType.get(p.taskType);
      if (list) list.push(p);
      else byType.set(p.taskType, [p]);
    }
    for (const [type, list] of byType) {
      let line = this.lines.get(type);
      if (!line) {
        line = [];
        this.lines.set(type, line);
        this.turns.push(type);
      }
      if (first) line.unshift(...list);
      else line.push(...list);
    }
    this.count += payloads.length;
  }

  /** The next attempt to run: the oldest of the type whose turn it is; undefined when none is held. */
  next(): AttemptPayload | undefined {
    const type = this.turns.shift();
    if (type === undefined) return undefined;
    const line = this.lines.get(type)!;
    const p = line.shift()!;
    this.count--;
    if (line.length > 0) this.turns.push(type);
    else this.lines.delete(type);
    return p;
  }

  /** Takes every held attempt out (to hand them back), type by type. */
  takeAll(): AttemptPayload[] {
    const all = [...this.lines.values()].flat();
    this.lines.clear();
    this.turns = [];
    this.count = 0;
    return all;
  }

  /**
   * Takes out up to `n` attempts held longest to come: from the back of the longest line each
   * time (so the turns of the other types are untouched while one type holds the surplus).
   */
  takeNewest(n: number): AttemptPayload[] {
    const out: AttemptPayload[] = [];
    while (out.length < n && this.count > 0) {
      let longest: string | undefined;
      for (const [type, line] of this.lines) {
        if (!longest || line.length > this.lines.get(longest)!.length) longest = type;
      }
      const line = this.lines.get(longest!)!;
      out.push(line.pop()!);
      this.count--;
      if (line.length === 0) {
        this.lines.delete(longest!);
        this.turns = this.turns.filter((t) => t !== longest);
      }
    }
    return out;
  }

  /** Ids of the held attempts (to extend their leases). */
  ids(): number[] {
    const ids: number[] = [];
    for (const line of this.lines.values()) for (const p of line) ids.push(p.attemptId);
    return ids;
  }
}
