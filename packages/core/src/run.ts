import { Attempt } from './attempt.js';
import type { Cancellation } from './cancel.js';
import { Admission } from './breaker.js';
import { applyClassifier, classifyError, type Classification } from './classify.js';
import type { Clock } from './clock.js';
import { BreakwaterTimeoutError, CallFailedError, MidStreamError } from './errors.js';
import type { EngineEmitter } from './events.js';
import { fullJitter } from './backoff.js';
import type { AttemptRecord, CallOutcome } from './outcome.js';
import type { DeadlineEntry, DeadlineScheduler } from './scheduler.js';
import type { TargetRuntime } from './target.js';

/** What every run of an engine shares. */
export interface EngineCore {
  readonly clock: Clock;
  readonly scheduler: DeadlineScheduler;
  readonly random: () => number;
  readonly events: EngineEmitter;
  /** Looks a target up by name (for context and content-policy fallbacks). */
  target(name: string): TargetRuntime<unknown, unknown, unknown>;
  nextId(): number;
}

/** A compiled chain: its targets, resolved once. */
export interface ChainPlan {
  readonly names: readonly string[];
  readonly targets: readonly TargetRuntime<unknown, unknown, unknown>[];
}

const PHASE_NONE = 0;
const PHASE_ATTEMPT = 1;
const PHASE_FIRST_TOKEN = 2;
const PHASE_STREAMING = 3;
const PHASE_YIELDED = 4;
const PHASE_SLEEP = 5;

const CANCELLED: Classification = { class: 'cancelled' };

type Target = TargetRuntime<unknown, unknown, unknown>;

/** What to do after a failed attempt. */
const enum Next {
  Retry,
  NextTarget,
  Stop,
}

/**
 * One call through a chain: the single context object a call allocates, and its entry in the
 * engine's deadline scheduler. It walks the chain, runs attempts under their timeouts,
 * classifies failures and decides between retrying, moving on and stopping.
 */
export class Run implements DeadlineEntry {
  dueAt = 0;
  heapIndex = -1;
  readonly outcome: CallOutcome;
  readonly deadline: number;
  readonly #core: EngineCore;
  readonly #plan: ChainPlan;
  readonly #input: unknown;
  readonly #signal: Cancellation | undefined;
  readonly #stream: boolean;
  #onOutcome: ((outcome: CallOutcome) => void) | undefined;
  #phase = PHASE_NONE;
  #idleDeadline = Infinity;
  #yieldedAt = 0;
  #current: Attempt | undefined = undefined;
  #currentTarget: Target | undefined = undefined;
  /** The target whose slot this run holds (admitted, not yet left). */
  #held: Target | undefined = undefined;
  #wake: ((woke: boolean) => void) | undefined = undefined;
  /** Set when the whole run must end: the caller cancelled or the total deadline passed. */
  #halt: Classification | undefined = undefined;
  #haltReason: unknown = undefined;
  #failure: Classification | undefined = undefined;
  #lastError: unknown = undefined;
  #value: unknown = undefined;
  #finished = false;
  /** Part of a hedged call: the outcome is published by the hedge, merged with the other runs'. */
  silent = false;
  /** The latest clock reading; refreshed after every await, so that no path reads the clock twice. */
  #now: number;
  /** Streams: the open iterator, chunks read before the commit point, and whether it ended. */
  iterator: AsyncIterator<unknown> | undefined = undefined;
  buffered: unknown[] = [];
  ended = false;

  constructor(
    core: EngineCore,
    plan: ChainPlan,
    input: unknown,
    stream: boolean,
    totalMs: number,
    signal: Cancellation | undefined,
    onOutcome: ((outcome: CallOutcome) => void) | undefined,
  ) {
    this.#core = core;
    this.#plan = plan;
    this.#input = input;
    this.#stream = stream;
    this.#signal = signal;
    this.#onOutcome = onOutcome;
    const now = core.clock.now();
    this.#now = now;
    this.deadline = now + totalMs;
    this.outcome = {
      id: core.nextId(),
      kind: stream ? 'stream' : 'call',
      chain: plan.names,
      ok: false,
      startedAt: now,
      latencyMs: 0,
      retries: 0,
      waitedMs: 0,
      attempts: [],
      skipped: [],
    };
  }

  /** Runs the chain until an attempt succeeds (for streams: reaches its first content chunk). */
  execute(): Promise<unknown> {
    const signal = this.#signal;
    if (signal) {
      if (signal.aborted) {
        this.#halt = CANCELLED;
        this.#haltReason = signal.reason;
        return Promise.reject(this.#fail('cancelled', 'the call was cancelled before it started'));
      }
      signal.addEventListener('abort', this);
    }
    return this.#walk();
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.#stopAll(CANCELLED, this.#signal?.reason);
  }

  /** The scheduler says a deadline passed. */
  onDeadline(now: number): void {
    if (now >= this.deadline) {
      const total = this.deadline - this.outcome.startedAt;
      this.#stopAll({ class: 'timeout', phase: 'total' }, new BreakwaterTimeoutError('total', total));
      return;
    }
    switch (this.#phase) {
      case PHASE_SLEEP: {
        const wake = this.#wake;
        this.#wake = undefined;
        wake?.(true);
        return;
      }
      case PHASE_ATTEMPT:
        this.#stopAttempt('attempt');
        return;
      case PHASE_FIRST_TOKEN:
        this.#stopAttempt('first_token');
        return;
      case PHASE_STREAMING:
        if (now >= this.#idleDeadline) this.#stopAttempt('idle');
        else this.#core.scheduler.schedule(this, Math.min(this.deadline, this.#idleDeadline));
        return;
      case PHASE_YIELDED: {
        const idle = this.#currentTarget!.config.policy.timeouts.idle;
        this.#core.scheduler.schedule(this, Math.min(this.deadline, now + idle));
        return;
      }
      default:
        this.#core.scheduler.schedule(this, this.deadline);
    }
  }

  async #walk(): Promise<unknown> {
    try {
      const clock = this.#core.clock;
      let sequence = this.#plan.targets;
      for (let index = 0; index < sequence.length; index++) {
        const target = sequence[index]!;
        if (this.#stream ? !target.config.stream : !target.config.call) {
          this.outcome.skipped.push({ target: target.name, reason: 'unsupported' });
          continue;
        }
        const admission = target.admit(this.#now, this.#input);
        if (typeof admission === 'string') {
          const retryInMs = target.retryIn(this.#now);
          this.outcome.skipped.push(
            retryInMs > 0
              ? { target: target.name, reason: admission, retryInMs }
              : { target: target.name, reason: admission },
          );
          continue;
        }
        const trial = admission === Admission.Trial;
        this.#held = target;
        target.budget?.deposit();
        for (let attemptNo = 1; ; attemptNo++) {
          if (await this.#attempt(target, attemptNo, trial)) {
            if (!this.#stream) {
              this.#succeed();
              this.#release();
            }
            return this.#value;
          }
          if (this.#halt) throw this.#haltError();
          const failure = this.#failure!;
          const decision = this.#decide(target, failure, attemptNo, sequence, index);
          if (decision === Next.Stop) throw this.#fail(failure.class, `the call failed: ${failure.class}`);
          if (decision === Next.NextTarget) {
            const fallback = this.#fallbackFor(target, failure);
            this.#releaseTarget();
            if (fallback && sequence.indexOf(fallback) === -1) {
              sequence = [...sequence.slice(0, index + 1), fallback, ...sequence.slice(index + 1)];
            } else if (fallback && sequence.indexOf(fallback) > index + 1) {
              const rest = sequence.slice(index + 1).filter((t) => t !== fallback);
              sequence = [...sequence.slice(0, index + 1), fallback, ...rest];
            }
            break;
          }
          const record = this.outcome.attempts[this.outcome.attempts.length - 1]!;
          const woke = await this.#sleep(record.waitMs!);
          this.#now = clock.now();
          this.outcome.retries++;
          if (!woke || this.#halt) throw this.#haltError();
          if (!target.stillHealthy(this.#now)) {
            this.#releaseTarget();
            break;
          }
        }
      }
      const last = this.#failure;
      if (last) throw this.#fail(last.class, `every target failed; last failure: ${last.class}`);
      let retryAfterMs = Infinity;
      for (const skip of this.outcome.skipped)
        if (skip.retryInMs !== undefined) retryAfterMs = Math.min(retryAfterMs, skip.retryInMs);
      throw this.#fail(
        'unavailable',
        'no target is available',
        Number.isFinite(retryAfterMs) ? retryAfterMs : undefined,
      );
    } catch (error) {
      // Every failure path has finished the outcome; this only guarantees the listener and
      // the scheduler entry are gone whatever was thrown.
      this.#release();
      throw error;
    }
  }

  /** One attempt; true on success (value in #value), false with #failure set. */
  async #attempt(target: Target, attemptNo: number, trial: boolean): Promise<boolean> {
    const clock = this.#core.clock;
    const start = this.#now;
    const attempt = new Attempt(attemptNo, target, this.deadline, this.#core.clock);
    const timeouts = target.config.policy.timeouts;
    this.#current = attempt;
    this.#currentTarget = target;
    const record: AttemptRecord = {
      target: target.name,
      attempt: attemptNo,
      startMs: start - this.outcome.startedAt,
      latencyMs: 0,
      ok: false,
      breaker: trial ? 'half_open' : target.breaker.state,
    };
    this.outcome.attempts.push(record);
    this.#arm(
      this.#stream ? PHASE_FIRST_TOKEN : PHASE_ATTEMPT,
      start + (this.#stream ? Math.min(timeouts.firstToken, timeouts.attempt) : timeouts.attempt),
    );
    try {
      if (this.#stream) {
        await this.#open(target, attempt, record, start);
      } else {
        this.#value = await attempt.wait(target.config.call!(this.#input, attempt));
      }
      const end = clock.now();
      this.#now = end;
      record.latencyMs = end - start;
      record.ok = true;
      target.latency.record(this.#stream ? record.firstTokenMs! : record.latencyMs);
      target.breaker.onSuccess(end, trial, record.firstTokenMs);
      return true;
    } catch (error) {
      const end = clock.now();
      this.#now = end;
      record.latencyMs = end - start;
      const classification =
        attempt.stopClass ?? applyClassifier(target.config.classify, error, classifyError(error, clock.date()));
      describeFailure(record, classification);
      this.#failure = classification;
      this.#lastError = error;
      this.#closeIterator();
      recordHealth(target, classification, trial, end);
      this.#arm(PHASE_NONE, Infinity);
      return false;
    }
  }

  /** Opens a stream and reads up to its first content chunk. */
  async #open(target: Target, attempt: Attempt, record: AttemptRecord, start: number): Promise<void> {
    const iterable = (await attempt.wait(target.config.stream!(this.#input, attempt))) as AsyncIterable<unknown>;
    const iterator = iterable[Symbol.asyncIterator]();
    this.iterator = iterator;
    this.buffered = [];
    const isContent = target.config.isContent;
    for (;;) {
      const next = await attempt.wait(iterator.next());
      if (next.done) {
        this.ended = true;
        break;
      }
      this.buffered.push(next.value);
      if (!isContent || isContent(next.value)) break;
    }
    record.firstTokenMs = this.#core.clock.now() - start;
  }

  #decide(
    target: Target,
    failure: Classification,
    attemptNo: number,
    sequence: readonly Target[],
    index: number,
  ): Next {
    const now = this.#now;
    const { retry, breaker } = target.config.policy;
    switch (failure.class) {
      case 'cancelled':
      case 'bad_request':
        return Next.Stop;
      case 'context_length':
        return target.config.contextFallback ? Next.NextTarget : Next.Stop;
      case 'content_policy':
        return target.config.contentPolicyFallback ? Next.NextTarget : Next.Stop;
      case 'quota_exhausted':
        target.breaker.forceOpen(
          now,
          Math.max(breaker.longCooldown, Math.min(failure.retryAfterMs ?? 0, retry.maxCooldown)),
        );
        return Next.NextTarget;
      case 'auth':
      case 'not_found':
        target.breaker.forceOpen(now, breaker.longCooldown);
        return Next.NextTarget;
      case 'timeout':
      case 'unknown':
        return Next.NextTarget;
      case 'rate_limited': {
        const serverWait = failure.retryAfterMs;
        if (serverWait !== undefined) {
          target.coolDown(now, Math.min(serverWait, retry.maxCooldown));
          if (serverWait > retry.maxServerWait) return Next.NextTarget;
          return this.#retry(target, failure, attemptNo, retry.maxAttempts, serverWait, 'retry_after');
        }
        return this.#retry(target, failure, attemptNo, retry.maxAttempts, this.#backoff(target, attemptNo), 'backoff');
      }
      case 'overloaded':
      case 'server': {
        const limit = failure.class === 'overloaded' ? Math.min(2, retry.maxAttempts) : retry.maxAttempts;
        const serverWait = failure.retryAfterMs;
        if (serverWait !== undefined && serverWait > retry.maxServerWait) {
          target.coolDown(now, Math.min(serverWait, retry.maxCooldown));
          return Next.NextTarget;
        }
        const backoff = this.#backoff(target, attemptNo);
        return serverWait !== undefined && serverWait > backoff
          ? this.#retry(target, failure, attemptNo, limit, serverWait, 'retry_after')
          : this.#retry(target, failure, attemptNo, limit, backoff, 'backoff');
      }
      case 'network':
        for (let i = index + 1; i < sequence.length; i++) if (sequence[i]!.isAvailable(now)) return Next.NextTarget;
        return this.#retry(target, failure, attemptNo, retry.maxAttempts, this.#backoff(target, attemptNo), 'backoff');
    }
  }

  /** Retries the same target after `waitMs` if attempts, total wait, deadline and budget allow. */
  #retry(
    target: Target,
    failure: Classification,
    attemptNo: number,
    limit: number,
    waitMs: number,
    reason: 'backoff' | 'retry_after',
  ): Next {
    if (failure.shouldRetry === false || attemptNo >= limit) return Next.NextTarget;
    if (this.outcome.waitedMs + waitMs > target.config.policy.retry.maxTotalWait) return Next.NextTarget;
    if (this.#now + waitMs >= this.deadline) return Next.NextTarget;
    if (target.budget && !target.budget.tryWithdraw()) return Next.NextTarget;
    const record = this.outcome.attempts[this.outcome.attempts.length - 1]!;
    record.waitMs = waitMs;
    record.waitReason = reason;
    return Next.Retry;
  }

  #backoff(target: Target, attemptNo: number): number {
    const { baseDelay, maxDelay } = target.config.policy.retry;
    return fullJitter(attemptNo - 1, baseDelay, maxDelay, this.#core.random);
  }

  #fallbackFor(target: Target, failure: Classification): Target | undefined {
    const name =
      failure.class === 'context_length'
        ? target.config.contextFallback
        : failure.class === 'content_policy'
          ? target.config.contentPolicyFallback
          : undefined;
    return name === undefined ? undefined : this.#core.target(name);
  }

  #sleep(ms: number): Promise<boolean> {
    this.outcome.waitedMs += ms;
    this.#arm(PHASE_SLEEP, this.#now + ms);
    return new Promise<boolean>((resolve) => {
      this.#wake = resolve;
    }).finally(() => this.#arm(PHASE_NONE, Infinity));
  }

  /** Sets the phase and schedules this run at the earlier of the phase deadline and the total. */
  #arm(phase: number, phaseDeadline: number): void {
    this.#phase = phase;
    if (this.#finished) return;
    this.#core.scheduler.schedule(this, Math.min(this.deadline, phaseDeadline));
  }

  #stopAttempt(phase: 'attempt' | 'first_token' | 'idle'): void {
    const timeouts = this.#currentTarget!.config.policy.timeouts;
    const ms = phase === 'attempt' ? timeouts.attempt : phase === 'idle' ? timeouts.idle : timeouts.firstToken;
    this.#current?.stop(new BreakwaterTimeoutError(phase, ms), { class: 'timeout', phase });
  }

  /** Ends the whole run (cancel or total deadline): stops the attempt and any sleep. */
  #stopAll(classification: Classification, reason: unknown): void {
    if (this.#halt || this.#finished) return;
    this.#halt = classification;
    this.#haltReason = reason;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.(false);
    this.#current?.stop(reason, classification);
  }

  #haltError(): CallFailedError {
    const halt = this.#halt!;
    if (halt.class === 'cancelled') return this.#fail('cancelled', 'the call was cancelled');
    return this.#fail('timeout', 'the call ran out of time', undefined, halt);
  }

  /** Builds the failure error, finishing the outcome. */
  #fail(
    failureClass: CallFailedError['failureClass'],
    message: string,
    retryAfterMs?: number,
    classification: Classification | undefined = this.#failure,
  ): CallFailedError {
    const options: ConstructorParameters<typeof CallFailedError>[3] = {};
    if (classification) options.classification = classification;
    if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
    const cause = this.#halt ? this.#haltReason : this.#lastError;
    if (cause !== undefined) options.cause = cause;
    this.outcome.failureClass = failureClass;
    this.#finish(false);
    return new CallFailedError(message, failureClass, this.outcome, options);
  }

  #succeed(): void {
    const target = this.#currentTarget!;
    this.outcome.ok = true;
    this.outcome.target = target.name;
    const tier = this.#plan.targets.indexOf(target);
    this.outcome.tier = tier < 0 ? this.#plan.targets.length : tier;
    this.#finish(true);
  }

  /** Gives back the slot held at the current target. */
  #releaseTarget(): void {
    this.#held?.release();
    this.#held = undefined;
  }

  #finish(ok: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#releaseTarget();
    this.outcome.ok = ok;
    if (this.#stream) this.#now = this.#core.clock.now();
    this.outcome.latencyMs = this.#now - this.outcome.startedAt;
    if (!this.silent) this.publish();
  }

  /** Delivers the outcome to `onOutcome` and the `outcome` event (a hedged call publishes its merged outcome itself). */
  publish(): void {
    const events = this.#core.events;
    this.#onOutcome?.(this.outcome);
    if (events.wants('outcome')) events.emit('outcome', this.outcome);
  }

  /** A hedged stream's winner publishes the merged outcome itself, to the hedged call's receiver. */
  publishWhenDone(onOutcome: ((outcome: CallOutcome) => void) | undefined): void {
    this.silent = false;
    this.#onOutcome = onOutcome;
  }

  /** A successful call's value. */
  get value(): unknown {
    return this.#value;
  }

  /** True once the outcome is final. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Removes the abort listener and the scheduler entry. */
  #release(): void {
    this.#signal?.removeEventListener('abort', this);
    this.#core.scheduler.cancel(this);
  }

  #closeIterator(): void {
    const iterator = this.iterator;
    this.iterator = undefined;
    this.buffered = [];
    this.ended = false;
    if (iterator?.return) {
      try {
        Promise.resolve(iterator.return()).catch(ignore);
      } catch {
        // The iterator is being abandoned; its own errors no longer matter.
      }
    }
  }

  // ---- Streams after the commit point ----

  /** Streams: records the commit (first content delivered) and arms the idle timeout. */
  commit(): void {
    const now = this.#core.clock.now();
    this.outcome.firstTokenMs = now - this.outcome.startedAt;
    this.outcome.delivered = 0;
    this.#idleDeadline = now + this.#currentTarget!.config.policy.timeouts.idle;
    // The chunks read before the commit point are handed out now: the consumer holds them.
    this.#yieldedAt = now;
    this.#phase = PHASE_YIELDED;
    this.#core.scheduler.schedule(this, Math.min(this.deadline, this.#idleDeadline));
  }

  /** Streams: reads the next chunk under the idle and total deadlines. */
  async pull(): Promise<IteratorResult<unknown>> {
    const clock = this.#core.clock;
    // Time the consumer held the last chunk is not upstream silence: shift the idle deadline by it.
    if (this.#phase === PHASE_YIELDED) this.#idleDeadline += clock.now() - this.#yieldedAt;
    this.#phase = PHASE_STREAMING;
    const attempt = this.#current!;
    let next: IteratorResult<unknown>;
    try {
      next = await attempt.wait(this.iterator!.next());
    } catch (error) {
      throw this.#midStream(error);
    }
    if (next.done) {
      // The SDKs end a stream silently when its signal aborts: an end after a stop is a failure.
      if (attempt.stopReason !== undefined) throw this.#midStream(attempt.stopReason);
      return next;
    }
    const isContent = this.#currentTarget!.config.isContent;
    const now = clock.now();
    if (!isContent || isContent(next.value))
      this.#idleDeadline = now + this.#currentTarget!.config.policy.timeouts.idle;
    this.#yieldedAt = now;
    this.#phase = PHASE_YIELDED;
    return next;
  }

  /** Streams: one more chunk reached the consumer. */
  delivered(): void {
    this.outcome.delivered = (this.outcome.delivered ?? 0) + 1;
  }

  /** Streams: the provider ended the stream cleanly. */
  complete(): void {
    this.outcome.complete = true;
    this.#succeed();
    this.#release();
  }

  /** Streams: the consumer stopped reading early (or the run is being torn down). */
  abandon(): void {
    if (this.#finished) return;
    this.#stopAll(CANCELLED, new Error('the stream consumer stopped reading'));
    this.#closeIterator();
    this.outcome.complete = false;
    this.outcome.failureClass = 'cancelled';
    this.#finish(false);
    this.#release();
  }

  #midStream(error: unknown): MidStreamError {
    const target = this.#currentTarget!;
    const attempt = this.#current!;
    const clock = this.#core.clock;
    const classification =
      attempt.stopClass ?? applyClassifier(target.config.classify, error, classifyError(error, clock.date()));
    recordHealth(target, classification, false, clock.now());
    this.#closeIterator();
    this.outcome.complete = false;
    this.outcome.target = target.name;
    this.outcome.failureClass = classification.class;
    this.#finish(false);
    this.#release();
    return new MidStreamError(classification.class, this.outcome, this.outcome.delivered ?? 0, {
      classification,
      cause: error,
    });
  }
}

/** Feeds a failure to the target's breaker: provider-health classes count, caller classes never. */
function recordHealth(target: Target, classification: Classification, trial: boolean, now: number): void {
  switch (classification.class) {
    case 'rate_limited':
      // A Retry-After is handled precisely by the target's cooldown; only blind 429s count.
      if (classification.retryAfterMs === undefined) target.breaker.onFailure(now, trial);
      else if (trial) target.breaker.releaseTrial();
      return;
    case 'overloaded':
    case 'server':
    case 'network':
    case 'unknown':
      target.breaker.onFailure(now, trial);
      return;
    case 'timeout':
      if (classification.phase === 'total') {
        if (trial) target.breaker.releaseTrial();
      } else target.breaker.onFailure(now, trial);
      return;
    case 'quota_exhausted':
    case 'auth':
    case 'not_found':
      if (trial) target.breaker.releaseTrial();
      return; // #decide opens the breaker for long.
    default:
      if (trial) target.breaker.releaseTrial();
  }
}

function describeFailure(record: AttemptRecord, classification: Classification): void {
  record.class = classification.class;
  if (classification.status !== undefined) record.status = classification.status;
  if (classification.code !== undefined) record.code = classification.code;
  if (classification.phase !== undefined) record.phase = classification.phase;
}

function ignore(): void {}
