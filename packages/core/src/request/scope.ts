import createHttpError, { type HttpError } from 'http-errors';
import { CancelSource } from '../cancel.js';
import type { CallOptions } from '../engine.js';
import { isCallFailedError, type CallFailedError } from '../errors.js';
import type { CallOutcome } from '../outcome.js';
import type { BoundRoute, Guard } from './guard.js';
import type { CompiledRoute } from './route.js';
import { cacheKey } from './response-cache.js';
import { buildRequestOutcome, type RequestOutcome } from './request-outcome.js';
import {
  fingerprint,
  runOnce,
  type IdempotencyRecord,
  type OperationResults,
  type StoredResponse,
} from './idempotency.js';

/** The degradation tiers a request can be answered from. */
export type DegradedTier = 'cache' | 'static' | 'queued';

/** A response to send instead of the handler's, when the chain failed. */
export interface DegradedResponse {
  tier: DegradedTier;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Options of `req.breakwater.call()` / `stream()`. */
export interface ScopeCallOptions {
  /** Another chain for this call than the route's. */
  chain?: readonly string[];
  /** The call has side effects: never hedged. */
  sideEffects?: boolean;
}

/** Header that marks a degraded response, with the tier as its value. */
export const DEGRADED_HEADER = 'x-breakwater-degraded';

/** Why the scope aborted its signal: the client went away. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('the client closed the request');
  }
}

const CALLER_STATUS: Record<string, [number, string]> = {
  bad_request: [400, 'The model provider rejected this request.'],
  context_length: [413, 'The conversation is too long for the model; shorten it and try again.'],
  content_policy: [422, "The request was refused by the model provider's content policy."],
};

/**
 * One HTTP request's breakwater context (`req.breakwater`, `ctx.state.breakwater`): its id,
 * tenant and deadline, one AbortSignal that the client leaving aborts, `call()` and
 * `stream()` bound to it and to the route's chain, and the degradation tiers.
 */
export class RequestScope<R> {
  #id: string | undefined = undefined;
  readonly tenant: string | undefined;
  /** Engine clock ms when the request started. */
  readonly startedAt: number;
  /** Every call's outcome, in order. */
  readonly outcomes: CallOutcome[] = [];
  /** The tier that answered, once degraded. */
  tier: DegradedTier | undefined = undefined;
  readonly #guard: Guard<R>;
  readonly #request: R;
  #route: BoundRoute<R>;
  #deadline: number;
  #cacheKey: string | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  /** What the engine's calls listen to: far cheaper than an AbortSignal per request. */
  readonly #cancel = new CancelSource();
  #last: { input: unknown; chain: readonly string[] | undefined } | undefined = undefined;
  #idempotency: IdempotencyRecord | undefined = undefined;
  #operations: OperationResults | undefined = undefined;
  #responseBody: unknown = undefined;
  #bodyCaptured = false;
  #releases: (() => void)[] | undefined = undefined;
  #responseDone = false;
  readonly #record = (outcome: CallOutcome): void => {
    this.outcomes.push(outcome);
  };

  constructor(guard: Guard<R>, request: R, tenant: string | undefined, route: BoundRoute<R>) {
    this.#guard = guard;
    this.#request = request;
    this.tenant = tenant;
    this.startedAt = guard.engine.clock.now();
    this.#route = route;
    this.#deadline = this.startedAt + guard.engine.defaults.timeouts.total;
  }

  /** The request id (from `x-request-id` when valid, else generated); made on first read. */
  get id(): string {
    return (this.#id ??= this.#guard.requestId(this.#request));
  }

  /** The route's name in logs, metrics and cache keys: its `name`, else the matched route pattern. */
  get routeName(): string {
    return this.#route.name ?? this.#guard.access.routePattern(this.#request);
  }

  /**
   * Aborted when the client goes away, for your own work (database queries, tool calls).
   * Created on first use; `call()` and `stream()` do not need it.
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#cancel.aborted) controller.abort(this.#cancel.reason);
      else this.#cancel.addEventListener('abort', { handleEvent: () => controller.abort(this.#cancel.reason) });
    }
    return this.#controller.signal;
  }

  /** True once the client went away. */
  get closed(): boolean {
    return this.#cancel.aborted;
  }

  /** Ms left before the request's deadline. */
  remaining(): number {
    return this.#deadline - this.#guard.engine.clock.now();
  }

  /** Ms since the request started. */
  elapsedMs(): number {
    return this.#guard.engine.clock.now() - this.startedAt;
  }

  /** Applies a route's options (the route middleware calls this before the handler). */
  applyRoute(route: CompiledRoute<R>): void {
    this.useRoute(this.#guard.bind(route));
  }

  /** Applies an already bound route. */
  useRoute(route: BoundRoute<R>): void {
    this.#route = route;
    this.#deadline = this.startedAt + (route.timeout ?? this.#guard.engine.defaults.timeouts.total);
    this.#cacheKey = route.cache ? cacheKey(this.routeName, this.tenant, route.cache.key(this.#request)) : undefined;
  }

  /** Makes an LLM call through the route's chain, under the request's deadline and signal. */
  call<O = unknown>(input: unknown, options?: ScopeCallOptions): Promise<O> {
    return this.#guard.engine.call(input, this.#callOptions(input, options)) as Promise<O>;
  }

  /** Streams an LLM call through the route's chain, under the request's deadline and signal. */
  stream<C = unknown>(input: unknown, options?: ScopeCallOptions): AsyncGenerator<C, void, undefined> {
    return this.#guard.engine.stream(input, this.#callOptions(input, options)) as AsyncGenerator<C, void, undefined>;
  }

  /** The client went away: abort whatever is running. */
  clientGone(): void {
    this.#cancel.abort(new ClientGoneError());
  }

  /**
   * The response body being sent (JSON): kept for the cache tier when the route has one and
   * the status is 2xx, and for the request's `Idempotency-Key`.
   */
  responding(status: number, body: unknown): void {
    if (this.#idempotency) {
      this.#responseBody = body;
      this.#bodyCaptured = true;
    }
    // A degraded answer (cache, static, queued) is never remembered as the route's last good one.
    if (this.#cacheKey === undefined || this.tier !== undefined || status < 200 || status >= 300 || body === undefined)
      return;
    this.#guard.cache.set(this.#cacheKey, status, body, this.#guard.engine.clock.date(), this.#route.cache!.maxAge);
  }

  /**
   * Takes the request's bulkhead slots (tenant, then route), held until the response closes.
   * Resolves at once without bulkheads; rejects with a 429 or 503 http error when refused.
   */
  admit(): Promise<void> | undefined {
    const bulkheads = this.#guard.bulkheads;
    if (!bulkheads) return undefined;
    return bulkheads.acquire(this.tenant, this.routeName).then((releases) => {
      if (this.#responseDone) for (const release of releases) release();
      else this.#releases = releases;
    });
  }

  /** The request's record so far (the `request` event carries it once the response closed). */
  outcome(status: number, clientGone = this.closed): RequestOutcome {
    const clock = this.#guard.engine.clock;
    const now = clock.now();
    return buildRequestOutcome({
      requestId: this.id,
      route: this.routeName,
      tenant: this.tenant,
      method: this.#guard.access.method(this.#request),
      status,
      degraded: this.tier,
      clientGone,
      startedAt: clock.date() - (now - this.startedAt),
      latencyMs: now - this.startedAt,
      calls: this.outcomes,
    });
  }

  /** True when the request claimed an `Idempotency-Key`. */
  get idempotent(): boolean {
    return this.#idempotency !== undefined;
  }

  /**
   * Checks the request's `Idempotency-Key` (the route middleware calls this after the route
   * is applied): undefined at once without a key; else resolves with a stored response to
   * replay, or with undefined once the key is claimed. Rejects with 400 (malformed key), 409
   * (in flight) or 422 (same key, other request) http errors.
   */
  claimIdempotency(): Promise<StoredResponse | undefined> | undefined {
    const store = this.#guard.idempotency;
    if (!store) return undefined;
    const access = this.#guard.access;
    const key = access.header(this.#request, 'idempotency-key');
    if (key === undefined) return undefined;
    const print = fingerprint(access.method(this.#request), access.path(this.#request), access.body(this.#request));
    // The claim outlives the request's deadline a little, in case the response takes its time.
    const lease = Math.max(1_000, this.remaining()) + 30_000;
    return store.claim(`${this.tenant ?? ''}\u0000${this.routeName}`, key, print, lease).then((decision) => {
      if (decision.kind === 'replay') return decision.response;
      if (decision.kind === 'proceed') {
        if (this.#responseDone) store.settle(decision.record, undefined, undefined, false);
        else this.#idempotency = decision.record;
      }
      return undefined;
    });
  }

  /** The response closed: finished (store or release the key) or cut short (the client left). */
  responseClosed(finished: boolean, status: number): void {
    if (this.#responseDone) return;
    this.#responseDone = true;
    const events = this.#guard.events;
    if (events.wants('request')) events.emit('request', this.outcome(finished ? status : 0, !finished));
    if (this.#releases) for (const release of this.#releases) release();
    this.#releases = undefined;
    if (!finished) this.clientGone();
    const record = this.#idempotency;
    if (!record) return;
    this.#idempotency = undefined;
    // A degraded answer is not what the client asked for: its retry should get a real one.
    this.#guard.idempotency!.settle(
      record,
      finished ? status : undefined,
      this.#responseBody,
      this.#bodyCaptured && this.tier === undefined,
    );
  }

  /**
   * Runs a side effect (a tool call) at most once for this request's `Idempotency-Key`: across
   * retries, hedges and fallbacks, and across the client retrying the whole request. Later
   * calls with the same `operationId` get the first run's result. Without a key, at most once
   * within this request.
   */
  once<T>(operationId: string, fn: () => T | Promise<T>): Promise<T> {
    const record = this.#idempotency;
    if (record) return this.#guard.idempotency!.runOnce(record, operationId, fn);
    return runOnce((this.#operations ??= new Map()), operationId, fn);
  }

  /**
   * Turns a failure into what the client gets. Errors that are not breakwater's are rethrown
   * untouched. Caller errors become documented 4xx http errors; provider-side failures try
   * the cache, static and queue tiers in that order, then become a 503 (with `Retry-After`)
   * or a 504 (deadline) http error. Upstream text never reaches the client.
   */
  async degrade(error: unknown): Promise<DegradedResponse> {
    if (!isCallFailedError(error)) throw error;
    const failure = error as CallFailedError;
    const failureClass = failure.failureClass;
    if (failureClass === 'cancelled') throw createHttpError(499, 'Client Closed Request', { expose: false });
    const caller = CALLER_STATUS[failureClass];
    if (caller) throw createHttpError(caller[0], caller[1], { failureClass });

    const now = this.#guard.engine.clock.now();
    const route = this.#route;
    if (route.cache && this.#cacheKey !== undefined) {
      const wallNow = this.#guard.engine.clock.date();
      const cached = await this.#guard.cache.get(this.#cacheKey, route.cache.maxAge, wallNow);
      if (cached) {
        const age = Math.round((wallNow - cached.storedAt) / 1000);
        return this.#degraded(failure, {
          tier: 'cache',
          status: cached.status,
          headers: { [DEGRADED_HEADER]: 'cache', age: String(age) },
          body: mark(cached.body, { degraded: 'cache', stale: true }),
        });
      }
    }
    if (route.static) {
      return this.#degraded(failure, {
        tier: 'static',
        status: route.static.status,
        headers: { [DEGRADED_HEADER]: 'static' },
        body: mark(route.static.body, { degraded: 'static' }),
      });
    }
    if (route.queue && this.#last) {
      const job = await this.#guard.jobs.submit(this.#last.chain, this.#last.input, route.queue.ttl);
      if (job) {
        const location = `${this.#guard.jobsPath}/${job.id}`;
        return this.#degraded(failure, {
          tier: 'queued',
          status: 202,
          headers: { [DEGRADED_HEADER]: 'queued', location },
          body: { degraded: 'queued', jobId: job.id, status: job.status, statusUrl: location },
        });
      }
    }
    if (failureClass === 'timeout') {
      throw createHttpError(504, 'The model providers did not answer in time.', { failureClass });
    }
    const retryAfterMs = failure.retryAfterMs ?? this.#earliestReopening(now);
    const headers =
      retryAfterMs !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } : undefined;
    throw createHttpError(503, 'The model providers are unavailable right now; please try again shortly.', {
      failureClass,
      headers,
    });
  }

  #callOptions(input: unknown, options: ScopeCallOptions | undefined): CallOptions {
    const chain = options?.chain ?? this.#route.compiledChain;
    this.#last = { input, chain: options?.chain ?? this.#route.chain };
    const callOptions: CallOptions = {
      signal: this.#cancel,
      timeout: Math.max(1, this.remaining()),
      onOutcome: this.#record,
    };
    if (chain) callOptions.chain = chain;
    if (options?.sideEffects) callOptions.sideEffects = true;
    else if (this.#route.hedge) callOptions.hedge = this.#route.hedge;
    return callOptions;
  }

  /** Ms until the first of the route's targets may be tried again, if any is shut. */
  #earliestReopening(now: number): number | undefined {
    const names = this.#route.chain;
    let earliest: number | undefined;
    for (const status of this.#guard.engine.status()) {
      if (names && !names.includes(status.name)) continue;
      const until = Math.max(status.openUntil ?? 0, status.cooldownUntil ?? 0);
      if (until > now) earliest = Math.min(earliest ?? Infinity, until - now);
    }
    return earliest;
  }

  #degraded(failure: CallFailedError, response: DegradedResponse): DegradedResponse {
    this.tier = response.tier;
    this.#guard.logger?.warn(
      {
        event: 'breakwater.degraded',
        requestId: this.id,
        route: this.routeName,
        tenant: this.tenant,
        tier: response.tier,
        status: response.status,
        failureClass: failure.failureClass,
        attempts: failure.outcome.attempts.map((a) => ({
          target: a.target,
          class: a.class,
          status: a.status,
          latencyMs: Math.round(a.latencyMs),
        })),
        skipped: failure.outcome.skipped,
      },
      'breakwater degraded response',
    );
    return response;
  }
}

/** Adds degradation flags to object bodies (arrays and other values are left as they are). */
function mark(body: unknown, flags: Record<string, unknown>): unknown {
  if (body && typeof body === 'object' && !Array.isArray(body)) return { ...(body as object), ...flags };
  return body;
}

export type { HttpError };
