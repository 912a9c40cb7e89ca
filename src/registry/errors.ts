import { EasError, editDistance } from '../core/index.js';

/**
 * The candidates close to `word`, best first, at most `limit`: those within a few edits
 * (about one per three characters, ignoring case) and those containing it (for words of four
 * characters or more, so `synthesis` finds `synthesis_transit`).
 */
export function closeNames(word: string, candidates: Iterable<string>, limit = 3): string[] {
  const w = word.toLowerCase();
  const allowed = Math.max(1, Math.floor(w.length / 3));
  const scored: { name: string; score: number }[] = [];
  for (const name of candidates) {
    const n = name.toLowerCase();
    const distance = editDistance(w, n);
    if (distance <= allowed) scored.push({ name, score: distance });
    else if (w.length >= 4 && n.includes(w)) scored.push({ name, score: allowed + 1 });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  return scored.slice(0, limit).map((s) => s.name);
}

/** ` Did you mean "a" or "b"?`, or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const close = closeNames(word, candidates);
  if (close.length === 0) return '';
  const quoted = close.map((c) => `"${c}"`);
  const last = quoted.pop()!;
  return ` Did you mean ${quoted.length > 0 ? `${quoted.join(', ')} or ${last}` : last}?`;
}

/**
 * The `UNKNOWN_TASK_TYPE` error: names close to `name`, every known type, and where to
 * declare a new one.
 */
export function unknownTaskTypeError(
  name: string,
  known: readonly string[],
  source: string,
): EasError {
  const where =
    source === 'built-in'
      ? 'a task-type registry file (the "registry" key of eas.yaml; `eas registry import` converts the original\'s task_type_registry.xml)'
      : source === 'inline'
        ? 'the "registry" key of eas.yaml'
        : source;
  return new EasError(
    'UNKNOWN_TASK_TYPE',
    `Unknown task type "${name}".${didYouMean(name, known)} Known types: ${known.join(', ')}. ` +
      `To add a task type, declare it under "taskTypes" in ${where}.`,
    { where: name, details: { name, suggestions: closeNames(name, known) } },
  );
}

/** The `NOT_FOUND` error for a container the registry does not declare. */
export function unknownContainerError(name: string, known: readonly string[]): EasError {
  return new EasError(
    'NOT_FOUND',
    `Unknown container "${name}".${didYouMean(name, known)} Known containers: ${known.join(', ')}. ` +
      'Declare it under "containers" in the task-type registry file.',
    { where: name, details: { name, suggestions: closeNames(name, known) } },
  );
}
