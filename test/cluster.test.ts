/**
 * Three Node processes on one real Redis act as one: a tenant limit holds across them, an
 * opening seen by one stops the others within 1 s, one probe for all, one side effect per
 * Idempotency-Key, and Redis stopped mid-run fails no request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeAnthropic, fakeOpenAI, type FakeProvider } from '@breakwater/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, post, startInstance, waitFor, type Instance } from './cluster/cluster.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from './redis-server.js';

const COOLDOWN_MS = 3_000;

describe.skipIf(skipWithoutRedis)('three instances on one Redis', () => {
  let redis: RedisServer;
  /** One OpenAI fake per instance (so that an outage can be seen by one instance only), one shared Anthropic fake. */
  const openai: { fake: FakeProvider; startedAt: number }[] = [];
  let anthropic: FakeProvider;
  let ledger: http.Server;
  let charges = 0;
  let instances: Instance[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    for (let i = 0; i < 3; i++) {
      const startedAt = Date.now();
      openai.push({ fake: await fakeOpenAI({ reply: `openai ${i}`, latency: 20 }), startedAt });
    }
    anthropic = await fakeAnthropic({ reply: 'anthropic', latency: 150 });
    ledger = http.createServer((req, res) => {
      req.resume();
      const receipt = ++charges;
      setTimeout(() => res.end(JSON.stringify({ receipt })), 100); // a slow side effect: the duplicates overlap it
    });
    await new Promise<void>((resolve) => ledger.listen(0, '127.0.0.1', resolve));
    const ledgerUrl = `http://127.0.0.1:${(ledger.address() as AddressInfo).port}/charge`;
    instances = await Promise.all(
      openai.map(({ fake }, i) =>
        startInstance(`i${i}`, {
          BREAKWATER_REDIS_URL: redis.url,
          OPENAI_BASE_URL: fake.baseURL,
          ANTHROPIC_BASE_URL: anthropic.baseURL,
          LEDGER_URL: ledgerUrl,
          TENANT_LIMIT: '3',
          BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
        }),
      ),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await Promise.all([...openai.map((o) => o.fake.close()), anthropic?.close()]);
    ledger?.close();
    await redis?.stop();
  });

  it('holds a tenant limit of 3 across the three instances', async () => {
    const before = anthropic.requests.length;
    // 30 requests of one tenant at once, spread over the instances, to a route that only the shared fake answers.
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(`${instances[i % 3]!.url}/v1/tool`, ask(`limit ${i}`), { 'x-tenant-id': 'acme' }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(anthropic.requests.length - before).toBe(30);
    // Each instance alone would let 3 through: 9 at once. Through Redis, 3 for all.
    console.info(`tenant limit 3: at most ${anthropic.maxActive} calls at once at the provider`);
    expect(anthropic.maxActive).toBeLessThanOrEqual(3);
    expect(anthropic.maxActive).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('runs the side effect of one Idempotency-Key once when all three get it at once', async () => {
    const before = charges;
    const headers = { 'x-tenant-id': 'shop', 'idempotency-key': 'order-7' };
    const body = ask('charge order 7');
    const results = await Promise.all(instances.map((instance) => post(`${instance.url}/v1/tool`, body, headers)));
    expect(charges - before).toBe(1);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    for (const r of results) expect([200, 409]).toContain(r.status);
    // Afterwards any instance replays the stored answer, with the one receipt.
    const replay = await post(`${instances[2]!.url}/v1/tool`, body, headers);
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.receipt).toEqual({ receipt: charges });
    expect(charges - before).toBe(1);
  }, 30_000);

  it("stops every instance's traffic to a target within 1 s of one instance opening its breaker, and probes it once", async () => {
    const [first, second, third] = instances as [Instance, Instance, Instance];
    let running = true;
    const statuses: number[] = [];
    // Steady traffic on all three: each instance one request after another, bounded by the clock.
    const stopAt = Date.now() + 15_000;
    const traffic = instances.map(async (instance, i) => {
      for (let n = 0; running && Date.now() < stopAt; n++) {
        statuses.push((await post(`${instance.url}/v1/chat`, ask(`steady ${i}-${n}`))).status);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    await waitFor(() => openai.every((o) => o.fake.requests.length > 3), 5_000, 'traffic on every instance');

    openai[0]!.fake.down('server_error'); // only the first instance sees the outage
    await waitFor(() => opened(first) !== undefined, 5_000, 'the first instance to open its breaker');
    const openedAt = opened(first)!;
    // The others adopt the opening (reason "shared") and stop calling their own OpenAI fakes.
    await waitFor(() => opened(second) !== undefined && opened(third) !== undefined, 2_000, 'the others to open');
    console.info(`breaker opening adopted after ${opened(second)! - openedAt} and ${opened(third)! - openedAt} ms`);
    expect(opened(second)! - openedAt).toBeLessThan(1_000);
    expect(opened(third)! - openedAt).toBeLessThan(1_000);
    expect(second.logs.find((l) => l.event === 'breakwater.breaker' && l.to === 'open')?.reason).toBe('shared');

    openai[0]!.fake.up(); // healthy again before the cooldown ends: whoever probes succeeds
    await waitFor(
      () => instances.every((instance) => closedAfter(instance, openedAt)),
      COOLDOWN_MS + 5_000,
      'every breaker to close after the probe',
    );
    running = false;
    await Promise.all(traffic);

    const chatCalls = (o: (typeof openai)[number]) =>
      o.fake.requests
        .filter((r) => r.method === 'POST')
        .map((r) => o.startedAt + r.at)
        .filter((at) => at > openedAt + 1_000 && at < openedAt + COOLDOWN_MS - 100);
    expect(chatCalls(openai[1]!)).toEqual([]);
    expect(chatCalls(openai[2]!)).toEqual([]);
    // One synthetic probe (GET /v1/models) among the three, though all three met the ended cooldown.
    const probes = openai.flatMap((o) =>
      o.fake.requests.filter((r) => r.method === 'GET' && r.path.includes('/models')),
    );
    expect(probes).toHaveLength(1);
    // Users were answered throughout (by Anthropic while OpenAI was out).
    expect(statuses.every((s) => s === 200)).toBe(true);
  }, 40_000);

  it('fails no request while Redis is down, logs the outage once per instance, and shares again when it is back', async () => {
    const statuses: number[] = [];
    let phase = 'before';
    const traffic = instances.map(async (instance, i) => {
      for (let n = 0; phase !== 'done' && n < 2_000; n++) {
        const headers = { 'x-tenant-id': `t${i}`, 'idempotency-key': `k-${i}-${n}` };
        statuses.push((await post(`${instance.url}/v1/chat`, ask(`during ${phase} ${n}`), headers)).status);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    const served = () => statuses.length;
    await waitFor(() => served() > 30, 5_000, 'traffic with Redis up');

    await redis.stop();
    phase = 'outage';
    await waitFor(() => instances.every((instance) => storeLogs(instance, false) === 1), 5_000, 'outage logs');
    const atOutage = served();
    expect(await status(instances[0]!)).toEqual({ kind: 'redis', available: false });
    await waitFor(() => served() > atOutage + 150, 15_000, 'traffic with Redis down');

    await redis.start();
    phase = 'after';
    await waitFor(() => instances.every((instance) => storeLogs(instance, true) === 1), 10_000, 'recovery logs').catch(
      (error: Error) => {
        throw new Error(
          `${error.message}: ${JSON.stringify(instances.map((i) => i.logs.filter((l) => l.event === 'breakwater.store')))}`,
        );
      },
    );
    const atRecovery = served();
    expect(await status(instances[0]!)).toEqual({ kind: 'redis', available: true });
    await waitFor(() => served() > atRecovery + 30, 5_000, 'traffic after recovery');
    phase = 'done';
    await Promise.all(traffic);

    console.info(
      `Redis stopped mid-run: ${statuses.length} requests, ${statuses.filter((s) => s !== 200).length} not 200`,
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    for (const instance of instances) expect(storeLogs(instance, false)).toBe(1);
    // Shared again: a key claimed on one instance is replayed by another.
    const headers = { 'x-tenant-id': 'shop', 'idempotency-key': 'after-outage' };
    const first = await post(`${instances[0]!.url}/v1/tool`, ask('after'), headers);
    const second = await post(`${instances[1]!.url}/v1/tool`, ask('after'), headers);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
  }, 60_000);
});

/** When the instance logged its OpenAI breaker opening (wall ms), if it did. */
function opened(instance: Instance): number | undefined {
  const record = instance.logs.find(
    (l) => l.event === 'breakwater.breaker' && l.target === 'openai' && l.to === 'open',
  );
  return record?.wallAt as number | undefined;
}

function closedAfter(instance: Instance, at: number): boolean {
  return instance.logs.some(
    (l) => l.event === 'breakwater.breaker' && l.target === 'openai' && l.to === 'closed' && (l.wallAt as number) > at,
  );
}

/** The store line of an instance's status view. */
async function status(instance: Instance): Promise<unknown> {
  const response = await fetch(`${instance.url}/_breakwater/status`);
  return ((await response.json()) as { store?: unknown }).store;
}

function storeLogs(instance: Instance, available: boolean): number {
  return instance.logs.filter((l) => l.event === 'breakwater.store' && l.available === available).length;
}

describe.skipIf(skipWithoutRedis)('a per-target rate limit across three instances', () => {
  let redis: RedisServer;
  let openai: FakeProvider;
  let anthropic: FakeProvider;
  let instances: Instance[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    openai = await fakeOpenAI({ latency: 5 });
    anthropic = await fakeAnthropic({ latency: 5 });
    instances = await Promise.all(
      [0, 1, 2].map((i) =>
        startInstance(`r${i}`, {
          BREAKWATER_REDIS_URL: redis.url,
          OPENAI_BASE_URL: openai.baseURL,
          ANTHROPIC_BASE_URL: anthropic.baseURL,
          OPENAI_REQUESTS_PER_MINUTE: '120', // 2 per second, a burst of 2
          LEDGER_URL: 'http://127.0.0.1:9/unused',
        }),
      ),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await Promise.all([openai?.close(), anthropic?.close()]);
    await redis?.stop();
  });

  it('holds across the instances: about 2 per second reach the provider, not 2 per instance', async () => {
    const statuses: number[] = [];
    const started = Date.now();
    const seconds = 3;
    await Promise.all(
      instances.map(async (instance, i) => {
        for (let n = 0; Date.now() - started < seconds * 1_000; n++) {
          statuses.push((await post(`${instance.url}/v1/chat`, ask(`paced ${i}-${n}`))).status);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    const reached = openai.requests.filter((r) => r.method === 'POST').length;
    const elapsed = (Date.now() - started) / 1_000;
    console.info(
      `rate limit 2/s over ${elapsed.toFixed(1)} s: ${reached} of ${statuses.length} requests reached OpenAI`,
    );
    expect(statuses.every((s) => s === 200)).toBe(true); // the rest went to Anthropic
    // One bucket for all: the burst (2) plus 2 per second, and a little for the sync interval's lag.
    // Three separate buckets would let about three times as many through.
    expect(reached).toBeLessThanOrEqual(2 + 2 * elapsed + 4);
    expect(reached).toBeGreaterThanOrEqual(2 * seconds);
  }, 30_000);
});
