import { describe, expect, it } from 'vitest';
import { Admission, CircuitBreaker, type BreakerSettings } from './breaker.js';
import { LLM_DEFAULTS } from './options.js';

const settings = (over: Partial<BreakerSettings> = {}): BreakerSettings => ({ ...LLM_DEFAULTS.breaker, ...over });

describe('CircuitBreaker', () => {
  it('opens on a failure rate once the minimum of calls is reached', () => {
    const breaker = new CircuitBreaker(settings({ consecutiveFailures: 0, minimumCalls: 10 }), { hasProbe: false });
    for (let i = 0; i < 5; i++) {
      breaker.onSuccess(i, false);
      breaker.onFailure(i, false);
    }
    expect(breaker.state).toBe('open');
  });
  it('does not open below the minimum of calls', () => {
    const breaker = new CircuitBreaker(settings({ consecutiveFailures: 0, minimumCalls: 10 }), { hasProbe: false });
    for (let i = 0; i < 4; i++) breaker.onFailure(i, false);
    expect(breaker.state).toBe('closed');
  });
  it('forgets failures that left the window', () => {
    const breaker = new CircuitBreaker(
      settings({ consecutiveFailures: 0, minimumCalls: 4, window: 10_000, buckets: 10 }),
      { hasProbe: false },
    );
    for (let i = 0; i < 3; i++) breaker.onFailure(i, false);
    expect(breaker.counts(20_000)).toEqual({ calls: 0, failures: 0 });
    breaker.onFailure(20_000, false);
    expect(breaker.state).toBe('closed');
  });
  it('counts a slow first token as a failure in the rate', () => {
    const breaker = new CircuitBreaker(settings({ consecutiveFailures: 0, minimumCalls: 2, slowCallMs: 1_000 }), {
      hasProbe: false,
    });
    breaker.onSuccess(0, false, 5_000);
    breaker.onSuccess(1, false, 5_000);
    expect(breaker.state).toBe('open');
  });
  it('asks for a probe after the cooldown, and grows the cooldown on a failed probe', () => {
    const breaker = new CircuitBreaker(settings(), { hasProbe: true });
    breaker.forceOpen(0, 30_000);
    expect(breaker.admit(29_999)).toBe(Admission.Open);
    expect(breaker.admit(30_000)).toBe(Admission.ProbeDue);
    expect(breaker.admit(30_001)).toBe(Admission.HalfOpen); // users never wait on or become the probe
    breaker.onProbeFailure(30_500);
    expect(breaker.openUntil).toBe(30_500 + 60_000);
    expect(breaker.admit(90_500)).toBe(Admission.ProbeDue);
    breaker.onProbeSuccess(91_000);
    expect(breaker.state).toBe('closed');
    expect(breaker.cooldown).toBe(30_000);
  });
  it('admits at most halfOpenTrials user calls without a probe', () => {
    const breaker = new CircuitBreaker(settings({ halfOpenTrials: 2 }), { hasProbe: false });
    breaker.forceOpen(0, 1_000);
    expect(breaker.admit(1_000)).toBe(Admission.Trial);
    expect(breaker.admit(1_000)).toBe(Admission.Trial);
    expect(breaker.admit(1_000)).toBe(Admission.HalfOpen);
    breaker.onFailure(1_100, true);
    expect(breaker.state).toBe('open');
  });
});
