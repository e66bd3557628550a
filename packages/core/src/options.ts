import type { BreakerSettings } from './breaker.js';
import type { Classifier } from './classify.js';
import type { Clock } from './clock.js';
import type { Duration } from './duration.js';
import type { HeaderSource } from './retry-after.js';
import type { Store } from './store/store.js';
import { checkObject, optionError, readDuration, readFunction, readNumber, readObject } from './validate.js';

/** What a target function receives for one attempt. */
export interface AttemptContext {
  /** Aborted when this attempt must stop: a timeout, the caller leaving, or a lost hedge. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt at this target in this call. */
  readonly attempt: number;
  /** The target's name. */
  readonly target: string;
  /** When the whole call's deadline passes, in engine clock ms. */
  readonly deadline: number;
  /**
   * Hands breakwater a successful response's headers (for example from the SDK's
   * `.withResponse()`), so that it follows the provider's `x-ratelimit-*` and
   * `anthropic-ratelimit-*` headers: an exhausted limit cools the target down until its reset.
   */
  observe(headers: HeaderSource): void;
}

/** What a probe receives. */
export interface ProbeContext {
  /** Aborted when the probe times out. */
  readonly signal: AbortSignal;
  /** The target's name. */
  readonly target: string;
}

/** Timeouts; `total` is the whole call's deadline, the others apply per attempt. */
export interface TimeoutOptions {
  /** The whole call, every retry and fallback included. Default 60 s. */
  total?: Duration;
  /** One attempt of a non-streaming call, and a stream's wait for its first token. Default 30 s. */
  attempt?: Duration;
  /** A stream's wait for its first content chunk. Default 20 s. */
  firstToken?: Duration;
  /** Longest silence between content chunks of a stream (keep-alives do not count). Default 20 s. */
  idle?: Duration;
}

/** Retry policy for one target. */
export interface RetryOptions {
  /** Attempts per target per call, the first included. Default 3. */
  maxAttempts?: number;
  /** Full-jitter backoff base. Default 250 ms. */
  baseDelay?: Duration;
  /** Full-jitter backoff ceiling. Default 4 s. */
  maxDelay?: Duration;
  /** All waiting in one call, summed over targets. Default 10 s. */
  maxTotalWait?: Duration;
  /** Longest server-directed wait (Retry-After) taken before retrying the same target. Default 5 s. */
  maxServerWait?: Duration;
  /** Cap on any server-directed cooldown (Retry-After, rate-limit resets). Default 5 min. */
  maxCooldown?: Duration;
  /** Retry budget: tokens earned per call and the bucket size; `false` turns it off. */
  budget?: { ratio?: number; maxTokens?: number } | false;
}

/** Circuit breaker policy for one target (see docs/circuit-breaker.md). */
export interface BreakerOptions {
  /** Rolling window for the failure rate. Default 60 s. */
  window?: Duration;
  /** Buckets in the window. Default 12. */
  buckets?: number;
  /** Failure ratio that opens. Default 0.5. */
  failureRate?: number;
  /** Calls in the window before the rate counts. Default 10. */
  minimumCalls?: number;
  /** Consecutive failures that open at once; 0 turns it off. Default 5. */
  consecutiveFailures?: number;
  /** First open period. Default 30 s. */
  cooldown?: Duration;
  /** Longest open period after repeated failed probes. Default 5 min. */
  maxCooldown?: Duration;
  /** Growth of the open period per failed probe. Default 2. */
  cooldownMultiplier?: number;
  /** Open period for quota, auth and not-found failures. Default 10 min. */
  longCooldown?: Duration;
  /** Without a probe, user calls let through while half-open. Default 1. */
  halfOpenTrials?: number;
  /** Time to first token that counts as a slow (failed) call; `false` turns it off. Default 10 s. */
  slowCall?: Duration | false;
}

/** Policies shared by all targets (`defaults`) or set per target. */
export interface PolicyOptions {
  timeouts?: TimeoutOptions;
  retry?: RetryOptions;
  breaker?: BreakerOptions;
}

/** One target: a provider + model + credential. */
export interface TargetOptions<I, O, C> extends PolicyOptions {
  /** Makes a non-streaming call. Pass `ctx.signal` to the SDK. */
  call?: (input: I, ctx: AttemptContext) => PromiseLike<O>;
  /** Opens a streaming call: an async iterable of chunks (or a promise of one). */
  stream?: (input: I, ctx: AttemptContext) => AsyncIterable<C> | PromiseLike<AsyncIterable<C>>;
  /** A cheap synthetic request that tells whether the target is healthy again. */
  probe?: (ctx: ProbeContext) => PromiseLike<unknown>;
  /** Overrides or extends the error classification for this target. */
  classify?: Classifier;
  /** Tells content chunks from keep-alives and role-only chunks. Default: every chunk is content. */
  isContent?: (chunk: C) => boolean;
  /** Target to use when a request exceeds this target's context window. */
  contextFallback?: string;
  /** Target to use when this target refuses a request on content policy. */
  contentPolicyFallback?: string;
  /** The SDK client behind the target, so breakwater can warn when its own retries are on. */
  client?: { maxRetries?: number };
  /** Calls in flight at this target at once; when full, the chain moves on (a bulkhead per model). */
  maxConcurrent?: number;
  /**
   * Client-side pacing, so the provider is not driven into 429s: requests and/or tokens per
   * minute (token buckets holding one second's worth, or `burst`). Tokens are counted with
   * `estimateTokens(input)` (default: JSON length / 4).
   */
  rateLimit?: {
    requestsPerMinute?: number;
    tokensPerMinute?: number;
    burst?: number;
    estimateTokens?: (input: I) => number;
  };
}

/** Options of {@link createEngine}. */
export interface EngineOptions<I, O, C> {
  /** The targets, by name; their order is the default chain. */
  targets: Record<string, TargetOptions<I, O, C>>;
  /** Policies for every target; a target's own options override them key by key. */
  defaults?: PolicyOptions;
  /** Time source (default: the system clock). */
  clock?: Clock;
  /** Random source in [0, 1) for jitter (default: Math.random). */
  random?: () => number;
  /**
   * Share breaker state, failure counts, cooldowns and probe locks with other instances
   * through this store (`redisStore({ url })` from `@breakwater/redis`). The adapters also keep
   * idempotency records, cached responses and queued jobs there. Default: this process alone.
   */
  store?: Store;
  /** How long a breaker's new counts wait before they are added to the store's window. Default 250 ms. */
  syncInterval?: Duration;
}

/** Resolved timeouts in ms. */
export interface TimeoutSettings {
  total: number;
  attempt: number;
  firstToken: number;
  idle: number;
}

/** Resolved retry policy in ms. */
export interface RetrySettings {
  maxAttempts: number;
  baseDelay: number;
  maxDelay: number;
  maxTotalWait: number;
  maxServerWait: number;
  maxCooldown: number;
  budget: { ratio: number; maxTokens: number } | undefined;
}

/** A target's resolved policies. */
export interface PolicySettings {
  timeouts: TimeoutSettings;
  retry: RetrySettings;
  breaker: BreakerSettings;
}

/** The defaults, tuned for LLM latencies: the preset most users never change. */
export const LLM_DEFAULTS: Readonly<PolicySettings> = Object.freeze({
  timeouts: { total: 60_000, attempt: 30_000, firstToken: 20_000, idle: 20_000 },
  retry: {
    maxAttempts: 3,
    baseDelay: 250,
    maxDelay: 4_000,
    maxTotalWait: 10_000,
    maxServerWait: 5_000,
    maxCooldown: 300_000,
    budget: { ratio: 0.1, maxTokens: 10 },
  },
  breaker: {
    window: 60_000,
    buckets: 12,
    failureRate: 0.5,
    minimumCalls: 10,
    consecutiveFailures: 5,
    cooldown: 30_000,
    maxCooldown: 300_000,
    cooldownMultiplier: 2,
    longCooldown: 600_000,
    halfOpenTrials: 1,
    slowCallMs: 10_000,
  },
});

const POLICY_KEYS = ['timeouts', 'retry', 'breaker'] as const;
const TIMEOUT_KEYS = ['total', 'attempt', 'firstToken', 'idle'] as const;
const RETRY_KEYS = [
  'maxAttempts',
  'baseDelay',
  'maxDelay',
  'maxTotalWait',
  'maxServerWait',
  'maxCooldown',
  'budget',
] as const;
const BREAKER_KEYS = [
  'window',
  'buckets',
  'failureRate',
  'minimumCalls',
  'consecutiveFailures',
  'cooldown',
  'maxCooldown',
  'cooldownMultiplier',
  'longCooldown',
  'halfOpenTrials',
  'slowCall',
] as const;
const TARGET_KEYS = [
  ...POLICY_KEYS,
  'call',
  'stream',
  'probe',
  'classify',
  'isContent',
  'contextFallback',
  'contentPolicyFallback',
  'client',
  'maxConcurrent',
  'rateLimit',
] as const;
const ENGINE_KEYS = ['targets', 'defaults', 'clock', 'random', 'store', 'syncInterval'] as const;

/** Resolves policy options over a base, validating every key and the cross-checks. */
export function resolvePolicy(value: unknown, path: string, base: PolicySettings): PolicySettings {
  if (value === undefined) return base;
  const record = checkObject(value, path, POLICY_KEYS);
  const t = readObject(record, 'timeouts', path, TIMEOUT_KEYS);
  const tp = `${path}.timeouts`;
  const total = readDuration(t, 'total', tp, base.timeouts.total, { min: 1 });
  const timeouts: TimeoutSettings = {
    total,
    // Values not set here follow the ones that are: an inherited attempt timeout shrinks to fit a shorter total.
    attempt: readDuration(t, 'attempt', tp, Math.min(base.timeouts.attempt, total), { min: 1 }),
    firstToken: readDuration(t, 'firstToken', tp, base.timeouts.firstToken, { min: 1 }),
    idle: readDuration(t, 'idle', tp, base.timeouts.idle, { min: 1 }),
  };

  const r = readObject(record, 'retry', path, RETRY_KEYS);
  const rp = `${path}.retry`;
  const retry: RetrySettings = {
    maxAttempts: readNumber(r, 'maxAttempts', rp, base.retry.maxAttempts, { min: 1, max: 10, integer: true }),
    baseDelay: readDuration(r, 'baseDelay', rp, base.retry.baseDelay),
    maxDelay: readDuration(r, 'maxDelay', rp, base.retry.maxDelay),
    maxTotalWait: readDuration(r, 'maxTotalWait', rp, Math.min(base.retry.maxTotalWait, timeouts.total)),
    maxServerWait: readDuration(r, 'maxServerWait', rp, base.retry.maxServerWait),
    maxCooldown: readDuration(r, 'maxCooldown', rp, base.retry.maxCooldown, { min: 1 }),
    budget: base.retry.budget,
  };
  if (r?.budget === false) retry.budget = undefined;
  else if (r?.budget !== undefined) {
    const b = checkObject(r.budget, `${rp}.budget`, ['ratio', 'maxTokens']);
    const fallback = base.retry.budget ?? LLM_DEFAULTS.retry.budget!;
    retry.budget = {
      ratio: readNumber(b, 'ratio', `${rp}.budget`, fallback.ratio, { min: 0, max: 1 }),
      maxTokens: readNumber(b, 'maxTokens', `${rp}.budget`, fallback.maxTokens, { min: 1 }),
    };
  }
  if (retry.maxDelay < retry.baseDelay) {
    throw optionError(`${rp}.maxDelay`, `at least retry.baseDelay (${retry.baseDelay} ms)`, retry.maxDelay);
  }

  const k = readObject(record, 'breaker', path, BREAKER_KEYS);
  const kp = `${path}.breaker`;
  const b = base.breaker;
  const slowCall = k?.slowCall;
  const breaker: BreakerSettings = {
    window: readDuration(k, 'window', kp, Math.max(b.window, 2 * timeouts.attempt), { min: 1 }),
    buckets: readNumber(k, 'buckets', kp, b.buckets, { min: 1, max: 1000, integer: true }),
    failureRate: readNumber(k, 'failureRate', kp, b.failureRate, { min: 0, max: 1, exclusiveMin: true }),
    minimumCalls: readNumber(k, 'minimumCalls', kp, b.minimumCalls, { min: 1, integer: true }),
    consecutiveFailures: readNumber(k, 'consecutiveFailures', kp, b.consecutiveFailures, { min: 0, integer: true }),
    cooldown: readDuration(k, 'cooldown', kp, b.cooldown, { min: 1 }),
    maxCooldown: readDuration(k, 'maxCooldown', kp, b.maxCooldown, { min: 1 }),
    cooldownMultiplier: readNumber(k, 'cooldownMultiplier', kp, b.cooldownMultiplier, { min: 1 }),
    longCooldown: readDuration(k, 'longCooldown', kp, b.longCooldown, { min: 1 }),
    halfOpenTrials: readNumber(k, 'halfOpenTrials', kp, b.halfOpenTrials, { min: 1, integer: true }),
    slowCallMs: slowCall === false ? 0 : readDuration(k, 'slowCall', kp, b.slowCallMs, { min: 1 }),
  };
  if (breaker.maxCooldown < breaker.cooldown) {
    throw optionError(`${kp}.maxCooldown`, `at least breaker.cooldown (${breaker.cooldown} ms)`, breaker.maxCooldown);
  }
  const settings = { timeouts, retry, breaker };
  crossCheck(settings, path);
  return settings;
}

/**
 * The cross-checks Microsoft's standard resilience handler applies, adapted: an attempt fits
 * in the call, waiting fits in the call, and the breaker window sees at least two attempts.
 * Values left unset follow the ones that are set, so only explicit conflicts throw.
 */
function crossCheck({ timeouts, retry, breaker }: PolicySettings, path: string): void {
  if (timeouts.attempt > timeouts.total) {
    throw optionError(`${path}.timeouts.attempt`, `at most timeouts.total (${timeouts.total} ms)`, timeouts.attempt);
  }
  if (retry.maxTotalWait > timeouts.total) {
    throw optionError(
      `${path}.retry.maxTotalWait`,
      `at most timeouts.total (${timeouts.total} ms)`,
      retry.maxTotalWait,
    );
  }
  if (breaker.window < 2 * timeouts.attempt) {
    throw optionError(
      `${path}.breaker.window`,
      `at least twice timeouts.attempt (${2 * timeouts.attempt} ms), so a slow attempt lands in the window`,
      breaker.window,
    );
  }
}

/** A validated target. */
export interface ResolvedTarget<I, O, C> {
  name: string;
  call: TargetOptions<I, O, C>['call'];
  stream: TargetOptions<I, O, C>['stream'];
  probe: TargetOptions<I, O, C>['probe'];
  classify: Classifier | undefined;
  isContent: ((chunk: C) => boolean) | undefined;
  contextFallback: string | undefined;
  contentPolicyFallback: string | undefined;
  sdkRetries: number | undefined;
  maxConcurrent: number;
  rateLimit: RateLimitSettings<I> | undefined;
  policy: PolicySettings;
}

/** A resolved client-side rate limit: token buckets refilled per ms. */
export interface RateLimitSettings<I> {
  requests: { perMs: number; burst: number } | undefined;
  tokens: { perMs: number; burst: number } | undefined;
  estimateTokens: (input: I) => number;
}

/** The default token estimate: about four characters of JSON per token. */
export const estimateTokensFromJson = (input: unknown): number => Math.ceil((JSON.stringify(input)?.length ?? 0) / 4);

/** Validated engine options. */
export interface ResolvedEngineOptions<I, O, C> {
  targets: ResolvedTarget<I, O, C>[];
  defaults: PolicySettings;
  clock: Clock | undefined;
  random: (() => number) | undefined;
  store: Store | undefined;
  syncInterval: number;
}

/** Validates {@link EngineOptions} once, at creation. */
export function resolveEngineOptions<I, O, C>(options: unknown): ResolvedEngineOptions<I, O, C> {
  const record = checkObject(options, 'options', ENGINE_KEYS);
  const defaults = resolvePolicy(record.defaults, 'options.defaults', LLM_DEFAULTS);
  const clock = record.clock;
  if (
    clock !== undefined &&
    (typeof clock !== 'object' ||
      clock === null ||
      ['now', 'date', 'setTimeout', 'clearTimeout'].some(
        (m) => typeof (clock as Record<string, unknown>)[m] !== 'function',
      ))
  ) {
    throw optionError('options.clock', 'an object with now(), date(), setTimeout() and clearTimeout()', clock);
  }
  const random = readFunction<() => number>(record, 'random', 'options');
  const targetsRecord = checkObject(record.targets, 'options.targets', Object.keys(record.targets ?? {}));
  const names = Object.keys(targetsRecord);
  if (names.length === 0) throw optionError('options.targets', 'an object with at least one target', targetsRecord);
  const targets = names.map((name) => {
    const path = `options.targets[${JSON.stringify(name)}]`;
    const t = checkObject(targetsRecord[name], path, TARGET_KEYS);
    const call = readFunction<TargetOptions<I, O, C>['call']>(t, 'call', path);
    const stream = readFunction<TargetOptions<I, O, C>['stream']>(t, 'stream', path);
    if (!call && !stream) throw optionError(path, 'a target with call() or stream()', t);
    const targetTimeouts = t.timeouts as Record<string, unknown> | undefined;
    if (targetTimeouts && typeof targetTimeouts === 'object' && targetTimeouts.total !== undefined) {
      throw new TypeError(
        `breakwater: ${path}.timeouts.total is not an option; the total deadline belongs to the call ` +
          `(options.defaults.timeouts.total or the call's timeout option)`,
      );
    }
    const policyInput: Record<string, unknown> = {};
    for (const key of POLICY_KEYS) if (t[key] !== undefined) policyInput[key] = t[key];
    const fallbacks = ['contextFallback', 'contentPolicyFallback'].map((key) => {
      const value = t[key];
      if (value !== undefined && (typeof value !== 'string' || !names.includes(value) || value === name)) {
        throw optionError(`${path}.${key}`, `the name of another target (${names.join(', ')})`, value);
      }
      return value as string | undefined;
    });
    const client = t.client as { maxRetries?: unknown } | undefined;
    if (client !== undefined && (typeof client !== 'object' || client === null)) {
      throw optionError(`${path}.client`, 'the SDK client object', client);
    }
    let rateLimit: ResolvedTarget<I, O, C>['rateLimit'];
    if (t.rateLimit !== undefined) {
      const rp = `${path}.rateLimit`;
      const r = checkObject(t.rateLimit, rp, ['requestsPerMinute', 'tokensPerMinute', 'burst', 'estimateTokens']);
      const bucket = (key: string) => {
        const perMinute = readNumber(r, key, rp, NaN, { min: 0, exclusiveMin: true });
        if (Number.isNaN(perMinute)) return undefined;
        return {
          perMs: perMinute / 60_000,
          burst: readNumber(r, 'burst', rp, Math.max(1, perMinute / 60), { min: 1 }),
        };
      };
      const requests = bucket('requestsPerMinute');
      const tokens = bucket('tokensPerMinute');
      if (!requests && !tokens) throw optionError(rp, 'requestsPerMinute and/or tokensPerMinute', t.rateLimit);
      const estimate = readFunction<(input: I) => number>(r, 'estimateTokens', rp);
      rateLimit = { requests, tokens, estimateTokens: estimate ?? estimateTokensFromJson };
    }
    return {
      name,
      call,
      stream,
      maxConcurrent: readNumber(t, 'maxConcurrent', path, Infinity, { min: 1, integer: true }),
      rateLimit,
      probe: readFunction<TargetOptions<I, O, C>['probe']>(t, 'probe', path),
      classify: readFunction<Classifier>(t, 'classify', path),
      isContent: readFunction<(chunk: C) => boolean>(t, 'isContent', path),
      contextFallback: fallbacks[0],
      contentPolicyFallback: fallbacks[1],
      sdkRetries: typeof client?.maxRetries === 'number' ? client.maxRetries : undefined,
      policy: resolvePolicy(policyInput, path, defaults),
    };
  });
  const store = record.store;
  const STORE_METHODS = [
    'get',
    'set',
    'compareAndSet',
    'delete',
    'increment',
    'publish',
    'subscribe',
    'onAvailability',
  ];
  if (
    store !== undefined &&
    (typeof store !== 'object' ||
      store === null ||
      STORE_METHODS.some((m) => typeof (store as Record<string, unknown>)[m] !== 'function'))
  ) {
    throw optionError('options.store', 'a Store (memoryStore(), or redisStore() from @breakwater/redis)', store);
  }
  const syncInterval = readDuration(record, 'syncInterval', 'options', 250, { min: 1 });
  return {
    targets,
    defaults,
    clock: clock as Clock | undefined,
    random,
    store: store as Store | undefined,
    syncInterval,
  };
}
