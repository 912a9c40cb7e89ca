/**
 * Kubernetes resource quantities from the registry's numbers and back: the registry keeps CPUs
 * as a number and memory in bytes; a manifest wants `500m` and `2Gi`.
 */

const BINARY: readonly [string, number][] = [
  ['Ti', 1024 ** 4],
  ['Gi', 1024 ** 3],
  ['Mi', 1024 ** 2],
  ['Ki', 1024],
];
const DECIMAL: readonly [string, number][] = [
  ['T', 1e12],
  ['G', 1e9],
  ['M', 1e6],
  ['k', 1e3],
];

/** CPUs as a quantity: whole CPUs as an integer (`2`), anything else in millicores (`500m`). */
export function cpuQuantity(cpus: number): string {
  if (Number.isInteger(cpus)) return String(cpus);
  return `${Math.round(cpus * 1000)}m`;
}

/**
 * Bytes as the shortest exact quantity, binary units first on a tie: `2Gi`, `512Mi`, `6G`
 * (not `5859375Ki`), or plain bytes.
 */
export function memoryQuantity(bytes: number): string {
  let best = String(bytes);
  for (const [unit, size] of [...BINARY, ...DECIMAL]) {
    if (bytes >= size && bytes % size === 0) {
      const candidate = `${bytes / size}${unit}`;
      if (candidate.length < best.length) best = candidate;
    }
  }
  return best;
}

/**
 * Parses a CPU or memory quantity as Kubernetes writes them (`250m`, `1.5`, `2Gi`, `500M`, `1e3`)
 * into a number (CPUs, or bytes). `NaN` when it is not one.
 */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const m = /^\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(m|Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?\s*$/.exec(quantity);
  if (!m) return NaN;
  const value = Number(m[1]);
  const unit = m[2] ?? '';
  const factor: Record<string, number> = {
    '': 1,
    m: 1e-3,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    Pi: 1024 ** 5,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
  };
  return value * factor[unit]!;
}
