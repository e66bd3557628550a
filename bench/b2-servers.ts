/**
 * B2's servers, in their own process so the load generator does not share their event loop:
 * Express and Koa, each bare and with breakwater (global middleware, a route, and a call
 * through a no-op target). Prints `{ name: port }` as one JSON line once all listen.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { createEngine } from '@breakwater/core';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as koaBreakwater } from '@breakwater/koa';

const answer = { content: 'ok' };
const engine = createEngine({ targets: { noop: { call: () => Promise.resolve(answer) } } });

const expressBare = express();
expressBare.get('/', (_req, res) => void res.json(answer));

const expressGuarded = express();
const ebw = expressBreakwater(engine, { logger: false });
expressGuarded.use(ebw);
expressGuarded.get(
  '/',
  ebw.route({ chain: ['noop'] }),
  async (req, res) => void res.json(await req.breakwater.call({})),
);
expressGuarded.use(ebw.errors);

const koaBare = new Koa();
koaBare.use((ctx) => {
  ctx.body = answer;
});

const koaGuarded = new Koa();
const kbw = koaBreakwater(engine, { logger: false });
const koaRoute = kbw.route({ chain: ['noop'] });
koaGuarded
  .use(kbw)
  .use((ctx, next) => koaRoute(ctx, next))
  .use(async (ctx) => {
    ctx.body = await ctx.state.breakwater.call({});
  });

const handlers: Record<string, http.RequestListener> = {
  'express-bare': expressBare,
  'express-breakwater': expressGuarded,
  'koa-bare': koaBare.callback(),
  'koa-breakwater': koaGuarded.callback(),
};
const ports: Record<string, number> = {};
for (const [name, handler] of Object.entries(handlers)) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports[name] = (server.address() as AddressInfo).port;
}
process.stdout.write(`${JSON.stringify(ports)}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
