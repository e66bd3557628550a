import { LRUCache } from 'lru-cache';
import type { AvailabilityListener, SetOptions, Store } from './store.js';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** Most keys kept (least recently used go first). Default 100,000. */
  max?: number;
  /** Time source for TTLs (pass the engine's `ManualClock` in tests). Default `performance.now()`. */
  clock?: { now(): number };
}

/**
 * The in-process {@link Store}: a bounded LRU with per-key TTLs and in-process pub/sub. It is
 * what breakwater uses when no store is given; two engines given the same memory store share
 * state as two processes on one Redis would (handy in tests).
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  return new MemoryStore(options.max ?? 100_000, options.clock);
}

class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly available = true;
  readonly #entries: LRUCache<string, string>;
  readonly #channels = new Map<string, Set<(message: string) => void>>();

  constructor(max: number, clock: { now(): number } | undefined) {
    if (!Number.isInteger(max) || max < 1)
      throw new TypeError(`memoryStore: max must be a positive integer, got ${max}`);
    this.#entries = new LRUCache<string, string>({ max, ...(clock && { perf: { now: () => clock.now() } }) });
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#entries.get(key));
  }

  set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    if (options?.ifAbsent && this.#entries.has(key)) return Promise.resolve(false);
    this.#entries.set(key, value, options?.ttl === undefined ? undefined : { ttl: options.ttl });
    return Promise.resolve(true);
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttl?: number): Promise<boolean> {
    if (this.#entries.get(key) !== expected) return Promise.resolve(false);
    // Without a TTL the key keeps the one it had (as Redis's KEEPTTL).
    this.#entries.set(key, value, ttl === undefined ? { noUpdateTTL: true } : { ttl });
    return Promise.resolve(true);
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  increment(key: string, by: number, ttl?: number): Promise<number> {
    const current = this.#entries.get(key);
    const next = (current === undefined ? 0 : Number(current)) + by;
    if (current === undefined) this.#entries.set(key, String(next), ttl === undefined ? undefined : { ttl });
    else this.#entries.set(key, String(next), { noUpdateTTL: true });
    return Promise.resolve(next);
  }

  publish(channel: string, message: string): Promise<void> {
    const listeners = this.#channels.get(channel);
    // Delivered asynchronously, as a real pub/sub would.
    if (listeners) for (const listener of listeners) queueMicrotask(() => listener(message));
    return Promise.resolve();
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<() => void> {
    let listeners = this.#channels.get(channel);
    if (!listeners) this.#channels.set(channel, (listeners = new Set()));
    listeners.add(listener);
    return Promise.resolve(() => listeners.delete(listener));
  }

  onAvailability(_listener: AvailabilityListener): () => void {
    return () => {};
  }

  close(): Promise<void> {
    this.#channels.clear();
    return Promise.resolve();
  }
}
