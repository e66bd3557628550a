/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'30s'`, `'10m'`, `'1h'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses a {@link Duration} into milliseconds; returns `undefined` when it is not one. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

const GO_PART = /(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)/g;
const GO_UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

/**
 * Parses a Go duration as OpenAI sends in `x-ratelimit-reset-*` (`6m0s`, `1.5s`, `20ms`).
 * Returns milliseconds or `undefined`.
 */
export function parseGoDuration(value: string): number | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(GO_PART)) {
    total += Number(match[1]) * GO_UNIT_MS[match[2]!]!;
    consumed += match[0].length;
  }
  return consumed === text.length ? total : undefined;
}
