import type { Classification, FailureClass } from './classify.js';
import type { CallOutcome } from './outcome.js';

/** Which timeout fired. */
export type TimeoutPhase =
  'total' | 'attempt' | 'first_token' | 'idle' | 'connect' | 'headers' | 'body' | 'probe' | 'upstream';

/**
 * The abort reason breakwater gives an attempt's signal when one of its own timeouts fires.
 * Classified as `timeout` with its `phase`.
 */
export class BreakwaterTimeoutError extends Error {
  override readonly name = 'BreakwaterTimeoutError';
  /** Marks breakwater timeouts across realms and package copies. */
  readonly isBreakwaterTimeout = true;
  /** Which timeout fired. */
  readonly phase: TimeoutPhase;

  constructor(phase: TimeoutPhase, ms?: number) {
    super(ms === undefined ? `${phase} timeout` : `${phase} timeout after ${Math.round(ms)} ms`);
    this.phase = phase;
  }
}

/**
 * The call could not produce a result: every target failed or was unavailable, the failure
 * was the caller's (bad request, context length, content policy), the caller cancelled, or
 * the deadline passed. `outcome` tells the whole story; `cause` is the last upstream error
 * (never show it to end users: it may hold provider text).
 */
export class CallFailedError extends Error {
  override name = 'CallFailedError';
  /** Marks breakwater call failures across realms and package copies. */
  readonly isCallFailed = true;
  /** The class that decided the failure (`unavailable` when every target was skipped). */
  readonly failureClass: FailureClass | 'unavailable';
  /** The last attempt's classification, when an attempt was made. */
  readonly classification: Classification | undefined;
  /** For `unavailable`: ms until the earliest target may be tried again. */
  readonly retryAfterMs: number | undefined;
  /** Everything that happened during the call. */
  readonly outcome: CallOutcome;

  constructor(
    message: string,
    failureClass: FailureClass | 'unavailable',
    outcome: CallOutcome,
    options: { classification?: Classification; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.failureClass = failureClass;
    this.classification = options.classification;
    this.retryAfterMs = options.retryAfterMs;
    this.outcome = outcome;
  }

  /** True when the request itself is at fault (bad request, context length, content policy). */
  get isCallerError(): boolean {
    const c = this.failureClass;
    return c === 'bad_request' || c === 'context_length' || c === 'content_policy';
  }
}

/**
 * A stream failed after its first content chunk reached the consumer (the commit point).
 * `delivered` chunks were handed out; the stream is incomplete and must be shown as such.
 */
export class MidStreamError extends CallFailedError {
  override name = 'MidStreamError';
  /** Chunks handed to the consumer before the failure. */
  readonly delivered: number;

  constructor(
    failureClass: FailureClass,
    outcome: CallOutcome,
    delivered: number,
    options: { classification?: Classification; cause?: unknown } = {},
  ) {
    super(`stream failed after ${delivered} chunk(s): ${failureClass}`, failureClass, outcome, options);
    this.delivered = delivered;
  }
}

/** True for a {@link CallFailedError} from any copy of breakwater. */
export function isCallFailedError(error: unknown): error is CallFailedError {
  return !!error && typeof error === 'object' && (error as { isCallFailed?: unknown }).isCallFailed === true;
}
