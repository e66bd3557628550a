/**
 * Tenant bulkheads: a noisy tenant offering 10x its share does not starve a quiet one. The
 * quiet tenant gets every request served, within a latency bound, while the noisy one gets
 * 429s with Retry-After past its share and queue.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { createEngine } from '@breakwater/core';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as koaBreakwater } from '@breakwater/koa';
import { fakeTarget } from '@breakwater/testing';
import { describe, expect, it } from 'vitest';

const bulkheads = {
  tenant: { maxConcurrent: 4, maxQueue: 4, queueTimeout: '300ms' },
  route: { maxConcurrent: 64 },
} as const;

function app(framework: 'express' | 'koa') {
  const provider = fakeTarget({ latency: 100 });
  const engine = createEngine({ targets: { llm: provider.target } });
  const options = { logger: false as const, bulkheads, tenant: (value: string | undefined) => value };
  if (framework === 'express') {
    const e = express();
    const bw = expressBreakwater(engine, { ...options, tenant: (req) => req.get('x-tenant-id') });
    e.use(bw);
    e.get('/ask', bw.route({ name: 'ask' }), async (req, res) => void res.json(await req.breakwater.call({})));
    e.use(bw.errors);
    return { handler: e as http.RequestListener, provider, close: bw.close };
  }
  const k = new Koa();
  const bw = koaBreakwater(engine, { ...options, tenant: (ctx) => ctx.get('x-tenant-id') || undefined });
  k.use(bw)
    .use(bw.route({ name: 'ask' }))
    .use(async (ctx) => {
      ctx.body = await ctx.state.breakwater.call({});
    });
  return { handler: k.callback(), provider, close: bw.close };
}

function get(
  url: string,
  tenant: string,
  agent: http.Agent,
): Promise<{ status: number; ms: number; retryAfter?: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { 'x-tenant-id': tenant } }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            retryAfter: res.headers['retry-after'] as string | undefined,
          }),
        );
      })
      .on('error', reject);
  });
}

describe.each(['express', 'koa'] as const)('%s: tenant bulkheads', (framework) => {
  it('keep a quiet tenant served while a noisy one floods at 10x its share', async () => {
    const { handler, provider, close } = app(framework);
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ask`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
    const until = performance.now() + 2_000;
    const loop = async (tenant: string, results: { status: number; ms: number; retryAfter?: string }[]) => {
      for (let i = 0; i < 100 && performance.now() < until; i++) results.push(await get(url, tenant, agent));
    };
    const noisy: { status: number; ms: number; retryAfter?: string }[] = [];
    const quiet: { status: number; ms: number }[] = [];
    await Promise.all([
      ...Array.from({ length: 40 }, () => loop('noisy', noisy)), // 10x its share of 4
      ...Array.from({ length: 2 }, () => loop('quiet', quiet)),
    ]);
    agent.destroy();
    server.close();
    close();

    expect(quiet.length).toBeGreaterThan(10);
    expect(quiet.every((r) => r.status === 200)).toBe(true);
    const sorted = quiet.map((r) => r.ms).sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)]!;
    expect(p99).toBeLessThan(400); // the provider takes 100 ms; the flood adds little
    const refused = noisy.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.retryAfter === '1')).toBe(true);
    expect(noisy.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    expect(provider.maxActive).toBeLessThanOrEqual(4 + 2); // the noisy tenant's 4 slots plus the quiet one's
  }, 20_000);
});

describe('route bulkheads', () => {
  it('answer 503 with Retry-After when the route pool and its queue are full', async () => {
    const provider = fakeTarget({ latency: 200 });
    const engine = createEngine({ targets: { llm: provider.target } });
    const e = express();
    const bw = expressBreakwater(engine, { logger: false, bulkheads: { route: { maxConcurrent: 1, maxQueue: 0 } } });
    e.use(bw);
    e.get('/ask', bw.route({ name: 'ask' }), async (req, res) => void res.json(await req.breakwater.call({})));
    e.use(bw.errors);
    const server = http.createServer(e);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ask`;
    const agent = new http.Agent({ keepAlive: true });
    const results = await Promise.all([get(url, 'a', agent), get(url, 'b', agent)]);
    agent.destroy();
    server.close();
    bw.close();
    expect(results.map((r) => r.status).sort()).toEqual([200, 503]);
    expect(results.find((r) => r.status === 503)!.retryAfter).toBe('1');
    expect(provider.maxActive).toBe(1);
  });
});
