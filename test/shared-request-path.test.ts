/**
 * The request path's state on Redis: a job queued by one instance survives that instance's
 * restart and is run by another; a response cached by one instance answers for another.
 */
import express from 'express';
import request from 'supertest';
import { createEngine, type AnyEngine } from '@breakwater/core';
import { breakwater } from '@breakwater/express';
import { redisStore } from '@breakwater/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './cluster/cluster.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from './redis-server.js';

function instance(engine: AnyEngine) {
  const app = express();
  const bw = breakwater(engine, { logger: false, queue: { pollInterval: '50ms' } });
  app.use(express.json(), bw);
  app.post('/ask', bw.route({ name: 'ask', queue: true }), async (req, res) => {
    res.json(await req.breakwater.call(req.body));
  });
  app.post(
    '/cached',
    bw.route({ name: 'cached', cache: { key: (req) => req.body, maxAge: '1m' } }),
    async (req, res) => {
      res.json(await req.breakwater.call(req.body));
    },
  );
  app.use(bw.errors);
  return { app, close: () => bw.close() };
}

describe.skipIf(skipWithoutRedis)('queued jobs on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  it('survive the restart of the instance that queued them and run on another', async () => {
    const outage = Object.assign(new Error('down'), { status: 503 });
    const firstStore = redisStore({ url: redis.url, prefix: 'jobs-test:' });
    await waitFor(() => firstStore.available, 5_000, 'the first store to connect');
    const first = createEngine({
      store: firstStore,
      targets: { llm: { call: () => Promise.reject(outage) } },
      defaults: { retry: { maxAttempts: 1 } },
    });
    const a = instance(first);
    const accepted = await request(a.app).post('/ask').send({ question: 'later please' });
    expect(accepted.status).toBe(202);
    const statusUrl = accepted.body.statusUrl as string;
    // The instance goes away with its job still queued.
    a.close();
    first.close();
    await firstStore.close();

    const secondStore = redisStore({ url: redis.url, prefix: 'jobs-test:' });
    let inputs: unknown[] = [];
    const second = createEngine({
      store: secondStore,
      targets: { llm: { call: (input: unknown) => ((inputs = [...inputs, input]), Promise.resolve({ answer: 42 })) } },
    });
    const b = instance(second);
    try {
      await waitFor(
        async () => (await request(b.app).get(statusUrl)).body.status === 'done',
        5_000,
        'the job to run on the second instance',
      );
      const done = await request(b.app).get(statusUrl);
      expect(done.body).toMatchObject({ status: 'done', result: { answer: 42 }, attempts: 1 });
      expect(inputs).toEqual([{ question: 'later please' }]); // run once, with the queued input
    } finally {
      b.close();
      second.close();
      await secondStore.close();
    }
  }, 20_000);

  it("answer from the cache tier with another instance's response", async () => {
    const stores = [0, 1].map(() => redisStore({ url: redis.url, prefix: 'cache-test:' }));
    await waitFor(() => stores.every((s) => s.available), 5_000, 'the stores to connect');
    const healthy = createEngine({
      store: stores[0],
      targets: { llm: { call: () => Promise.resolve({ answer: 'fresh' }) } },
    });
    const down = createEngine({
      store: stores[1],
      targets: { llm: { call: () => Promise.reject(Object.assign(new Error('down'), { status: 503 })) } },
      defaults: { retry: { maxAttempts: 1 } },
    });
    const [a, b] = [instance(healthy), instance(down)];
    try {
      expect((await request(a.app).post('/cached').send({ q: 'same question' })).body).toEqual({ answer: 'fresh' });
      // The write to Redis runs in the background: ask until it has landed (bounded).
      let degraded = await request(b.app).post('/cached').send({ q: 'same question' });
      for (let i = 0; i < 50 && degraded.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        degraded = await request(b.app).post('/cached').send({ q: 'same question' });
      }
      expect(degraded.status).toBe(200);
      expect(degraded.headers['x-breakwater-degraded']).toBe('cache');
      expect(degraded.body).toMatchObject({ answer: 'fresh', degraded: 'cache', stale: true });
      // Another question was never answered anywhere: nothing to serve.
      expect((await request(b.app).post('/cached').send({ q: 'other question' })).status).toBe(503);
    } finally {
      a.close();
      b.close();
      healthy.close();
      down.close();
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
