/**
 * Idempotency-Key and once() in both frameworks: a client retrying after a mid-flight failure
 * triggers the side effect once; concurrent duplicates get 409; completed keys replay;
 * another payload under the same key gets 422; tenants cannot see each other's keys.
 */
import http from 'node:http';
import express from 'express';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import request from 'supertest';
import { createEngine } from '@breakwater/core';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as koaBreakwater } from '@breakwater/koa';
import { fakeTarget, type FakeTarget } from '@breakwater/testing';
import { describe, expect, it } from 'vitest';

interface Setup {
  handler: http.RequestListener;
  charges: () => number;
  provider: FakeTarget;
}

/** An app whose route charges a card (the side effect) and then asks the model. */
function setup(framework: 'express' | 'koa', providerOptions: Parameters<typeof fakeTarget>[0] = {}): Setup {
  const provider = fakeTarget({ reply: 'receipt', ...providerOptions });
  const engine = createEngine({ targets: { llm: { ...provider.target, retry: { maxAttempts: 1 } } } });
  let charges = 0;
  const charge = async (amount: number) => {
    charges++;
    return { chargeId: `ch_${charges}`, amount };
  };
  const tenant = (value: string | undefined) => value || undefined;
  if (framework === 'express') {
    const app = express();
    const bw = expressBreakwater(engine, { logger: false, tenant: (req) => tenant(req.get('x-tenant-id')) });
    app.use(express.json(), bw);
    app.post('/pay', bw.route({ name: 'pay' }), async (req, res) => {
      const receipt = await req.breakwater.once('charge', () => charge(req.body.amount));
      const answer = await req.breakwater.call<{ content: string }>({});
      res.json({ ...receipt, message: answer.content });
    });
    app.use(bw.errors);
    return { handler: app, charges: () => charges, provider };
  }
  const app = new Koa();
  app.silent = true;
  const bw = koaBreakwater(engine, { logger: false, tenant: (ctx) => tenant(ctx.get('x-tenant-id')) });
  const route = bw.route({ name: 'pay' });
  app
    .use(bodyParser())
    .use(bw)
    .use(route)
    .use(async (ctx) => {
      const scope = ctx.state.breakwater;
      const receipt = await scope.once('charge', () => charge((ctx.request.body as { amount: number }).amount));
      const answer = await scope.call<{ content: string }>({});
      ctx.body = { ...receipt, message: answer.content };
    });
  return { handler: app.callback(), charges: () => charges, provider };
}

const pay = (
  handler: http.RequestListener | http.Server,
  key: string,
  body: object = { amount: 42 },
  tenant?: string,
) => {
  const req = request(handler).post('/pay').set('idempotency-key', key).send(body);
  return tenant ? req.set('x-tenant-id', tenant) : req;
};

describe.each(['express', 'koa'] as const)('%s: Idempotency-Key', (framework) => {
  it('charges once when the client retries after a mid-flight failure', async () => {
    const { handler, charges, provider } = setup(framework, { script: ['server_error'] });
    const first = await pay(handler, 'order-1');
    expect(first.status).toBe(503); // the model call failed after the charge
    expect(charges()).toBe(1);
    const retry = await pay(handler, 'order-1');
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ chargeId: 'ch_1', amount: 42, message: 'receipt' });
    expect(charges()).toBe(1);
    expect(provider.requests).toHaveLength(2);
  });

  it('replays a completed key without running anything again', async () => {
    const { handler, charges, provider } = setup(framework);
    const first = await pay(handler, 'order-2');
    const again = await pay(handler, 'order-2');
    expect(again.status).toBe(first.status);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(charges()).toBe(1);
    expect(provider.requests).toHaveLength(1);
  });

  it('answers 409 to a duplicate while the first is in flight', async () => {
    const { handler, charges } = setup(framework, { latency: 200 });
    const server = http.createServer(handler);
    const [a, b] = await Promise.all([pay(server, 'order-3'), pay(server, 'order-3')]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect(charges()).toBe(1);
  });

  it('answers 422 to the same key with another payload, and 400 to a malformed key', async () => {
    const { handler, charges } = setup(framework);
    await pay(handler, 'order-4', { amount: 42 });
    expect((await pay(handler, 'order-4', { amount: 1000 })).status).toBe(422);
    expect((await pay(handler, 'x'.repeat(256))).status).toBe(400);
    expect((await pay(handler, 'bad key')).status).toBe(400);
    expect(charges()).toBe(1);
  });

  it("does not let tenant B replay tenant A's key", async () => {
    const { handler, charges } = setup(framework);
    const a = await pay(handler, 'shared-key', { amount: 42 }, 'tenant-a');
    const b = await pay(handler, 'shared-key', { amount: 42 }, 'tenant-b');
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body.chargeId).not.toBe(a.body.chargeId);
    expect(charges()).toBe(2);
  });
});
