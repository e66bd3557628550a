/**
 * Redis that hangs instead of going away (a frozen host, a partition): connections stay open
 * and nothing answers. Commands time out (250 ms), the store counts as unreachable, requests
 * carry on with local state, and everything comes back when Redis answers again.
 */
import express from 'express';
import request from 'supertest';
import { createEngine, type StoreEvent } from '@breakwater/core';
import { breakwater } from '@breakwater/express';
import { redisStore } from '@breakwater/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './cluster/cluster.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from './redis-server.js';

describe.skipIf(skipWithoutRedis)('a hung Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    redis?.resume();
    await redis?.stop();
  });

  it('fails no request, answers within the command timeout, and resyncs when Redis answers again', async () => {
    const store = redisStore({ url: redis.url, prefix: 'hang-test:' });
    await waitFor(() => store.available, 5_000, 'the store to connect');
    const engine = createEngine({ store, targets: { llm: { call: () => Promise.resolve({ answer: 'ok' }) } } });
    const events: StoreEvent[] = [];
    engine.on('store', (event) => events.push(event));
    const app = express();
    const bw = breakwater(engine, {
      logger: false,
      tenant: (req) => req.get('x-tenant-id'),
      bulkheads: { tenant: { maxConcurrent: 2, maxQueue: 10 } },
    });
    app.use(express.json(), bw);
    app.post('/ask', bw.route({ name: 'ask', cache: { key: (req) => req.body, maxAge: '1m' } }), async (req, res) => {
      res.json(await req.breakwater.call(req.body));
    });
    const ask = (n: number) =>
      request(app)
        .post('/ask')
        .set({ 'x-tenant-id': 'acme', 'idempotency-key': `hang-${n}` })
        .send({ n });
    try {
      expect((await ask(0)).status).toBe(200);

      redis.pause();
      const latencies: number[] = [];
      for (let n = 1; n <= 6; n++) {
        const started = Date.now();
        const response = await ask(n);
        latencies.push(Date.now() - started);
        expect(response.status).toBe(200);
      }
      // The first requests wait out the command timeout (250 ms per step); once the store counts as unreachable, none waits.
      console.info(`requests while Redis hung: ${latencies.join(', ')} ms`);
      expect(Math.max(...latencies)).toBeLessThan(2_000);
      expect(latencies.at(-1)).toBeLessThan(100);
      expect(events).toEqual([expect.objectContaining({ kind: 'redis', available: false })]);

      redis.resume();
      await waitFor(() => events.length === 2, 5_000, 'the store to answer again');
      expect(events[1]).toMatchObject({ available: true });
      // Shared again: a completed key is replayed from Redis.
      expect((await ask(100)).status).toBe(200);
      const replay = await ask(100);
      expect(replay.headers['idempotent-replayed']).toBe('true');
    } finally {
      bw.close();
      engine.close();
      await store.close();
    }
  }, 30_000);
});
