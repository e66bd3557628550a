/**
 * @module @breakwater/redis
 * A breakwater {@link Store} on Redis (ioredis 5): several processes or hosts share breaker
 * state and counts, cooldowns, probe locks, idempotency records, cached responses, queued jobs
 * and (through bottleneck's Redis datastore) bulkheads.
 */
import type { AvailabilityListener, SetOptions, Store } from '@breakwater/core';
import { StoreUnavailableError } from '@breakwater/core';
import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** The server, as `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Put before every key and channel, so that several apps can share one server. Default `breakwater:`. */
  prefix?: string;
  /** Longest wait for one command before it counts as failed (and the store as unreachable), in ms. Default 250. */
  commandTimeout?: number;
  /** More ioredis options (TLS, sentinels...). The store's own fail-fast settings win. */
  redis?: RedisOptions;
}

/** Compare-and-set: KEYS[1]; ARGV: expect-absent flag, expected, value, ttl ms ('' keeps the current TTL). */
const CAS = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
elseif current then redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
else redis.call('SET', KEYS[1], ARGV[3]) end
return 1`;

/** Increment with a TTL set when the key has none: KEYS[1]; ARGV: by, ttl ms (''). */
const INCREMENT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

interface ScriptedRedis extends Redis {
  bwCas(key: string, absent: string, expected: string, value: string, ttl: string): Promise<number>;
  bwIncrement(key: string, by: string, ttl: string): Promise<number>;
}

/**
 * A {@link Store} on Redis. Pass it as the engine's `store`; every instance given a store on
 * the same server (and prefix) acts as one. Commands fail fast (no offline queue, a short
 * timeout), so that a Redis outage never holds a request: breakwater carries on with local
 * state, and this store reports the outage and the return (`onAvailability`).
 *
 * @example
 * const store = redisStore({ url: process.env.BREAKWATER_REDIS_URL! });
 * const engine = createEngine({ store, targets: { ... } });
 */
export function redisStore(options: RedisStoreOptions): Store {
  return new RedisStore(options);
}

class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #client: ScriptedRedis;
  readonly #options: RedisOptions;
  readonly #url: string;
  readonly #prefix: string;
  #subscriber: Redis | undefined = undefined;
  readonly #channels = new Map<string, Set<(message: string) => void>>();
  readonly #listeners = new Set<AvailabilityListener>();
  #available = false;
  #lastError: unknown = undefined;
  #pinger: ReturnType<typeof setInterval> | undefined = undefined;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (!options || typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      const shown = String(options?.url).replace(/\/\/[^@/]*@/, '//***@'); // never print a password
      throw new TypeError(`redisStore: options.url must be a redis:// or rediss:// URL, got ${shown}`);
    }
    const commandTimeout = options.commandTimeout ?? 250;
    if (!Number.isFinite(commandTimeout) || commandTimeout <= 0) {
      throw new TypeError(`redisStore: options.commandTimeout must be a positive number of ms, got ${commandTimeout}`);
    }
    this.#url = options.url;
    this.#prefix = options.prefix ?? 'breakwater:';
    this.#options = {
      ...options.redis,
      // Fail fast: a command while disconnected is refused at once, and one in flight when the
      // connection drops is not resent later (breakwater has moved on with local state by then).
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout,
      enableAutoPipelining: true,
      retryStrategy: (times: number) => Math.min(100 * times, 1_000),
    };
    this.#client = new Redis(this.#url, this.#options) as ScriptedRedis;
    this.#client.defineCommand('bwCas', { numberOfKeys: 1, lua: CAS });
    this.#client.defineCommand('bwIncrement', { numberOfKeys: 1, lua: INCREMENT });
    this.#client.on('ready', () => this.#setAvailable(true));
    this.#client.on('error', (error: unknown) => (this.#lastError = error));
    this.#client.on('close', () => this.#setAvailable(false, this.#lastError));
  }

  get available(): boolean {
    return this.#available;
  }

  get(key: string): Promise<string | undefined> {
    return this.#run(this.#client.get(this.#prefix + key)).then((value) => value ?? undefined);
  }

  set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    const k = this.#prefix + key;
    const ttl = options?.ttl === undefined ? undefined : Math.max(1, Math.ceil(options.ttl));
    let pending: Promise<string | null>;
    if (options?.ifAbsent) {
      pending = ttl === undefined ? this.#client.set(k, value, 'NX') : this.#client.set(k, value, 'PX', ttl, 'NX');
    } else pending = ttl === undefined ? this.#client.set(k, value) : this.#client.set(k, value, 'PX', ttl);
    return this.#run(pending).then((reply) => reply === 'OK');
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttl?: number): Promise<boolean> {
    const ms = ttl === undefined ? '' : String(Math.max(1, Math.ceil(ttl)));
    const pending = this.#client.bwCas(
      this.#prefix + key,
      expected === undefined ? '1' : '0',
      expected ?? '',
      value,
      ms,
    );
    return this.#run(pending).then((reply) => reply === 1);
  }

  delete(key: string): Promise<void> {
    return this.#run(this.#client.del(this.#prefix + key)).then(() => undefined);
  }

  increment(key: string, by: number, ttl?: number): Promise<number> {
    const ms = ttl === undefined ? '' : String(Math.max(1, Math.ceil(ttl)));
    return this.#run(this.#client.bwIncrement(this.#prefix + key, String(Math.trunc(by)), ms));
  }

  publish(channel: string, message: string): Promise<void> {
    return this.#run(this.#client.publish(this.#prefix + channel, message)).then(() => undefined);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => void> {
    const name = this.#prefix + channel;
    let listeners = this.#channels.get(name);
    if (!listeners) {
      listeners = new Set();
      this.#channels.set(name, listeners);
      // The subscriber queues its SUBSCRIBE until connected and resubscribes after every reconnect.
      void this.#subscriberClient()
        .subscribe(name)
        .catch(() => {});
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  onAvailability(listener: AvailabilityListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Bottleneck's Redis datastore on a connection of its own to the same server (see `Store.bottleneckOptions`). */
  bottleneckOptions(): Record<string, unknown> {
    const client = this.#client.duplicate();
    client.on('error', () => {}); // reported through the store's own connection
    return { datastore: 'ioredis', Redis, client, clearDatastore: false };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pinger) clearInterval(this.#pinger);
    this.#listeners.clear();
    await Promise.allSettled([this.#client.quit(), this.#subscriber?.quit()]);
    this.#client.disconnect();
    this.#subscriber?.disconnect();
  }

  #subscriberClient(): Redis {
    if (!this.#subscriber) {
      const subscriber = new Redis(this.#url, {
        ...this.#options,
        enableOfflineQueue: true,
        autoResubscribe: true,
        commandTimeout: undefined,
        maxRetriesPerRequest: null,
      });
      subscriber.on('error', () => {});
      subscriber.on('message', (name: string, message: string) => {
        const listeners = this.#channels.get(name);
        if (listeners) for (const listener of listeners) listener(message);
      });
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }

  /** Runs a command: a failure that is not Redis's own answer marks the store unreachable. */
  #run<T>(pending: Promise<T>): Promise<T> {
    return pending.then(
      (value) => {
        if (!this.#available && this.#client.status === 'ready') this.#setAvailable(true);
        return value;
      },
      (error: unknown) => {
        if ((error as Error)?.name === 'ReplyError') throw error; // Redis answered: not an outage
        this.#setAvailable(false, error);
        throw new StoreUnavailableError(`redis: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      },
    );
  }

  #setAvailable(available: boolean, error?: unknown): void {
    if (this.#closed || available === this.#available) return;
    this.#available = available;
    for (const listener of this.#listeners) listener(available, error);
    if (!available && this.#client.status === 'ready' && !this.#pinger) {
      // Connected but not answering (a timeout): ping until it answers again.
      this.#pinger = setInterval(() => {
        this.#client.ping().then(
          () => this.#setAvailable(true),
          () => {},
        );
      }, 500);
      this.#pinger.unref();
    }
    if (available && this.#pinger) {
      clearInterval(this.#pinger);
      this.#pinger = undefined;
    }
  }
}
