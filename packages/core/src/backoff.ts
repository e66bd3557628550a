/**
 * Full jitter (AWS, gRPC): a uniform random wait in `[0, min(cap, base * 2^retry))`.
 * `retry` counts from 0 for the first retry.
 */
export function fullJitter(retry: number, base: number, cap: number, random: () => number): number {
  const ceiling = Math.min(cap, base * 2 ** retry);
  return random() * ceiling;
}
