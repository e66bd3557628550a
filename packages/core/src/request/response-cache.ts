import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { parseJson } from '../store/json.js';
import type { Store } from '../store/store.js';

/** A response kept for the cache tier. */
export interface CachedResponse {
  status: number;
  body: unknown;
  /** Wall-clock epoch ms when it was stored. */
  storedAt: number;
}

/**
 * The cache tier's store: the last successful response per route, tenant and key, bounded
 * in entries (least recently used go first), checked against each route's `maxAge` when read.
 * With a shared store, every response is also written there (in the background, expiring
 * after the route's `maxAge`), and a local miss asks the store, so any instance can answer
 * from a response another one saw.
 */
export class ResponseCache {
  readonly #entries: LRUCache<string, CachedResponse>;
  readonly #shared: Store | undefined;

  constructor(max: number, shared?: Store) {
    this.#entries = new LRUCache({ max });
    this.#shared = shared;
  }

  /** Number of entries held in this process. */
  get size(): number {
    return this.#entries.size;
  }

  /** Stores a successful response (`now` in wall-clock ms), kept for `maxAge` ms. */
  set(key: string, status: number, body: unknown, now: number, maxAge: number): void {
    const entry: CachedResponse = { status, body, storedAt: now };
    this.#entries.set(key, entry);
    this.#shared?.set(storeKey(key), JSON.stringify(entry), { ttl: maxAge }).catch(() => {});
  }

  /** The response for `key` if it is at most `maxAge` old (`now` in wall-clock ms). */
  async get(key: string, maxAge: number, now: number): Promise<CachedResponse | undefined> {
    let entry = this.#entries.get(key);
    if (!entry && this.#shared?.available) {
      const raw = await this.#shared.get(storeKey(key)).catch(() => undefined);
      if (raw !== undefined) entry = parseJson<CachedResponse>(raw);
    }
    if (!entry) return undefined;
    if (now - entry.storedAt > maxAge) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/** The cache key of a request: route, tenant and the route's key function's value. */
export function cacheKey(route: string, tenant: string | undefined, value: unknown): string {
  return `${route}\u0000${tenant ?? ''}\u0000${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

/** Store keys are hashed: a cache key holds whole conversations. */
function storeKey(key: string): string {
  return `cache:${createHash('sha256').update(key).digest('base64url')}`;
}
