/**
 * Observability: the request record as an event and on diagnostics_channel, Prometheus series
 * scraped through the /metrics handler after a scripted outage, OpenTelemetry spans in an
 * in-memory exporter, Server-Timing, breaker transitions in the log, and the status view.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import express from 'express';
import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { CHANNELS, createEngine, type RequestOutcome } from '@breakwater/core';
import { prometheusMetrics } from '@breakwater/core/metrics';
import { openTelemetryTracing } from '@breakwater/core/tracing';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as koaBreakwater } from '@breakwater/koa';
import { fakeTarget } from '@breakwater/testing';
import { describe, expect, it } from 'vitest';

/** Primary down for its first `outage` calls; secondary healthy. */
function build(framework: 'express' | 'koa', outage = 100) {
  const primary = fakeTarget({ script: Array.from({ length: outage }, () => 'unavailable' as const) });
  const secondary = fakeTarget({ reply: 'from the secondary' });
  const engine = createEngine({
    targets: {
      'openai/gpt-4o-mini': { ...primary.target, retry: { maxAttempts: 1 } },
      'anthropic/haiku': secondary.target,
    },
  });
  const logs: Record<string, unknown>[] = [];
  const options = {
    logger: { warn: (r: Record<string, unknown>) => void logs.push(r) },
    status: true,
    serverTiming: true,
  };
  if (framework === 'express') {
    const app = express();
    const bw = expressBreakwater(engine, options);
    app.use(bw);
    app.post('/chat', bw.route({ name: 'chat' }), async (req, res) => void res.json(await req.breakwater.call({})));
    app.use(bw.errors);
    return {
      engine,
      guard: bw.guard,
      logs,
      handler: app,
      mount: (path: string, h: express.RequestHandler) => app.get(path, h),
    };
  }
  const app = new Koa();
  const bw = koaBreakwater(engine, options);
  const route = bw.route({ name: 'chat' });
  const extra = new Map<string, Koa.Middleware>();
  app.use(async (ctx, next) => {
    const handler = extra.get(ctx.path);
    return handler ? handler(ctx, next) : next();
  });
  app
    .use(bw)
    .use(async (ctx, next) => (ctx.path === '/chat' ? route(ctx, next) : next()))
    .use(async (ctx) => {
      if (ctx.path === '/chat') ctx.body = await ctx.state.breakwater.call({});
    });
  return {
    engine,
    guard: bw.guard,
    logs,
    handler: app.callback(),
    mount: (path: string, h: Koa.Middleware) => extra.set(path, h),
  };
}

describe.each(['express', 'koa'] as const)('%s observability', (framework) => {
  it('publishes one complete request record per request, on the event and the diagnostics channel', async () => {
    const { guard, handler } = build(framework, 1);
    const seen: RequestOutcome[] = [];
    const onChannel = (message: unknown) => seen.push(message as RequestOutcome);
    diagnosticsChannel.subscribe(CHANNELS.request, onChannel);
    const viaEvent: RequestOutcome[] = [];
    guard.events.on('request', (r) => viaEvent.push(r));
    try {
      await request(handler).post('/chat').set('x-request-id', 'req-1');
      await request(handler).post('/chat');
    } finally {
      diagnosticsChannel.unsubscribe(CHANNELS.request, onChannel);
    }
    expect(seen).toHaveLength(2);
    expect(viaEvent).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      requestId: 'req-1',
      route: 'chat',
      method: 'POST',
      status: 200,
      tier: 'secondary',
      provider: 'anthropic/haiku',
      ok: true,
      targets: ['openai/gpt-4o-mini', 'anthropic/haiku'],
      breakers: { 'openai/gpt-4o-mini': 'closed', 'anthropic/haiku': 'closed' },
    });
    expect(seen[0]!.calls[0]!.attempts.map((a) => a.class ?? 'ok')).toEqual(['overloaded', 'ok']);
    expect(seen[1]).toMatchObject({ tier: 'primary', provider: 'openai/gpt-4o-mini' });
  });

  it('exposes Prometheus series after an outage through the /metrics handler', async () => {
    const { engine, guard, handler, mount } = build(framework);
    const { registry, close } = prometheusMetrics(engine, { guards: [guard] });
    const metricsHandler =
      framework === 'express' ? expressBreakwater.metrics(registry) : koaBreakwater.metrics(registry);
    mount('/metrics', metricsHandler as never);
    for (let i = 0; i < 6; i++) await request(handler).post('/chat');
    const scrape = await request(handler).get('/metrics');
    close();
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toContain('text/plain');
    const text = scrape.text;
    expect(text).toContain('breakwater_requests_total{route="chat",tier="secondary",outcome="ok"} 6');
    expect(text).toContain('breakwater_attempts_total{target="openai/gpt-4o-mini",class="overloaded"} 5');
    expect(text).toContain('breakwater_attempts_total{target="anthropic/haiku",class="ok"} 6');
    expect(text).toContain('breakwater_calls_total{target="anthropic/haiku",outcome="ok"} 6');
    expect(text).toContain('breakwater_breaker_state{target="openai/gpt-4o-mini"} 2');
    expect(text).toContain('breakwater_breaker_transitions_total{target="openai/gpt-4o-mini",state="open"} 1');
    expect(text).toMatch(/breakwater_request_duration_seconds_count\{route="chat",tier="secondary"\} 6/);
  });

  it('traces a request with a child span per attempt, GenAI attributes included', async () => {
    const { engine, guard, handler } = build(framework, 1);
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const stop = openTelemetryTracing(engine, { tracer: provider.getTracer('test'), guards: [guard] });
    await request(handler).post('/chat');
    stop();
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'POST chat')!;
    const attempts = spans.filter((s) => s.name.startsWith('chat '));
    expect(root.attributes).toMatchObject({ 'breakwater.tier': 'secondary', 'http.response.status_code': 200 });
    expect(attempts.map((s) => s.attributes['gen_ai.system'])).toEqual(['openai', 'anthropic']);
    expect(attempts[0]!.attributes).toMatchObject({
      'gen_ai.request.model': 'gpt-4o-mini',
      'breakwater.class': 'overloaded',
    });
    for (const span of attempts) {
      expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }
  });

  it('adds Server-Timing, logs breaker transitions, and shows an open breaker in the status view', async () => {
    const { handler, logs } = build(framework);
    let last;
    for (let i = 0; i < 6; i++) last = await request(handler).post('/chat');
    expect(last!.headers['server-timing']).toMatch(/^total;dur=\d+(\.\d+)?, provider;desc="anthropic\/haiku"$/);
    expect(logs).toContainEqual(
      expect.objectContaining({ event: 'breakwater.breaker', target: 'openai/gpt-4o-mini', to: 'open' }),
    );
    const status = await request(handler).get('/_breakwater/status');
    expect(status.body.targets).toContainEqual(
      expect.objectContaining({ name: 'openai/gpt-4o-mini', breaker: 'open' }),
    );
    expect(status.body.recentTiers).toMatchObject({ secondary: 6 });
    const page = await request(handler).get('/_breakwater/status').set('accept', 'text/html');
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain('<span class="badge open">open</span>');
  });
});

describe('route names', () => {
  it('default to the matched route pattern, not the path (few metric labels)', async () => {
    const engine = createEngine({ targets: { a: fakeTarget().target } });
    const app = express();
    const bw = expressBreakwater(engine, { logger: false });
    const routes: string[] = [];
    bw.guard.events.on('request', (r) => routes.push(r.route));
    app.use(bw);
    app.get('/users/:id', bw.route(), async (req, res) => void res.json(await req.breakwater.call({})));
    await request(app).get('/users/1');
    await request(app).get('/users/2');

    const koa = new Koa();
    const kbw = koaBreakwater(engine, { logger: false });
    kbw.guard.events.on('request', (r) => routes.push(r.route));
    const router = new Router();
    router.get('/items/:id', kbw.route(), async (ctx) => {
      ctx.body = await ctx.state.breakwater.call({});
    });
    koa.use(kbw).use(router.routes());
    await request(koa.callback()).get('/items/7');
    expect(routes).toEqual(['/users/:id', '/users/:id', '/items/:id']);
  });
});
