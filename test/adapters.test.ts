/**
 * The adapters beyond the fault matrix: hung requests and leftover handles, a bounded load
 * test, bad input, client disconnects, the 503/504 errors, the queue tier and the decorator.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import Koa, { type Context } from 'koa';
import request from 'supertest';
import { createEngine, ManualClock, type AnyEngine } from '@breakwater/core';
import { breakwater as expressBreakwater, withRoute as expressRoute } from '@breakwater/express';
import { breakwater as koaBreakwater, withRoute as koaRoute } from '@breakwater/koa';
import { fakeTarget } from '@breakwater/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ask, FRAMEWORKS, question, startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const quiet = { logger: false as const };

describe.each(FRAMEWORKS)('%s adapter', (framework) => {
  it('leaves no hung request and no handle behind', async () => {
    const baseline = countHandles();
    harness = await startHarness(framework, {
      primary: { script: ['hang', 'stall', 'reset', 'hang', { fault: 'stall', afterChunks: 1 }, 'malformed'] },
    });
    const results = await Promise.all([
      ask(harness, 'json'),
      ask(harness, 'json'),
      ask(harness, 'json'),
      ask(harness, 'sse'),
      ask(harness, 'sse'),
      ask(harness, 'sse'),
    ]);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(3_500);
    }
    await harness.close();
    harness = undefined;
    // Closed handles leave the list on a later turn of the event loop: poll, bounded to 1 s.
    const grown = () => Object.entries(countHandles()).filter(([kind, n]) => n > (baseline[kind] ?? 0));
    for (let i = 0; i < 100 && grown().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(grown()).toEqual([]);
  });

  it('serves 200 concurrent clients for a few seconds against faulty providers: only documented statuses, nothing lost', async () => {
    harness = await startHarness(framework, {
      primary: {
        seed: 11,
        latency: { uniform: [5, 40] },
        transient: { rate: 0.2, faults: ['rate_limit', 'server_error', 'overloaded', 'hang', 'reset'] },
        outages: [{ from: 1_000, to: 2_000 }],
      },
      secondary: {
        seed: 12,
        latency: { uniform: [5, 60] },
        transient: { rate: 0.1, faults: ['overloaded', 'server_error'] },
      },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
    const statuses = new Map<number, number>();
    let sent = 0;
    let received = 0;
    const until = performance.now() + 3_000;
    await Promise.all(
      Array.from({ length: 200 }, async (_, client) => {
        for (let i = 0; i < 50 && performance.now() < until; i++) {
          sent++;
          const status = await post(harness!.url, '/v1/chat', question(`client ${client} question ${i % 5}`), agent);
          received++;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    agent.destroy();
    expect(received).toBe(sent);
    expect(sent).toBeGreaterThan(200);
    expect([...statuses.keys()]).toEqual([200]);
  }, 30_000);

  it('answers bad input with a clear 4xx', async () => {
    harness = await startHarness(framework);
    expect((await ask(harness, 'json', question(), { 'x-tenant-id': 'bad tenant!' })).status).toBe(400);
    expect((await ask(harness, 'json', { messages: 'not a list' })).status).toBe(400);
    expect((await ask(harness, 'json', '{"messages": [')).status).toBe(400);
    const huge = question('x'.repeat(200_000));
    expect((await ask(harness, 'json', huge)).status).toBe(413);
    expect(harness.primary.requests).toHaveLength(0); // none of it reached a provider
  });

  it('aborts the upstream request within 100 ms when the client disconnects mid-stream', async () => {
    harness = await startHarness(framework, { primary: { chunkDelay: 200, reply: 'one two three four five six' } });
    const gone = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${harness!.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.once('data', () => {
          req.destroy();
          resolve(performance.now());
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify(question()));
      setTimeout(() => reject(new Error('no first chunk')), 2_000);
    });
    while (harness.primary.active > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const abortMs = performance.now() - gone;
    expect(abortMs).toBeLessThan(100);
    expect(harness.primary.requests.at(-1)!.aborted).toBe(true);
    // The server is fine afterwards.
    expect((await ask(harness, 'json')).status).toBe(200);
  });
});

/** A minimal app without cache or static tiers, to see the final http errors. */
function bareApp(
  framework: 'express' | 'koa',
  engine: AnyEngine,
  route: Parameters<typeof expressBreakwater.route>[0] = {},
) {
  if (framework === 'express') {
    const app = express();
    const bw = expressBreakwater(engine, quiet);
    app.use(bw);
    app.post('/ask', bw.route(route), async (req, res) => void res.json(await req.breakwater.call({})));
    app.use(bw.errors);
    return { handler: app, close: bw.close };
  }
  const app = new Koa();
  const bw = koaBreakwater(engine, quiet);
  app.silent = true;
  app.use(bw);
  const routeMiddleware = bw.route(route as never);
  app.use((ctx, next) => (ctx.path === '/ask' ? routeMiddleware(ctx, next) : next()));
  app.use(async (ctx) => {
    if (ctx.path === '/ask') ctx.body = await ctx.state.breakwater.call({});
  });
  return { handler: app.callback(), close: bw.close };
}

describe.each(FRAMEWORKS)('%s final errors and tiers', (framework) => {
  it('answers 503 with Retry-After from the earliest reopening when every breaker is open', async () => {
    const failing = fakeTarget({ script: ['quota', 'quota'] });
    const engine = createEngine({ targets: { a: failing.target, b: fakeTarget({ script: ['quota'] }).target } });
    const { handler, close } = bareApp(framework, engine);
    const first = await request(handler).post('/ask');
    expect(first.status).toBe(503);
    expect(Number(first.headers['retry-after'])).toBeGreaterThanOrEqual(599); // the 10 min quota cooldown
    expect(first.text).not.toMatch(/quota|billing/i); // no upstream text
    close();
    engine.close();
  });

  it('answers 504 when the deadline passes', async () => {
    const engine = createEngine({ targets: { a: fakeTarget({ script: ['hang'] }).target } });
    const { handler, close } = bareApp(framework, engine, { timeout: '200ms' });
    const res = await request(handler).post('/ask');
    expect(res.status).toBe(504);
    close();
    engine.close();
  });

  it('queues for later: 202 with a status URL, and the job runs once a target is healthy again', async () => {
    const clock = new ManualClock();
    const target = fakeTarget({ clock, outages: [{ from: 0, to: 10_000 }], reply: 'later' });
    const engine = createEngine({ clock, targets: { a: { ...target.target, retry: { maxAttempts: 1 } } } });
    const { handler, close } = bareApp(framework, engine, { queue: true });
    const accepted = await request(handler).post('/ask');
    expect(accepted.status).toBe(202);
    expect(accepted.headers['x-breakwater-degraded']).toBe('queued');
    const statusUrl = accepted.body.statusUrl as string;
    expect(accepted.headers.location).toBe(statusUrl);
    expect((await request(handler).get(statusUrl)).body).toMatchObject({ status: 'queued' });
    // The job is retried each poll through the outage, trips the breaker, and runs after the
    // breaker's probe finds the target healthy again.
    for (let i = 0; i < 60 && (await request(handler).get(statusUrl)).body.status !== 'done'; i++)
      await clock.advance(1_000);
    const done = await request(handler).get(statusUrl);
    expect(done.body).toMatchObject({ status: 'done', result: { content: 'later' } });
    expect((await request(handler).get('/_breakwater/jobs/nope')).status).toBe(404);
    close();
  });
});

describe('method decorators for class-based controllers', () => {
  // Vite 8's Oxc transform does not lower TC39 decorators yet, so the test applies them the way
  // the runtime does; decorators.typecheck.ts proves the @ syntax type-checks under tsc.
  const context = { kind: 'method', name: 'post' } as unknown as ClassMethodDecoratorContext;
  it('apply route options in Express and Koa', async () => {
    const engine = createEngine({ targets: { a: fakeTarget({ outages: [{ from: 0, to: 3_600_000 }] }).target } });
    const staticTier = { static: { status: 200, body: { content: 'static' } } };
    const expressPost = expressRoute(staticTier)(async function post(req: Request, res: Response) {
      res.json(await req.breakwater.call({}));
    }, context);
    const koaPost = koaRoute(staticTier)(async function post(ctx: Context) {
      ctx.body = await ctx.state.breakwater.call({});
    }, context);

    const app = express();
    const bw = expressBreakwater(engine, quiet);
    app.use(bw);
    app.post('/chat', (req, res) => expressPost.call(undefined, req, res));
    app.use(bw.errors);
    const res = await request(app).post('/chat');
    expect(res.body).toMatchObject({ content: 'static', degraded: 'static' });

    const koa = new Koa();
    koa.use(koaBreakwater(engine, quiet)).use((ctx) => koaPost.call(undefined, ctx));
    const koaRes = await request(koa.callback()).post('/chat');
    expect(koaRes.body).toMatchObject({ content: 'static', degraded: 'static' });
  });
});

function countHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TTYWrap' || kind === 'FSReqCallback') continue;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

function post(url: string, path: string, body: unknown, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

export type { AddressInfo };
