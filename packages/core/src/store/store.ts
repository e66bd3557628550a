/** Options of {@link Store.set}. */
export interface SetOptions {
  /** Expire the key after this many ms. Default: never. */
  ttl?: number;
  /** Write only when the key does not exist (an atomic claim). */
  ifAbsent?: boolean;
}

/** Tells the store's reachability. */
export type AvailabilityListener = (available: boolean, error?: unknown) => void;

/**
 * Where breakwater keeps state that several instances share: breaker state and counters,
 * cooldowns, idempotency records, cached responses and queued jobs. Values are strings (JSON).
 * Every method may reject when the store is unreachable; breakwater then carries on with
 * local state, so an implementation should fail fast (a short timeout) rather than wait.
 *
 * `memoryStore()` is the in-process default; `redisStore()` from `@breakwater/redis` shares
 * state between processes and hosts.
 */
export interface Store {
  /** A short name for logs and status views (`memory`, `redis`). */
  readonly kind: string;
  /** False while the store is unreachable (commands would fail). */
  readonly available: boolean;
  /** The value of `key`, or undefined. */
  get(key: string): Promise<string | undefined>;
  /** Writes `key`; resolves false when `ifAbsent` was set and the key existed. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Replaces `key` only while it still holds `expected` (undefined: absent); true when it did. */
  compareAndSet(key: string, expected: string | undefined, value: string, ttl?: number): Promise<boolean>;
  /** Removes `key`. */
  delete(key: string): Promise<void>;
  /** Adds `by` to the integer at `key` (0 when absent) and returns the new value; `ttl` is set when the key is created. */
  increment(key: string, by: number, ttl?: number): Promise<number>;
  /** Sends `message` to every subscriber of `channel`, in every instance (this one included). */
  publish(channel: string, message: string): Promise<void>;
  /** Receives the messages of `channel`; resolves with the unsubscribe function. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => void>;
  /** Tells when the store goes away and comes back; returns the unsubscribe function. */
  onAvailability(listener: AvailabilityListener): () => void;
  /**
   * Options that make a bottleneck limiter share its counts through the same server
   * (`datastore: 'ioredis'`, the client class and its options), when the store can.
   */
  bottleneckOptions?(): Record<string, unknown>;
  /** Closes connections. */
  close(): Promise<void>;
}

/** A store that went away: what {@link Store} methods reject with when unreachable. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
