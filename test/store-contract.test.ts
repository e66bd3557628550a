import { memoryStore, type Store } from '@breakwater/core';
import { redisStore } from '@breakwater/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutRedis, startRedisServer, type RedisServer } from './redis-server.js';

/** The same contract for both stores: what breakwater relies on. */
function contract(name: string, make: () => Store, skip = false) {
  describe.skipIf(skip)(`${name} store`, () => {
    let store: Store;
    beforeAll(async () => {
      store = make();
      for (let i = 0; i < 100 && !store.available; i++) await new Promise((r) => setTimeout(r, 20));
    });
    afterAll(() => store.close());
    const key = (k: string) => `${name}:${k}:${Math.random().toString(36).slice(2)}`;

    it('sets, gets and deletes', async () => {
      const k = key('plain');
      expect(await store.get(k)).toBeUndefined();
      expect(await store.set(k, 'v1')).toBe(true);
      expect(await store.get(k)).toBe('v1');
      await store.delete(k);
      expect(await store.get(k)).toBeUndefined();
    });

    it('claims a key once (ifAbsent): of ten concurrent claims, exactly one wins', async () => {
      const k = key('claim');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.set(k, `owner-${i}`, { ifAbsent: true, ttl: 10_000 })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('compares and sets: only the writer that saw the current value wins', async () => {
      const k = key('cas');
      expect(await store.compareAndSet(k, undefined, 'a')).toBe(true);
      expect(await store.compareAndSet(k, undefined, 'b')).toBe(false);
      const results = await Promise.all([store.compareAndSet(k, 'a', 'x'), store.compareAndSet(k, 'a', 'y')]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(['x', 'y']).toContain(await store.get(k));
    });

    it('counts atomically', async () => {
      const k = key('count');
      const values = await Promise.all(Array.from({ length: 20 }, () => store.increment(k, 1, 10_000)));
      expect(Math.max(...values)).toBe(20);
      expect(await store.increment(k, 0)).toBe(20);
    });

    it('expires keys after their TTL, kept by a compare-and-set without one', async () => {
      const k = key('ttl');
      await store.set(k, 'v0', { ttl: 30 });
      expect(await store.compareAndSet(k, 'v0', 'v')).toBe(true);
      await store.increment(`${k}:n`, 1, 30);
      await new Promise((r) => setTimeout(r, 80)); // real TTLs: the store's own clock
      expect(await store.get(k)).toBeUndefined();
      expect(await store.increment(`${k}:n`, 0)).toBe(0);
    });

    it('publishes to subscribers', async () => {
      const channel = key('channel');
      const received: string[] = [];
      const unsubscribe = await store.subscribe(channel, (m) => received.push(m));
      await new Promise((r) => setTimeout(r, 50)); // the SUBSCRIBE reaches the server
      await store.publish(channel, 'hello');
      for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(received).toEqual(['hello']);
      unsubscribe();
    });
  });
}

// The server `.ci/run` started, else one of our own.
const givenUrl = process.env.BREAKWATER_TEST_REDIS_URL;
let server: RedisServer | undefined;
beforeAll(async () => {
  if (!givenUrl && !skipWithoutRedis) server = await startRedisServer();
});
afterAll(() => server?.stop());

contract('memory', () => memoryStore());
contract(
  'redis',
  () => redisStore({ url: givenUrl ?? server!.url, prefix: 'contract:' }),
  skipWithoutRedis && !givenUrl,
);

describe('redisStore options', () => {
  it('refuses a URL that is not redis://', () => {
    expect(() => redisStore({ url: 'http://localhost:6379' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => redisStore({ url: 'http://user:secret@localhost:6379' })).toThrow(/\*\*\*@localhost/);
    expect(() => redisStore({ url: 'redis://localhost', commandTimeout: 0 })).toThrow(/commandTimeout/);
  });
});
