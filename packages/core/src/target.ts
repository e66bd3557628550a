import { Admission, CircuitBreaker, type BreakerState } from './breaker.js';
import type { Clock } from './clock.js';
import { BreakwaterTimeoutError } from './errors.js';
import type { EngineEmitter, ProbeEvent } from './events.js';
import type { ProbeContext, ResolvedTarget } from './options.js';
import type { SkipReason } from './outcome.js';
import { LatencyHistogram } from './latency-histogram.js';
import { RetryBudget } from './retry-budget.js';
import { retryAfterFromHeaders, type HeaderSource } from './retry-after.js';
import type { SharedState, SharedTargetHandle } from './store/shared-targets.js';

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
export class TargetRuntime<I, O, C> implements SharedTargetHandle {
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
  /** Set when the engine shares state through a store. */
  readonly #shared: SharedState | undefined;
  /** The last cooldown end told to the other instances. */
  #publishedCooldown = 0;
  /** Rate-limit usage not yet added to the shared counters. */
  #unsyncedUsage = { requests: 0, tokens: 0 };

  constructor(config: ResolvedTarget<I, O, C>, clock: Clock, events: EngineEmitter, shared?: SharedState) {
    this.name = config.name;
    this.config = config;
    this.#clock = clock;
    this.#events = events;
    this.#shared = shared;
    const budget = config.policy.retry.budget;
    this.budget = budget ? new RetryBudget(budget.ratio, budget.maxTokens) : undefined;
    const limit = config.rateLimit;
    this.#requestBucket = limit?.requests && new TokenBucket(limit.requests.perMs, limit.requests.burst, clock.now());
    this.#tokenBucket = limit?.tokens && new TokenBucket(limit.tokens.perMs, limit.tokens.burst, clock.now());
    this.breaker = new CircuitBreaker(config.policy.breaker, {
      hasProbe: config.probe !== undefined,
      // Shared buckets are numbered by wall-clock time, so that every instance means the same ones.
      epochOffset: shared ? clock.date() - clock.now() : 0,
      onTransition: (from, to, reason, at) => {
        this.#shared?.breakerChanged(this, to, reason, at);
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
    shared?.add(this);
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
      if (this.config.rateLimit) {
        this.#requestBucket?.take(1);
        this.#tokenBucket?.take(cost);
        if (this.#shared) {
          this.#unsyncedUsage.requests++;
          this.#unsyncedUsage.tokens += cost;
          this.#shared.scheduleSync();
        }
      }
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

  /** Keeps the target aside for `ms` (a Retry-After), never shortening a longer cooldown; shared with other instances. */
  coolDown(now: number, ms: number): void {
    this.#cooldownUntil = Math.max(this.#cooldownUntil, now + ms);
    // Told once per new cooldown end (at least 100 ms later than the last told), not once per 429.
    if (this.#shared && this.#cooldownUntil > this.#publishedCooldown + 100) {
      this.#publishedCooldown = this.#cooldownUntil;
      this.#shared.cooledDown(this, this.#cooldownUntil, now);
    }
  }

  /** True when the target paces itself (`rateLimit`). */
  get paced(): boolean {
    return this.config.rateLimit !== undefined;
  }

  /** Hands over the rate-limit usage not yet shared, and forgets it. */
  takeUsage(): { requests: number; tokens: number } {
    const usage = this.#unsyncedUsage;
    this.#unsyncedUsage = { requests: 0, tokens: 0 };
    return usage;
  }

  /** Takes what other instances spent of the shared rate limit out of this instance's buckets. */
  spendElsewhere(requests: number, tokens: number): void {
    if (requests > 0) this.#requestBucket?.take(requests);
    if (tokens > 0) this.#tokenBucket?.take(tokens);
  }

  /** Adopts a cooldown another instance met (clock ms), without telling it again. */
  applyCooldown(until: number): void {
    if (until <= this.#cooldownUntil) return;
    this.#cooldownUntil = until;
    this.#publishedCooldown = Math.max(this.#publishedCooldown, until);
  }

  /** Clock ms until which a Retry-After keeps the target aside (0 or past: none). */
  get cooldownUntil(): number {
    return this.#cooldownUntil;
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

  /**
   * Runs the synthetic probe in the background; user calls never wait for it. With a shared
   * store, only the instance that takes the probe lock probes; the others stay open until it
   * publishes the result (or the lock expires).
   */
  #startProbe(): void {
    if (!this.config.probe || this.#probing) return;
    this.#probing = true;
    const shared = this.#shared;
    if (!shared) return this.#runProbe();
    const lockMs = this.config.policy.timeouts.attempt + 1_000;
    void shared.probeLock(this.name, lockMs).then((mine) => {
      // Closed meanwhile by another instance's probe: nothing to ask.
      if (mine && this.breaker.state === 'half_open') return this.#runProbe();
      this.#probing = false;
      if (!mine) this.breaker.probeElsewhere(this.#clock.now(), lockMs);
    });
  }

  /** Sends the probe under the attempt timeout, and closes or reopens the breaker with its answer. */
  #runProbe(): void {
    const probe = this.config.probe!;
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
