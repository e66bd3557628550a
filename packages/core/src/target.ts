import { Admission, CircuitBreaker, type BreakerState } from './breaker.js';
import type { Clock } from './clock.js';
import { BreakwaterTimeoutError } from './errors.js';
import type { EngineEmitter, ProbeEvent } from './events.js';
import type { ProbeContext, ResolvedTarget } from './options.js';
import type { SkipReason } from './outcome.js';
import { LatencyHistogram } from './latency-histogram.js';
import { RetryBudget } from './retry-budget.js';
import { retryAfterFromHeaders, type HeaderSource } from './retry-after.js';

/** A target's health at a glance, for status pages and tests. */
export interface TargetStatus {
  name: string;
  breaker: BreakerState;
  /** Engine clock ms when an open breaker may next be probed or tried. */
  openUntil?: number;
  /** Engine clock ms until which a Retry-After cooldown keeps the target aside. */
  cooldownUntil?: number;
  /** A probe is running. */
  probing: boolean;
  /** Retry budget tokens left (absent when the budget is off). */
  budgetTokens?: number;
  /** Calls and failures in the breaker's window. */
  window: { calls: number; failures: number };
  /** Calls in flight at the target. */
  inFlight: number;
}

/** Result of {@link TargetRuntime.admit}: go (optionally as a trial) or why not. */
export type TargetAdmission = typeof Admission.Allow | typeof Admission.Trial | SkipReason;

/**
 * The live state of one target: its breaker, retry budget, Retry-After cooldown and probe.
 * Shared by every call that uses the target.
 */
export class TargetRuntime<I, O, C> {
  readonly name: string;
  readonly config: ResolvedTarget<I, O, C>;
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget | undefined;
  /** Recent latencies (streams: time to first token), for percentile hedge delays. */
  readonly latency = new LatencyHistogram();
  #cooldownUntil = 0;
  #probing = false;
  #inFlight = 0;
  readonly #requestBucket: TokenBucket | undefined;
  readonly #tokenBucket: TokenBucket | undefined;
  readonly #clock: Clock;
  readonly #events: EngineEmitter;

  constructor(config: ResolvedTarget<I, O, C>, clock: Clock, events: EngineEmitter) {
    this.name = config.name;
    this.config = config;
    this.#clock = clock;
    this.#events = events;
    const budget = config.policy.retry.budget;
    this.budget = budget ? new RetryBudget(budget.ratio, budget.maxTokens) : undefined;
    const limit = config.rateLimit;
    this.#requestBucket = limit?.requests && new TokenBucket(limit.requests.perMs, limit.requests.burst, clock.now());
    this.#tokenBucket = limit?.tokens && new TokenBucket(limit.tokens.perMs, limit.tokens.burst, clock.now());
    this.breaker = new CircuitBreaker(config.policy.breaker, {
      hasProbe: config.probe !== undefined,
      onTransition: (from, to, reason, at) => {
        if (!this.#events.wants('breaker')) return;
        const event = {
          target: this.name,
          from,
          to,
          reason,
          at,
          openUntil: to === 'open' ? this.breaker.openUntil : undefined,
        };
        if (event.openUntil === undefined) delete event.openUntil;
        this.#events.emit('breaker', event);
      },
    });
  }

  /**
   * May a call go here now? Starts the probe when the cooldown has just ended. An admitted
   * call holds one of the target's slots until {@link TargetRuntime.release}.
   */
  admit(now: number, input?: unknown): TargetAdmission {
    if (now < this.#cooldownUntil) return 'cooldown';
    if (this.#inFlight >= this.config.maxConcurrent) return 'full';
    let cost = 0;
    if (this.config.rateLimit) {
      if (this.#requestBucket && !this.#requestBucket.has(1, now)) return 'paced';
      if (this.#tokenBucket) {
        cost = this.config.rateLimit.estimateTokens(input as I);
        if (!this.#tokenBucket.has(Math.min(cost, this.#tokenBucket.burst), now)) return 'paced';
      }
    }
    const admission = this.breaker.admit(now);
    if (admission === Admission.Allow || admission === Admission.Trial) {
      this.#inFlight++;
      this.#requestBucket?.take(1);
      this.#tokenBucket?.take(cost);
      return admission;
    }
    if (admission === Admission.ProbeDue) this.#startProbe();
    return admission === Admission.Open ? 'open' : 'half_open';
  }

  /** After a retry's wait: not cooling down and not opened meanwhile (the caller holds its slot). */
  stillHealthy(now: number): boolean {
    return now >= this.#cooldownUntil && this.breaker.state !== 'open';
  }

  /** Gives back the slot an admitted call held. */
  release(): void {
    this.#inFlight--;
  }

  /** Calls in flight here now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** True when {@link TargetRuntime.admit} would let a call through; changes nothing. */
  isAvailable(now: number): boolean {
    return now >= this.#cooldownUntil && this.#inFlight < this.config.maxConcurrent && this.breaker.isAvailable(now);
  }

  /**
   * Adapts to the provider's own rate-limit headers (`x-ratelimit-*`, `anthropic-ratelimit-*`)
   * seen on a response: when a limit is exhausted, the target cools down until its reset.
   */
  observe(headers: HeaderSource, now: number, nowEpochMs: number): void {
    const wait = retryAfterFromHeaders(headers, nowEpochMs);
    if (wait !== undefined && wait > 0) this.coolDown(now, Math.min(wait, this.config.policy.retry.maxCooldown));
  }

  /** Ms until the target may be tried again (0 when it may be now). */
  retryIn(now: number): number {
    const paced = Math.max(this.#requestBucket?.waitFor(1) ?? 0, this.#tokenBucket?.waitFor(1) ?? 0);
    return Math.max(0, this.#cooldownUntil - now, this.breaker.openUntil - now, paced);
  }

  /** Keeps the target aside for `ms` (a Retry-After), never shortening a longer cooldown. */
  coolDown(now: number, ms: number): void {
    this.#cooldownUntil = Math.max(this.#cooldownUntil, now + ms);
  }

  /** A snapshot for status views. */
  status(): TargetStatus {
    const now = this.#clock.now();
    const status: TargetStatus = {
      name: this.name,
      breaker: this.breaker.state,
      probing: this.#probing,
      window: this.breaker.counts(now),
      inFlight: this.#inFlight,
    };
    if (this.breaker.state !== 'closed') status.openUntil = this.breaker.openUntil;
    if (this.#cooldownUntil > now) status.cooldownUntil = this.#cooldownUntil;
    if (this.budget) status.budgetTokens = this.budget.tokens;
    return status;
  }

  /** Runs the synthetic probe in the background; user calls never wait for it. */
  #startProbe(): void {
    const probe = this.config.probe;
    if (!probe || this.#probing) return;
    this.#probing = true;
    const clock = this.#clock;
    const started = clock.now();
    const controller = new AbortController();
    const timeoutMs = this.config.policy.timeouts.attempt;
    const timer = clock.setTimeout(() => controller.abort(new BreakwaterTimeoutError('probe', timeoutMs)), timeoutMs);
    const context: ProbeContext = { signal: controller.signal, target: this.name };
    let rejectOnAbort: ((reason: unknown) => void) | undefined;
    const onAbort = (): void => rejectOnAbort?.(controller.signal.reason);
    controller.signal.addEventListener('abort', onAbort);
    const finish = (ok: boolean, error?: unknown): void => {
      clock.clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
      this.#probing = false;
      const now = clock.now();
      if (ok) this.breaker.onProbeSuccess(now);
      else this.breaker.onProbeFailure(now);
      if (this.#events.wants('probe')) {
        const event: ProbeEvent = { target: this.name, ok, latencyMs: now - started };
        if (!ok) event.error = error;
        this.#events.emit('probe', event);
      }
    };
    let pending: PromiseLike<unknown>;
    try {
      pending = probe(context);
    } catch (error) {
      finish(false, error);
      return;
    }
    // The probe is told to stop through its signal; this only stops waiting for one that ignores it.
    new Promise<unknown>((resolve, reject) => {
      rejectOnAbort = reject;
      pending.then(resolve, reject);
    }).then(
      () => finish(true),
      (error: unknown) => finish(false, error),
    );
  }
}

/** A token bucket refilled continuously: client-side pacing of requests or LLM tokens. */
class TokenBucket {
  readonly perMs: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(perMs: number, burst: number, now: number) {
    this.perMs = perMs;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Refills to `now` and tells whether `amount` is there. */
  has(amount: number, now: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.perMs);
    this.#at = now;
    return this.#tokens >= amount;
  }

  take(amount: number): void {
    this.#tokens -= amount;
  }

  /** Ms until `amount` is there (from the last refill). */
  waitFor(amount: number): number {
    return this.#tokens >= amount ? 0 : (amount - this.#tokens) / this.perMs;
  }
}
