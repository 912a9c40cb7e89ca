import { readFileSync } from 'node:fs';
import { round } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time of a V8 CPU profile, by function and by area of the code; shares are of busy (non-idle) time. */
export interface CpuProfileSummary {
  totalMs: number;
  /** `totalMs` minus idle time. */
  busyMs: number;
  /** Self time by area: `src/<module>`, `node_modules/<package>`, `node:internal`, `(native)`, `(garbage collector)`, `(idle)`… */
  byArea: { area: string; ms: number; share: number }[];
  topFunctions: { fn: string; where: string; ms: number; share: number }[];
}

function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src && !url.includes('node_modules')) return `src/${src[1]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (mod) return `node_modules/${mod[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  if (url.includes('/bench/')) return 'bench';
  return url;
}

/** Reads a `.cpuprofile` (from `node --cpu-prof`) and sums self time. */
export function summarizeCpuProfile(path: string, top = 25): CpuProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const fn = functionName || '(anonymous)';
    const area = areaOf(url, fn);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = url
      ? `${url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}`
      : area;
    const key = `${fn}\u0000${where}`;
    const e = fns.get(key) ?? { fn, where, us: 0 };
    e.us += us;
    fns.set(key, e);
  }
  const idle = areas.get('(idle)') ?? 0;
  const share = (us: number) => round(us / Math.max(1, total - idle), 3);
  return {
    totalMs: round(total / 1000, 1),
    busyMs: round((total - idle) / 1000, 1),
    byArea: [...areas]
      .filter(([area]) => area !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: round(us / 1000, 1), share: share(us) })),
    topFunctions: [...fns.values()]
      .filter((f) => f.fn !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, ms: round(f.us / 1000, 1), share: share(f.us) })),
  };
}
