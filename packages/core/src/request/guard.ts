import { randomBytes } from 'node:crypto';
import createHttpError from 'http-errors';
import type { AnyEngine, Chain, Engine } from '../engine.js';
import { parseDuration, type Duration } from '../duration.js';
import { checkObject, optionError, readDuration, readFunction, readNumber } from '../validate.js';
import { Bulkheads, type BulkheadOptions } from './bulkhead.js';
import { IdempotencyStore } from './idempotency.js';
import { renderStatusPage, type StatusSnapshot } from './status-page.js';
import { CHANNELS, TypedEmitter, type GuardEvents } from '../events.js';
import { JobQueue, type JobView } from './jobs.js';
import { ResponseCache } from './response-cache.js';
import { memoryStore } from '../store/memory-store.js';
import { SharedOrLocal } from '../store/shared-or-local.js';
import { compileRoute, type CompiledRoute, type RouteOptions } from './route.js';
import { RequestScope } from './scope.js';

/** Receives one structured record per degraded response (pino, console, or your own). */
export interface DegradedLogger {
  warn(record: Record<string, unknown>, message?: string): void;
}

/** Options of the adapters' `breakwater(engine, options)` middleware. */
export interface GuardOptions<R> {
  /** The request's tenant, for cache scoping and logs (letters, digits and `._:-`, at most 128). */
  tenant?: (request: R) => string | undefined;
  /** The request id (default: a valid `x-request-id` header, else a generated one). */
  requestId?: (request: R) => string | undefined;
  /** Where degraded responses are logged; `false` turns it off. Default: a JSON line on stderr. */
  logger?: DegradedLogger | false;
  /** Most responses the cache tier keeps, over all routes. Default 1000. */
  cacheSize?: number;
  /** The queue tier's job store. */
  queue?: { max?: number; pollInterval?: Duration; path?: string };
  /** Concurrency pools per tenant and per route, with bounded queues (429 over a tenant's share, 503 when full). */
  bulkheads?: BulkheadOptions;
  /** `Idempotency-Key` handling (on unless `false`): how long keys are kept (default 24 h) and how many (10,000). */
  idempotency?: { ttl?: Duration; max?: number } | false;
  /** Serve a status view (JSON, or HTML when the client accepts it) at `path` (default `/_breakwater/status`). Off by default. */
  status?: boolean | { path?: string };
  /** Add `Server-Timing` (total, time to first token, provider) to responses. Off by default. */
  serverTiming?: boolean;
}

/** A response the middleware answers itself (job status, status view). */
export interface InternalResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A guard of any request type (what metrics and tracing accept). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyGuard = Guard<any>;

/** How the guard reads a framework's request: given once by each adapter, so a request costs no closures. */
export interface RequestAccess<R> {
  /** The request path (fingerprints, the status and job routes). */
  path(request: R): string;
  /** The matched route's pattern (such as `/users/:id`), naming routes that have no name; else the path. */
  routePattern(request: R): string;
  /** A request header, or undefined. */
  header(request: R, name: string): string | undefined;
  /** The request method. */
  method(request: R): string;
  /** The parsed request body (for idempotency fingerprints). */
  body(request: R): unknown;
}

/** A compiled route with its chain resolved against the engine. */
export interface BoundRoute<R> extends CompiledRoute<R> {
  compiledChain: Chain | undefined;
}

const GUARD_KEYS = [
  'tenant',
  'requestId',
  'logger',
  'cacheSize',
  'queue',
  'idempotency',
  'bulkheads',
  'status',
  'serverTiming',
];
const TENANT = /^[A-Za-z0-9._:-]{1,128}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The default degraded-response log: one JSON line on stderr. */
export const stderrLogger: DegradedLogger = {
  warn(record, message) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...record })}\n`);
  },
};

/**
 * The request path shared by both adapters: per-request scopes, route compilation, the
 * cache and queue tiers, and degradation. Adapters only translate to and from their framework.
 */
export class Guard<R> {
  readonly engine: Engine<unknown, unknown, unknown>;
  readonly cache: ResponseCache;
  readonly jobs: JobQueue;
  /** The `request` event (one record per HTTP request) and its diagnostics channel. */
  readonly events = new TypedEmitter<GuardEvents>({ request: CHANNELS.request });
  /** Where the status view is served, when on. */
  readonly statusPath: string | undefined;
  /** Whether responses get `Server-Timing`. */
  readonly serverTiming: boolean;
  readonly #tierBuckets: { minute: number; counts: Map<string, number> }[] = [];
  /** Tenant and route pools, when configured. */
  readonly bulkheads: Bulkheads | undefined;
  /** `Idempotency-Key` records, unless turned off. */
  readonly idempotency: IdempotencyStore | undefined;
  /** Path prefix the adapters serve job status under. */
  readonly jobsPath: string;
  readonly logger: DegradedLogger | undefined;
  readonly #tenant: ((request: R) => string | undefined) | undefined;
  readonly #requestId: ((request: R) => string | undefined) | undefined;
  readonly #defaultRoute: BoundRoute<R>;
  readonly #routes = new WeakMap<CompiledRoute<R>, BoundRoute<R>>();
  readonly #idPrefix = randomBytes(4).toString('hex');
  #ids = 0;
  /** How this guard's adapter reads requests. */
  readonly access: RequestAccess<R>;

  constructor(engine: AnyEngine, options: GuardOptions<R> = {}, access: RequestAccess<R>) {
    this.engine = engine as Engine<unknown, unknown, unknown>;
    this.access = access;
    const record = checkObject(options, 'options', GUARD_KEYS);
    this.#tenant = readFunction(record, 'tenant', 'options');
    this.#requestId = readFunction(record, 'requestId', 'options');
    const logger = record.logger;
    if (logger !== undefined && logger !== false && typeof (logger as DegradedLogger)?.warn !== 'function') {
      throw optionError('options.logger', 'an object with warn(record, message), or false', logger);
    }
    this.logger = logger === false ? undefined : ((logger as DegradedLogger | undefined) ?? stderrLogger);
    const shared = this.engine.store;
    this.cache = new ResponseCache(readNumber(record, 'cacheSize', 'options', 1000, { min: 1, integer: true }), shared);
    const queue =
      record.queue === undefined ? {} : checkObject(record.queue, 'options.queue', ['max', 'pollInterval', 'path']);
    const pollMs = queue.pollInterval === undefined ? 1000 : parseDuration(queue.pollInterval);
    if (pollMs === undefined || pollMs <= 0)
      throw optionError('options.queue.pollInterval', 'a positive duration', queue.pollInterval);
    const maxJobs = readNumber(queue, 'max', 'options.queue', 1000, { min: 1, integer: true });
    const clock = this.engine.clock;
    this.jobs = new JobQueue(this.engine, new SharedOrLocal(shared, memoryStore({ max: 2 * maxJobs + 1, clock })), {
      max: maxJobs,
      pollMs,
    });
    const path = queue.path ?? '/_breakwater/jobs';
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw optionError('options.queue.path', 'a path starting with /', path);
    this.jobsPath = path.replace(/\/$/, '');
    this.#defaultRoute = this.bind(compileRoute<R>({}));
    const status = record.status;
    if (status === undefined || status === false) this.statusPath = undefined;
    else if (status === true) this.statusPath = '/_breakwater/status';
    else {
      const statusOptions = checkObject(status, 'options.status', ['path']);
      const statusPath = statusOptions.path ?? '/_breakwater/status';
      if (typeof statusPath !== 'string' || !statusPath.startsWith('/'))
        throw optionError('options.status.path', 'a path starting with /', statusPath);
      this.statusPath = statusPath;
    }
    if (this.statusPath) this.events.on('request', (request) => this.#countTier(request.tier));
    if (record.serverTiming !== undefined && typeof record.serverTiming !== 'boolean') {
      throw optionError('options.serverTiming', 'a boolean', record.serverTiming);
    }
    this.serverTiming = record.serverTiming === true;
    if (this.logger) {
      const logger = this.logger;
      engine.on('breaker', (event) =>
        logger.warn(
          { event: 'breakwater.breaker', ...event },
          `breakwater breaker ${event.target}: ${event.from} -> ${event.to}`,
        ),
      );
      // Once per outage and once per return (the store tells each change once).
      if (shared) {
        engine.on('store', (event) =>
          logger.warn(
            {
              event: 'breakwater.store',
              kind: event.kind,
              available: event.available,
              error: String(event.error ?? ''),
            },
            event.available
              ? `breakwater: the ${event.kind} store is back; resynchronising`
              : `breakwater: the ${event.kind} store is unreachable; carrying on with this process's own state`,
          ),
        );
      }
    }
    this.bulkheads =
      record.bulkheads === undefined ? undefined : new Bulkheads(record.bulkheads as BulkheadOptions, shared);
    if (record.idempotency === false) this.idempotency = undefined;
    else {
      const idem =
        record.idempotency === undefined ? {} : checkObject(record.idempotency, 'options.idempotency', ['ttl', 'max']);
      const max = readNumber(idem, 'max', 'options.idempotency', 10_000, { min: 1, integer: true });
      this.idempotency = new IdempotencyStore(new SharedOrLocal(shared, memoryStore({ max, clock })), clock, {
        ttl: readDuration(idem, 'ttl', 'options.idempotency', 86_400_000, { min: 1 }),
      });
    }
  }

  /** Resolves a compiled route's chain against the engine (once per route). */
  bind(route: CompiledRoute<R>): BoundRoute<R> {
    let bound = this.#routes.get(route);
    if (!bound) {
      bound = { ...route, compiledChain: route.chain ? this.engine.chain(route.chain) : undefined };
      this.#routes.set(route, bound);
    }
    return bound;
  }

  /** Compiles and binds route options at once (the adapters' `bw.route()`). */
  route(options?: RouteOptions<R>): CompiledRoute<R> {
    const route = compileRoute(options);
    this.bind(route);
    return route;
  }

  /** Starts a request's scope. Throws a 400 http error when the tenant is malformed. */
  begin(request: R): RequestScope<R> {
    const tenant = this.#tenant?.(request);
    if (tenant !== undefined && (typeof tenant !== 'string' || !TENANT.test(tenant))) {
      throw createHttpError(400, 'Invalid tenant: use 1-128 letters, digits, ".", "_", ":" or "-".');
    }
    return new RequestScope(this, request, tenant, this.#defaultRoute);
  }

  /** The id of a request: the `requestId` option, else a valid `x-request-id`, else a generated one. */
  requestId(request: R): string {
    const id = this.#requestId?.(request) ?? this.access.header(request, 'x-request-id');
    return id !== undefined && REQUEST_ID.test(id) ? id : `${this.#idPrefix}-${(++this.#ids).toString(36)}`;
  }

  /**
   * Answers the middleware's own GET routes: a job's status under the jobs path (a promise,
   * since jobs may live in the shared store), and the status view. Undefined for every other
   * request, at no cost.
   */
  internal(
    method: string,
    path: string,
    accept: string | undefined,
  ): InternalResponse | Promise<InternalResponse> | undefined {
    if (method !== 'GET') return undefined;
    if (path.startsWith(`${this.jobsPath}/`)) {
      return this.job(path.slice(this.jobsPath.length + 1)).then((job) =>
        json(job ? 200 : 404, job ?? { error: 'unknown or expired job' }),
      );
    }
    if (this.statusPath === undefined || path !== this.statusPath) return undefined;
    const snapshot = this.status();
    if (accept?.includes('text/html')) {
      return {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
        body: renderStatusPage(snapshot),
      };
    }
    return json(200, snapshot);
  }

  /** Targets (breakers, next probe, cooldowns, budgets, window counts) and recent answers per tier. */
  status(): StatusSnapshot {
    const now = this.engine.clock.now();
    const targets = this.engine.status().map((t) => {
      const view: StatusSnapshot['targets'][number] = { ...t, inFlight: t.inFlight };
      if (t.openUntil !== undefined && t.openUntil > now) view.openForMs = t.openUntil - now;
      if (t.cooldownUntil !== undefined) view.cooldownForMs = t.cooldownUntil - now;
      return view;
    });
    const minute = Math.floor(this.engine.clock.date() / 60_000);
    const recentTiers: Record<string, number> = {};
    for (const bucket of this.#tierBuckets) {
      if (minute - bucket.minute >= 5) continue;
      for (const [tier, n] of bucket.counts) recentTiers[tier] = (recentTiers[tier] ?? 0) + n;
    }
    const snapshot: StatusSnapshot = { at: new Date(this.engine.clock.date()).toISOString(), targets, recentTiers };
    const store = this.engine.store;
    if (store) snapshot.store = { kind: store.kind, available: store.available };
    return snapshot;
  }

  #countTier(tier: string): void {
    const minute = Math.floor(this.engine.clock.date() / 60_000);
    let bucket = this.#tierBuckets.at(-1);
    if (!bucket || bucket.minute !== minute) {
      bucket = { minute, counts: new Map() };
      this.#tierBuckets.push(bucket);
      if (this.#tierBuckets.length > 5) this.#tierBuckets.shift();
    }
    bucket.counts.set(tier, (bucket.counts.get(tier) ?? 0) + 1);
  }

  /** A queued job's state for the status URL. */
  job(id: string): Promise<JobView | undefined> {
    return this.jobs.get(id);
  }

  /** Stops background work (the queue's poll timer). */
  close(): void {
    this.jobs.close();
    this.bulkheads?.close();
  }
}

function json(status: number, body: unknown): InternalResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}
