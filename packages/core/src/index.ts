/**
 * @module @breakwater/core
 * The engine: LLM error taxonomy, retries with budgets, circuit breakers probed with
 * synthetic traffic, deadlines as AbortSignals, and fallback chains across providers.
 */
export { resolveHedge, type HedgeOptions, type HedgeSettings } from './hedge.js';
export { LatencyHistogram } from './latency-histogram.js';
export { CancelSource, type AbortListener, type Cancellation } from './cancel.js';
export { createEngine, Engine, Chain, type AnyEngine, type CallOptions } from './engine.js';
export {
  LLM_DEFAULTS,
  estimateTokensFromJson,
  type RateLimitSettings,
  resolvePolicy,
  type AttemptContext,
  type BreakerOptions,
  type EngineOptions,
  type PolicyOptions,
  type PolicySettings,
  type ProbeContext,
  type RetryOptions,
  type RetrySettings,
  type TargetOptions,
  type TimeoutOptions,
  type TimeoutSettings,
} from './options.js';
export {
  classifyError,
  isCallerClass,
  FAILURE_CLASSES,
  type Classification,
  type Classifier,
  type FailureClass,
} from './classify.js';
export {
  retryAfterFromHeaders,
  parseRetryAfter,
  retryDelayFromBody,
  shouldRetryHeader,
  readHeader,
  type HeaderSource,
} from './retry-after.js';
export {
  BreakwaterTimeoutError,
  CallFailedError,
  MidStreamError,
  isCallFailedError,
  type TimeoutPhase,
} from './errors.js';
export { CircuitBreaker, Admission, type BreakerSettings, type BreakerState, type BreakerReason } from './breaker.js';
export { RetryBudget } from './retry-budget.js';
export { fullJitter } from './backoff.js';
export { seededRandom } from './random.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { parseDuration, parseGoDuration, type Duration } from './duration.js';
export {
  CHANNELS,
  TypedEmitter,
  type GuardEvents,
  type BreakerEvent,
  type EngineEvents,
  type ProbeEvent,
  type StoreEvent,
  type WarningEvent,
} from './events.js';
export type { AttemptRecord, CallOutcome, SkipRecord, SkipReason } from './outcome.js';
export type { TargetStatus } from './target.js';
export {
  Guard,
  stderrLogger,
  type BoundRoute,
  type RequestAccess,
  type DegradedLogger,
  type GuardOptions,
} from './request/guard.js';
export {
  RequestScope,
  ClientGoneError,
  DEGRADED_HEADER,
  type DegradedResponse,
  type DegradedTier,
  type ScopeCallOptions,
} from './request/scope.js';
export {
  compileRoute,
  DEFAULT_STATIC_MESSAGE,
  type CacheTierOptions,
  type CompiledRoute,
  type QueueTierOptions,
  type RouteOptions,
  type StaticTierOptions,
} from './request/route.js';
export { streamSse, serverResponseSink, SSE_HEADERS, type SseOptions, type SseSink } from './request/sse.js';
export { JobQueue, type JobStatus, type JobView } from './request/jobs.js';
export { ResponseCache, cacheKey, type CachedResponse } from './request/response-cache.js';
export {
  IdempotencyStore,
  fingerprint,
  type IdempotencyDecision,
  type IdempotencyOptions,
  type IdempotencyRecord,
  type StoredResponse,
} from './request/idempotency.js';
export { Bulkheads, type BulkheadOptions, type PoolOptions } from './request/bulkhead.js';
export { buildRequestOutcome, tierOf, type RequestOutcome, type RequestTier } from './request/request-outcome.js';
export { addServerTiming, serverTiming } from './request/server-timing.js';
export { renderStatusPage, type StatusSnapshot } from './request/status-page.js';
export { memoryStore, type MemoryStoreOptions } from './store/memory-store.js';
export { StoreUnavailableError, type AvailabilityListener, type SetOptions, type Store } from './store/store.js';
