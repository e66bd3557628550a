import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { classifyError } from './classify.js';
import { ManualClock } from './clock.js';
import { createEngine } from './engine.js';
import { BreakwaterTimeoutError } from './errors.js';
import { CHANNELS } from './events.js';
import type { CallOutcome } from './outcome.js';

describe('classifyError beyond the SDKs', () => {
  it('classifies a thrown fetch Response by status and headers', () => {
    const response = new Response('{}', { status: 429, headers: { 'retry-after': '3' } });
    expect(classifyError(response)).toMatchObject({ class: 'rate_limited', status: 429, retryAfterMs: 3000 });
    expect(classifyError(new Response('', { status: 502 })).class).toBe('server');
    expect(classifyError(new Response('', { status: 401 })).class).toBe('auth');
  });
  it('finds Node and undici codes anywhere in the cause chain', () => {
    const reset = new TypeError('fetch failed', { cause: Object.assign(new Error('read'), { code: 'ECONNRESET' }) });
    expect(classifyError(reset)).toMatchObject({ class: 'network', code: 'ECONNRESET' });
    const dns = Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' });
    expect(classifyError(dns).class).toBe('network');
    const connect = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
    });
    expect(classifyError(connect)).toMatchObject({ class: 'timeout', phase: 'connect' });
  });
  it("knows its own timeouts, aborts, a 429 asking for hours, and 'x-should-retry'", () => {
    expect(classifyError(new BreakwaterTimeoutError('idle'))).toEqual({ class: 'timeout', phase: 'idle' });
    expect(classifyError(new DOMException('aborted', 'AbortError')).class).toBe('cancelled');
    const daily = { status: 429, headers: new Headers({ 'retry-after': String(6 * 3600) }), error: {} };
    expect(classifyError(daily).class).toBe('quota_exhausted');
    const noRetry = { status: 500, headers: new Headers({ 'x-should-retry': 'false' }), error: {} };
    expect(classifyError(noRetry)).toMatchObject({ class: 'server', shouldRetry: false });
    expect(classifyError('a string').class).toBe('unknown');
  });
});

describe('diagnostics channels', () => {
  it('publish every outcome and breaker transition to subscribers, and nothing when none listen', async () => {
    const outcomes: CallOutcome[] = [];
    const transitions: unknown[] = [];
    const onOutcome = (message: unknown) => outcomes.push(message as CallOutcome);
    const onBreaker = (message: unknown) => transitions.push(message);
    const engine = createEngine({
      clock: new ManualClock(),
      targets: { a: { call: async () => 'ok' } },
    });
    await engine.call({});
    diagnosticsChannel.subscribe(CHANNELS.outcome, onOutcome);
    diagnosticsChannel.subscribe(CHANNELS.breaker, onBreaker);
    try {
      await engine.call({});
      engine.isolate('a', 1_000);
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]).toMatchObject({ ok: true, target: 'a' });
      expect(transitions).toEqual([
        expect.objectContaining({ target: 'a', from: 'closed', to: 'open', reason: 'forced' }),
      ]);
    } finally {
      diagnosticsChannel.unsubscribe(CHANNELS.outcome, onOutcome);
      diagnosticsChannel.unsubscribe(CHANNELS.breaker, onBreaker);
    }
  });
});
