/** Peak resident set size seen by a {@link RssSampler}. */
export interface RssReport {
  /** Largest `process.memoryUsage().rss` sampled, MB. */
  sampledPeakMb: number;
  /** The kernel's peak RSS of the whole process so far (`resourceUsage().maxRSS`), MB. */
  processPeakMb: number;
  samples: number;
}

const MB = 2 ** 20;

/**
 * Samples this process's RSS every `intervalMs` (50 ms by default). A synchronous stretch of
 * work (a big transaction) delays samples, so the kernel's own peak (`maxRSS`) is reported
 * too; it covers the process's whole life, which is why each measurement runs in a fresh child.
 */
export class RssSampler {
  private peak = process.memoryUsage().rss;
  private samples = 1;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.peak) this.peak = rss;
    this.samples++;
  }

  /** Takes a last sample and stops. */
  stop(): RssReport {
    this.sample();
    clearInterval(this.timer);
    return {
      sampledPeakMb: Math.round(this.peak / MB),
      processPeakMb: Math.round((process.resourceUsage().maxRSS * 1024) / MB),
      samples: this.samples,
    };
  }
}

/** Current RSS, MB. */
export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / MB);
}
