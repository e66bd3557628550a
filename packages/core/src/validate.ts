import { parseDuration } from './duration.js';

/** Thrown for bad configuration: a `TypeError` whose message names the option path. */
export function optionError(path: string, expected: string, got: unknown): TypeError {
  return new TypeError(`breakwater: ${path} must be ${expected}; got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** Checks that `value` is a plain object holding only `allowed` keys; suggests near misses. */
export function checkObject(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw optionError(path, 'an object', value);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (allowed.includes(key)) continue;
    const hint = closest(key, allowed);
    throw new TypeError(
      `breakwater: ${path}.${key} is not an option${hint ? `; did you mean "${hint}"?` : ''} ` +
        `(known: ${allowed.join(', ')})`,
    );
  }
  return record;
}

/** Reads an optional sub-object (undefined stays undefined). */
export function readObject(
  record: Record<string, unknown>,
  key: string,
  path: string,
  allowed: readonly string[],
): Record<string, unknown> | undefined {
  const value = record[key];
  return value === undefined ? undefined : checkObject(value, `${path}.${key}`, allowed);
}

/** Reads a number within bounds, or the fallback when absent. */
export function readNumber(
  record: Record<string, unknown> | undefined,
  key: string,
  path: string,
  fallback: number,
  bounds: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
): number {
  const value = record?.[key];
  if (value === undefined) return fallback;
  const { min = -Infinity, max = Infinity, integer = false, exclusiveMin = false } = bounds;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (exclusiveMin ? value > min : value >= min) &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const kind = integer ? 'an integer' : 'a number';
    const low = min === -Infinity ? '' : exclusiveMin ? ` above ${min}` : ` from ${min}`;
    const high = max === Infinity ? '' : `${low ? ' to' : ' up to'} ${max}`;
    throw optionError(`${path}.${key}`, `${kind}${low}${high}`, value);
  }
  return value;
}

/** Reads a duration (ms number or `'30s'`-style string) in ms, or the fallback when absent. */
export function readDuration(
  record: Record<string, unknown> | undefined,
  key: string,
  path: string,
  fallback: number,
  bounds: { min?: number } = {},
): number {
  const value = record?.[key];
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  const min = bounds.min ?? 0;
  if (ms === undefined || ms < min) {
    throw optionError(
      `${path}.${key}`,
      `a duration of at least ${min} ms (milliseconds, or a string like "250ms", "30s", "5m")`,
      value,
    );
  }
  return ms;
}

/** Reads an optional function. */
export function readFunction<F>(record: Record<string, unknown>, key: string, path: string): F | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw optionError(`${path}.${key}`, 'a function', value);
  return value as F;
}

/** The allowed word nearest to `word` (edit distance <= 2), if any. */
function closest(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const lower = word.toLowerCase();
  for (const candidate of allowed) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
