import { normal } from './random.js';

/**
 * A latency model, in milliseconds: a fixed number, a uniform range, or a log-normal
 * distribution (heavy tails, as LLM latencies have) given by its median and sigma.
 */
export type Latency =
  number | { uniform: [min: number, max: number] } | { logNormal: { median: number; sigma: number } };

/** Checks a latency model; throws a TypeError naming `path` when it is not one. */
export function checkLatency(value: unknown, path: string): Latency | undefined {
  if (value === undefined) return undefined;
  const fail = (): never => {
    throw new TypeError(
      `@breakwater/testing: ${path} must be a non-negative number of ms, { uniform: [min, max] } or ` +
        `{ logNormal: { median, sigma } }; got ${JSON.stringify(value)}`,
    );
  };
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : fail();
  if (!value || typeof value !== 'object') return fail();
  const record = value as Record<string, unknown>;
  if ('uniform' in record) {
    const range = record.uniform;
    if (!Array.isArray(range) || range.length !== 2) return fail();
    const [min, max] = range as unknown[];
    if (typeof min !== 'number' || typeof max !== 'number' || min < 0 || max < min) return fail();
    return value as Latency;
  }
  if ('logNormal' in record) {
    const { median, sigma } = (record.logNormal ?? {}) as Record<string, unknown>;
    if (typeof median !== 'number' || typeof sigma !== 'number' || median < 0 || sigma < 0) return fail();
    return value as Latency;
  }
  return fail();
}

/** Draws one latency from a model. */
export function sampleLatency(latency: Latency | undefined, random: () => number): number {
  if (latency === undefined) return 0;
  if (typeof latency === 'number') return latency;
  if ('uniform' in latency) {
    const [min, max] = latency.uniform;
    return min + random() * (max - min);
  }
  const { median, sigma } = latency.logNormal;
  return median * Math.exp(sigma * normal(random));
}
