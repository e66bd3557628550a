/**
 * @module @breakwater/koa
 * Koa 3 adapter: `app.use(breakwater(engine))` gives every request `ctx.state.breakwater` (id,
 * tenant, one AbortSignal, `call()` and `stream()`) and turns failed calls into degraded
 * answers or http errors; `breakwater.route()` sets a route's chain, deadline and tiers (works
 * with `@koa/router`); `breakwater.sse()` streams.
 */
import type { ServerResponse } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import {
  Guard,
  addServerTiming,
  compileRoute,
  serverResponseSink,
  streamSse,
  type AnyEngine,
  type GuardOptions,
  type RequestScope,
  type RouteOptions,
  type SseOptions,
} from '@breakwater/core';

declare module 'koa' {
  interface DefaultState {
    /** breakwater's context for this request (set by the breakwater middleware). */
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports -- an imported alias cannot be named in the emitted augmentation
    breakwater: RequestScope<import('koa').Context>;
  }
}

/** The middleware `breakwater(engine)` returns, with its helpers. */
export interface KoaBreakwater extends Middleware {
  /** Like {@link breakwater.route}, and checks the chain's target names against the engine now. */
  route(options?: RouteOptions<Context>): Middleware;
  /** The shared request logic (cache, queue, degradation). */
  guard: Guard<Context>;
  /** Stops background work (the queue tier's poll timer). */
  close(): void;
}

/**
 * Creates the middleware; install it before the routes.
 *
 * @example
 * app.use(bodyParser()).use(breakwater(engine, { tenant: (ctx) => ctx.get('x-tenant-id') || undefined }));
 * router.post('/chat', breakwater.route({ chain: ['openai', 'anthropic'], static: true }), async (ctx) => {
 *   ctx.body = await ctx.state.breakwater.call(ctx.request.body);
 * });
 */
export function breakwater(engine: AnyEngine, options?: GuardOptions<Context>): KoaBreakwater {
  const guard = new Guard<Context>(engine, options, koaAccess);

  const middleware = async function breakwaterMiddleware(ctx: Context, next: Next): Promise<void> {
    const pending = guard.internal(ctx.method, ctx.path, ctx.get('accept') || undefined);
    if (pending) {
      const internal = await pending;
      ctx.status = internal.status;
      ctx.set(internal.headers);
      ctx.body = internal.body;
      return;
    }
    const scope = guard.begin(ctx);
    ctx.state.breakwater = scope;
    (ctx.res as ScopedResponse)[SCOPE] = scope;
    ctx.res.on('close', onResponseClose);
    if (guard.serverTiming) addServerTiming(ctx.res, scope as RequestScope<unknown>);
    try {
      await next();
    } catch (error) {
      const degraded = await scope.degrade(error); // rethrows what is not a degraded answer
      ctx.status = degraded.status;
      ctx.set(degraded.headers);
      ctx.body = degraded.body;
    }
    if (ctx.respond !== false && !ctx.response.get('idempotent-replayed')) scope.responding(ctx.status, ctx.body);
  } as KoaBreakwater;

  middleware.route = (routeOptions) => {
    const compiled = compileRoute(routeOptions);
    guard.bind(compiled);
    return routeMiddleware(compiled);
  };
  middleware.guard = guard;
  middleware.close = () => guard.close();
  return middleware;
}

const koaAccess = {
  path: (ctx: Context) => ctx.path,
  routePattern: (ctx: Context) => (ctx as { _matchedRoute?: unknown })._matchedRoute?.toString() ?? ctx.path,
  header: (ctx: Context, name: string) => ctx.get(name) || undefined,
  method: (ctx: Context) => ctx.method,
  body: (ctx: Context) => (ctx.request as { body?: unknown }).body,
};

const SCOPE = Symbol('breakwater.scope');
type ScopedResponse = ServerResponse & { [SCOPE]?: RequestScope<Context> };

/** One shared 'close' listener: finished, or cut short (the client left). */
function onResponseClose(this: ScopedResponse): void {
  this[SCOPE]?.responseClosed(this.writableFinished, this.statusCode);
}

function routeMiddleware(compiled: ReturnType<typeof compileRoute<Context>>): Middleware {
  return async function breakwaterRoute(ctx: Context, next: Next): Promise<void> {
    const scope = ctx.state.breakwater as RequestScope<Context> | undefined;
    if (!scope) throw new Error('breakwater: app.use(breakwater(engine)) must come before breakwater.route()');
    scope.applyRoute(compiled);
    const claim = scope.claimIdempotency(); // undefined without an Idempotency-Key
    const replay = claim && (await claim);
    if (replay) {
      ctx.status = replay.status;
      ctx.set('idempotent-replayed', 'true');
      ctx.body = replay.body;
      return;
    }
    const admitted = scope.admit(); // bulkheads, when configured
    if (admitted) await admitted;
    await next();
  };
}

/**
 * Per-route middleware: the route's chain, deadline and degradation tiers. Options are
 * validated now; target names when the first request arrives.
 */
breakwater.route = function route(options?: RouteOptions<Context>): Middleware {
  return routeMiddleware(compileRoute(options));
};

/**
 * Streams a `ctx.state.breakwater.stream()` call as server-sent events with the commit-point
 * rule: headers wait for the first content chunk; before it, degradation applies (a thrown
 * http error reaches Koa's error handling); after it, a failure ends the stream with
 * `event: error`.
 *
 * @example
 * router.post('/chat/stream', (ctx) => breakwater.sse(ctx, ctx.state.breakwater.stream(ctx.request.body)));
 */
/**
 * A ready `/metrics` middleware for a prom-client registry (see `@breakwater/core/metrics`).
 *
 * @example
 * router.get('/metrics', breakwater.metrics(registry));
 */
breakwater.metrics = function metrics(registry: { contentType: string; metrics(): Promise<string> }): Middleware {
  return async function breakwaterMetrics(ctx: Context): Promise<void> {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
};

breakwater.sse = function sse<C>(ctx: Context, chunks: AsyncIterable<C>, options?: SseOptions<C>): Promise<void> {
  // From the commit point on, the response is written by hand: Koa must not touch it.
  const sink = serverResponseSink(ctx.res, () => (ctx.respond = false));
  return streamSse(ctx.state.breakwater as RequestScope<unknown>, chunks, sink, options);
};

/**
 * A TypeScript (standard) method decorator for class-based controllers: applies route options
 * before the method runs.
 *
 * @example
 * class Chat { @withRoute({ chain: ['openai', 'anthropic'], static: true }) async post(ctx) { ... } }
 */
export function withRoute(options?: RouteOptions<Context>) {
  const route = routeMiddleware(compileRoute(options));
  return function decorate<This, Rest extends unknown[], Return>(
    method: (this: This, ctx: Context, ...rest: Rest) => Return,
    _context: ClassMethodDecoratorContext<This>,
  ) {
    // The same checks as breakwater.route() (Idempotency-Key, bulkheads), then the method; its
    // result is undefined when the route answered itself (a replayed response).
    return async function (this: This, ctx: Context, ...rest: Rest): Promise<Awaited<Return> | undefined> {
      let result: Awaited<Return> | undefined;
      await route(ctx, async () => {
        result = await method.call(this, ctx, ...rest);
      });
      return result;
    };
  };
}

export type { RouteOptions, GuardOptions } from '@breakwater/core';
