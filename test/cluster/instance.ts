/**
 * One instance of the multi-process tests: the examples' chat engine (shared through Redis by
 * BREAKWATER_REDIS_URL) behind the Express adapter, with a tenant bulkhead and a tool route
 * whose side effect goes to a ledger server. Prints `READY <port>` when listening, and every
 * log record as a JSON line on stdout.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { breakwater } from '@breakwater/express';
import { createChatEngine, errorResponse, parseChat } from '@breakwater/example-shared';

const env = process.env;
const chat = createChatEngine(
  { openaiBaseURL: env.OPENAI_BASE_URL!, anthropicBaseURL: env.ANTHROPIC_BASE_URL! },
  {
    timeouts: { total: '5s', attempt: '2s', firstToken: '1s', idle: '1s' },
    retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '20ms' },
    breaker: { consecutiveFailures: 3, cooldown: Number(env.BREAKER_COOLDOWN_MS ?? 2_000) },
  },
  env,
);
const log = (record: Record<string, unknown>, message?: string): void => {
  process.stdout.write(`${JSON.stringify({ msg: message, ...record, wallAt: Date.now() })}\n`);
};
const bw = breakwater(chat.engine, {
  tenant: (req) => req.get('x-tenant-id'),
  logger: { warn: log },
  status: true,
  bulkheads: { tenant: { maxConcurrent: Number(env.TENANT_LIMIT ?? 4), maxQueue: 100, queueTimeout: '10s' } },
});
const app = express();
app.use(express.json(), bw);

app.post('/v1/chat', bw.route({ name: 'chat', chain: ['openai', 'anthropic'] }), async (req, res) => {
  res.json(await req.breakwater.call(parseChat(req.body)));
});

/** A tool call: the side effect (a POST to the ledger) runs once per Idempotency-Key, then the model answers. */
app.post('/v1/tool', bw.route({ name: 'tool', chain: ['anthropic'] }), async (req, res) => {
  const receipt = await req.breakwater.once('charge', async () => {
    const response = await fetch(env.LEDGER_URL!, { method: 'POST', body: JSON.stringify(req.body) });
    return (await response.json()) as { receipt: number };
  });
  const answer = await req.breakwater.call(parseChat(req.body));
  res.json({ receipt, answer, instance: env.INSTANCE });
});
app.use(bw.errors);
app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
  if (res.headersSent) return next(error);
  const { status, headers, body } = errorResponse(error);
  res.status(status).set(headers).json(body);
});

const server = http.createServer(app).listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  bw.close();
  void chat.close().then(() => process.exit(0));
});
