import { parseGoDuration } from './duration.js';

/** Response headers as the SDKs expose them: a `Headers` object or a plain record. */
export type HeaderSource =
  { get(name: string): string | null | undefined } | Record<string, string | string[] | undefined>;

/** Reads one header case-insensitively from a {@link HeaderSource}. */
export function readHeader(headers: HeaderSource | undefined | null, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const value = (headers as { get(name: string): string | null | undefined }).get(name);
    return value ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? record[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

const RATE_LIMIT_RESOURCES = ['requests', 'tokens'] as const;
const ANTHROPIC_RESOURCES = ['requests', 'tokens', 'input-tokens', 'output-tokens'] as const;

/**
 * The wait a provider asks for, in milliseconds, from every header providers use:
 * `retry-after-ms`, `x-ms-retry-after-ms`, `retry-after` (seconds or HTTP date), then, when
 * none is present, the reset of an exhausted limit (`x-ratelimit-reset-*` as Go durations,
 * `anthropic-ratelimit-*-reset` as RFC 3339). `nowEpochMs` turns dates into waits.
 * Returns `undefined` when the response names no wait. The result is not capped here.
 */
export function retryAfterFromHeaders(
  headers: HeaderSource | undefined | null,
  nowEpochMs: number,
): number | undefined {
  if (!headers) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = readHeader(headers, name);
    if (value !== undefined) {
      const ms = Number(value);
      if (Number.isFinite(ms) && ms >= 0) return ms;
    }
  }
  const retryAfter = readHeader(headers, 'retry-after');
  if (retryAfter !== undefined) {
    const ms = parseRetryAfter(retryAfter, nowEpochMs);
    if (ms !== undefined) return ms;
  }
  let reset: number | undefined;
  for (const resource of RATE_LIMIT_RESOURCES) {
    if (readHeader(headers, `x-ratelimit-remaining-${resource}`) !== '0') continue;
    const value = readHeader(headers, `x-ratelimit-reset-${resource}`);
    const ms = value === undefined ? undefined : parseGoDuration(value);
    if (ms !== undefined) reset = Math.max(reset ?? 0, ms);
  }
  for (const resource of ANTHROPIC_RESOURCES) {
    if (readHeader(headers, `anthropic-ratelimit-${resource}-remaining`) !== '0') continue;
    const value = readHeader(headers, `anthropic-ratelimit-${resource}-reset`);
    const at = value === undefined ? NaN : Date.parse(value);
    if (Number.isFinite(at)) reset = Math.max(reset ?? 0, Math.max(0, at - nowEpochMs));
  }
  return reset;
}

/** Parses a `Retry-After` value: delta seconds (fractions allowed) or an HTTP date. */
export function parseRetryAfter(value: string, nowEpochMs: number): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1_000;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowEpochMs);
}

/** `x-should-retry: true|false` as a boolean, or `undefined` when absent. */
export function shouldRetryHeader(headers: HeaderSource | undefined | null): boolean | undefined {
  const value = readHeader(headers, 'x-should-retry');
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

/**
 * Gemini's `google.rpc.RetryInfo.retryDelay` (for example `"32s"`) from an error body,
 * in milliseconds.
 */
export function retryDelayFromBody(body: unknown): number | undefined {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    const delay = (detail as { retryDelay?: unknown } | null)?.retryDelay;
    if (typeof delay === 'string') {
      const ms = parseGoDuration(delay);
      if (ms !== undefined) return ms;
    }
  }
  return undefined;
}
