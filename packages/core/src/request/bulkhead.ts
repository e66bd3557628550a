import Bottleneck from 'bottleneck';
import createHttpError from 'http-errors';
import { parseDuration, type Duration } from '../duration.js';
import type { Store } from '../store/store.js';
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
  /** This process's pools (the only ones without a shared store, the fallback while it is down). */
  group: Bottleneck.Group;
  /** Pools whose counts live in the shared store (bottleneck's Redis datastore), when it has one. */
  shared: Bottleneck.Group | undefined;
  queueTimeout: number;
  status: 429 | 503;
  message: string;
}

/** Releases a slot. */
export type Release = () => void;

/**
 * Keyed concurrency pools on bottleneck (`Bottleneck.Group`): each key gets `maxConcurrent`
 * slots and a bounded queue; a request that cannot get a slot in time is refused with 429
 * (tenant over its share) or 503 (route full), both with `Retry-After`. With a store that
 * offers bottleneck a datastore (Redis), the slots are counted there, so a limit holds across
 * every instance (each instance keeps its own queue); while that store is down, each instance
 * falls back to its own pools with the same limits.
 */
export class Bulkheads {
  readonly #tenant: Pool | undefined;
  readonly #route: Pool | undefined;
  readonly #store: Store | undefined;
  /** Requests waiting for a shared slot, by how to move them to the local pool. */
  readonly #waiting = new Set<() => void>();
  readonly #stopAvailability: (() => void) | undefined;

  constructor(options: BulkheadOptions, store?: Store) {
    this.#store = store?.bottleneckOptions ? store : undefined;
    // When the store goes away, requests waiting for a shared slot would wait for news that never comes: move them.
    this.#stopAvailability = this.#store?.onAvailability((available) => {
      if (!available) for (const moveToLocal of [...this.#waiting]) moveToLocal();
    });
    const record = checkObject(options, 'options.bulkheads', ['tenant', 'route']);
    const datastore = this.#store?.bottleneckOptions?.();
    this.#tenant = pool(
      record.tenant,
      'options.bulkheads.tenant',
      429,
      'Too many requests for this tenant; please retry shortly.',
      datastore && { ...datastore, id: 'breakwater-bulkhead-tenant' },
    );
    this.#route = pool(
      record.route,
      'options.bulkheads.route',
      503,
      'This endpoint is at capacity; please retry shortly.',
      datastore && { ...datastore, id: 'breakwater-bulkhead-route' },
    );
  }

  /** Takes a tenant slot then a route slot; resolves with their release, or rejects with a 429/503 http error. */
  async acquire(tenant: string | undefined, route: string): Promise<Release[]> {
    const releases: Release[] = [];
    try {
      const shared = this.#store?.available === true;
      const waiting = shared ? this.#waiting : undefined;
      if (this.#tenant) releases.push(await take(this.#tenant, tenant ?? 'anonymous', waiting));
      if (this.#route) releases.push(await take(this.#route, route, waiting));
      return releases;
    } catch (error) {
      for (const release of releases) release();
      throw error;
    }
  }

  /** Stops the pools' timers. */
  close(): void {
    this.#stopAvailability?.();
    for (const pool of [this.#tenant, this.#route]) {
      if (!pool) continue;
      void pool.group.disconnect(false);
      void pool.shared?.disconnect(false).catch(() => {});
    }
  }
}

function pool(
  value: unknown,
  path: string,
  status: 429 | 503,
  message: string,
  datastore: Record<string, unknown> | undefined,
): Pool | undefined {
  if (value === undefined) return undefined;
  const record = checkObject(value, path, ['maxConcurrent', 'maxQueue', 'queueTimeout']);
  const maxConcurrent = readNumber(record, 'maxConcurrent', path, NaN, { min: 1, integer: true });
  if (Number.isNaN(maxConcurrent)) throw optionError(`${path}.maxConcurrent`, 'a positive integer', undefined);
  const maxQueue = readNumber(record, 'maxQueue', path, 0, { min: 0, integer: true });
  const queueTimeout = record.queueTimeout === undefined ? 1_000 : parseDuration(record.queueTimeout);
  if (queueTimeout === undefined || queueTimeout <= 0)
    throw optionError(`${path}.queueTimeout`, 'a positive duration', record.queueTimeout);
  const limits = { maxConcurrent, highWater: maxQueue, strategy: Bottleneck.strategy.OVERFLOW };
  const group = new Bottleneck.Group(limits);
  let shared: Bottleneck.Group | undefined;
  if (datastore) {
    // A crashed instance's slots are freed by the others once its jobs expire (bottleneck's heartbeat).
    shared = new Bottleneck.Group({ ...limits, ...datastore, timeout: 600_000 } as Bottleneck.ConstructorOptions);
    shared.on('created', (limiter) => limiter.on('error', () => {})); // a Redis outage: requests fall back to local pools
    shared.on('error', () => {});
  }
  return { group, shared, queueTimeout, status, message };
}

/** Longest a request may hold a shared slot: after this, a crashed instance's slot is given back. */
const SLOT_EXPIRY = 300_000;
const DROPPED = /dropped/i;

/**
 * Waits for a slot of `key`'s limiter; the slot is held until the returned release runs. With
 * `waiting` (the shared waits), the shared limiter is asked; when it fails or the store goes
 * away meanwhile, the request moves to this process's pool.
 */
function take(pool: Pool, key: string, waiting: Set<() => void> | undefined): Promise<Release> {
  const group = waiting && pool.shared ? pool.shared : pool.group;
  return new Promise<Release>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      waiting?.delete(moveToLocal);
      return true;
    };
    const refuse = (): void => {
      if (!settle()) return;
      reject(
        createHttpError(pool.status, pool.message, {
          headers: { 'retry-after': String(Math.max(1, Math.ceil(pool.queueTimeout / 1000))) },
        }),
      );
    };
    const moveToLocal = (): void => {
      if (settle()) take(pool, key, undefined).then(resolve, reject);
    };
    const timer = setTimeout(refuse, pool.queueTimeout);
    if (group !== pool.group) waiting!.add(moveToLocal);
    group
      .key(key)
      .schedule({ expiration: SLOT_EXPIRY }, () => {
        if (!settle()) return Promise.resolve(); // refused or moved meanwhile: give the slot back at once
        return new Promise<void>((release) => resolve(() => release()));
      })
      .catch((error: unknown) => {
        if (group !== pool.group && !DROPPED.test(String((error as Error)?.message)))
          moveToLocal(); // the store failed
        else refuse(); // dropped: the queue was full
      });
  });
}
