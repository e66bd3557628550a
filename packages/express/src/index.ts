/**
 * @module @breakwater/express
 * Express 5 adapter: `app.use(bw)` gives every request `req.breakwater` (id, tenant, one
 * AbortSignal, `call()` and `stream()`); `breakwater.route()` sets a route's chain, deadline
 * and degradation tiers; `bw.errors` renders degraded answers; `breakwater.sse()` streams.
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Request as ExpressRequest } from 'express';
import {
  Guard,
  addServerTiming,
  compileRoute,
  isCallFailedError,
  serverResponseSink,
  streamSse,
  type AnyEngine,
  type GuardOptions,
  type RequestScope,
  type RouteOptions,
  type SseOptions,
} from '@breakwater/core';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** breakwater's context for this request (set by the breakwater middleware). */
      breakwater: RequestScope<ExpressRequest>;
    }
  }
}

/** The middleware `breakwater(engine)` returns, with its helpers. */
export interface ExpressBreakwater extends RequestHandler {
  /** Like {@link breakwater.route}, and checks the chain's target names against the engine now. */
  route(options?: RouteOptions<Request>): RequestHandler;
  /** Error middleware, installed after the routes: renders cache/static/queued answers, passes http errors on. */
  errors: ErrorRequestHandler;
  /** The shared request logic (cache, queue, degradation). */
  guard: Guard<Request>;
  /** Stops background work (the queue tier's poll timer). */
  close(): void;
}

/**
 * Creates the middleware. Install it before the routes, and `bw.errors` after them.
 *
 * @example
 * const bw = breakwater(engine, { tenant: (req) => req.get('x-tenant-id') });
 * app.use(express.json(), bw);
 * app.post('/chat', bw.route({ chain: ['openai', 'anthropic'], static: true }), async (req, res) => {
 *   res.json(await req.breakwater.call(req.body));
 * });
 * app.use(bw.errors);
 */
export function breakwater(engine: AnyEngine, options?: GuardOptions<Request>): ExpressBreakwater {
  const guard = new Guard<Request>(engine, options, expressAccess);

  const middleware = function breakwaterMiddleware(req: Request, res: Response, next: NextFunction): void {
    const internal = guard.internal(req.method, req.path, req.get('accept'));
    if (internal) {
      void Promise.resolve(internal).then(
        (answer) => res.status(answer.status).set(answer.headers).send(answer.body),
        next,
      );
      return;
    }
    try {
      req.breakwater = guard.begin(req);
    } catch (error) {
      next(error);
      return;
    }
    res.on('close', onResponseClose);
    if (guard.serverTiming) addServerTiming(res, req.breakwater as RequestScope<unknown>);
    next();
  } as ExpressBreakwater;

  middleware.route = (routeOptions) => {
    const handler = breakwater.route(routeOptions);
    guard.bind(compiledOf(handler));
    return handler;
  };
  middleware.errors = function breakwaterErrors(error: unknown, req: Request, res: Response, next: NextFunction): void {
    const scope = req.breakwater as RequestScope<Request> | undefined;
    if (!scope || !isCallFailedError(error) || res.headersSent) return next(error);
    scope.degrade(error).then((degraded) => {
      res.status(degraded.status).set(degraded.headers).json(degraded.body);
    }, next);
  };
  middleware.guard = guard;
  middleware.close = () => guard.close();
  return middleware;
}

const COMPILED = Symbol('breakwater.route');

const expressAccess = {
  path: (req: Request) => req.path,
  routePattern: (req: Request) =>
    req.route ? `${req.baseUrl}${String((req.route as { path: unknown }).path)}` : req.path,
  header: (req: Request, name: string) => req.get(name),
  method: (req: Request) => req.method,
  body: (req: Request) => req.body as unknown,
};

/** One shared 'close' listener: finished, or cut short (the client left). */
function onResponseClose(this: Response): void {
  this.req.breakwater?.responseClosed(this.writableFinished, this.statusCode);
}

/**
 * Per-route middleware: the route's chain, deadline and degradation tiers. Options are
 * validated now; target names when the first request arrives (use `bw.route()` to check them
 * at once).
 */
breakwater.route = function route(options?: RouteOptions<Request>): RequestHandler {
  const compiled = compileRoute(options);
  const handler = function breakwaterRoute(req: Request, res: Response, next: NextFunction): void {
    const scope = req.breakwater as RequestScope<Request> | undefined;
    if (!scope) return next(new Error('breakwater: app.use(breakwater(engine)) must come before breakwater.route()'));
    let claim;
    try {
      scope.applyRoute(compiled);
      claim = scope.claimIdempotency(); // undefined without an Idempotency-Key
    } catch (error) {
      return next(error);
    }
    if (claim) {
      claim.then((replay) => {
        if (replay) res.status(replay.status).set('idempotent-replayed', 'true').json(replay.body);
        else proceed(scope, compiled, res, next);
      }, next);
    } else proceed(scope, compiled, res, next);
  };
  return Object.assign(handler, { [COMPILED]: compiled });
};

/** After the key check: capture the JSON body for the cache tier and the key, take the bulkhead slots, go on. */
function proceed(
  scope: RequestScope<Request>,
  compiled: ReturnType<typeof compileRoute<Request>>,
  res: Response,
  next: NextFunction,
): void {
  if (compiled.cache || scope.idempotent) {
    const json = res.json;
    res.json = function respondingJson(this: Response, body: unknown) {
      scope.responding(this.statusCode, body);
      return json.call(this, body);
    };
  }
  const admitted = scope.admit(); // bulkheads, when configured
  if (admitted) admitted.then(() => next(), next);
  else next();
}

/**
 * Streams a `req.breakwater.stream()` call as server-sent events with the commit-point rule:
 * headers wait for the first content chunk; before it, degradation applies (a thrown http error
 * reaches your error handling); after it, a failure ends the stream with `event: error`.
 *
 * @example
 * app.post('/chat/stream', bw.route(opts), (req, res) => breakwater.sse(req, res, req.breakwater.stream(req.body)));
 */
/**
 * A ready `/metrics` handler for a prom-client registry (see `@breakwater/core/metrics`).
 *
 * @example
 * app.get('/metrics', breakwater.metrics(registry));
 */
breakwater.metrics = function metrics(registry: { contentType: string; metrics(): Promise<string> }): RequestHandler {
  return async function breakwaterMetrics(_req: Request, res: Response): Promise<void> {
    res.set('content-type', registry.contentType).send(await registry.metrics());
  };
};

breakwater.sse = function sse<C>(
  req: Request,
  res: Response,
  chunks: AsyncIterable<C>,
  options?: SseOptions<C>,
): Promise<void> {
  return streamSse(req.breakwater as RequestScope<unknown>, chunks, serverResponseSink(res), options);
};

/**
 * A TypeScript (standard) method decorator for class-based controllers: applies route options
 * before the method runs, as `breakwater.route()` does for a route.
 *
 * @example
 * class Chat { @withRoute({ chain: ['openai', 'anthropic'], static: true }) async post(req, res) { ... } }
 */
export function withRoute(options?: RouteOptions<Request>) {
  const middleware = breakwater.route(options);
  return function decorate<This, Rest extends unknown[], Return>(
    method: (this: This, req: Request, res: Response, ...rest: Rest) => Return,
    _context: ClassMethodDecoratorContext<This>,
  ) {
    // The route's checks may wait (an Idempotency-Key claim, a bulkhead slot), so the method's result comes as a promise;
    // undefined when the route middleware answered itself (a replayed response).
    return function (this: This, req: Request, res: Response, ...rest: Rest): Promise<Awaited<Return> | undefined> {
      return new Promise((resolve, reject) => {
        const answered = (): void => resolve(undefined);
        res.once('close', answered);
        middleware(req, res, (error?: unknown) => {
          res.off('close', answered);
          if (error) reject(error);
          else Promise.resolve(method.call(this, req, res, ...rest)).then(resolve, reject);
        });
      });
    };
  };
}

function compiledOf(handler: RequestHandler): ReturnType<typeof compileRoute<Request>> {
  return (handler as unknown as Record<symbol, ReturnType<typeof compileRoute<Request>>>)[COMPILED]!;
}

export type { RouteOptions, GuardOptions } from '@breakwater/core';
