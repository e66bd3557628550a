import { describe, expect, it } from 'vitest';
import { parseDuration, parseGoDuration } from './duration.js';
import { retryAfterFromHeaders, retryDelayFromBody, shouldRetryHeader } from './retry-after.js';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('server-directed waits', () => {
  it('reads every header providers use, most precise first', () => {
    expect(retryAfterFromHeaders(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), NOW)).toBe(1500);
    expect(retryAfterFromHeaders(new Headers({ 'x-ms-retry-after-ms': '250' }), NOW)).toBe(250);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '2.5' }), NOW)).toBe(2500);
    expect(retryAfterFromHeaders({ 'retry-after': new Date(NOW + 30_000).toUTCString() }, NOW)).toBe(30_000);
  });
  it('falls back to the reset of an exhausted limit', () => {
    const openai = new Headers({
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '6m0s',
      'x-ratelimit-reset-tokens': '1s',
    });
    expect(retryAfterFromHeaders(openai, NOW)).toBe(360_000);
    const anthropic = new Headers({
      'anthropic-ratelimit-tokens-remaining': '0',
      'anthropic-ratelimit-tokens-reset': new Date(NOW + 12_000).toISOString(),
    });
    expect(retryAfterFromHeaders(anthropic, NOW)).toBe(12_000);
    expect(retryAfterFromHeaders(new Headers({ 'x-ratelimit-reset-requests': '1s' }), NOW)).toBeUndefined();
  });
  it("reads Gemini's RetryInfo and x-should-retry", () => {
    const body = { error: { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '32s' }] } };
    expect(retryDelayFromBody(body)).toBe(32_000);
    expect(shouldRetryHeader(new Headers({ 'x-should-retry': 'false' }))).toBe(false);
    expect(shouldRetryHeader(new Headers())).toBeUndefined();
  });
  it('parses durations', () => {
    expect(parseGoDuration('1m30.5s')).toBe(90_500);
    expect(parseGoDuration('20ms')).toBe(20);
    expect(parseGoDuration('soon')).toBeUndefined();
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration(-1)).toBeUndefined();
  });
});
