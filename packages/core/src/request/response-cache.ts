import { LRUCache } from 'lru-cache';

/** A response kept for the cache tier. */
export interface CachedResponse {
  status: number;
  body: unknown;
  /** Engine clock ms when it was stored. */
  storedAt: number;
}

/**
 * The cache tier's store: the last successful response per route, tenant and key, bounded
 * in entries (least recently used go first). Expiry is checked against each route's `maxAge`
 * when read, with the engine's clock.
 */
export class ResponseCache {
  readonly #entries: LRUCache<string, CachedResponse>;

  constructor(max: number) {
    this.#entries = new LRUCache({ max });
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Stores a successful response. */
  set(key: string, status: number, body: unknown, now: number): void {
    this.#entries.set(key, { status, body, storedAt: now });
  }

  /** The response for `key` if it is at most `maxAge` old. */
  get(key: string, maxAge: number, now: number): CachedResponse | undefined {
    const entry = this.#entries.get(key);
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
