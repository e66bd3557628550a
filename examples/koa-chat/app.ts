/**
 * The Koa chat app: `POST /v1/chat` (JSON) and `POST /v1/chat/stream` (SSE) through a chain of
 * OpenAI then Anthropic, with the cache and static tiers on. Exported for tests.
 */
import Koa, { type Context } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { breakwater, type GuardOptions } from '@breakwater/koa';
import { errorResponse, parseChat, STATIC_ANSWER, type ChatAnswer, type ChatEngine } from '@breakwater/example-shared';

export interface AppOptions {
  /** The request deadline in ms (default: the engine's total timeout). */
  timeoutMs?: number;
  /** Where degraded responses are logged (default: stderr). */
  logger?: GuardOptions<Context>['logger'];
}

export function createApp({ engine }: Pick<ChatEngine, 'engine'>, options: AppOptions = {}) {
  const app = new Koa();
  const router = new Router();
  const bw = breakwater(engine, {
    tenant: (ctx) => ctx.get('x-tenant-id') || undefined,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  const chat = bw.route({
    name: 'chat',
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    cache: { key: (ctx) => (ctx.request.body as { messages?: unknown } | undefined)?.messages, maxAge: '10m' },
    static: { body: STATIC_ANSWER },
  });

  router.post('/v1/chat', chat, async (ctx) => {
    const input = parseChat(ctx.request.body);
    if (!input) ctx.throw(400, 'Send { "messages": [{ "role": "user", "content": "..." }] }.');
    const answer = await ctx.state.breakwater.call<ChatAnswer>(input);
    ctx.body = { role: 'assistant', content: answer.content, provider: ctx.state.breakwater.outcomes.at(-1)?.target };
  });

  router.post('/v1/chat/stream', chat, async (ctx) => {
    const input = parseChat(ctx.request.body);
    if (!input) ctx.throw(400, 'Send { "messages": [{ "role": "user", "content": "..." }] }.');
    await breakwater.sse(ctx, ctx.state.breakwater.stream<string>(input));
  });

  // Render every error as JSON with its status and headers; never upstream text.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const { status, headers, body } = errorResponse(error);
      ctx.set(headers);
      ctx.status = status;
      ctx.body = body;
      if (status >= 500) ctx.app.emit('error', error, ctx);
    }
  });
  app.use(bodyParser({ jsonLimit: '64kb' }));
  app.use(bw);
  app.use(router.routes()).use(router.allowedMethods());
  app.silent = true;
  return { app, close: () => bw.close() };
}
