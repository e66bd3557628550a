/**
 * B7's worker (run with --expose-gc): the Koa adapter with the cache tier and idempotency on,
 * a fake provider in process, and a loopback client in the same process sending `requests`
 * POSTs, every one with its own Idempotency-Key and one of 1,000 questions. The heap is sampled
 * after a forced GC at 20 points. Prints one JSON line: { samples: [[requestsDone, heapMB]] }.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { createEngine } from '@breakwater/core';
import { breakwater } from '@breakwater/koa';
import { fakeTarget } from '@breakwater/testing';

const requests = Number(process.argv[2] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const primary = fakeTarget({ seed: 1, transient: { rate: 0.02, faults: ['server_error'] } });
const secondary = fakeTarget({ seed: 2 });
const engine = createEngine({ targets: { primary: primary.target, secondary: secondary.target } });
const app = new Koa();
const bw = breakwater(engine, { logger: false });
const route = bw.route({
  name: 'chat',
  cache: { key: (ctx) => (ctx.request.body as { q?: string }).q, maxAge: '10m' },
  static: true,
});
app
  .use(bodyParser())
  .use(bw)
  .use(route)
  .use(async (ctx) => {
    const scope = ctx.state.breakwater;
    const tool = await scope.once('lookup', async () => ({ looked: true }));
    ctx.body = { ...(await scope.call<{ content: string }>({})), tool };
  });
const server = http.createServer(app.callback());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

const post = (i: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/chat',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'idempotency-key': `key-${i}` },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ q: `question ${i % 1000}` }));
  });

const samples: [number, number][] = [];
const sample = (done: number) => {
  // The fakes keep a log of every request for tests; it is not breakwater's memory.
  primary.requests.length = 0;
  secondary.requests.length = 0;
  gc();
  samples.push([done, Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10]);
};
let next = 0;
const every = Math.max(1, Math.floor(requests / 20));
sample(0);
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < requests) {
      const i = next++;
      await post(i);
      if ((i + 1) % every === 0) sample(i + 1);
    }
  }),
);
agent.destroy();
server.close();
bw.close();
engine.close();
process.stdout.write(`${JSON.stringify({ samples })}\n`);
