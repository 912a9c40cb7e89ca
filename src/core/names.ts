/**
 * Edit distance (insertions, deletions, substitutions) between two strings; with `swaps`, a swap
 * of two neighbouring characters counts as one edit too (optimal string alignment: `nosie` is
 * one edit from `noise`).
 */
export function editDistance(a: string, b: string, options: { swaps?: boolean } = {}): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (options.swaps && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** Answers of {@link misspellingsOf}, by key and names; emptied when it reaches its bound. */
const SLIPS_SEEN = new Map<string, string[]>();
const SLIPS_SEEN_MAX = 10_000;

/**
 * The names `key` is one or two slips from (swaps included: one slip for names of up to eight
 * characters, two for longer ones, none for three characters or fewer), closest first: a field
 * so close to a known one is a typo, not someone else's parameter. Used by the checks of task
 * descriptions (registry) and of control-flow fields (chain), so both call the same thing a typo.
 */
export function misspellingsOf(key: string, names: Iterable<string>): string[] {
  // Names of three characters or fewer are one slip from many others (q1, u, t1 beside u1,
  // t0): another tool's parameters, not typos.
  if (key.length <= 3) return [];
  const list = [...names];
  // A submission asks the same question for every task of a grid (128,000 times the same few
  // fields against the same names): the answer is kept.
  const memo = `${key}\u0000${list.join('\u0000')}`;
  const known = SLIPS_SEEN.get(memo);
  if (known) return [...known];
  const allowed = key.length > 8 ? 2 : 1;
  const slips = list
    // Lengths further apart than the edits allowed cannot be that close.
    .filter((name) => name !== key && Math.abs(name.length - key.length) <= allowed)
    .map((name) => ({ name, d: editDistance(key, name, { swaps: true }) }))
    .filter((x) => x.d <= allowed)
    .sort((a, b) => a.d - b.d)
    .map((x) => x.name);
  if (SLIPS_SEEN.size >= SLIPS_SEEN_MAX) SLIPS_SEEN.clear();
  SLIPS_SEEN.set(memo, slips);
  return [...slips];
}
