const SUB_BUCKETS = 8; // per doubling: about 9 % resolution
const OCTAVES = 18; // 1 ms to about 4 min
const BUCKETS = SUB_BUCKETS * OCTAVES + 1;
const DECAY_EVERY = 1024;

/**
 * Recent latencies of one target in O(1) memory: log-spaced buckets (8 per doubling, 1 ms to
 * about 4 minutes), halved every 1024 samples so that the percentiles follow the target's
 * current behaviour. Recording is O(1); a percentile is one pass over 145 counters.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;
  #sinceDecay = 0;

  /** Samples currently weighing in (decayed). */
  get count(): number {
    return this.#total;
  }

  /** Records one latency in ms. */
  record(ms: number): void {
    this.#counts[bucketOf(ms)]!++;
    this.#total++;
    if (++this.#sinceDecay >= DECAY_EVERY) this.#decay();
  }

  /** The latency below which `q` (0-1) of recent samples fall, in ms; undefined without samples. */
  quantile(q: number): number | undefined {
    if (this.#total === 0) return undefined;
    const rank = q * this.#total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return upperBound(i);
    }
    return upperBound(BUCKETS - 1);
  }

  #decay(): void {
    this.#sinceDecay = 0;
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const halved = this.#counts[i]! / 2;
      this.#counts[i] = halved;
      total += halved;
    }
    this.#total = total;
  }
}

function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  const index = Math.floor(Math.log2(ms) * SUB_BUCKETS) + 1;
  return index < BUCKETS ? index : BUCKETS - 1;
}

function upperBound(index: number): number {
  return index === 0 ? 1 : 2 ** (index / SUB_BUCKETS);
}
