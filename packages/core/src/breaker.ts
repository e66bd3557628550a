/** A circuit breaker's state. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** Why a breaker changed state. */
export type BreakerReason =
  | 'failure_rate'
  | 'consecutive_failures'
  | 'long_failure'
  | 'cooldown_elapsed'
  | 'probe_succeeded'
  | 'probe_failed'
  | 'trial_succeeded'
  | 'trial_failed'
  | 'forced'
  | 'reset';

/** Resolved breaker settings, all durations in ms (see docs/circuit-breaker.md). */
export interface BreakerSettings {
  /** Rolling window over which the failure rate is measured. */
  window: number;
  /** Number of buckets the window is split into. */
  buckets: number;
  /** Failure ratio (0-1] over the window that opens the breaker. */
  failureRate: number;
  /** Calls needed in the window before the failure rate is trusted. */
  minimumCalls: number;
  /** Consecutive provider-health failures that open the breaker at once (0 turns it off). */
  consecutiveFailures: number;
  /** First open period; grows by `cooldownMultiplier` per failed probe up to `maxCooldown`. */
  cooldown: number;
  maxCooldown: number;
  cooldownMultiplier: number;
  /** Open period for failures that will not heal soon (quota, auth, not found). */
  longCooldown: number;
  /** Without a probe: user calls let through at once while half-open. */
  halfOpenTrials: number;
  /** Time to first token above this counts as a failure in the rate (0 turns it off). */
  slowCallMs: number;
}

/** The answer to "may a call go to this target now?". */
export const Admission = {
  /** Closed: go. */
  Allow: 0,
  /** Half-open without a probe: go, as one of the few trial calls. */
  Trial: 1,
  /** Open: skip this target. */
  Open: 2,
  /** Half-open and the probe or trials are under way: skip this target. */
  HalfOpen: 3,
  /** The cooldown just ended and the target has a probe: start it, and skip this target. */
  ProbeDue: 4,
} as const;
/** One of the {@link Admission} values. */
export type Admission = (typeof Admission)[keyof typeof Admission];

/** Receives every state change. */
export type TransitionListener = (from: BreakerState, to: BreakerState, reason: BreakerReason, now: number) => void;

/**
 * A per-target circuit breaker for low-rate LLM traffic. It opens on a failure rate over a
 * rolling window of fixed buckets (a small minimum of calls), on a run of consecutive
 * failures (fast on hard outages even after long healthy periods), or at once for failures
 * that will not heal soon. Half-open is decided by a synthetic probe when the target has one,
 * else by a few trial calls. Bookkeeping is O(buckets) at worst and needs no timers.
 */
export class CircuitBreaker {
  readonly settings: BreakerSettings;
  #state: BreakerState = 'closed';
  #openUntil = 0;
  #cooldown: number;
  #consecutive = 0;
  #trialsInFlight = 0;
  readonly #bucketMs: number;
  readonly #epochs: Float64Array;
  readonly #totals: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #hasProbe: boolean;
  #listener: TransitionListener | undefined;

  constructor(settings: BreakerSettings, options: { hasProbe: boolean; onTransition?: TransitionListener }) {
    this.settings = settings;
    this.#cooldown = settings.cooldown;
    this.#bucketMs = settings.window / settings.buckets;
    this.#epochs = new Float64Array(settings.buckets).fill(-1);
    this.#totals = new Uint32Array(settings.buckets);
    this.#failures = new Uint32Array(settings.buckets);
    this.#hasProbe = options.hasProbe;
    this.#listener = options.onTransition;
  }

  /** Current state (open is reported until the cooldown has been noticed by a call). */
  get state(): BreakerState {
    return this.#state;
  }

  /** When an open breaker may next be tried, in clock ms (0 when closed). */
  get openUntil(): number {
    return this.#state === 'closed' ? 0 : this.#openUntil;
  }

  /** The cooldown the next opening will use. */
  get cooldown(): number {
    return this.#cooldown;
  }

  /** Calls and failures in the current window. */
  counts(now: number): { calls: number; failures: number } {
    const current = Math.floor(now / this.#bucketMs);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < this.settings.buckets; i++) {
      if (current - this.#epochs[i]! < this.settings.buckets) {
        calls += this.#totals[i]!;
        failures += this.#failures[i]!;
      }
    }
    return { calls, failures };
  }

  /** Decides whether a call may go to the target now. */
  admit(now: number): Admission {
    switch (this.#state) {
      case 'closed':
        return Admission.Allow;
      case 'open':
        if (now < this.#openUntil) return Admission.Open;
        this.#transition('half_open', 'cooldown_elapsed', now);
        if (this.#hasProbe) return Admission.ProbeDue;
        return this.#takeTrial();
      default:
        return this.#hasProbe ? Admission.HalfOpen : this.#takeTrial();
    }
  }

  /** True when {@link CircuitBreaker.admit} would let a call through (no side effects). */
  isAvailable(now: number): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') return now >= this.#openUntil && !this.#hasProbe;
    return !this.#hasProbe && this.#trialsInFlight < this.settings.halfOpenTrials;
  }

  /** Records a successful call. `trial` marks calls admitted with {@link Admission.Trial}. */
  onSuccess(now: number, trial: boolean, firstTokenMs?: number): void {
    if (trial) {
      this.#trialsInFlight--;
      if (this.#state === 'half_open') this.#close('trial_succeeded', now);
      return;
    }
    if (this.#state !== 'closed') return;
    this.#consecutive = 0;
    const slow = this.settings.slowCallMs > 0 && firstTokenMs !== undefined && firstTokenMs > this.settings.slowCallMs;
    this.#record(now, slow);
    if (slow) this.#evaluate(now);
  }

  /** Records a provider-health failure. */
  onFailure(now: number, trial: boolean): void {
    if (trial) {
      this.#trialsInFlight--;
      if (this.#state === 'half_open') this.#reopen('trial_failed', now);
      return;
    }
    if (this.#state !== 'closed') return;
    this.#consecutive++;
    this.#record(now, true);
    const { consecutiveFailures } = this.settings;
    if (consecutiveFailures > 0 && this.#consecutive >= consecutiveFailures) {
      this.#open('consecutive_failures', now, this.#cooldown);
      return;
    }
    this.#evaluate(now);
  }

  /** Releases a trial slot for a call that ended without telling anything (cancelled, caller error). */
  releaseTrial(): void {
    this.#trialsInFlight = Math.max(0, this.#trialsInFlight - 1);
  }

  /** The probe answered: close. */
  onProbeSuccess(now: number): void {
    if (this.#state === 'half_open') this.#close('probe_succeeded', now);
  }

  /** The probe failed: open again for a longer cooldown. */
  onProbeFailure(now: number): void {
    if (this.#state === 'half_open') this.#reopen('probe_failed', now);
  }

  /** Opens at once for `ms` (quota, auth, not found, or by hand), unless already open longer. */
  forceOpen(now: number, ms: number, reason: BreakerReason = 'long_failure'): void {
    if (this.#state === 'open' && this.#openUntil >= now + ms) return;
    this.#open(reason, now, ms);
  }

  /** Closes and forgets all history. */
  reset(now: number): void {
    this.#close('reset', now);
  }

  #takeTrial(): Admission {
    if (this.#trialsInFlight >= this.settings.halfOpenTrials) return Admission.HalfOpen;
    this.#trialsInFlight++;
    return Admission.Trial;
  }

  #record(now: number, failed: boolean): void {
    const epoch = Math.floor(now / this.#bucketMs);
    const index = epoch % this.settings.buckets;
    if (this.#epochs[index] !== epoch) {
      this.#epochs[index] = epoch;
      this.#totals[index] = 0;
      this.#failures[index] = 0;
    }
    this.#totals[index]!++;
    if (failed) this.#failures[index]!++;
  }

  #evaluate(now: number): void {
    const { calls, failures } = this.counts(now);
    if (calls >= this.settings.minimumCalls && failures / calls >= this.settings.failureRate) {
      this.#open('failure_rate', now, this.#cooldown);
    }
  }

  #open(reason: BreakerReason, now: number, ms: number): void {
    this.#openUntil = now + ms;
    this.#trialsInFlight = 0;
    if (this.#state !== 'open') this.#transition('open', reason, now);
  }

  #reopen(reason: BreakerReason, now: number): void {
    this.#cooldown = Math.min(this.settings.maxCooldown, this.#cooldown * this.settings.cooldownMultiplier);
    this.#open(reason, now, this.#cooldown);
  }

  #close(reason: BreakerReason, now: number): void {
    this.#cooldown = this.settings.cooldown;
    this.#consecutive = 0;
    this.#trialsInFlight = 0;
    this.#epochs.fill(-1);
    if (this.#state !== 'closed') this.#transition('closed', reason, now);
  }

  #transition(to: BreakerState, reason: BreakerReason, now: number): void {
    const from = this.#state;
    this.#state = to;
    this.#listener?.(from, to, reason, now);
  }
}
