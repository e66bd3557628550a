/**
 * The Express chat app: `POST /v1/chat` (JSON) and `POST /v1/chat/stream` (SSE) through a
 * chain of OpenAI then Anthropic, with the cache and static tiers on. Exported for tests.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { HedgeOptions } from '@breakwater/core';
import { breakwater, type GuardOptions } from '@breakwater/express';
import { errorResponse, parseChat, STATIC_ANSWER, type ChatAnswer, type ChatEngine } from '@breakwater/example-shared';

export interface AppOptions {
  /** The request deadline in ms (default: the engine's total timeout). */
  timeoutMs?: number;
  /** Where degraded responses are logged (default: stderr). */
  logger?: GuardOptions<Request>['logger'];
  /** Hedge the chat calls (off by default). */
  hedge?: HedgeOptions;
}

export function createApp({ engine }: Pick<ChatEngine, 'engine'>, options: AppOptions = {}) {
  const app = express();
  const bw = breakwater(engine, {
    tenant: (req) => req.get('x-tenant-id'),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  const chat = bw.route({
    name: 'chat',
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    cache: { key: (req) => req.body?.messages, maxAge: '10m' },
    static: { body: STATIC_ANSWER },
    ...(options.hedge ? { hedge: options.hedge } : {}),
  });

  app.use(express.json({ limit: '64kb' }), bw);

  app.post('/v1/chat', chat, async (req, res) => {
    const input = parseChat(req.body);
    if (!input)
      return void res.status(400).json({ error: 'Send { "messages": [{ "role": "user", "content": "..." }] }.' });
    const answer = await req.breakwater.call<ChatAnswer>(input);
    res.json({ role: 'assistant', content: answer.content, provider: req.breakwater.outcomes.at(-1)?.target });
  });

  app.post('/v1/chat/stream', chat, async (req, res) => {
    const input = parseChat(req.body);
    if (!input)
      return void res.status(400).json({ error: 'Send { "messages": [{ "role": "user", "content": "..." }] }.' });
    await breakwater.sse(req, res, req.breakwater.stream<string>(input));
  });

  app.use(bw.errors);
  // Render every remaining error as JSON with its status and headers; never upstream text.
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const { status, headers, body } = errorResponse(error);
    res.status(status).set(headers).json(body);
  });
  return { app, guard: bw.guard, close: () => bw.close() };
}
