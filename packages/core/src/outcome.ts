import type { BreakerState } from './breaker.js';
import type { FailureClass } from './classify.js';
import type { TimeoutPhase } from './errors.js';

/** Why a target was passed over without an attempt. */
export type SkipReason = 'open' | 'half_open' | 'cooldown' | 'unsupported' | 'full' | 'paced';

/** One attempt at one target. */
export interface AttemptRecord {
  target: string;
  /** 1-based attempt number at this target. */
  attempt: number;
  /** Start, in ms since the call started. */
  startMs: number;
  latencyMs: number;
  /** Streams: ms from the attempt's start to its first content chunk. */
  firstTokenMs?: number;
  ok: boolean;
  /** Failure class (failed attempts only). */
  class?: FailureClass;
  status?: number;
  code?: string;
  phase?: TimeoutPhase;
  /** The breaker's state when the attempt was admitted. */
  breaker: BreakerState;
  /** The wait taken after this attempt before the next one at the same target. */
  waitMs?: number;
  waitReason?: 'backoff' | 'retry_after';
}

/** A target skipped without an attempt. */
export interface SkipRecord {
  target: string;
  reason: SkipReason;
  /** Ms until the target may be tried again, when known. */
  retryInMs?: number;
}

/** Everything that happened during one call: emitted as the `outcome` event. */
export interface CallOutcome {
  /** Engine-unique call number. */
  id: number;
  kind: 'call' | 'stream';
  /** Names of the chain's targets, in order. */
  chain: readonly string[];
  ok: boolean;
  /** The target that answered. */
  target?: string;
  /** Its position in the chain (0 = primary); a fallback target outside the chain counts as the chain's length. */
  tier?: number;
  /** The class that ended a failed call (`unavailable`: every target skipped). */
  failureClass?: FailureClass | 'unavailable';
  /** Engine clock ms when the call started. */
  startedAt: number;
  latencyMs: number;
  /** Streams: ms from the call's start to the first chunk delivered. */
  firstTokenMs?: number;
  /** Attempts beyond the first at the same target, summed. */
  retries: number;
  /** Ms spent waiting between attempts. */
  waitedMs: number;
  attempts: AttemptRecord[];
  skipped: SkipRecord[];
  /** Hedged calls: hedges started, whether a hedge (not the primary) answered, and the extra upstream attempts. */
  hedge?: { started: number; won: boolean; extraAttempts: number };
  /** Streams: chunks delivered to the consumer. */
  delivered?: number;
  /** Streams: true only when the stream ended cleanly with the provider's end. */
  complete?: boolean;
}
