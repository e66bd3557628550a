import { parseDuration, type Duration } from '../duration.js';
import { resolveHedge, type HedgeOptions } from '../hedge.js';
import { checkObject, optionError, readDuration, readNumber } from '../validate.js';

/** The cache tier: the last successful response of a route for the same key, served stale. */
export interface CacheTierOptions<R> {
  /** What makes two requests "the same" (for example `req => req.body.messages`); scoped by tenant. */
  key: (request: R) => unknown;
  /** Oldest response worth serving. Default 10 min. */
  maxAge?: Duration;
}

/** The static tier: a fixed answer when nothing better is left. */
export interface StaticTierOptions {
  /** Default 200: the user gets an answer, marked degraded. */
  status?: number;
  /** Default `{ message: DEFAULT_STATIC_MESSAGE }`. */
  body?: unknown;
}

/** The queue tier: 202 Accepted and a job that runs when a target of the chain is healthy again. */
export interface QueueTierOptions {
  /** How long a job and its result are kept. Default 1 h. */
  ttl?: Duration;
}

/** Per-route options of the adapters' `breakwater.route()`. */
export interface RouteOptions<R> {
  /** A name for logs and metrics (default: the request path). */
  name?: string;
  /** The chain of target names for this route's calls (default: the engine's). */
  chain?: readonly string[];
  /** The request's total deadline (default: the engine's total timeout). */
  timeout?: Duration;
  /** Serve the last good response for the same key when the chain fails. */
  cache?: CacheTierOptions<R> | false;
  /** Serve a fixed answer when the chain fails (`true`: the default message). */
  static?: StaticTierOptions | boolean;
  /** Accept the request for later when the chain fails. */
  queue?: QueueTierOptions | boolean;
  /** Hedge this route's calls (see the engine's `hedge` call option). */
  hedge?: HedgeOptions;
}

/** The message of the default static tier. */
export const DEFAULT_STATIC_MESSAGE = "We're experiencing issues right now; please try again shortly.";

/** A validated route. */
export interface CompiledRoute<R> {
  name: string | undefined;
  chain: readonly string[] | undefined;
  timeout: number | undefined;
  cache: { key: (request: R) => unknown; maxAge: number } | undefined;
  static: { status: number; body: unknown } | undefined;
  queue: { ttl: number } | undefined;
  hedge: HedgeOptions | undefined;
}

const ROUTE_KEYS = ['name', 'chain', 'timeout', 'cache', 'static', 'queue', 'hedge'];

/** Validates route options once, when the route middleware is created. */
export function compileRoute<R>(options: RouteOptions<R> = {}): CompiledRoute<R> {
  const path = 'route';
  const record = checkObject(options, path, ROUTE_KEYS);
  const chain = record.chain;
  if (
    chain !== undefined &&
    (!Array.isArray(chain) || chain.length === 0 || chain.some((n) => typeof n !== 'string'))
  ) {
    throw optionError(`${path}.chain`, 'a non-empty array of target names', chain);
  }
  if (record.name !== undefined && typeof record.name !== 'string')
    throw optionError(`${path}.name`, 'a string', record.name);
  let timeout: number | undefined;
  if (record.timeout !== undefined) {
    timeout = parseDuration(record.timeout);
    if (timeout === undefined || timeout <= 0)
      throw optionError(`${path}.timeout`, 'a positive duration', record.timeout);
  }

  let cache: CompiledRoute<R>['cache'];
  if (record.cache !== undefined && record.cache !== false) {
    const c = checkObject(record.cache, `${path}.cache`, ['key', 'maxAge']);
    if (typeof c.key !== 'function') throw optionError(`${path}.cache.key`, 'a function of the request', c.key);
    cache = {
      key: c.key as (request: R) => unknown,
      maxAge: readDuration(c, 'maxAge', `${path}.cache`, 600_000, { min: 1 }),
    };
  }

  let staticTier: CompiledRoute<R>['static'];
  if (record.static === true) staticTier = { status: 200, body: { message: DEFAULT_STATIC_MESSAGE } };
  else if (record.static !== undefined && record.static !== false) {
    const s = checkObject(record.static, `${path}.static`, ['status', 'body']);
    staticTier = {
      status: readNumber(s, 'status', `${path}.static`, 200, { min: 200, max: 599, integer: true }),
      body: s.body === undefined ? { message: DEFAULT_STATIC_MESSAGE } : s.body,
    };
  }

  let queue: CompiledRoute<R>['queue'];
  if (record.queue === true) queue = { ttl: 3_600_000 };
  else if (record.queue !== undefined && record.queue !== false) {
    const q = checkObject(record.queue, `${path}.queue`, ['ttl']);
    queue = { ttl: readDuration(q, 'ttl', `${path}.queue`, 3_600_000, { min: 1 }) };
  }

  const hedge = record.hedge as HedgeOptions | undefined;
  if (hedge !== undefined) resolveHedge(hedge); // validate now

  return {
    hedge,
    name: record.name as string | undefined,
    chain: chain as readonly string[] | undefined,
    timeout,
    cache,
    static: staticTier,
    queue,
  };
}
