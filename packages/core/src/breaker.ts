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
  | 'reset'
  | 'shared'
  | 'probe_elsewhere';

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

/** One window bucket's own calls not yet handed to the shared store. */
export interface UnsyncedBucket {
  /** The bucket's number: wall-clock ms / bucket length, the same in every instance. */
  epoch: number;
  calls: number;
  failures: number;
}

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
  /** Added to clock ms to number buckets by wall-clock time, so that instances agree on them. */
  readonly #epochOffset: number;
  /** Shared mode: other instances' counts per bucket, and own counts not yet synced. */
  #shared: SharedCounts | undefined = undefined;

  constructor(
    settings: BreakerSettings,
    options: { hasProbe: boolean; onTransition?: TransitionListener; epochOffset?: number },
  ) {
    this.settings = settings;
    this.#cooldown = settings.cooldown;
    this.#bucketMs = settings.window / settings.buckets;
    this.#epochs = new Float64Array(settings.buckets).fill(-1);
    this.#totals = new Uint32Array(settings.buckets);
    this.#failures = new Uint32Array(settings.buckets);
    this.#hasProbe = options.hasProbe;
    this.#listener = options.onTransition;
    this.#epochOffset = options.epochOffset ?? 0;
  }

  /** Length of one window bucket in ms. */
  get bucketMs(): number {
    return this.#bucketMs;
  }

  /**
   * Turns on shared counting: from now on, calls are also kept as unsynced deltas for the
   * store, and {@link CircuitBreaker.counts} adds other instances' counts. `onRecord` runs on
   * every recorded call (to arm a sync).
   */
  share(onRecord: () => void): void {
    const n = this.settings.buckets;
    this.#shared = {
      onRecord,
      remoteEpochs: new Float64Array(n).fill(-1),
      remoteTotals: new Uint32Array(n),
      remoteFailures: new Uint32Array(n),
      unsyncedEpochs: new Float64Array(n).fill(-1),
      unsyncedTotals: new Uint32Array(n),
      unsyncedFailures: new Uint32Array(n),
      since: -1,
    };
  }

  /** The bucket number of `now` (clock ms). */
  epochOf(now: number): number {
    return Math.floor((now + this.#epochOffset) / this.#bucketMs);
  }

  /** Hands over and forgets the own counts not yet synced (shared mode). */
  takeUnsynced(): UnsyncedBucket[] {
    const shared = this.#shared;
    if (!shared) return [];
    const out: UnsyncedBucket[] = [];
    for (let i = 0; i < this.settings.buckets; i++) {
      if (shared.unsyncedEpochs[i]! < 0 || shared.unsyncedTotals[i] === 0) continue;
      out.push({
        epoch: shared.unsyncedEpochs[i]!,
        calls: shared.unsyncedTotals[i]!,
        failures: shared.unsyncedFailures[i]!,
      });
      shared.unsyncedTotals[i] = 0;
      shared.unsyncedFailures[i] = 0;
    }
    return out;
  }

  /** Gives back counts whose sync failed, so the next sync carries them. */
  returnUnsynced(buckets: readonly UnsyncedBucket[]): void {
    const shared = this.#shared;
    if (!shared) return;
    for (const b of buckets) {
      const index = b.epoch % this.settings.buckets;
      if (shared.unsyncedEpochs[index] !== b.epoch) continue;
      shared.unsyncedTotals[index]! += b.calls;
      shared.unsyncedFailures[index]! += b.failures;
    }
  }

  /**
   * Takes the store's totals of bucket `epoch` (every instance's calls, this one's synced calls
   * included) and keeps the other instances' share of them (shared mode).
   */
  setGlobalCounts(epoch: number, calls: number, failures: number): void {
    const shared = this.#shared;
    if (!shared) return;
    const index = epoch % this.settings.buckets;
    if (epoch <= shared.since || shared.remoteEpochs[index]! > epoch) return;
    let ownCalls = 0;
    let ownFailures = 0;
    if (this.#epochs[index] === epoch) {
      ownCalls = this.#totals[index]!;
      ownFailures = this.#failures[index]!;
      if (shared.unsyncedEpochs[index] === epoch) {
        ownCalls -= shared.unsyncedTotals[index]!;
        ownFailures -= shared.unsyncedFailures[index]!;
      }
    }
    const remoteCalls = Math.max(0, calls - ownCalls);
    shared.remoteEpochs[index] = epoch;
    shared.remoteTotals[index] = remoteCalls;
    shared.remoteFailures[index] = Math.max(0, Math.min(remoteCalls, failures - ownFailures));
  }

  /** Opens if the window's failure rate (everyone's, in shared mode) is over the threshold. */
  evaluate(now: number): void {
    if (this.#state === 'closed') this.#evaluate(now);
  }

  /**
   * Adopts a state another instance published: open until `openUntil` (with its cooldown), or
   * closed. Reports the change to the listener with reason `shared`.
   */
  applyShared(state: 'open' | 'closed', now: number, openUntil = 0, cooldown = this.#cooldown): void {
    if (state === 'closed') {
      if (this.#state !== 'closed') this.#close('shared', now);
      return;
    }
    if (openUntil <= now || (this.#state === 'open' && this.#openUntil >= openUntil)) return;
    this.#cooldown = Math.max(this.settings.cooldown, Math.min(this.settings.maxCooldown, cooldown));
    this.#open('shared', now, openUntil - now);
  }

  /**
   * Another instance holds the probe lock: back to open for `ms` (the lock's expiry, or until
   * that instance publishes the probe's result), without growing the cooldown.
   */
  probeElsewhere(now: number, ms: number): void {
    if (this.#state === 'half_open') this.#open('probe_elsewhere', now, ms);
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
    const current = this.epochOf(now);
    const buckets = this.settings.buckets;
    const shared = this.#shared;
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < buckets; i++) {
      if (current - this.#epochs[i]! < buckets) {
        calls += this.#totals[i]!;
        failures += this.#failures[i]!;
      }
      if (shared && current - shared.remoteEpochs[i]! < buckets) {
        calls += shared.remoteTotals[i]!;
        failures += shared.remoteFailures[i]!;
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
    const epoch = this.epochOf(now);
    const index = epoch % this.settings.buckets;
    if (this.#epochs[index] !== epoch) {
      this.#epochs[index] = epoch;
      this.#totals[index] = 0;
      this.#failures[index] = 0;
    }
    this.#totals[index]!++;
    if (failed) this.#failures[index]!++;
    const shared = this.#shared;
    if (shared) {
      if (shared.unsyncedEpochs[index] !== epoch) {
        shared.unsyncedEpochs[index] = epoch;
        shared.unsyncedTotals[index] = 0;
        shared.unsyncedFailures[index] = 0;
      }
      shared.unsyncedTotals[index]!++;
      if (failed) shared.unsyncedFailures[index]!++;
      shared.onRecord();
    }
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
    if (this.#shared) {
      // The shared window still holds the failures that opened it: count only buckets after this one.
      this.#shared.remoteEpochs.fill(-1);
      this.#shared.since = this.epochOf(now);
    }
    if (this.#state !== 'closed') this.#transition('closed', reason, now);
  }

  #transition(to: BreakerState, reason: BreakerReason, now: number): void {
    const from = this.#state;
    this.#state = to;
    this.#listener?.(from, to, reason, now);
  }
}

/** A shared-mode breaker's extra bookkeeping (see {@link CircuitBreaker.share}). */
interface SharedCounts {
  onRecord: () => void;
  remoteEpochs: Float64Array;
  remoteTotals: Uint32Array;
  remoteFailures: Uint32Array;
  unsyncedEpochs: Float64Array;
  unsyncedTotals: Uint32Array;
  unsyncedFailures: Uint32Array;
  /** Buckets up to this one predate the last close and are not counted from the store. */
  since: number;
}
