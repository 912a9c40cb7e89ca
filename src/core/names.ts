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
  const allowed = key.length > 8 ? 2 : 1;
  return [...names]
    .map((name) => ({ name, d: editDistance(key, name, { swaps: true }) }))
    .filter((x) => x.name !== key && x.d <= allowed)
    .sort((a, b) => a.d - b.d)
    .map((x) => x.name);
}
