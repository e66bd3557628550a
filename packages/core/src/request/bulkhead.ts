import Bottleneck from 'bottleneck';
import createHttpError from 'http-errors';
import { parseDuration, type Duration } from '../duration.js';
import { checkObject, optionError, readNumber } from '../validate.js';

/** One kind of pool: a limit per key (tenant, or route). */
export interface PoolOptions {
  /** Requests running at once per key. */
  maxConcurrent: number;
  /** Requests waiting per key; more are refused at once. Default 0 (no queue). */
  maxQueue?: number;
  /** Longest wait in the queue before the request is refused. Default 1 s. */
  queueTimeout?: Duration;
}

/** Bulkheads of the request path: pools per tenant and per route (feature). */
export interface BulkheadOptions {
  /** Each tenant's share: over it, 429 with `Retry-After`. */
  tenant?: PoolOptions;
  /** Each route's pool: when full, 503 with `Retry-After`. */
  route?: PoolOptions;
}

interface Pool {
  group: Bottleneck.Group;
  queueTimeout: number;
  status: 429 | 503;
  message: string;
}

/** Releases a slot. */
export type Release = () => void;

/**
 * Keyed concurrency pools on bottleneck (`Bottleneck.Group`, so that the same limits can
 * later be shared through bottleneck's Redis datastore): each key gets `maxConcurrent` slots
 * and a bounded queue; a request that cannot get a slot in time is refused with 429 (tenant
 * over its share) or 503 (route full), both with `Retry-After`.
 */
export class Bulkheads {
  readonly #tenant: Pool | undefined;
  readonly #route: Pool | undefined;

  constructor(options: BulkheadOptions) {
    const record = checkObject(options, 'options.bulkheads', ['tenant', 'route']);
    this.#tenant = pool(
      record.tenant,
      'options.bulkheads.tenant',
      429,
      'Too many requests for this tenant; please retry shortly.',
    );
    this.#route = pool(
      record.route,
      'options.bulkheads.route',
      503,
      'This endpoint is at capacity; please retry shortly.',
    );
  }

  /** Takes a tenant slot then a route slot; resolves with their release, or rejects with a 429/503 http error. */
  async acquire(tenant: string | undefined, route: string): Promise<Release[]> {
    const releases: Release[] = [];
    try {
      if (this.#tenant) releases.push(await take(this.#tenant, tenant ?? 'anonymous'));
      if (this.#route) releases.push(await take(this.#route, route));
      return releases;
    } catch (error) {
      for (const release of releases) release();
      throw error;
    }
  }

  /** Stops the pools' timers. */
  close(): void {
    for (const pool of [this.#tenant, this.#route]) if (pool) void pool.group.disconnect(false);
  }
}

function pool(value: unknown, path: string, status: 429 | 503, message: string): Pool | undefined {
  if (value === undefined) return undefined;
  const record = checkObject(value, path, ['maxConcurrent', 'maxQueue', 'queueTimeout']);
  const maxConcurrent = readNumber(record, 'maxConcurrent', path, NaN, { min: 1, integer: true });
  if (Number.isNaN(maxConcurrent)) throw optionError(`${path}.maxConcurrent`, 'a positive integer', undefined);
  const maxQueue = readNumber(record, 'maxQueue', path, 0, { min: 0, integer: true });
  const queueTimeout = record.queueTimeout === undefined ? 1_000 : parseDuration(record.queueTimeout);
  if (queueTimeout === undefined || queueTimeout <= 0)
    throw optionError(`${path}.queueTimeout`, 'a positive duration', record.queueTimeout);
  const group = new Bottleneck.Group({ maxConcurrent, highWater: maxQueue, strategy: Bottleneck.strategy.OVERFLOW });
  return { group, queueTimeout, status, message };
}

/** Waits for a slot of `key`'s limiter; the slot is held until the returned release runs. */
function take(pool: Pool, key: string): Promise<Release> {
  return new Promise<Release>((resolve, reject) => {
    let timedOut = false;
    const refuse = (): void =>
      reject(
        createHttpError(pool.status, pool.message, {
          headers: { 'retry-after': String(Math.max(1, Math.ceil(pool.queueTimeout / 1000))) },
        }),
      );
    const timer = setTimeout(() => {
      timedOut = true;
      refuse();
    }, pool.queueTimeout);
    pool.group
      .key(key)
      .schedule(() => {
        if (timedOut) return Promise.resolve();
        clearTimeout(timer);
        return new Promise<void>((release) => resolve(() => release()));
      })
      .catch(() => {
        clearTimeout(timer); // dropped: the queue was full
        if (!timedOut) refuse();
      });
  });
}
